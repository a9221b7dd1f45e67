"""USPS Tracking API v3: OAuth client credentials, one number per call.

``POST {base}/oauth2/v3/token`` (form, scope ``tracking``) gives a bearer token, cached per
account like FedEx's (:class:`~suivi.carriers.common.TokenCache`). ``GET
{base}/tracking/v3/tracking/{number}?expand=DETAIL`` answers one object: ``trackingNumber``,
``statusCategory``, ``expectedDeliveryTimeStamp`` / ``expectedDeliveryDate``,
``destinationState`` and ``trackingEvents[]`` (newest first) with ``eventCode`` (USPS
Publication 199, appendix G), ``eventType`` (the label), ``eventCity/State/ZIP/Country``.

Times: ``eventTimestamp`` is the local wall-clock time **without an offset**. The offset is
taken, in order, from ``GMTOffset`` ("-05:00", also seen as "-7:00"), from the difference
between ``eventTimestamp`` and ``GMTTimestamp`` (UTC, rounded to the quarter hour), or from
the state's zone when the state has a single one (:data:`STATE_ZONES`); otherwise the event
is kept out rather than given an invented "Z".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from suivi.carriers.base import Account, Connector, Result, call, localize, unusable
from suivi.carriers.common import (
    TokenCache,
    as_dict,
    client_credentials,
    offset_from_gmt,
    parse_iso,
    parse_offset,
    read_json,
    read_token,
    text,
)
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError, TrackingEvent

MAX_NUMBERS_PER_CALL = 1

# Every USPS event code we know (Publication 199 appendix G-4 and codes seen in API
# answers), mapped on purpose:
CODES: dict[str, tuple[Status, Reason]] = {
    # MA "Manifest acknowledgement", GX "Shipping label created, USPS awaiting item": the
    # sender announced the parcel; USPS does not have it yet.
    "MA": (Status.INFO_RECEIVED, Reason.NONE),
    "GX": (Status.INFO_RECEIVED, Reason.NONE),
    # 03 "Accept or pickup", TM "Shipment acceptance" (truck manifest), PA "Shipment
    # acceptance" (passive), 80 picked up by a shipping partner: USPS (or its partner) has it.
    "03": (Status.IN_TRANSIT, Reason.NONE),
    "TM": (Status.IN_TRANSIT, Reason.NONE),
    "PA": (Status.IN_TRANSIT, Reason.NONE),
    "80": (Status.IN_TRANSIT, Reason.NONE),
    # Network scans, all in transit: 07 arrival at unit (the delivery post office), 10
    # processed, PC sorting/processing complete, EF departed sort facility, SF departed post
    # office, A1 arrived at / T1 departed a regional facility, TL in transit to next
    # facility, 19 DC eVS arrive, 41 received at opening unit, 42 handed to a shipping
    # partner, 81/82 arrived at / departed a shipping partner facility.
    "07": (Status.IN_TRANSIT, Reason.NONE),
    "10": (Status.IN_TRANSIT, Reason.NONE),
    "PC": (Status.IN_TRANSIT, Reason.NONE),
    "EF": (Status.IN_TRANSIT, Reason.NONE),
    "SF": (Status.IN_TRANSIT, Reason.NONE),
    "A1": (Status.IN_TRANSIT, Reason.NONE),
    "T1": (Status.IN_TRANSIT, Reason.NONE),
    "TL": (Status.IN_TRANSIT, Reason.NONE),
    "19": (Status.IN_TRANSIT, Reason.NONE),
    "41": (Status.IN_TRANSIT, Reason.NONE),
    "42": (Status.IN_TRANSIT, Reason.NONE),
    "81": (Status.IN_TRANSIT, Reason.NONE),
    "82": (Status.IN_TRANSIT, Reason.NONE),
    # 06 "Forwarded": the addressee moved and left a forwarding address; still moving.
    "06": (Status.IN_TRANSIT, Reason.NONE),
    # 14 "Arrival at pickup point": arrived where it will be held; 16 says when it can be
    # collected, so this one stays in transit.
    "14": (Status.IN_TRANSIT, Reason.NONE),
    # 08 "Missent", 15 "Mis-shipped": sent the wrong way, it will be late.
    "08": (Status.EXCEPTION, Reason.DELAY),
    "15": (Status.EXCEPTION, Reason.DELAY),
    # 71 "Rescheduled to next delivery day": late, not lost.
    "71": (Status.EXCEPTION, Reason.DELAY),
    # DX "Delivery status not updated": USPS cannot say where it is; worth a look.
    "DX": (Status.EXCEPTION, Reason.OTHER),
    # OF "Out for delivery".
    "OF": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    # Delivery attempted, not completed: 02 notice left, 52 notice left, 55 no secure
    # location, 56 no authorised recipient, 51 business closed: nobody could take it.
    "02": (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
    "52": (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
    "55": (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
    "56": (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
    "51": (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
    # 53 receptacle blocked, 54 receptacle full / item oversized, 30 no access to the
    # delivery location: attempts that failed for a reason other than absence. (These are
    # not returns: returns are 09 and 21-31.)
    "53": (Status.FAILED_ATTEMPT, Reason.OTHER),
    "54": (Status.FAILED_ATTEMPT, Reason.OTHER),
    "30": (Status.FAILED_ATTEMPT, Reason.OTHER),
    # 16 "Available for pickup": waiting at the post office counter / locker.
    "16": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    # 01 "Delivered"; 17 picked up by the addressee's agent; 43 picked up at the post office.
    "01": (Status.DELIVERED, Reason.NONE),
    "17": (Status.DELIVERED, Reason.NONE),
    "43": (Status.DELIVERED, Reason.NONE),
    # 04 "Refused": the addressee refused it; a return follows.
    "04": (Status.EXCEPTION, Reason.REFUSED),
    # 05 "Undeliverable as addressed".
    "05": (Status.EXCEPTION, Reason.ADDRESS_PROBLEM),
    # 11 "Dead letter": sent to the Mail Recovery Center; it will not arrive.
    "11": (Status.EXCEPTION, Reason.LOST),
    # 09 "Return to sender", 44 "Customer recall" (the sender took it back): returning.
    "09": (Status.RETURNING, Reason.NONE),
    "44": (Status.RETURNING, Reason.NONE),
    # Return to sender, with the reason USPS gives: 21 no such number, 22 insufficient
    # address, 23 moved left no address, 24 forward expired, 25 addressee unknown, 26 vacant.
    "21": (Status.RETURNING, Reason.ADDRESS_PROBLEM),
    "22": (Status.RETURNING, Reason.ADDRESS_PROBLEM),
    "23": (Status.RETURNING, Reason.ADDRESS_PROBLEM),
    "24": (Status.RETURNING, Reason.ADDRESS_PROBLEM),
    "25": (Status.RETURNING, Reason.ADDRESS_PROBLEM),
    "26": (Status.RETURNING, Reason.ADDRESS_PROBLEM),
    # 27 unclaimed, 31 not picked up: it waited at the counter and nobody came.
    "27": (Status.RETURNING, Reason.RECIPIENT_ABSENT),
    "31": (Status.RETURNING, Reason.RECIPIENT_ABSENT),
    # 28 deceased, 29 other: returning for a reason we cannot name.
    "28": (Status.RETURNING, Reason.OTHER),
    "29": (Status.RETURNING, Reason.OTHER),
}

# States (and territories) with one civil time zone, for events that come with neither
# GMTOffset nor GMTTimestamp. States split between zones (AK, FL, ID, IN, KS, KY, MI, ND,
# NE, OR, SD, TN, TX) are left out on purpose: an event there without USPS's own offset is
# kept out rather than given a guessed hour. AZ is Phoenix time (no DST) except the Navajo
# Nation, where USPS facilities are few.
STATE_ZONES: Mapping[str, str] = {
    "AL": "America/Chicago", "AR": "America/Chicago", "AZ": "America/Phoenix",
    "CA": "America/Los_Angeles", "CO": "America/Denver", "CT": "America/New_York",
    "DC": "America/New_York", "DE": "America/New_York", "GA": "America/New_York",
    "HI": "Pacific/Honolulu", "IA": "America/Chicago", "IL": "America/Chicago",
    "LA": "America/Chicago", "MA": "America/New_York", "MD": "America/New_York",
    "ME": "America/New_York", "MN": "America/Chicago", "MO": "America/Chicago",
    "MS": "America/Chicago", "MT": "America/Denver", "NC": "America/New_York",
    "NH": "America/New_York", "NJ": "America/New_York", "NM": "America/Denver",
    "NV": "America/Los_Angeles", "NY": "America/New_York", "OH": "America/New_York",
    "OK": "America/Chicago", "PA": "America/New_York", "RI": "America/New_York",
    "SC": "America/New_York", "UT": "America/Denver", "VA": "America/New_York",
    "VT": "America/New_York", "WA": "America/Los_Angeles", "WI": "America/Chicago",
    "WV": "America/New_York", "WY": "America/Denver", "PR": "America/Puerto_Rico",
    "VI": "America/St_Thomas", "GU": "Pacific/Guam", "AS": "Pacific/Pago_Pago",
    "MP": "Pacific/Saipan",
}  # fmt: skip

OAUTH_PATH = "/oauth2/v3/token"
TOKENS = TokenCache(
    lambda account: read_token(client_credentials(account, OAUTH_PATH, scope="tracking"))
)


def _zone(state: str, country: str) -> ZoneInfo | None:
    name = STATE_ZONES.get(state.upper()) if country in ("", "US") else None
    return ZoneInfo(name) if name else None


def _localize(naive: datetime, state: str, country: str) -> datetime | None:
    zone = _zone(state, country)
    if zone is not None:
        return naive.replace(tzinfo=zone)
    return localize(naive, country=country) if country not in ("", "US") else None


def _event_time(raw: dict[str, Any], state: str, country: str) -> datetime | None:
    stamp = parse_iso(raw.get("eventTimestamp"))
    if stamp is None:
        return None
    gmt = parse_iso(raw.get("GMTTimestamp"))
    gmt = gmt.replace(tzinfo=UTC) if gmt is not None and gmt.tzinfo is None else gmt
    offset = parse_offset(text(raw.get("GMTOffset")))
    if stamp.utcoffset():  # a real, non-zero offset on the local time: USPS said it
        return stamp
    if stamp.tzinfo is not None:
        # "Z" on eventTimestamp: a local time mislabelled, unless it is the GMT time itself.
        if gmt is not None and abs(stamp - gmt) < timedelta(minutes=1):
            zone = offset or _zone(state, country)
            return gmt.astimezone(zone) if zone is not None else None
        stamp = stamp.replace(tzinfo=None)
    if offset is not None:
        return stamp.replace(tzinfo=offset)
    derived = offset_from_gmt(stamp, gmt) if gmt is not None else None
    if derived is not None:
        return stamp.replace(tzinfo=derived)
    return _localize(stamp, state, country)


def _country(raw: dict[str, Any], state: str) -> str:
    country = text(raw.get("eventCountry")).upper()
    if country in ("", "UNITED STATES", "USA") and state:
        return "US"
    return country if len(country) == 2 else ""


def _event(number: str, raw: Any) -> TrackingEvent | None:
    if not isinstance(raw, dict):
        return None
    raw_code = text(raw.get("eventCode")).upper()
    state = text(raw.get("eventState")).upper()
    country = _country(raw, state)
    occurred = _event_time(raw, state, country)
    if raw_code not in CODES or occurred is None:
        return None  # kept out of the timeline: unknown code or no trustworthy offset
    status, reason = CODES[raw_code]
    city = text(raw.get("eventCity"))
    region = " ".join(p for p in (state, text(raw.get("eventZIP"))) if p)
    return TrackingEvent(
        tracking_number=number,
        status=status,
        reason=reason,
        occurred_at=occurred,
        raw_code=raw_code,
        raw_label=text(raw.get("eventType")),
        location=", ".join(p for p in (city, region) if p),
        country=country,
    )


def _estimated_delivery(data: dict[str, Any]) -> datetime | None:
    state = text(data.get("destinationState")).upper()
    for name in (
        "expectedDeliveryTimeStamp",
        "expectedDeliveryDate",
        "predictedDeliveryTimeStamp",
        "predictedDeliveryDate",
    ):
        value = parse_iso(data.get(name))
        if value is None:
            continue
        if value.utcoffset():
            return value
        # A date, or a local time (a "Z" there is USPS's mislabel, as on events).
        return _localize(value.replace(tzinfo=None), state, "US")
    return None


def _error(number: str, data: dict[str, Any]) -> TrackingError:
    error = data.get("error")
    if isinstance(error, dict):
        code = text(error.get("code")) or str(error.get("code") or "")
        message = text(error.get("message")) or code
        listed = error.get("errors")
        details = [d for d in listed if isinstance(d, dict)] if isinstance(listed, list) else []
        if details:
            message = text(details[0].get("detail")) or message
    else:  # OAuth shape: {"error": "invalid_token", "error_description": "…"}
        code = text(error)
        message = text(data.get("error_description")) or code
    kind = {"404": "unknown_number", "400": "invalid_number"}.get(code, "carrier_error")
    return TrackingError(number, kind, message or "USPS gave an error")


def _parse(body: bytes, number: str = "") -> list[Result]:
    data, problem = read_json(body)
    if problem:
        return unusable(problem)
    if not isinstance(data, dict):
        return unusable("the answer is not an object")
    found = number or text(data.get("trackingNumber"))
    if "error" in data:
        return [_error(found, data)]
    events_raw = data.get("trackingEvents")
    if not isinstance(events_raw, list):
        return unusable("the answer has no trackingEvents")
    events = [e for e in (_event(found, raw) for raw in events_raw) if e is not None]
    return [
        ShipmentUpdate(
            tracking_number=found,
            events=tuple(events),
            estimated_delivery=_estimated_delivery(data),
            carrier_product=text(data.get("mailClass")),
            is_final=text(data.get("statusCategory")).lower() == "delivered",
        )
    ]


def parse(body: bytes) -> list[Result]:
    """Parse a Tracking v3 answer (one number); bad data gives errors, never raises."""
    return _parse(body)


def unmapped_codes(body: bytes) -> set[str]:
    """Event codes in *body* that :data:`CODES` does not map (for tests and monitoring)."""
    data, _ = read_json(body)
    events = as_dict(data).get("trackingEvents")
    return {
        text(event.get("eventCode")).upper()
        for event in (events if isinstance(events, list) else [])
        if isinstance(event, dict) and text(event.get("eventCode")).upper() not in CODES
    }


def fetch(numbers: Sequence[str], account: Account) -> list[Result]:
    """Ask Tracking v3 about one number (the API takes one per call).

    A 400/404 with a body is read as an error for that number; 401/403, 429 and 5xx raise
    (a 401 on the tracking call first gets one retry with a fresh token).
    """
    if len(numbers) != MAX_NUMBERS_PER_CALL:
        raise ValueError("the USPS Tracking API takes one number per call")
    number = numbers[0]
    url = f"{account.base_url.rstrip('/')}/tracking/v3/tracking/{quote(number, safe='')}"

    def send(token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        return call("GET", url, account=account, params={"expand": "DETAIL"}, headers=headers)

    return _parse(TOKENS.authorized(account, send).content, number)


CONNECTOR = Connector(
    code="usps",
    name="USPS",
    default_base_url="https://apis.usps.com",
    max_numbers_per_call=MAX_NUMBERS_PER_CALL,
    codes=CODES,
    parse=parse,
    fetch=fetch,
    unmapped_codes=unmapped_codes,
    credential_names=("client_id", "client_secret"),
    # The USPS APIs' default quota is 60 calls an hour per application (raised on request).
    requests_per_minute=1,
    tracking_url="https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
)
