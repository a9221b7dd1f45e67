"""AfterShip Tracking API and webhooks: the aggregator for carriers Suivi has no connector for.

``GET {base}/tracking/2025-04/trackings?tracking_numbers={number}[&slug={slug}]`` with the
``as-api-key`` header answers ``{meta: {code}, data: {trackings: [tracking]}}``; the legacy
``/v4/trackings/{slug}/{number}`` shape (``data.tracking``) and webhook bodies (``{event,
msg: tracking, ts}``) carry the same tracking object: ``tag``/``subtag``, ``checkpoints[]``
(``checkpoint_time`` in the checkpoint's local time, with its offset when the carrier gave
one; ``tag``, ``subtag``, ``message``, ``location``, ``country_region`` or
``country_iso3``, ``coordinate``) and the estimated delivery fields.

A number is fetched one per call. It may carry AfterShip's courier slug, ``"slug:number"``
(``"dhl:1234567890"``), when Suivi knows it; a bare number lets AfterShip answer for any
courier it tracks that number with (the most recently moving one is kept). AfterShip only
answers for trackings that exist in the AfterShip account (created there by the merchant
or an integration); an absent tracking is an ``unknown_number``.

Webhooks are signed: ``aftership-hmac-sha256`` is the base64 HMAC-SHA256 of the raw body
with the webhook secret (:func:`verify_push`). AfterShip follows and pushes only trackings
created in the account: :func:`register` creates one, ``POST {base}/tracking/2025-04/
trackings`` with ``{"tracking_number", "slug"?}`` (a tracking that already exists, meta code
4003, is registered too).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from suivi.carriers.base import Account, CarrierUnavailable, Connector, Result, call, unusable
from suivi.carriers.common import (
    as_dict,
    as_list,
    aware_time,
    last_moved,
    read_json,
    text,
)
from suivi.carriers.vocabulary import (
    Handoff,
    Reason,
    ShipmentUpdate,
    Status,
    TrackingError,
    TrackingEvent,
)

MAX_NUMBERS_PER_CALL = 1
API_VERSION = "2025-04"
SIGNATURE_HEADER = "aftership-hmac-sha256"

# Every AfterShip tag and documented subtag ("Delivery sub-statuses"), mapped on purpose.
# A checkpoint is mapped by its subtag, else by its tag (an unknown subtag still reports).
CODES: dict[str, tuple[Status, Reason]] = {
    # Tags, used when a checkpoint has no subtag (or one we do not know yet).
    "Pending": (Status.PENDING, Reason.NONE),
    "InfoReceived": (Status.INFO_RECEIVED, Reason.NONE),
    "InTransit": (Status.IN_TRANSIT, Reason.NONE),
    "OutForDelivery": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    "AttemptFail": (Status.FAILED_ATTEMPT, Reason.OTHER),
    "AvailableForPickup": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    "Delivered": (Status.DELIVERED, Reason.NONE),
    "Exception": (Status.EXCEPTION, Reason.OTHER),
    "Expired": (Status.EXPIRED, Reason.NONE),
    # Pending_001-006: AfterShip has no carrier information yet (not found yet, carrier
    # not yet scanned, being detected…): every one of them is "pending".
    "Pending_001": (Status.PENDING, Reason.NONE),
    "Pending_002": (Status.PENDING, Reason.NONE),
    "Pending_003": (Status.PENDING, Reason.NONE),
    "Pending_004": (Status.PENDING, Reason.NONE),
    "Pending_005": (Status.PENDING, Reason.NONE),
    "Pending_006": (Status.PENDING, Reason.NONE),
    # InfoReceived_001: the carrier received the shipper's request; nothing moved yet.
    "InfoReceived_001": (Status.INFO_RECEIVED, Reason.NONE),
    # InTransit_001 in transit, _002 acceptance scan, _003 arrival scan, _004 arrived in
    # the destination country, _005 customs clearance completed, _006 customs clearance
    # started, _007 departure scan, _008 problem resolved, _009 forwarded to a different
    # delivery address: all moving normally.
    "InTransit_001": (Status.IN_TRANSIT, Reason.NONE),
    "InTransit_002": (Status.IN_TRANSIT, Reason.NONE),
    "InTransit_003": (Status.IN_TRANSIT, Reason.NONE),
    "InTransit_004": (Status.IN_TRANSIT, Reason.NONE),
    "InTransit_005": (Status.IN_TRANSIT, Reason.NONE),
    "InTransit_006": (Status.IN_TRANSIT, Reason.NONE),
    "InTransit_007": (Status.IN_TRANSIT, Reason.NONE),
    "InTransit_008": (Status.IN_TRANSIT, Reason.NONE),
    "InTransit_009": (Status.IN_TRANSIT, Reason.NONE),
    # OutForDelivery_001 out for delivery, _003 customer contacted, _004 delivery
    # appointment scheduled (_002 is not in the published list; mapped like its tag).
    "OutForDelivery_001": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    "OutForDelivery_002": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    "OutForDelivery_003": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    "OutForDelivery_004": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    # AttemptFail_001 failed attempt (notice left); _002 addressee not available; _003
    # business closed: nobody could take it.
    "AttemptFail_001": (Status.FAILED_ATTEMPT, Reason.OTHER),
    "AttemptFail_002": (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
    "AttemptFail_003": (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
    # AvailableForPickup_001: at a pickup point, waiting for the customer.
    "AvailableForPickup_001": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    # Delivered_001 delivered, _002 picked up by the customer, _003 signed by the
    # customer, _004 delivered and cash on delivery collected, _005 left with a neighbour.
    "Delivered_001": (Status.DELIVERED, Reason.NONE),
    "Delivered_002": (Status.DELIVERED, Reason.NONE),
    "Delivered_003": (Status.DELIVERED, Reason.NONE),
    "Delivered_004": (Status.DELIVERED, Reason.NONE),
    "Delivered_005": (Status.DELIVERED, Reason.NONE),
    # Exception_001 "Exception": a shipping exception AfterShip could not name.
    "Exception_001": (Status.EXCEPTION, Reason.OTHER),
    # Exception_002 "Customer moved": the address is no longer good.
    "Exception_002": (Status.EXCEPTION, Reason.ADDRESS_PROBLEM),
    # Exception_003 "Customer refused delivery".
    "Exception_003": (Status.EXCEPTION, Reason.REFUSED),
    # Exception_004 "Delayed (customs clearance)".
    "Exception_004": (Status.EXCEPTION, Reason.CUSTOMS_HOLD),
    # Exception_005 "Delayed (external factors)".
    "Exception_005": (Status.EXCEPTION, Reason.DELAY),
    # Exception_006 "Held for payment": duties or cash on delivery to pay; AfterShip does
    # not say which, so not a customs hold.
    "Exception_006": (Status.EXCEPTION, Reason.OTHER),
    # Exception_007 "Incorrect address".
    "Exception_007": (Status.EXCEPTION, Reason.ADDRESS_PROBLEM),
    # Exception_008 "Pick up missed": it waited at the pickup point and was not collected.
    "Exception_008": (Status.EXCEPTION, Reason.RECIPIENT_ABSENT),
    # Exception_009 "Rejected by carrier" (did not meet its rules).
    "Exception_009": (Status.EXCEPTION, Reason.OTHER),
    # Exception_010 "Returning to sender"; Exception_011 "Returned to sender".
    "Exception_010": (Status.RETURNING, Reason.NONE),
    "Exception_011": (Status.RETURNED, Reason.NONE),
    # Exception_012 "Shipment damage"; Exception_013 "Shipment lost".
    "Exception_012": (Status.EXCEPTION, Reason.DAMAGED),
    "Exception_013": (Status.EXCEPTION, Reason.LOST),
    # Added in 2026: _016 delayed (processing issue: vehicle, missort, misroute), _017
    # delayed (extreme weather), _018 incorrect or missing documents for the regulators,
    # _019 delayed (late flight), _020 shipment cancelled, _021 shipment disposed of.
    "Exception_016": (Status.EXCEPTION, Reason.DELAY),
    "Exception_017": (Status.EXCEPTION, Reason.WEATHER),
    "Exception_018": (Status.EXCEPTION, Reason.CUSTOMS_HOLD),
    "Exception_019": (Status.EXCEPTION, Reason.DELAY),
    "Exception_020": (Status.EXCEPTION, Reason.OTHER),
    "Exception_021": (Status.EXCEPTION, Reason.LOST),
    # Expired_001: no news for 30 days; AfterShip stopped tracking.
    "Expired_001": (Status.EXPIRED, Reason.NONE),
}

# Customs milestones (a hold is an exception with reason customs_hold, marked "held").
CUSTOMS = {"InTransit_006": "entered", "InTransit_005": "released"}

# AfterShip gives countries as ISO 3166 alpha-3; events carry alpha-2 like other carriers,
# and a bare local time needs alpha-2 for base.localize (single-zone countries only).
_ALPHA2: Mapping[str, str] = {
    "FRA": "FR", "BEL": "BE", "LUX": "LU", "DEU": "DE", "NLD": "NL", "CHE": "CH",
    "ITA": "IT", "ESP": "ES", "AUT": "AT", "GBR": "GB", "IRL": "IE", "POL": "PL",
    "CZE": "CZ", "DNK": "DK", "SWE": "SE", "NOR": "NO", "FIN": "FI", "GRC": "GR",
    "HUN": "HU", "ROU": "RO", "SVK": "SK", "SVN": "SI", "HRV": "HR", "MCO": "MC",
    "CHN": "CN", "HKG": "HK", "JPN": "JP", "KOR": "KR", "SGP": "SG", "IND": "IN",
    "ARE": "AE", "ISR": "IL", "TUR": "TR", "MAR": "MA", "TUN": "TN", "DZA": "DZ",
    "PRT": "PT", "USA": "US", "CAN": "CA", "MEX": "MX", "BRA": "BR", "AUS": "AU",
    "NZL": "NZ", "TWN": "TW", "THA": "TH", "VNM": "VN", "MYS": "MY", "IDN": "ID",
    "PHL": "PH", "ZAF": "ZA", "SAU": "SA", "UKR": "UA", "BGR": "BG", "LTU": "LT",
    "LVA": "LV", "EST": "EE", "ISL": "IS", "RUS": "RU",
}  # fmt: skip

_FINAL_TAGS = frozenset({"Delivered", "Expired"})
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# A 429 without Retry-After: AfterShip says when its rate window resets (a Unix time).
RESET_HEADERS = ("X-RateLimit-Reset", "RateLimit-Reset")
_ERROR_KINDS: Mapping[int, str] = {
    4004: "unknown_number",
    4005: "invalid_number",
    4010: "invalid_number",
    4017: "invalid_number",
}


# Create tracking: meta codes saying the number (or its courier slug) is not trackable.
_REFUSED_NUMBER = {4005, 4010, 4012, 4017}
_ALREADY_EXISTS = 4003


def _country(raw: dict[str, Any], *names: str) -> str:
    code = next((text(raw.get(n)).upper() for n in names if text(raw.get(n))), "")
    return _ALPHA2.get(code, code)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _coordinates(raw: dict[str, Any]) -> tuple[float | None, float | None]:
    point = raw.get("coordinate")
    if isinstance(point, dict):
        latitude, longitude = _number(point.get("latitude")), _number(point.get("longitude"))
    else:  # legacy v4: "coordinates": [latitude, longitude]
        pair = as_list(raw.get("coordinates"))
        latitude, longitude = (
            (_number(pair[0]), _number(pair[1])) if len(pair) == 2 else (None, None)
        )
    if latitude is None or longitude is None or abs(latitude) > 90 or abs(longitude) > 180:
        return None, None
    return latitude, longitude


def _event(number: str, raw: Any) -> TrackingEvent | None:
    if not isinstance(raw, dict):
        return None
    tag, subtag = text(raw.get("tag")), text(raw.get("subtag"))
    mapped = CODES.get(subtag) or CODES.get(tag)
    country = _country(raw, "country_region", "country_iso3")
    # A bare local time (as the carrier gave it) takes the offset of a single-zone country.
    occurred = aware_time(raw.get("checkpoint_time"), country=country)
    if mapped is None or occurred is None:
        return None  # kept out: no known tag, or a time we cannot place
    status, reason = mapped
    location = text(raw.get("location")) or ", ".join(
        p for p in (text(raw.get("city")), text(raw.get("state")), text(raw.get("zip"))) if p
    )
    latitude, longitude = _coordinates(raw)
    return TrackingEvent(
        tracking_number=number,
        status=status,
        reason=reason,
        occurred_at=occurred,
        raw_code=subtag or tag,
        customs=CUSTOMS.get(subtag, ""),
        raw_label=text(raw.get("message")) or text(raw.get("subtag_message")),
        location=location,
        country=country,
        latitude=latitude,
        longitude=longitude,
    )


def _estimated_delivery(tracking: dict[str, Any]) -> datetime | None:
    country = _country(tracking, "destination_country_region", "destination_country_iso3")
    candidates = [
        as_dict(tracking.get("latest_estimated_delivery")).get("datetime"),
        as_dict(tracking.get("courier_estimated_delivery_date")).get("estimated_delivery_date"),
        as_dict(tracking.get("aftership_estimated_delivery_date")).get("estimated_delivery_date"),
        tracking.get("expected_delivery"),  # legacy v4
    ]
    found = (aware_time(c, country=country) for c in candidates)
    return next((t for t in found if t is not None), None)


def _update(tracking: dict[str, Any], number: str = "") -> ShipmentUpdate:
    number = number or text(tracking.get("tracking_number"))
    events = [e for e in (_event(number, raw) for raw in as_list(tracking.get("checkpoints"))) if e]
    slug, service = text(tracking.get("slug")), text(tracking.get("shipment_type"))
    return ShipmentUpdate(
        tracking_number=number,
        events=tuple(events),
        handoff=_handoff(tracking),
        estimated_delivery=_estimated_delivery(tracking),
        carrier_product=f"{slug}: {service}" if slug and service else slug or service,
        is_final=text(tracking.get("tag")) in _FINAL_TAGS
        or text(tracking.get("subtag")) == "Exception_011",
    )


# AfterShip courier slugs of the carriers Suivi follows itself, for hand-offs.
SLUGS: dict[str, str] = {
    "dhl": "dhl", "dhl-global-mail": "dhl", "deutsch-post": "dhl", "ups": "ups",
    "usps": "usps", "fedex": "fedex", "gls": "gls", "dpd": "dpd", "dpd-fr": "dpd",
    "la-poste-colissimo": "colissimo", "colissimo": "colissimo",
    "chronopost-france": "chronopost", "mondialrelay": "mondial_relay",
}  # fmt: skip


def _handoff(tracking: dict[str, Any]) -> Handoff | None:
    """The destination carrier AfterShip names in ``next_couriers`` (a cross-border
    hand-off), when Suivi follows that carrier itself."""
    for courier in as_list(tracking.get("next_couriers")):
        entry = as_dict(courier)
        carrier = SLUGS.get(text(entry.get("slug")).lower())
        number = text(entry.get("tracking_number"))
        if carrier and 4 <= len(number) <= 64:
            return Handoff(carrier, number)
    return None


def _answer(data: dict[str, Any], number: str, slug: str) -> list[Result]:
    meta = as_dict(data.get("meta"))
    code = meta.get("code")
    if isinstance(code, int) and not isinstance(code, bool) and code not in (200, 201):
        message = text(meta.get("message")) or f"AfterShip meta.code {code}"
        return [TrackingError(number, _ERROR_KINDS.get(code, "carrier_error"), message)]
    body = as_dict(data.get("data"))
    if isinstance(body.get("tracking"), dict):  # legacy v4: one tracking
        trackings = [body["tracking"]]
    elif isinstance(body.get("trackings"), list):
        trackings = [t for t in body["trackings"] if isinstance(t, dict)]
    else:
        return unusable("the answer has no tracking")
    if slug:
        trackings = [t for t in trackings if text(t.get("slug")) == slug]
    if not trackings:
        return [TrackingError(number, "unknown_number", "AfterShip does not track this number")]
    # The same number may be tracked with several couriers: the one that moved last wins.
    return [max((_update(t, number) for t in trackings), key=last_moved)]


def parse(body: bytes) -> list[Result]:
    """Parse a Tracking API answer (versioned or legacy v4); never raises."""
    return _parse(body, "", "")


def _parse(body: bytes, number: str, slug: str) -> list[Result]:
    data, problem = read_json(body)
    if problem:
        return unusable(problem)
    if not isinstance(data, dict):
        return unusable("the answer is not an object")
    return _answer(data, number, slug)


def parse_push(body: bytes) -> list[Result]:
    """Parse a webhook body ``{event, msg: tracking, ts}``; never raises."""
    data, problem = read_json(body, "the webhook body")
    if problem:
        return unusable(problem)
    tracking = as_dict(data).get("msg")
    if not isinstance(tracking, dict):
        return unusable("the webhook body has no tracking (msg)")
    update = _update(tracking)
    if not update.tracking_number:
        return unusable("the webhook tracking has no tracking_number")
    return [update]


def verify_push(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """Tell whether ``aftership-hmac-sha256`` is the base64 HMAC-SHA256 of *body*."""
    if not secret:
        return False
    received = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), "")
    if not isinstance(received, str) or not received.strip():
        return False
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    expected = base64.b64encode(digest)
    return hmac.compare_digest(expected, received.strip().encode("utf-8", "replace"))


def _trackings(data: Any) -> list[Any]:
    if not isinstance(data, dict):
        return []
    if isinstance(data.get("msg"), dict):
        return [data["msg"]]
    inner = as_dict(data.get("data"))
    if isinstance(inner.get("tracking"), dict):
        return [inner["tracking"]]
    return as_list(inner.get("trackings"))


def unmapped_codes(body: bytes) -> set[str]:
    """Tags and subtags in *body* (API answer or webhook) that :data:`CODES` does not map."""
    data, _ = read_json(body)
    found: set[str] = set()
    for tracking in _trackings(data):
        for checkpoint in as_list(as_dict(tracking).get("checkpoints")):
            if not isinstance(checkpoint, dict):
                continue
            for name in ("tag", "subtag"):
                code = text(checkpoint.get(name))
                if code and code not in CODES:
                    found.add(code)
    return found


def split(number: str) -> tuple[str, str]:
    """``"slug:number"`` → (slug, number); a bare number → ("", number)."""
    head, sep, tail = number.partition(":")
    slug = head.strip().lower()
    if sep and tail.strip() and _SLUG.match(slug):
        return slug, tail.strip()
    return "", number.strip()


def fetch(numbers: Sequence[str], account: Account) -> list[Result]:
    """Ask AfterShip about one number (``"slug:number"`` or a bare number).

    Results carry the number exactly as asked, so the caller finds its parcel. A 404/400
    with a body (``meta.code`` 4004 …) is an error for that number; 401/403, 429 and 5xx
    raise.
    """
    if len(numbers) != MAX_NUMBERS_PER_CALL:
        raise ValueError("the AfterShip connector takes one number per call")
    asked = numbers[0]
    slug, number = split(asked)
    params = {"tracking_numbers": number, **({"slug": slug} if slug else {})}
    response = call(
        "GET",
        f"{account.base_url.rstrip('/')}/tracking/{API_VERSION}/trackings",
        account=account,
        reset_headers=RESET_HEADERS,
        params=params,
        headers={"as-api-key": account.credential("api_key"), "Accept": "application/json"},
    )
    return _parse(response.content, asked, slug)


def _created(response: httpx.Response, asked: str) -> list[TrackingError]:
    """Read a create-tracking answer: [] when the tracking exists now, an error for a
    refused number; an answer that says neither raises :class:`CarrierUnavailable`
    (creating again is harmless: it answers 4003)."""
    data, problem = read_json(response.content, "the create tracking answer")
    meta = as_dict(as_dict(data).get("meta"))
    code = meta.get("code")
    status = response.status_code
    if isinstance(code, bool) or not isinstance(code, int):
        excerpt = response.text[:200] if response.content else ""
        raise CarrierUnavailable(
            f"unexpected create tracking answer ({status}): {problem or excerpt}", status=status
        )
    message = text(meta.get("message")) or f"AfterShip meta.code {code}"
    if (200 <= status < 300 and code in (200, 201)) or code == _ALREADY_EXISTS:
        return []
    if code in _REFUSED_NUMBER:
        return [TrackingError(asked, "invalid_number", message)]
    if 400 <= status < 500 and 4000 <= code < 5000:  # another refusal of this tracking
        return [TrackingError(asked, "carrier_error", message)]
    raise CarrierUnavailable(f"AfterShip refused the call ({status}): {message}", status=status)


def register(
    numbers: Sequence[str], account: Account, callback_url: str, push_secret: str
) -> list[TrackingError]:
    """Create the tracking of one number (``"slug:number"`` or a bare number) in the
    AfterShip account, so that AfterShip follows it and pushes its updates.

    *callback_url* and *push_secret* are not sent: AfterShip webhooks are set once per
    AfterShip account (Settings → Webhooks: the URL, whose secret signs every push), not per
    tracking; the merchant points them at *callback_url* with the secret Suivi checks.
    """
    del callback_url, push_secret  # see above: configured in AfterShip, not per tracking
    if len(numbers) != MAX_NUMBERS_PER_CALL:
        raise ValueError("the AfterShip connector creates one tracking per call")
    asked = numbers[0]
    slug, number = split(asked)
    response = call(
        "POST",
        f"{account.base_url.rstrip('/')}/tracking/{API_VERSION}/trackings",
        account=account,
        reset_headers=RESET_HEADERS,
        json={"tracking_number": number, **({"slug": slug} if slug else {})},
        headers={"as-api-key": account.credential("api_key"), "Accept": "application/json"},
    )
    return _created(response, asked)


CONNECTOR = Connector(
    code="aftership",
    name="AfterShip (other carriers)",
    default_base_url="https://api.aftership.com",
    max_numbers_per_call=MAX_NUMBERS_PER_CALL,
    codes=CODES,
    parse=parse,
    fetch=fetch,
    unmapped_codes=unmapped_codes,
    credential_names=("api_key",),
    # GET /trackings is limited to 6 requests a second per organisation (2024-07 and later).
    requests_per_minute=360,
    tracking_url="",
    parse_push=parse_push,
    verify_push=verify_push,
    # Creating the tracking is the registration; the webhook (URL and signing secret) is
    # set once per AfterShip account, not per tracking (see register).
    register=register,
    max_numbers_per_registration=1,
)
