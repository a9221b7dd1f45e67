"""UPS Tracking API (polling) and UPS Track Alert (push): pure parsing plus the OAuth dance.

Polling: ``GET {base}/api/track/v1/details/{inquiryNumber}`` (one number per call) with a
bearer token and the ``transId`` / ``transactionSrc`` headers. The token comes from ``POST
{base}/security/v1/oauth/token`` (basic ``client_id:client_secret``, ``grant_type=
client_credentials``; ``expires_in`` is a string of seconds, about 4 hours) and is cached per
account in this process until a minute before it expires; a 401 on a tracking call drops it
and the call is made once more with a new one. The answer is
``trackResponse.shipment[].package[].activity[]`` (newest first: ``date`` ``YYYYMMDD``,
``time`` ``HHMMSS``, ``gmtDate``/``gmtTime``/``gmtOffset`` when given, ``location.address``,
``status {type, code, description, statusCode}``). An unknown number is a 404
``{"response": {"errors": [{"code": "TW0001", …}]}}`` or a 200 shipment with only that
``warnings`` entry.

Push: Track Alert POSTs one JSON object per event (``trackingNumber``, ``localActivityDate``
/ ``Time``, ``gmtActivityDate`` / ``Time``, ``activityLocation``, ``activityStatus {type,
code, description, descriptionCode}``, ``scheduledDeliveryDate``…) and sends back the
subscription's ``credential`` string in a ``credential`` header; nothing is signed. Track
Alert pushes only for subscribed numbers (14 days each): :func:`register` subscribes up to
100 ``1Z`` numbers a call, ``POST {base}/api/track/v1/subscription/standard/package``
(same token and headers) with ``{locale, countryCode, trackingNumberList, destination: {url,
credentialType, credential}}``; the answer lists ``validTrackingNumbers`` and
``invalidTrackingNumbers`` (a 400 ``VSS210`` when none is valid).

The raw code is the 3-digit status code (``statusCode``, ``descriptionCode`` in Track
Alert), UPS's finest documented one; when it is missing or undocumented the activity type
decides (``D``, ``I``, ``X``…) and :func:`unmapped_codes` still reports it. Times take the
activity's ``gmtOffset``, else local minus GMT time, else the zone of its country; else the
event is left out.
"""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import quote

import httpx

from suivi.carriers.base import (
    Account,
    AuthenticationFailed,
    CarrierUnavailable,
    Connector,
    Result,
    call,
    localize,
    unusable,
)
from suivi.carriers.common import (
    TokenCache,
    as_dict,
    as_list,
    client_credentials,
    for_number,
    offset_from_gmt,
    parse_offset,
    read_json,
    read_token,
    text,
)
from suivi.carriers.vocabulary import (
    TERMINAL,
    Reason,
    ShipmentUpdate,
    Status,
    TrackingError,
    TrackingEvent,
)

MAX_NUMBERS_PER_CALL = 1  # one inquiryNumber in the path
TRANSACTION_SOURCE = "suivi"
PUSH_CREDENTIAL_HEADER = "credential"  # Track Alert echoes the subscription's credential here
_OAUTH_PATH = "/security/v1/oauth/token"
SUBSCRIPTION_PATH = "/api/track/v1/subscription/standard/package"
MAX_NUMBERS_PER_REGISTRATION = 100  # more is a 400 VSS220 for the whole request

_S, _R = Status, Reason


def _codes(
    codes: str, status: Status, reason: Reason = Reason.NONE
) -> dict[str, tuple[Status, Reason]]:
    return dict.fromkeys(codes.split(), (status, reason))


