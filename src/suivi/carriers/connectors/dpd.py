"""DPD "ParcelLifeCycleService 2.0" (DPD web services, Benelux shipper clusters): SOAP.

Two calls: ``LoginService/V2_1`` ``getAuth`` (``delisId`` + ``password``) gives an
``authToken`` (cached here per account: DPD asks integrators not to log in for every call),
then ``ParcelLifeCycleService/V2_0`` ``getTrackingData`` with that token in an
``authentication`` SOAP header and **one** ``parcelLabelNumber`` per call. The answer's
``trackingresult`` holds an optional ``shipmentInfo`` (service, Predict text) and
``statusInfo`` entries: ``status`` (the code), ``label``, ``description``, ``location``
(``Mechelen (BE)``), ``date`` and ``statusHasBeenReached``.

Two vocabularies are in use behind the same schema, and both are mapped: the Benelux
shippers answer with event codes (``PickedUp``, ``Courier``, ``ParcelShop``…) and dates like
``8/17/2021 7:11:26 PM``; DPD Germany answers with a fixed timeline of milestones
(``ACCEPTED`` … ``DELIVERED``) where the milestones not yet reached are listed too, with
``statusHasBeenReached`` false — those are skipped, never read as events. Dates are bare local
times: the offset comes from the country in the location, else from Brussels (the clusters'
zone; Amsterdam and Berlin share its rules).

Errors come as SOAP faults, usually with HTTP 500: an ``authenticationFault`` (bad password or
expired token), a ``faults`` detail (``faultCode`` + ``message``) or a bare server fault. The
body does not repeat the parcel number: :func:`parse` leaves it empty (the error or update
then applies to the one number of the call) and :func:`fetch` fills it in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from suivi.carriers.base import (
    Account,
    AuthenticationFailed,
    CarrierUnavailable,
    Connector,
    Result,
    call,
    localize,
)
from suivi.carriers.common import TokenCache, find, local_name, safe_xml, soap_fault
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError, TrackingEvent

MAX_NUMBERS_PER_CALL = 1  # getTrackingData takes one parcelLabelNumber
LOGIN_PATH = "/soap/services/LoginService/V2_1"
TRACKING_PATH = "/soap/services/ParcelLifeCycleService/V2_0"
NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_LOGIN = "http://dpd.com/common/service/types/LoginService/2.1"
NS_AUTH = "http://dpd.com/common/service/types/Authentication/2.0"
NS_TRACKING = "http://dpd.com/common/service/types/ParcelLifeCycleService/2.0"
MESSAGE_LANGUAGE = "en_EN"
HOME_ZONE = "Europe/Brussels"

# Every status code either DPD vocabulary uses, mapped on purpose (a test fails on an
# unmapped code; an unknown one is kept out of the timeline and reported).
CODES: dict[str, tuple[Status, Reason]] = {
    # --- Benelux shipper event codes ---
    # PickedUp "DPD has received your parcel" (label "Parcel handed to DPD").
    "PickedUp": (Status.IN_TRANSIT, Reason.NONE),
    # BetweenDepots "The parcel is at the parcel dispatch centre".
    "BetweenDepots": (Status.IN_TRANSIT, Reason.NONE),
    # Depot "At parcel delivery centre": DPD files it under the "Parcel out for delivery"
    # step, but the parcel is still at the depot — in transit until Courier.
    "Depot": (Status.IN_TRANSIT, Reason.NONE),
    # Courier "The parcel has left the parcel delivery centre and is on its way to the
    # consignee": out for delivery.
    "Courier": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    # DeliveryFailure "Unfortunately we have not been able to deliver your parcel": a failed
    # attempt; the code does not say why.
    "DeliveryFailure": (Status.FAILED_ATTEMPT, Reason.OTHER),
    # ReturningFromDelivery "After an unsuccessful delivery attempt the parcel is back at the
    # recipient depot": still the failed attempt (not "out for delivery", as a known
    # open-source mapping has it, and not a return to the sender).
    "ReturningFromDelivery": (Status.FAILED_ATTEMPT, Reason.OTHER),
    # ParcelShop "Delivered by driver to Pickup parcelshop": waiting for the recipient.
    "ParcelShop": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    # Delivered: to the recipient, or collected from the Pickup shop.
    "Delivered": (Status.DELIVERED, Reason.NONE),
    # --- DPD Germany milestones (the schema's documented enumeration) ---
    # SHIPMENT "order received": the label data, nothing moved.
    "SHIPMENT": (Status.INFO_RECEIVED, Reason.NONE),
    # ACCEPTED: handed to DPD; AT_SENDING_DEPOT / ON_THE_ROAD: moving between depots.
    "ACCEPTED": (Status.IN_TRANSIT, Reason.NONE),
    "AT_SENDING_DEPOT": (Status.IN_TRANSIT, Reason.NONE),
    "ON_THE_ROAD": (Status.IN_TRANSIT, Reason.NONE),
    # AT_DELIVERY_DEPOT: at the delivery depot. The timeline has no separate "out for
    # delivery" milestone, and a parcel can wait here for days: in transit, not out.
    "AT_DELIVERY_DEPOT": (Status.IN_TRANSIT, Reason.NONE),
    "DELIVERED": (Status.DELIVERED, Reason.NONE),
}

_LOCATION_COUNTRY = re.compile(r"\(([A-Za-z]{2})\)\s*$")
# The Benelux clusters write US-style dates with AM/PM; DPD Germany day-first with a comma.
_DATE_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%d/%m/%Y, %H:%M", "%d.%m.%Y %H:%M")


# --- XML --------------------------------------------------------------------------------


def _children(parent: ElementTree.Element | None, name: str) -> list[ElementTree.Element]:
    return [] if parent is None else [el for el in parent if local_name(el.tag) == name]


def _child_text(parent: ElementTree.Element | None, name: str) -> str:
    found = _children(parent, name)
    return (found[0].text or "").strip() if found else ""


def _line(parent: ElementTree.Element | None, name: str) -> str:
    """The text of a ``ContentLine`` child (``<name><content>text</content>…</name>``)."""
    found = _children(parent, name)
    return _child_text(found[0], "content") if found else ""


def _item(parent: ElementTree.Element | None, name: str) -> str:
    """The texts of a ``ContentItem`` child (``<name><content><content>…`` lines), joined."""
    lines = [
        _child_text(line, "content")
        for el in _children(parent, name)
        for line in _children(el, "content")
    ]
    return " ".join(line for line in lines if line)


# --- Parsing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    results: list[Result]
    failure: str = ""  # "auth": the token or password was refused; "server": a bare fault
    message: str = ""


def _parse_time(value: str, country: str) -> datetime | None:
    value = " ".join(value.split())
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        for pattern in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, pattern)  # a bare local time, localized below
                break
            except ValueError:
                continue
        else:
            return None
    return localize(parsed, country=country, default_zone=HOME_ZONE)


def _event(number: str, info: ElementTree.Element) -> TrackingEvent | None:
    code = _child_text(info, "status")
    if _child_text(info, "statusHasBeenReached").lower() == "false":
        return None  # a milestone of DPD Germany's timeline not reached yet
    location = _line(info, "location")
    match = _LOCATION_COUNTRY.search(location)
    country = match.group(1).upper() if match else ""
    occurred = _parse_time(_line(info, "date"), country)
    if code not in CODES or occurred is None:
        return None  # left out of the timeline, not fatal
    status, reason = CODES[code]
    return TrackingEvent(
        tracking_number=number,
        status=status,
        reason=reason,
        occurred_at=occurred,
        raw_code=code,
        raw_label=_item(info, "description") or _line(info, "label"),
        location=location,
        country=country,
    )


def _fault(number: str, fault: ElementTree.Element) -> _Reading:
    auth = find(fault, "authenticationFault")
    if auth is not None:
        code = _child_text(auth, "errorCode")
        message = _child_text(auth, "errorMessage") or "authentication refused"
        text = f"{code}: {message}" if code else message
        return _Reading([TrackingError(number, "carrier_error", text)], "auth", text)
    detail = find(fault, "faults")
    if detail is not None:
        code = _child_text(detail, "faultCode")
        message = _child_text(detail, "message") or "DPD refused the request"
        text = f"{code}: {message}" if code else message
        return _Reading([TrackingError(number, "carrier_error", text)], "", text)
    text = _child_text(fault, "faultstring") or "SOAP fault without detail"
    return _Reading([TrackingError(number, "carrier_error", text)], "server", text)


def _read(body: bytes, number: str) -> _Reading:
    root = safe_xml(body)
    if isinstance(root, str):
        return _Reading([TrackingError(number, "carrier_error", root)])
    fault = find(root, "Fault")
    if fault is not None:
        return _fault(number, fault)
    result = find(root, "trackingresult")
    if result is None:
        return _Reading(
            [TrackingError(number, "carrier_error", "the answer has no trackingresult")]
        )
    shipment = next(iter(_children(result, "shipmentInfo")), None)
    infos = _children(result, "statusInfo")
    if shipment is None and not infos:
        # The schema makes both optional: an empty result is DPD knowing nothing of it.
        return _Reading(
            [TrackingError(number, "unknown_number", "DPD has no data for this parcel")]
        )
    events = [event for event in (_event(number, info) for info in infos) if event is not None]
    latest = max(events, key=lambda event: event.occurred_at, default=None)
    update = ShipmentUpdate(
        tracking_number=number,
        events=tuple(events),
        carrier_product=_item(shipment, "serviceDescription"),
        is_final=latest is not None and latest.status is Status.DELIVERED,
    )
    return _Reading([update])


def parse(body: bytes) -> list[Result]:
    """Parse one ``getTrackingData`` answer (number left empty); never raises."""
    return _read(body, "").results


def unmapped_codes(body: bytes) -> set[str]:
    """Status codes in *body* (events and shipment) that :data:`CODES` does not map."""
    root = safe_xml(body)
    if isinstance(root, str):
        return set()
    return {
        _child_text(el, "status")
        for el in root.iter()
        if local_name(el.tag) in ("statusInfo", "shipmentInfo")
        and _child_text(el, "status") not in CODES
    }


# --- Calls ------------------------------------------------------------------------------


def login_envelope(delis_id: str, password: str) -> bytes:
    """The ``getAuth`` request."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{NS_SOAP}" '
        f'xmlns:ns="{NS_LOGIN}"><soapenv:Header/><soapenv:Body><ns:getAuth>'
        f"<delisId>{escape(delis_id)}</delisId><password>{escape(password)}</password>"
        f"<messageLanguage>{MESSAGE_LANGUAGE}</messageLanguage>"
        "</ns:getAuth></soapenv:Body></soapenv:Envelope>"
    ).encode()


