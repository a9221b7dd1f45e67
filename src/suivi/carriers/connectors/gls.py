"""GLS "Track And Trace V1" (GLS Group, every GLS country): pure parsing plus one fetch.

An OAuth2 client-credentials token (``POST {base}/oauth2/v2/token`` with HTTP Basic
``client_id:client_secret``, valid up to four hours, cached here per account) then
``GET {base}/track-and-trace-v1/tracking/simple/trackids/{n1,…,n10}`` with
``Authorization: Bearer …``. The answer is ``{"parcels": [...]}``, one item per parcel:
``requested`` (the number we asked), ``unitno`` (GLS's number, without the check digit),
``status`` (a 12-value summary) with ``statusDateTime``, and ``events[]`` with ``code``
(``FAMILY.VARIANT``, e.g. ``DELIVD.PARCELSHOP``), ``description``, ``city``, ``postalCode``,
``country`` and ``eventDateTime`` **with its offset** (``2024-10-07T10:46:14+0200``). A number
GLS does not know comes back in the same list with ``errorCode``/``errorMessage``.

The parcel ``status`` is GLS's own summary with its own time: when no mapped event already
says the same thing as of that time (an event code we do not know yet, or none sent), it
becomes an event of its own, so the shipment's state never lags behind what GLS says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from suivi.carriers.base import (
    Account,
    AuthenticationFailed,
    CarrierUnavailable,
    Connector,
    Result,
    call,
    unusable,
)
from suivi.carriers.common import (
    TokenCache,
    aware_time,
    client_credentials,
    read_json,
    read_token,
    text,
)
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError, TrackingEvent

MAX_NUMBERS_PER_CALL = 10  # documented: "a maximum limit of 10 parcel IDs per request"
OAUTH_PATH = "/oauth2/v2/token"
TRACKING_PATH = "/track-and-trace-v1/tracking/simple/trackids/"
LANGUAGE = "EN"  # descriptions language; EN and DE are the documented values

# Every event code GLS publishes or that public integrations record, mapped on purpose. The
# family (before the dot) says what happened, the variant says how; a code not listed here is
# kept out of the timeline and reported by :func:`unmapped_codes`.
EVENT_CODES: dict[str, tuple[Status, Reason]] = {
    # "The parcel data was entered into the GLS IT system; the parcel was not yet handed
    # over to GLS": the label exists, nothing moved.
    "INTIAL.PREADVICE": (Status.INFO_RECEIVED, Reason.NONE),
    # "The parcel was provided by the sender for collection by GLS": still at the sender's.
    "INTIAL.E48_DATA": (Status.INFO_RECEIVED, Reason.NONE),
    # "The parcel was handed over to GLS": physically in the network.
    "INTIAL.NORMAL": (Status.IN_TRANSIT, Reason.NONE),
    # "The parcel has reached the parcel center" / "has left the parcel center".
    "INBOUD.NORMAL": (Status.IN_TRANSIT, Reason.NONE),
    "OUTBOD.NORMAL": (Status.IN_TRANSIT, Reason.NONE),
    # "The parcel is expected to be delivered during the day": on the delivery round.
    "OUTDEL.NORMAL": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    # "The parcel has been delivered" (with or without proof of delivery).
    "DELIVD.NORMAL": (Status.DELIVERED, Reason.NONE),
    "DELIVD.POD": (Status.DELIVERED, Reason.NONE),
    "DELIVD.NO POD": (Status.DELIVERED, Reason.NONE),
    # "Delivered at the ParcelShop": GLS's word is "delivered", but the customer still has
    # to collect it — available for pickup, not delivered (the summary calls it DELIVEREDPS).
    "DELIVD.PARCELSHOP": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    # Handed out by the ParcelShop to the recipient (through the GLS app): collected.
    "DELIVD.DEL_BY_PSAPP": (Status.DELIVERED, Reason.NONE),
    # "Change completed for - Delivery at new address" / "- ParcelLocker": the recipient
    # redirected the parcel; it keeps moving normally.
    "CHANGD.MONEWADDR": (Status.IN_TRANSIT, Reason.NONE),
    "CHANGD.PARCELBOX": (Status.IN_TRANSIT, Reason.NONE),
    # "The parcel data have been deleted from the GLS IT system": the sender cancelled the
    # label; nothing will arrive — an exception the merchant has to look at.
    "CANCEL.NORMAL": (Status.EXCEPTION, Reason.OTHER),
}

# The parcel summary (``ParcelDTO.status``, a closed list of 12 documented values).
PARCEL_STATUSES: dict[str, tuple[Status, Reason]] = {
    # PLANNEDPICKUP / INPICKUP: a pickup at the sender's is planned / a driver is on the way
    # to the sender; PREADVICE: data received, parcel not handed over. Nothing moved yet.
    "PLANNEDPICKUP": (Status.INFO_RECEIVED, Reason.NONE),
    "INPICKUP": (Status.INFO_RECEIVED, Reason.NONE),
    "PREADVICE": (Status.INFO_RECEIVED, Reason.NONE),
    # NOTPICKEDUP: the pickup at the sender's failed; the parcel will leave late.
    "NOTPICKEDUP": (Status.EXCEPTION, Reason.DELAY),
    # INTRANSIT: on its way to the final depot; INWAREHOUSE: stored at a GLS depot.
    "INTRANSIT": (Status.IN_TRANSIT, Reason.NONE),
    "INWAREHOUSE": (Status.IN_TRANSIT, Reason.NONE),
    # INDELIVERY: with a driver for delivery.
    "INDELIVERY": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    # DELIVEREDPS: at a ParcelShop, waiting for the recipient (see DELIVD.PARCELSHOP).
    "DELIVEREDPS": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    "DELIVERED": (Status.DELIVERED, Reason.NONE),
    # NOTDELIVERED: a delivery attempt failed; GLS does not say why in the summary.
    "NOTDELIVERED": (Status.FAILED_ATTEMPT, Reason.OTHER),
    # CANCELED: the parcel was cancelled (see CANCEL.NORMAL).
    "CANCELED": (Status.EXCEPTION, Reason.OTHER),
}
# FINAL, "parcel history closed", is the twelfth value: it says the history is over, not
# where the parcel is (delivered or back with the sender), so it closes the shipment
# (``is_final``) without becoming an event.
HISTORY_CLOSED = "FINAL"
FINAL_STATUSES = frozenset({"DELIVERED", "CANCELED", HISTORY_CLOSED})

# The documented description of each summary, kept as the label of the event it becomes.
STATUS_LABELS: dict[str, str] = {
    "PLANNEDPICKUP": "Parcel is planned to be picked up",
    "INPICKUP": "Parcel will be picked up by a driver",
    "NOTPICKEDUP": "Parcel was not picked up",
    "PREADVICE": "GLS has received the parcel data but not the physical parcel",
    "INTRANSIT": "Parcel is on its way to the final depot",
    "INDELIVERY": "Parcel is in delivery by a driver",
    "DELIVEREDPS": "Parcel delivered to a parcel shop",
    "DELIVERED": "Parcel was delivered",
    "INWAREHOUSE": "Parcel is in warehouse",
    "NOTDELIVERED": "Parcel was not delivered",
    "CANCELED": "Parcel was cancelled",
}

CODES: dict[str, tuple[Status, Reason]] = {**EVENT_CODES, **PARCEL_STATUSES}

# ``ParcelDTO.errorCode``: what a per-number error means for the caller.
ERROR_KINDS: dict[str, str] = {
    "E_404_01": "unknown_number",  # Resource Not Found
    "E_400_01": "invalid_number",  # Bad Request (a malformed number)
    "E_400_02": "carrier_error",  # Limit Size Exceeded (we never send more than 10)
    "E_400_03": "carrier_error",  # Wrong Postal Code (delivery-info calls only)
    "E_404_02": "carrier_error",  # No Delivery Info (delivery-info calls only)
    "E_500_01": "carrier_error",  # Internal Server Error, for this number only
}


def _event(number: str, raw: Any) -> TrackingEvent | None:
    if not isinstance(raw, dict):
        return None
    code = text(raw.get("code"))
    country = text(raw.get("country")).upper()
    # GLS documents the offset; a bare time only counts when the event's country gives it
    # one (GLS has no single home zone to fall back on).
    occurred = aware_time(raw.get("eventDateTime"), country=country)
    if code not in EVENT_CODES or occurred is None:
        return None  # left out of the timeline, not fatal
    status, reason = EVENT_CODES[code]
    place = " ".join(part for part in (text(raw.get("postalCode")), text(raw.get("city"))) if part)
    return TrackingEvent(
        tracking_number=number,
        status=status,
        reason=reason,
        occurred_at=occurred,
        raw_code=code,
        raw_label=text(raw.get("description")),
        location=place,
        country=country if len(country) == 2 else "",
    )


def _summary_event(
    number: str, parcel: dict[str, Any], events: list[TrackingEvent]
) -> TrackingEvent | None:
    """The parcel summary as an event, when no mapped event already tells it as of its time."""
    code = text(parcel.get("status"))
    occurred = aware_time(parcel.get("statusDateTime"))
    if code not in PARCEL_STATUSES or occurred is None:
        return None
    status, reason = PARCEL_STATUSES[code]
    latest = max(events, key=lambda event: event.occurred_at, default=None)
    if latest is not None and (latest.occurred_at > occurred or latest.status is status):
        return None  # the events are newer than the summary, or already say the same
    return TrackingEvent(
        tracking_number=number,
        status=status,
        reason=reason,
        occurred_at=occurred,
        raw_code=code,
        raw_label=STATUS_LABELS.get(code, code),
    )


def _parcel(parcel: Any) -> ShipmentUpdate | TrackingError:
    if not isinstance(parcel, dict):
        return TrackingError("", "carrier_error", "a parcel of the answer is not an object")
    number = text(parcel.get("requested")) or text(parcel.get("unitno"))
    error = text(parcel.get("errorCode"))
    if error:
        message = text(parcel.get("errorMessage")) or error
        return TrackingError(number, ERROR_KINDS.get(error, "carrier_error"), message)
    raw_events = parcel.get("events")
    events = [
        event
        for event in (
            _event(number, raw) for raw in (raw_events if isinstance(raw_events, list) else [])
        )
        if event is not None
    ]
    summary = _summary_event(number, parcel, events)
    if summary is not None:
        events.append(summary)
    return ShipmentUpdate(
        tracking_number=number,
        events=tuple(events),
        is_final=text(parcel.get("status")) in FINAL_STATUSES,
    )


def _parcels(body: bytes) -> list[Any] | str:
    """The ``parcels`` list of an answer, or why there is none."""
    data, problem = read_json(body)
    if problem:
        return problem
    if not isinstance(data, dict):
        return "the answer is not an object"
    parcels = data.get("parcels")
    if not isinstance(parcels, list):
        detail = data.get("detail") or data.get("title") or data.get("fault") or ""
        return f"the answer has no parcel list {str(detail)[:200]}".strip()
    return parcels


def parse(body: bytes) -> list[Result]:
    """Parse a Track And Trace answer; bad data gives errors, never an exception."""
    parcels = _parcels(body)
    if isinstance(parcels, str):
        return unusable(parcels)
    return [_parcel(parcel) for parcel in parcels]


def unmapped_codes(body: bytes) -> set[str]:
    """Event codes and parcel statuses in *body* that the tables do not map."""
    parcels = _parcels(body)
    if isinstance(parcels, str):
        return set()
    found: set[str] = set()
    for parcel in parcels:
        if not isinstance(parcel, dict):
            continue
        status = parcel.get("status")
        if isinstance(status, str) and status not in PARCEL_STATUSES and status != HISTORY_CLOSED:
            found.add(status)
        events = parcel.get("events")
        for event in events if isinstance(events, list) else []:
            if isinstance(event, dict) and str(event.get("code")) not in EVENT_CODES:
                found.add(str(event.get("code")))
    return found


def _new_token(account: Account) -> tuple[str, float]:
    response = client_credentials(account, OAUTH_PATH, basic_auth=True)
    if response.status_code == 400:  # "Invalid client identifier" and the like
        raise AuthenticationFailed(
            f"GLS refused the client credentials: {response.text[:200]}", status=400
        )
    if response.status_code != 200:
        raise CarrierUnavailable(
            f"GLS token service answered {response.status_code}", status=response.status_code
        )
    return read_token(response)


# Access tokens per account: GLS tokens live up to four hours ("valid for up to four hours")
# and the token service has its own daily quota, so one token serves many calls. Any refusal
# of a cached token renews it once; a fresh token refused is the account's problem.
TOKENS = TokenCache(
    _new_token,
    margin=300.0,  # seconds: renew a little before GLS says the token expires
    max_lifetime=4 * 3600.0,
    refused=lambda exc: True,
    retry_fresh=False,
)


def fetch(numbers: Sequence[str], account: Account) -> list[Result]:
    """Ask Track And Trace about up to :data:`MAX_NUMBERS_PER_CALL` numbers in one call.

    Credentials ``client_id`` and ``client_secret`` (a GLS developer-portal app). A cached
    token refused with 401 is renewed once; 401/403 with a fresh token, 429 and 5xx raise
    (see :mod:`suivi.carriers.base`). A number missing from the answer gets an error.
    """
    if not 1 <= len(numbers) <= MAX_NUMBERS_PER_CALL:
        raise ValueError(f"GLS Track And Trace takes 1 to {MAX_NUMBERS_PER_CALL} numbers per call")
    ids = ",".join(quote(number, safe="") for number in numbers)
    url = f"{account.base_url.rstrip('/')}{TRACKING_PATH}{ids}"

    def send(token: str) -> bytes:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Accept-Language": LANGUAGE,
        }
        return call("GET", url, account=account, headers=headers).content

    results = parse(TOKENS.authorized(account, send))
    if any(isinstance(r, TrackingError) and not r.tracking_number for r in results):
        return results  # an error for the whole call already covers every number
    answered = {r.tracking_number.strip().upper() for r in results}
    return results + [
        TrackingError(number, "carrier_error", "GLS did not answer for this number")
        for number in numbers
        if number.strip().upper() not in answered
    ]


CONNECTOR = Connector(
    code="gls",
    name="GLS",
    default_base_url="https://api.gls-group.net",
    max_numbers_per_call=MAX_NUMBERS_PER_CALL,
    codes=CODES,
    parse=parse,
    fetch=fetch,
    unmapped_codes=unmapped_codes,
    credential_names=("client_id", "client_secret"),
    # Documented quota: 500 requests per day per app by default (more on request; an
    # account can raise it); bursts kept to a minute's worth.
    requests_per_minute=60,
    requests_per_day=500,
    tracking_url="https://gls-group.com/GROUP/en/parcel-tracking?match={number}",
)