# Every documented status/description code (UPS's wording after each) and activity type,
# mapped on purpose: a test fails on an unmapped code.
CODES: dict[str, tuple[Status, Reason]] = {
    # Nothing known yet: 000 Status Not Available · 088 Test (integration environment) ·
    # 148/163 Package Information Unavailable.
    **_codes("000 088 148 163", _S.PENDING),
    # The label exists, UPS does not have the parcel; failed or planned collections at the
    # shipper's are the merchant's side, not the customer's: 003/157 Shipment Ready for UPS ·
    # 043 Voided Pickup · 065 Pickup Attempted · 077 Scheduled for Pickup Today · 080 Order
    # Processed: Ready for UPS · 131 Final / 135 Second Pickup Attempted · 133 Return Label
    # Left With Customer (that return parcel is not handed over yet) · 166 Shipment Ready for
    # Roadie.
    **_codes("003 043 065 077 080 131 133 135 157 166", _S.INFO_RECEIVED),
    # 007 Shipment Information Voided: the shipper voided the label, nothing will move under
    # this number any more (terminal).
    "007": (_S.EXPIRED, _R.NONE),
    # Moving normally: 005/010/025/039/047/087/158/159/164/165 On the Way · 012 Clearance in
    # Progress · 014 Clearance Completed · 084 Cleared · 092 Customs Clearance in Progress ·
    # 134 Cleared Import Customs (normal customs processing) · 016 In Warehouse · 038 Picked
    # Up by UPS · 044/045 On the Way to UPS (it left the merchant) · 057 On the Way to a Local
    # UPS Access Point / 070 Package not at UPS Access Point yet (not there yet: see 161) ·
    # 071 Preparing for Delivery (sorted at the delivery centre, not on a van) · 073 In
    # Transit to / 074 has Shipment / 137 Transferred to UPS Delivery Partner · 075 Scheduled
    # for Delivery · 079 Order Processed: In Transit to UPS · 094 Premier Recovery Completed
    # (found again) · 138 Awaiting Scheduled Departure · 160 We Have Your Package · 167/168/169
    # Dropped off at a UPS Store / Retail Location / UPS Access Point by Customer.
    **_codes(
        "005 010 025 039 047 087 158 159 164 165 012 014 084 092 134 016 038 044 045 057 070"
        " 071 073 074 075 079 094 137 138 160 167 168 169",
        _S.IN_TRANSIT,
    ),
    # 143 Delivered to Agent: a partner does the last mile and the customer may not have it
    # yet; a false "delivered" is the worst message we could send.
    "143": (_S.IN_TRANSIT, _R.NONE),
    # Requests and changes by the receiver or the shipper: the parcel keeps moving and the
    # state they lead to has its own code (017/040 held, 161 at an Access Point): 018 Delivery
    # Change Requested: Hold for Pickup · 019 Held for Future Delivery (a chosen date, not a
    # problem) · 020 Held for Future Delivery Requested · 027/028 Delivery Address Change
    # Requested/Changed · 041/042/056/122 Service Upgrade Requested/Upgraded/Confirmed ·
    # 054/063 Delivery Change Requested/Completed · 055 Rescheduled Delivery · 082 Delivery
    # Instructions Received · 095 Additional Attempt Requested · 096-099 Address Change /
    # Deliver to Original Address Requested/Confirmed · 100/101 Hold at UPS Access Point
    # Confirmed/Requested · 102/103 Hold for Courier · 105 Hold for Instructions Requested ·
    # 106-109 Hold for Pickup (Today) Confirmed/Requested · 110-113 Refrigeration / Re-Ice ·
    # 114 Request Canceled · 115/116 Reschedule Delivery · 117 Return by Saturday Confirmed ·
    # 120/121 Saturday Delivery · 136 Delivery Rescheduled for Saturday · 153/154 Updated
    # Delivery Time/Date.
    **_codes(
        "018 019 020 027 028 041 042 054 055 056 063 082 095 096 097 098 099 100 101 102 103"
        " 105 106 107 108 109 110 111 112 113 114 115 116 117 120 121 122 136 153 154",
        _S.IN_TRANSIT,
    ),
    # On the van: 006/021/037/089/091/146/162 Out for Delivery · 072 Loaded on Delivery
    # Vehicle (the morning load of the day's round) · 078 Your Driver is Arriving Soon!
    **_codes("006 021 037 089 091 146 162 072 078", _S.OUT_FOR_DELIVERY),
    # Waiting for the customer to collect it: 017 Held for Customer Pickup · 040 Ready for
    # Customer Pickup · 144 Delivered to Post Office for Pickup · 161 Delivered to UPS Access
    # Point (the collection comes later as 011 Delivered).
    **_codes("017 040 144 161", _S.AVAILABLE_FOR_PICKUP),
    # In the customer's hands: 011 Delivered · 026 Delivered by Local Post Office · 155
    # Delivery Photo (only taken at a delivery) · 156 Commercial Inside Release.
    **_codes("011 026 155 156", _S.DELIVERED),
    # A delivery attempt failed: 022 First Attempt Made · 023 Second Delivery Attempted ·
    # 024 Final Attempt Made · 060/145 Delivery Attempted · 066 Post Office Delivery Attempted.
    **_codes("022 023 024 060 066 145", _S.FAILED_ATTEMPT),
    "061": (_S.FAILED_ATTEMPT, _R.RECIPIENT_ABSENT),  # …: Adult Signature Required (no adult)
    "062": (_S.FAILED_ATTEMPT, _R.OTHER),  # Delivery Attempted: Funds Required (COD, duties)
    # Going back to the sender, requested or under way: 033/119 Return to Sender Requested ·
    # 035 Returning to Sender · 036 …: In Transit · 067 Returned to Sender by Post Office (UPS
    # still brings it back) · 118 Return to Sender Confirmed.
    **_codes("033 035 036 067 118 119", _S.RETURNING),
    "081": (_S.RETURNING, _R.DAMAGED),  # Returned - Damage Reported
    "034": (_S.RETURNED, _R.NONE),  # Returned to Sender
    # Delays UPS reports as exceptions: 046/048/086/090 Delay · 132 Airport Security Delay.
    **_codes("046 048 086 090 132", _S.EXCEPTION, _R.DELAY),
    # 032 Adverse Weather May Cause Delay · 051 Delay: Emergency Situation or Severe Weather ·
    # 052/053 Delay: Severe Weather.
    **_codes("032 051 052 053", _S.EXCEPTION, _R.WEATHER),
    # Held by customs or a government agency until someone informs or pays: 058 Clearance
    # Information Required · 123 Pending Release From Non-UPS Broker · 124/125 Clearance
    # Information Needed · 126 Pending Government Agency Release · 141 Incomplete
    # Documentation Received.
    **_codes("058 123 124 125 126 141", _S.EXCEPTION, _R.CUSTOMS_HOLD),
    # 050 Address Information Required · 139 Security Access Required: the customer can fix.
    **_codes("050 139", _S.EXCEPTION, _R.ADDRESS_PROBLEM),
    "059": (_S.EXCEPTION, _R.DAMAGED),  # Damage Reported
    "064": (_S.EXCEPTION, _R.REFUSED),  # Delivery Refused (a return usually follows)
    # 068 Sent to Lost and Found · 093 Premier Recovery In Progress (UPS is looking for it).
    **_codes("068 093", _S.EXCEPTION, _R.LOST),
    # Something is wrong and UPS does not say it is one of the above: 013 Exception · 029
    # Exception: Action Required · 030 Local Post Office Exception · 049 Delay: Action
    # Required (the action matters more than the delay) · 069 Unable to Deliver · 076 UPS
    # Delivery Partner Exception · 083 Held · 085 Held for COD Payment · 104 Hold for
    # Instructions Confirmed (held until the shipper decides) · 127/128/129 Investigation
    # Closed/Canceled/Opened (for loss or damage, outcome unknown: not "lost" yet) ·
    # 130/140/142 Claim in Progress/Paid/Voided · 147 Seized by Law Enforcement · 149
    # Prohibited Contents, Package Destroyed.
    **_codes(
        "013 029 030 049 069 076 083 085 104 127 128 129 130 140 142 147 149",
        _S.EXCEPTION,
        _R.OTHER,
    ),
    # Activity types, used only when the 3-digit code is missing or undocumented:
    "D": (_S.DELIVERED, _R.NONE),  # Delivered (Track API "Package Activity Types")
    "I": (_S.IN_TRANSIT, _R.NONE),  # In Transit
    "P": (_S.IN_TRANSIT, _R.NONE),  # Pickup scan (seen in live answers: UPS has the parcel)
    "M": (_S.INFO_RECEIVED, _R.NONE),  # Manifest / billing information received
    "MV": (_S.EXPIRED, _R.NONE),  # Manifest voided, like 007
    "X": (_S.EXCEPTION, _R.OTHER),  # Exception
    "U": (_S.IN_TRANSIT, _R.NONE),  # Update (scheduled delivery date or time changed)
    "DO": (_S.IN_TRANSIT, _R.NONE),  # Delivered Origin CFS (freight, origin station)
    "DD": (_S.IN_TRANSIT, _R.NONE),  # Delivered Destination CFS (freight, destination station)
    "W": (_S.IN_TRANSIT, _R.NONE),  # Warehousing (freight)
    "NA": (_S.PENDING, _R.NONE),  # Not Available
}