def tracking_envelope(delis_id: str, token: str, number: str) -> bytes:
    """The ``getTrackingData`` request for one parcel number."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{NS_SOAP}" '
        f'xmlns:auth="{NS_AUTH}" xmlns:plc="{NS_TRACKING}"><soapenv:Header>'
        f"<auth:authentication><delisId>{escape(delis_id)}</delisId>"
        f"<authToken>{escape(token)}</authToken>"
        f"<messageLanguage>{MESSAGE_LANGUAGE}</messageLanguage></auth:authentication>"
        "</soapenv:Header><soapenv:Body><plc:getTrackingData>"
        f"<parcelLabelNumber>{escape(number)}</parcelLabelNumber>"
        "</plc:getTrackingData></soapenv:Body></soapenv:Envelope>"
    ).encode()


def _soap_call(account: Account, path: str, content: bytes, action: str) -> bytes:
    """A SOAP request; an HTTP 500 carrying a SOAP fault is DPD's way of answering an error
    and is returned to be read, other failures raise as with any call."""
    response = call(
        "POST",
        f"{account.base_url.rstrip('/')}{path}",
        account=account,
        content=content,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action},
        read_error=soap_fault,
    )
    return response.content


# DPD documents a token valid for a day; it is kept for half of that.
_TOKEN_LIFETIME = 12 * 3600.0


def _login(account: Account) -> tuple[str, float]:
    """A new ``getAuth`` token and how long it is kept."""
    delis_id, password = account.credential("delis_id"), account.credential("password")
    body = _soap_call(
        account, LOGIN_PATH, login_envelope(delis_id, password), f"{NS_LOGIN}/getAuth"
    )
    root = safe_xml(body)
    if isinstance(root, str):
        raise CarrierUnavailable(f"DPD login answer: {root}")
    fault = find(root, "Fault")
    if fault is not None:
        reading = _fault("", fault)
        if reading.failure == "auth":
            raise AuthenticationFailed(f"DPD refused the login: {reading.message}")
        raise CarrierUnavailable(f"DPD login failed: {reading.message}")
    token = find(root, "authToken")
    if token is None or not (token.text or "").strip():
        raise CarrierUnavailable("DPD login answer has no authToken")
    return (token.text or "").strip(), _TOKEN_LIFETIME


class _TokenRefused(AuthenticationFailed):
    """An ``authenticationFault`` answering a tracking call: the token (or password) refused."""


# Tokens per (base URL, delisId, password digest): DPD asks not to call getAuth for each
# request. A refused cached token is renewed once, a refused fresh one is the account's.
TOKENS = TokenCache(
    _login,
    credentials=("delis_id", "password"),
    margin=0.0,
    refused=lambda exc: isinstance(exc, _TokenRefused),
    retry_fresh=False,
)


def fetch(numbers: Sequence[str], account: Account) -> list[Result]:
    """Ask ParcelLifeCycleService about one parcel number.

    Credentials ``delis_id`` and ``password``. A refused cached token is renewed once; a
    refused login raises :class:`AuthenticationFailed`; a bare server fault, 5xx without a
    fault, timeouts and cut connections raise :class:`CarrierUnavailable`; 429 raises
    :class:`RateLimited`.
    """
    if len(numbers) != MAX_NUMBERS_PER_CALL:
        raise ValueError("DPD getTrackingData takes exactly one parcel number per call")
    number = numbers[0]
    delis_id = account.credential("delis_id")

    def send(token: str) -> _Reading:
        envelope = tracking_envelope(delis_id, token, number)
        body = _soap_call(account, TRACKING_PATH, envelope, f"{NS_TRACKING}/getTrackingData")
        reading = _read(body, number)
        if reading.failure == "auth":
            raise _TokenRefused(f"DPD refused a fresh token: {reading.message}")
        return reading

    reading = TOKENS.authorized(account, send)
    if reading.failure == "server":
        raise CarrierUnavailable(f"DPD server fault: {reading.message}", status=500)
    return reading.results


CONNECTOR = Connector(
    code="dpd",
    name="DPD",
    default_base_url="https://wsshipper.dpd.be",
    max_numbers_per_call=MAX_NUMBERS_PER_CALL,
    codes=CODES,
    parse=parse,
    fetch=fetch,
    unmapped_codes=unmapped_codes,
    credential_names=("delis_id", "password"),
    requests_per_minute=60,  # no documented limit; one number per call, so stay moderate
    tracking_url="https://tracking.dpd.de/status/en_US/parcel/{number}",
)
