"""FedEx Track API (REST): OAuth client credentials, up to 30 numbers per call.

``POST {base}/oauth/token`` (form ``grant_type=client_credentials&client_id&client_secret``)
gives a bearer token, cached per account in this process until a minute before it expires
and fetched again after a 401 (:class:`~suivi.carriers.common.TokenCache`). ``POST {base}/track/v1/trackingnumbers`` with
``includeDetailedScans: true`` answers ``output.completeTrackResults[]``: one item per number,
each with ``trackResults[]`` (several when FedEx reused the number: the most recent one is
kept) holding ``scanEvents[]`` (``date`` with its offset, ``eventType``, ``derivedStatusCode``,
``exceptionCode``, ``scanLocation``), ``latestStatusDetail``, ``dateAndTimes`` and, for an
unknown number, ``error.code`` ``TRACKING.TRACKINGNUMBER.NOTFOUND``.

Events are mapped by their ``eventType`` (FedEx's own ``derivedStatusCode`` folds "on
vehicle for delivery" into "in transit", so it is only the fallback for an event type we
do not know yet; such a type is still reported by :func:`unmapped_codes`). The exception
code (FedEx's DEX/STAT numbering) and ``delayDetail.type`` refine the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from suivi.carriers.base import Account, Connector, Result, call, unusable
from suivi.carriers.common import (
    TokenCache,
    as_dict,
    as_list,
    aware_time,
    client_credentials,
    last_moved,
    read_json,
    read_token,
    text,
)
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError, TrackingEvent

MAX_NUMBERS_PER_CALL = 30

# Every FedEx event type (FedEx "Tracking Status Codes" table), mapped on purpose:
CODES: dict[str, tuple[Status, Reason]] = {
    # OC "Shipment information sent to FedEx" / order created: a label exists, nothing moved.
    "OC": (Status.INFO_RECEIVED, Reason.NONE),
    # IN is a derivedStatusCode ("Label created"), only used as a fallback: same meaning.
    "IN": (Status.INFO_RECEIVED, Reason.NONE),
    # AP "At pickup", EP "Enroute to pickup", DS "Vehicle dispatched" (freight pickup):
    # a courier is on the way to collect it; the parcel is not in FedEx's hands yet.
    "AP": (Status.INFO_RECEIVED, Reason.NONE),
    "EP": (Status.INFO_RECEIVED, Reason.NONE),
    "DS": (Status.INFO_RECEIVED, Reason.NONE),
    # PU "Picked up", PX "Picked up (see details)": FedEx has the parcel.
    "PU": (Status.IN_TRANSIT, Reason.NONE),
    "PX": (Status.IN_TRANSIT, Reason.NONE),
    # Movement through the network, all in transit: AA at airport, AC at Canada Post
    # facility, AF at local FedEx facility, AR arrived at a FedEx location, AX at USPS
    # facility (FedEx Ground Economy hand-off), DP departed, EA enroute to airport (also
    # "export approved"), EO enroute to origin airport, FD at FedEx destination, IT in
    # transit, IX in transit (see details), LO left origin, OF at FedEx origin facility,
    # OW "on the way", PF plane in flight, PL plane landed, PM in progress, SF at sort
    # facility, SP split status (multi-piece), TR transfer.
    "AA": (Status.IN_TRANSIT, Reason.NONE),
    "AC": (Status.IN_TRANSIT, Reason.NONE),
    "AF": (Status.IN_TRANSIT, Reason.NONE),
    "AR": (Status.IN_TRANSIT, Reason.NONE),
    "AX": (Status.IN_TRANSIT, Reason.NONE),
    "DP": (Status.IN_TRANSIT, Reason.NONE),
    "EA": (Status.IN_TRANSIT, Reason.NONE),
    "EO": (Status.IN_TRANSIT, Reason.NONE),
    "FD": (Status.IN_TRANSIT, Reason.NONE),
    "IT": (Status.IN_TRANSIT, Reason.NONE),
    "IX": (Status.IN_TRANSIT, Reason.NONE),
    "LO": (Status.IN_TRANSIT, Reason.NONE),
    "OF": (Status.IN_TRANSIT, Reason.NONE),
    "OW": (Status.IN_TRANSIT, Reason.NONE),
    "PF": (Status.IN_TRANSIT, Reason.NONE),
    "PL": (Status.IN_TRANSIT, Reason.NONE),
    "PM": (Status.IN_TRANSIT, Reason.NONE),
    "SF": (Status.IN_TRANSIT, Reason.NONE),
    "SP": (Status.IN_TRANSIT, Reason.NONE),
    "TR": (Status.IN_TRANSIT, Reason.NONE),
    # AO "arriving on time", AE "arriving early": an ETA note on a moving parcel.
    "AO": (Status.IN_TRANSIT, Reason.NONE),
    "AE": (Status.IN_TRANSIT, Reason.NONE),
    # OX "Shipment information sent to USPS": hand-off data for the last mile, still moving.
    "OX": (Status.IN_TRANSIT, Reason.NONE),
    # CH "Location changed", RR/RM/RC delivery options requested / modified / cancelled by
    # the recipient: the parcel keeps moving, to wherever was chosen.
    "CH": (Status.IN_TRANSIT, Reason.NONE),
    "RR": (Status.IN_TRANSIT, Reason.NONE),
    "RM": (Status.IN_TRANSIT, Reason.NONE),
    "RC": (Status.IN_TRANSIT, Reason.NONE),
    # DR "Vehicle furnished but not used" (freight): an operational note, nothing changes.
    "DR": (Status.IN_TRANSIT, Reason.NONE),
    # CC cleared customs, CP clearance in progress: customs working normally.
    "CC": (Status.IN_TRANSIT, Reason.NONE),
    "CP": (Status.IN_TRANSIT, Reason.NONE),
    # CD "Clearance delay": held at customs, the customer may have to act.
    "CD": (Status.EXCEPTION, Reason.CUSTOMS_HOLD),
    # DY delay, DD delivery delay, PD pickup delay: late; delayDetail may say weather.
    "DY": (Status.EXCEPTION, Reason.DELAY),
    "DD": (Status.EXCEPTION, Reason.DELAY),
    "PD": (Status.EXCEPTION, Reason.DELAY),
    # OD "On FedEx vehicle for delivery", AD "At delivery", ED "Enroute to delivery".
    "OD": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    "AD": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    "ED": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    # DE "Delivery exception": FedEx's DEX scans, a delivery attempted but not completed;
    # the exception code says why (recipient absent, refused, address…).
    "DE": (Status.FAILED_ATTEMPT, Reason.OTHER),
    # SE "Shipment exception": a problem in the network (STAT scans: damage, missort…).
    "SE": (Status.EXCEPTION, Reason.OTHER),
    # HL "Hold at location", HP "Ready for recipient pickup": waiting at a FedEx point.
    "HL": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    "HP": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    # DL "Delivered".
    "DL": (Status.DELIVERED, Reason.NONE),
    # RS "Return to shipper": on its way back.
    "RS": (Status.RETURNING, Reason.NONE),
    # CA "Shipment cancelled" (by the shipper), LP "Return label link cancelled": nothing
    # will arrive; the merchant must look.
    "CA": (Status.EXCEPTION, Reason.OTHER),
    "LP": (Status.EXCEPTION, Reason.OTHER),
    # Return labels sent by email: RP "Return label link emailed", RG "expiring soon": a
    # label exists, nothing moved; RD "Return label link expired": it never will.
    "RP": (Status.INFO_RECEIVED, Reason.NONE),
    "RG": (Status.INFO_RECEIVED, Reason.NONE),
    "RD": (Status.EXPIRED, Reason.NONE),
}

# Customs milestones (a hold is an exception with reason customs_hold, marked "held").
CUSTOMS = {"CP": "entered", "CC": "released"}

# Exception codes (FedEx's DEX/HEX/STAT numbering, as the Track API gives them: "08",
# "A47"…) to a reason; None means "informational: keep the event type's reason". Applied
# to failed attempts, exceptions and returns only.
EXCEPTION_REASONS: dict[str, Reason | None] = {
    "03": Reason.ADDRESS_PROBLEM,  # incorrect address
    "07": Reason.REFUSED,  # shipment refused by recipient
    "08": Reason.RECIPIENT_ABSENT,  # recipient not in / business closed
    "10": Reason.DAMAGED,  # damaged, delivery not completed
    "15": Reason.RECIPIENT_ABSENT,  # business closed due to strike
    "17": Reason.DELAY,  # customer requested future delivery
    "37": Reason.DAMAGED,  # observed package damage
    "42": Reason.RECIPIENT_ABSENT,  # business closed, delivery not attempted
    "50": Reason.CUSTOMS_HOLD,  # improper or missing regulatory paperwork
    "55": Reason.CUSTOMS_HOLD,  # regulatory agency clearance delay
    "84": Reason.DELAY,  # delay beyond our control
    "A52": Reason.DELAY,  # "Package delayed"
    "A3": None,  # "Tendered at FedEx facility": the parcel is moving normally
    "A25": None,  # "Package available for clearance": customs working normally
    "A47": None,  # "Redirected to a nearby FedEx location": the HL/HP scan says the rest
}

# delayDetail.type (CUSTOMS, GENERAL, LOCAL, OPERATIONAL, WEATHER): the two that name a cause.
DELAY_REASONS: dict[str, Reason] = {"WEATHER": Reason.WEATHER, "CUSTOMS": Reason.CUSTOMS_HOLD}

_REFINED = frozenset({Status.EXCEPTION, Status.FAILED_ATTEMPT, Status.RETURNING})

# Error codes for one number (``trackResults[].error.code``) or the whole call (``errors``).
_ERROR_KINDS: dict[str, str] = {
    "TRACKING.TRACKINGNUMBER.NOTFOUND": "unknown_number",
    "TRACKING.TRACKINGNUMBER.INVALID": "invalid_number",
    "TRACKING.TRACKINGNUMBER.EMPTY": "invalid_number",
}

# OAuth client credentials in the form; the token is reused until a minute before it ends.
OAUTH_PATH = "/oauth/token"
TOKENS = TokenCache(lambda account: read_token(client_credentials(account, OAUTH_PATH)))


# --- Parsing --------------------------------------------------------------------------


def _exception_code(value: Any) -> str:
    code = text(value).upper()
    return f"{int(code):02d}" if code.isdigit() and len(code) <= 4 else code


def _location(place: dict[str, Any]) -> str:
    city = text(place.get("city"))
    region = " ".join(
        part
        for part in (text(place.get("stateOrProvinceCode")), text(place.get("postalCode")))
        if part
    )
    return ", ".join(part for part in (city, region) if part)


def _event(number: str, raw: Any) -> TrackingEvent | None:
    if not isinstance(raw, dict):
        return None
    raw_code = text(raw.get("eventType")).upper()
    mapped = CODES.get(raw_code) or CODES.get(text(raw.get("derivedStatusCode")).upper())
    place = as_dict(raw.get("scanLocation"))
    country = text(place.get("countryCode")).upper()
    occurred = aware_time(raw.get("date"), country=country)
    if mapped is None or occurred is None:
        return None  # kept out of the timeline (unknown type, or no trustworthy time)
    status, reason = mapped
    if status in _REFINED:
        refined = EXCEPTION_REASONS.get(_exception_code(raw.get("exceptionCode")))
        reason = refined or reason
        delay = DELAY_REASONS.get(text(as_dict(raw.get("delayDetail")).get("type")).upper())
        reason = delay or reason
    description = text(raw.get("eventDescription"))
    detail = text(raw.get("exceptionDescription"))
    label = f"{description}: {detail}" if description and detail else description or detail
    return TrackingEvent(
        tracking_number=number,
        status=status,
        reason=reason,
        occurred_at=occurred,
        raw_code=raw_code,
        customs=CUSTOMS.get(raw_code, ""),
        raw_label=label,
        location=_location(place),
        country=country,
    )


def _estimated_delivery(result: dict[str, Any]) -> datetime | None:
    candidates: list[Any] = [
        entry.get("dateTime")
        for entry in as_list(result.get("dateAndTimes"))
        if isinstance(entry, dict) and entry.get("type") == "ESTIMATED_DELIVERY"
    ]
    for name in ("estimatedDeliveryTimeWindow", "standardTransitTimeWindow"):
        window = as_dict(as_dict(result.get(name)).get("window"))
        candidates += [window.get("ends"), window.get("begins")]
    return next((t for t in map(aware_time, candidates) if t is not None), None)


def _error(number: str, error: dict[str, Any]) -> TrackingError:
    code = text(error.get("code"))
    message = text(error.get("message")) or code or "FedEx gave an error"
    return TrackingError(number, _ERROR_KINDS.get(code, "carrier_error"), message)


def _update(number: str, result: dict[str, Any]) -> ShipmentUpdate:
    scans = as_list(result.get("scanEvents"))
    events = [e for e in (_event(number, raw) for raw in scans) if e is not None]
    latest = as_dict(result.get("latestStatusDetail"))
    delivered = "DL" in (text(latest.get("code")), text(latest.get("derivedCode")))
    return ShipmentUpdate(
        tracking_number=number,
        events=tuple(events),
        estimated_delivery=_estimated_delivery(result),
        carrier_product=text(as_dict(result.get("serviceDetail")).get("description")),
        is_final=delivered,
    )


def _complete(item: Any) -> Result:
    if not isinstance(item, dict):
        return TrackingError("", "carrier_error", "an item of the answer is not an object")
    results = [r for r in as_list(item.get("trackResults")) if isinstance(r, dict)]
    number = text(item.get("trackingNumber"))
    if not number:
        info = as_dict(results[0].get("trackingNumberInfo")) if results else {}
        number = text(info.get("trackingNumber"))
    found = [r for r in results if not isinstance(r.get("error"), dict)]
    if not found:
        if not results:
            return TrackingError(number, "carrier_error", "FedEx gave no result for the number")
        return _error(number, as_dict(results[0].get("error")))
    # FedEx reuses numbers: several shipments may answer; the one that moved last is ours.
    return max((_update(number, r) for r in found), key=last_moved)


def parse(body: bytes) -> list[Result]:
    """Parse a Track API answer; bad data gives :class:`TrackingError` items, never raises."""
    data, problem = read_json(body)
    if problem:
        return unusable(problem)
    if not isinstance(data, dict):
        return unusable("the answer is not an object")
    results = as_dict(data.get("output")).get("completeTrackResults")
    if not isinstance(results, list):
        errors = [e for e in as_list(data.get("errors")) if isinstance(e, dict)]
        if errors:
            return [_error("", errors[0])]
        return unusable("the answer has no completeTrackResults")
    return [_complete(item) for item in results]


def unmapped_codes(body: bytes) -> set[str]:
    """Event types (and ``exception:<code>``) in *body* that the tables do not map."""
    data, _ = read_json(body)
    found: set[str] = set()
    for item in as_list(as_dict(as_dict(data).get("output")).get("completeTrackResults")):
        for result in as_list(as_dict(item).get("trackResults")):
            for event in as_list(as_dict(result).get("scanEvents")):
                if not isinstance(event, dict):
                    continue
                code = text(event.get("eventType")).upper()
                if code not in CODES:
                    found.add(code)
                exception = _exception_code(event.get("exceptionCode"))
                if exception and exception not in EXCEPTION_REASONS:
                    found.add(f"exception:{exception}")
    return found


def fetch(numbers: Sequence[str], account: Account) -> list[Result]:
    """Ask the Track API about up to :data:`MAX_NUMBERS_PER_CALL` numbers in one call.

    A 400/404 with a body is read by :func:`parse`; 401/403, 429 and 5xx raise (a 401 on
    the tracking call first gets one retry with a fresh token).
    """
    if not 1 <= len(numbers) <= MAX_NUMBERS_PER_CALL:
        raise ValueError(f"the FedEx Track API takes 1 to {MAX_NUMBERS_PER_CALL} numbers per call")
    payload = {
        "includeDetailedScans": True,
        "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in numbers],
    }
    url = f"{account.base_url.rstrip('/')}/track/v1/trackingnumbers"

    def send(token: str) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "X-locale": "en_US",
        }
        return call("POST", url, account=account, json=payload, headers=headers)

    return parse(TOKENS.authorized(account, send).content)


CONNECTOR = Connector(
    code="fedex",
    name="FedEx",
    default_base_url="https://apis.fedex.com",
    max_numbers_per_call=MAX_NUMBERS_PER_CALL,
    codes=CODES,
    parse=parse,
    fetch=fetch,
    unmapped_codes=unmapped_codes,
    credential_names=("client_id", "client_secret"),
    # FedEx meters Track by quota (100,000 calls a day by default, about 69 a minute) and
    # bursts (1,400 in 10 seconds, then 429 for a while): 60 a minute stays inside both.
    requests_per_minute=60,
    tracking_url="https://www.fedex.com/fedextrack/?trknbr={number}",
)