# Customs milestones (a hold is an exception with reason customs_hold, marked "held").
CUSTOMS = {
    "012": "entered",
    "092": "entered",
    "014": "released",
    "084": "released",
    "134": "released",
}


# Track API warning/error codes for one number.
_ERROR_KINDS = {"TW0001": "unknown_number", "TV1001": "invalid_number", "TV1002": "invalid_number"}

_DATE = re.compile(r"\d{8}")
_CLOCK = re.compile(r"\d{1,6}")


def _text(value: Any) -> str:
    return text(value, numbers=True)  # UPS writes some codes as JSON numbers ("5")


def _status_code(value: Any) -> str:
    """UPS writes the 3-digit code with or without its zeros ("5", "005"): always 3 digits."""
    code = _text(value)
    return code.zfill(3) if code.isascii() and code.isdigit() and len(code) <= 3 else code


def _raw_code(status_code: str, kind: str) -> str:
    """The :data:`CODES` key deciding an activity: its 3-digit code, else its type letter."""
    if status_code in CODES:
        return status_code
    return kind if kind in CODES else ""


def _naive(date: str, clock: str) -> datetime | None:
    """``YYYYMMDD`` plus ``HHMMSS`` (live answers also write ``17:20:00``, and the spec shows
    ``74700`` without its leading zero)."""
    clock = clock.replace(":", "")
    if not _DATE.fullmatch(date) or not _CLOCK.fullmatch(clock):
        return None
    try:
        return datetime.strptime(date + clock.zfill(6), "%Y%m%d%H%M%S")
    except ValueError:
        return None


def _aware(
    local: datetime | None, *, gmt: datetime | None, gmt_offset: str, country: str
) -> datetime | None:
    """The local time with its offset: UPS's ``gmtOffset``, else local minus GMT time, else
    the zone of the activity's country; None rather than a guessed offset."""
    if local is None:
        return None
    offset = parse_offset(gmt_offset)
    if offset is None and gmt is not None:
        offset = offset_from_gmt(local, gmt)
    if offset is not None:
        return local.replace(tzinfo=offset)
    return localize(local, country=country)


def _place(address: dict[str, Any]) -> tuple[str, str]:
    country = (_text(address.get("countryCode")) or _text(address.get("country"))).upper()
    parts = (address.get("city"), address.get("stateProvince"), address.get("postalCode"))
    return ", ".join(filter(None, (_text(part) for part in parts))), country


def _event(
    number: str,
    status: dict[str, Any],
    *,
    status_code: Any,
    local: datetime | None,
    gmt: datetime | None,
    gmt_offset: str,
    address: dict[str, Any],
) -> TrackingEvent | None:
    raw_code = _raw_code(_status_code(status_code), _text(status.get("type")).upper())
    location, country = _place(address)
    occurred = _aware(local, gmt=gmt, gmt_offset=gmt_offset, country=country)
    if not raw_code or occurred is None:
        return None  # undocumented code or unplaceable time: left out, the rest still counts
    mapped_status, reason = CODES[raw_code]
    return TrackingEvent(
        tracking_number=number,
        status=mapped_status,
        reason=reason,
        occurred_at=occurred,
        raw_code=raw_code,
        customs=CUSTOMS.get(raw_code, ""),
        raw_label=_text(status.get("description")),
        location=location,
        country=country,
    )


def _activity(number: str, raw: Any) -> TrackingEvent | None:
    activity = as_dict(raw)
    status = as_dict(activity.get("status"))
    return _event(
        number,
        status,
        status_code=status.get("statusCode"),
        local=_naive(_text(activity.get("date")), _text(activity.get("time"))),
        gmt=_naive(_text(activity.get("gmtDate")), _text(activity.get("gmtTime"))),
        gmt_offset=_text(activity.get("gmtOffset")),
        address=as_dict(as_dict(activity.get("location")).get("address")),
    )


def _eta(date: str, clock: str, *, country: str, fallback: tzinfo | None) -> datetime | None:
    """A delivery date (with the end of its window when UPS gives one) in the zone of
    *country*, else at the *fallback* offset (the newest event's). A bare date becomes local
    **noon**: a day marker that stays on the same calendar day wherever it is shown within
    ±12 hours (so a neighbouring zone as fallback cannot change the day), where midnight
    would slip to the day before."""
    local = _naive(date, clock) or _naive(date, "120000")
    if local is None:
        return None
    found = localize(local, country=country)
    if found is None and fallback is not None:
        found = local.replace(tzinfo=fallback)
    return found


def _package(raw: Any, inquiry: str) -> ShipmentUpdate:
    package = as_dict(raw)
    number = _text(package.get("trackingNumber")) or inquiry
    events = [e for e in (_activity(number, a) for a in as_list(package.get("activity"))) if e]
    latest = max(events, key=lambda e: e.occurred_at, default=None)
    destination = next(
        (
            _place(as_dict(a.get("address")))[1]
            for a in map(as_dict, as_list(package.get("packageAddress")))
            if "DESTINATION" in _text(a.get("type")).upper()
        ),
        "",
    )
    dates = {
        _text(d.get("type")).upper(): _text(d.get("date"))
        for d in map(as_dict, as_list(package.get("deliveryDate")))
    }
    window = as_dict(package.get("deliveryTime"))
    windowed = _text(window.get("type")).upper() in {"EDW", "CDW", "IDW", "CMT"}
    clock = _text(window.get("endTime")) if windowed else ""
    planned = dates.get("RDD") or dates.get("SDD") or ""  # rescheduled beats scheduled
    eta = None
    if planned and not (latest and latest.status in TERMINAL):
        eta = _eta(
            planned,
            clock,
            country=destination or (latest.country if latest else ""),
            fallback=latest.occurred_at.tzinfo if latest else None,
        )
    return ShipmentUpdate(
        tracking_number=number,
        events=tuple(events),
        estimated_delivery=eta,
        carrier_product=_text(as_dict(package.get("service")).get("description")),
        is_final=latest is not None and latest.status in TERMINAL,
    )


def _errors(entries: list[Any], number: str) -> list[Result]:
    found: list[Result] = []
    for entry in map(as_dict, entries):
        code = _text(entry.get("code")).upper()
        message = _text(entry.get("message")) or code or "UPS reported an error"
        found.append(TrackingError(number, _ERROR_KINDS.get(code, "carrier_error"), message))
    return found


def parse(body: bytes) -> list[Result]:
    """Parse a Track API answer (200, or a 400/404 error body); never raises on bad data."""
    data, problem = read_json(body)
    if problem:
        return unusable(problem)
    if not isinstance(data, dict):
        return unusable("the answer is not an object")
    if "trackResponse" not in data:
        errors = _errors(as_list(as_dict(data.get("response")).get("errors")), "")
        return errors or unusable("neither trackResponse nor errors in the answer")
    shipments = as_list(as_dict(data.get("trackResponse")).get("shipment"))
    results: list[Result] = []
    for shipment in map(as_dict, shipments):
        inquiry = _text(shipment.get("inquiryNumber"))
        packages = as_list(shipment.get("package"))
        results.extend(_package(package, inquiry) for package in packages)
        if not packages:
            warnings = _errors(as_list(shipment.get("warnings")), inquiry)
            results.extend(warnings or [TrackingError(inquiry, "unknown_number", "no package")])
    return results or unusable("the answer has no shipment")


def _push(raw: Any) -> Result:
    item = as_dict(raw)
    number = _text(item.get("trackingNumber")).replace(" ", "")
    if not number:
        return TrackingError("", "carrier_error", "a Track Alert event without trackingNumber")
    status = as_dict(item.get("activityStatus"))
    event = _event(
        number,
        status,
        status_code=status.get("descriptionCode"),
        local=_naive(_text(item.get("localActivityDate")), _text(item.get("localActivityTime"))),
        gmt=_naive(_text(item.get("gmtActivityDate")), _text(item.get("gmtActivityTime"))),
        gmt_offset=_text(item.get("gmtOffset")),
        address=as_dict(item.get("activityLocation")),
    )
    final = event is not None and event.status in TERMINAL
    eta = None
    if not final and _text(item.get("scheduledDeliveryDate")):
        eta = _eta(
            _text(item.get("scheduledDeliveryDate")),
            "",
            country=event.country if event else "",
            fallback=event.occurred_at.tzinfo if event else None,
        )
    return ShipmentUpdate(
        tracking_number=number,
        events=(event,) if event else (),
        estimated_delivery=eta,
        is_final=final,
    )


def parse_push(body: bytes) -> list[Result]:
    """Parse a Track Alert event (one object; an array of them is read too)."""
    data, problem = read_json(body, "the Track Alert body")
    if problem:
        return unusable(problem)
    if not isinstance(data, dict | list):
        return unusable("the Track Alert body is neither an object nor an array")
    return [_push(item) for item in (data if isinstance(data, list) else [data])]


def verify_push(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """Track Alert does not sign its bodies: it sends back, in the ``credential`` header,
    the opaque string registered with the subscription. Accept only that exact string."""
    if not secret:
        return False
    given = next(
        (v for k, v in headers.items() if k.lower() in (PUSH_CREDENTIAL_HEADER, "http_credential")),
        None,
    )
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode(), secret.encode())


def unmapped_codes(body: bytes) -> set[str]:
    """Status codes and activity types in *body* (Track API answer or Track Alert event)
    that :data:`CODES` does not map (for tests and monitoring)."""
    data, _ = read_json(body)
    statuses: list[tuple[dict[str, Any], Any]] = []
    for item in data if isinstance(data, list) else [data]:
        item = as_dict(item)
        if "activityStatus" in item:
            status = as_dict(item.get("activityStatus"))
            statuses.append((status, status.get("descriptionCode")))
        for shipment in map(as_dict, as_list(as_dict(item.get("trackResponse")).get("shipment"))):
            for package in map(as_dict, as_list(shipment.get("package"))):
                for activity in map(as_dict, as_list(package.get("activity"))):
                    status = as_dict(activity.get("status"))
                    statuses.append((status, status.get("statusCode")))
    found: set[str] = set()
    for status, raw in statuses:
        code, kind = _status_code(raw), _text(status.get("type")).upper()
        found |= {c for c in (code, kind) if c and c not in CODES}
    return found


# --- OAuth token, cached per account in this process --------------------------------------

# Client id and secret in HTTP Basic; reused until a minute before it ends.
TOKENS = TokenCache(
    lambda account: read_token(client_credentials(account, _OAUTH_PATH, basic_auth=True))
)


def _track(number: str, account: Account, token: str) -> bytes:
    response = call(
        "GET",
        f"{account.base_url.rstrip('/')}/api/track/v1/details/{quote(number, safe='')}",
        account=account,
        params={"locale": "en_US", "returnSignature": "false", "returnMilestones": "false"},
        headers={
            "Authorization": f"Bearer {token}",
            "transId": uuid.uuid4().hex,  # unique per request, at most 32 characters
            "transactionSrc": TRANSACTION_SOURCE,
            "Accept": "application/json",
        },
    )
    return response.content


def fetch(numbers: Sequence[str], account: Account) -> list[Result]:
    """Ask the Track API about one number (getting or reusing the account's token); a 401
    drops the token and retries once with a new one, a second 401 raises."""
    if len(numbers) != MAX_NUMBERS_PER_CALL:
        raise ValueError("the UPS Track API takes one number per call")
    number = numbers[0]
    body = TOKENS.authorized(account, lambda token: _track(number, account, token))
    return for_number(parse(body), number)


# --- Track Alert subscriptions ------------------------------------------------------------

# Track Alert takes "1Z" followed by 16 letters or digits, nothing else.
_SUBSCRIBABLE = re.compile(r"1Z[0-9A-Z]{16}")
# 400 codes saying the numbers themselves were refused (none valid / not a CIE test 1Z);
# any other 400 code refuses the request (URL, credential, locale…).
_NUMBERS_REFUSED = {"VSS210", "VSS215"}


def _subscribe(
    sent: list[str], account: Account, url: str, secret: str, token: str
) -> httpx.Response:
    return call(
        "POST",
        f"{account.base_url.rstrip('/')}{SUBSCRIPTION_PATH}",
        account=account,
        json={
            "locale": "en_US",  # "reserved for future use", but required
            "countryCode": "US",  # idem
            "trackingNumberList": sent,
            # Track Alert sends the credential back in the "credential" header of every
            # event (credentialType is free text): verify_push compares it with the secret.
            "destination": {"url": url, "credentialType": "Bearer", "credential": secret},
        },
        headers={
            "Authorization": f"Bearer {token}",
            "transId": uuid.uuid4().hex,
            "transactionSrc": TRANSACTION_SOURCE,
            "Accept": "application/json",
        },
    )


def _listed(data: dict[str, Any], name: str) -> set[str]:
    return {_text(n).replace(" ", "").upper() for n in as_list(data.get(name))} - {""}


def _refusals(response: httpx.Response, sent: list[str]) -> dict[str, tuple[str, str]]:
    """``{number sent: (error code, message)}`` for the numbers UPS did not subscribe."""
    data, problem = read_json(response.content, "the Track Alert subscription answer")
    status = response.status_code
    if problem or not isinstance(data, dict) or status not in (200, 400):
        excerpt = response.text[:200] if response.content else ""
        raise CarrierUnavailable(
            f"unexpected Track Alert answer ({status}): {problem or excerpt}", status=status
        )
    invalid = _listed(data, "invalidTrackingNumbers")
    if status == 200:
        if not isinstance(data.get("validTrackingNumbers"), list) and not invalid:
            raise CarrierUnavailable("the Track Alert answer lists no number", status=status)
        valid = _listed(data, "validTrackingNumbers")
        return {
            n: ("invalid_number", "UPS refused to subscribe this number")
            if n in invalid
            else ("carrier_error", "UPS did not confirm the subscription of this number")
            for n in sent
            if n not in valid or n in invalid
        }
    # 400: the whole request was refused; VSS210/VSS215 mean its numbers were. Its errors
    # are in response.errors (the gateway's own refusals: a top-level errors).
    found = as_dict(data.get("response")).get("errors", data.get("errors"))
    if not isinstance(found, list) and "invalidTrackingNumbers" not in data:
        raise CarrierUnavailable(
            f"an unreadable Track Alert 400: {response.text[:200]}", status=400
        )
    errors = as_list(found)
    codes = {_text(e.get("code")).upper() for e in map(as_dict, errors)}
    message = "; ".join(
        filter(
            None,
            (
                f"{_text(e.get('code'))} {_text(e.get('message'))}".strip()
                for e in map(as_dict, errors)
            ),
        )
    )
    numbers_refused = bool(codes & _NUMBERS_REFUSED)
    return {
        n: (
            "invalid_number" if numbers_refused or n in invalid else "carrier_error",
            message or "UPS refused the subscription",
        )
        for n in sent
    }


def register(
    numbers: Sequence[str], account: Account, callback_url: str, push_secret: str
) -> list[TrackingError]:
    """Subscribe *numbers* (at most 100) to Track Alert events POSTed to *callback_url* with
    *push_secret* as their credential; errors, under the numbers as given, for the refused
    ones. A number that is not a ``1Z`` is refused without asking UPS; a 400 refusing the
    request itself is an error for each of its numbers (``carrier_error``, or
    ``invalid_number`` when no number was valid); an unreadable answer raises
    :class:`CarrierUnavailable` (subscribing again is harmless)."""
    if not 1 <= len(numbers) <= MAX_NUMBERS_PER_REGISTRATION:
        raise ValueError("UPS Track Alert takes 1 to 100 numbers per subscription")
    if not callback_url or not push_secret:
        raise AuthenticationFailed("a Track Alert subscription needs a callback URL and secret")
    errors: list[TrackingError] = []
    wanted: dict[str, list[str]] = {}  # the number sent (1Z…, upper case) -> as given
    for number in numbers:
        normalized = number.replace(" ", "").upper()
        if _SUBSCRIBABLE.fullmatch(normalized):
            wanted.setdefault(normalized, []).append(number)
        else:
            errors.append(TrackingError(number, "invalid_number", "Track Alert takes 1Z numbers"))
    if not wanted:
        return errors
    sent = list(wanted)
    response = TOKENS.authorized(
        account, lambda token: _subscribe(sent, account, callback_url, push_secret, token)
    )
    for normalized, (code, message) in _refusals(response, sent).items():
        errors.extend(TrackingError(number, code, message) for number in wanted[normalized])
    return errors


CONNECTOR = Connector(
    code="ups",
    name="UPS",
    default_base_url="https://onlinetools.ups.com",
    max_numbers_per_call=MAX_NUMBERS_PER_CALL,
    codes=CODES,
    parse=parse,
    fetch=fetch,
    unmapped_codes=unmapped_codes,
    credential_names=("client_id", "client_secret"),
    # UPS publishes no per-account figure (it answers 429 when throttling): 2 calls a second
    # is a conservative pace; a token call precedes the first track call every ~4 hours.
    requests_per_minute=120,
    tracking_url="https://www.ups.com/track?loc=fr_FR&tracknum={number}",
    parse_push=parse_push,
    verify_push=verify_push,
    register=register,
    registration_days=14,  # Track Alert subscriptions last 14 days
    max_numbers_per_registration=MAX_NUMBERS_PER_REGISTRATION,
)
