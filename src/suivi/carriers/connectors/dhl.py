"""DHL "Shipment Tracking – Unified" (Express, Parcel DE/NL/PL/UK, eCommerce…): pure parsing.

``GET {base}/track/shipments?trackingNumber=…&language=en`` with the ``DHL-API-Key`` header.
The API takes one ``trackingNumber`` per call. It answers 200 with
``{"shipments": [{id, service, origin, destination, status, estimatedTimeOfDelivery,
estimatedDeliveryTimeFrame, details, events: [{timestamp, location: {address:
{addressLocality, postalCode, countryCode}}, statusCode, status, description, remark}]}]}``,
or a problem body ``{title, status, detail, instance}`` (404 for an unknown number, 400 for
a malformed request). Without a ``service`` parameter one number can match shipments of
several DHL divisions: :func:`fetch` keeps the one whose id is the number asked.

DHL's ``statusCode`` is coarse (``pre-transit``, ``transit``, ``delivered``, ``failure``,
``unknown``), so an event's raw code is its ``statusCode`` refined by the first keyword rule
(:data:`_RULES`) that its description, status and remark match, written
``"<statusCode>/<rule>"`` (``"transit/out-for-delivery"``). :data:`CODES` lists every such code
on purpose; a rule only refines the status codes it has an entry for, so
``CODES[event.raw_code]`` is always the event's status and reason.

Timestamps come with an offset (Express: ``2026-11-17T09:12:00+01:00``) or as bare local
time (Parcel DE: ``2026-06-16T07:41:00``). A bare time takes the zone of the event's
country, else the home zone of a national service (``parcel-de`` → Berlin), else the
shipment's country when origin and destination are the same; otherwise the event is left
out rather than given a guessed offset.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from suivi.carriers.base import Account, Connector, Result, call, localize, unusable
from suivi.carriers.common import as_dict, for_number, read_json, text
from suivi.carriers.vocabulary import (
    TERMINAL,
    Reason,
    ShipmentUpdate,
    Status,
    TrackingError,
    TrackingEvent,
)

MAX_NUMBERS_PER_CALL = 1  # the API takes a single trackingNumber

#: DHL's documented ``statusCode`` values. An event without one is read as "unknown", which
#: is DHL's own value for an event it did not categorise.
STATUS_CODES = frozenset({"pre-transit", "transit", "delivered", "failure", "unknown"})

# Every raw code, mapped on purpose (a test fails on an unmapped code). Keys are a
# statusCode, or a statusCode refined by a keyword rule of _RULES.
CODES: dict[str, tuple[Status, Reason]] = {
    # pre-transit: DHL has the shipment data (label printed), not the parcel.
    "pre-transit": (Status.INFO_RECEIVED, Reason.NONE),
    # transit: moving in DHL's network (picked up, sorted, customs processing, in the depot).
    "transit": (Status.IN_TRANSIT, Reason.NONE),
    # …said to be going back to the sender: it will not reach the customer.
    "transit/returned": (Status.RETURNING, Reason.NONE),
    # …held by customs (on hold, duties to pay, documents awaited): the customer may act.
    # Plain customs processing ("clearance processing complete") stays in transit.
    "transit/customs-hold": (Status.EXCEPTION, Reason.CUSTOMS_HOLD),
    # …refused by the recipient (a return usually follows, with its own event).
    "transit/refused": (Status.EXCEPTION, Reason.REFUSED),
    # …waiting at a ServicePoint / Packstation / post office: the customer must collect it.
    "transit/pickup-point": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    # …not delivered because of the address (incomplete, unknown recipient).
    "transit/address": (Status.FAILED_ATTEMPT, Reason.ADDRESS_PROBLEM),
    # …not delivered because nobody was there.
    "transit/absent": (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
    # …a delivery attempt failed, reason not given.
    "transit/attempt": (Status.FAILED_ATTEMPT, Reason.NONE),
    # …out with the courier / loaded onto the delivery vehicle.
    "transit/out-for-delivery": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    # Damage and weather delays reported under "transit" stay in transit: DHL files them as
    # normal flow ("the packaging was damaged and has been repaired"), not as a failure.
    # delivered: in the recipient's hands (signed, neighbour, mailbox, collected).
    "delivered": (Status.DELIVERED, Reason.NONE),
    # …delivered back to the sender after a return.
    "delivered/returned": (Status.RETURNED, Reason.NONE),
    # …"delivered" to a ServicePoint / Packstation and ready for collection: not yet with the
    # customer, who must collect it (the collection is a later "delivered" event).
    "delivered/pickup-point": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    # failure: DHL reports a problem; refined below, otherwise an unexplained exception.
    "failure": (Status.EXCEPTION, Reason.OTHER),
    "failure/returned": (Status.RETURNING, Reason.NONE),
    "failure/customs-hold": (Status.EXCEPTION, Reason.CUSTOMS_HOLD),
    "failure/damaged": (Status.EXCEPTION, Reason.DAMAGED),
    "failure/lost": (Status.EXCEPTION, Reason.LOST),
    "failure/refused": (Status.EXCEPTION, Reason.REFUSED),
    # …the failed delivery ended at a pickup point where it now waits.
    "failure/pickup-point": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    "failure/address": (Status.FAILED_ATTEMPT, Reason.ADDRESS_PROBLEM),
    "failure/absent": (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
    "failure/attempt": (Status.FAILED_ATTEMPT, Reason.NONE),
    "failure/weather": (Status.EXCEPTION, Reason.WEATHER),
    # unknown: DHL could not categorise the event; the parcel was scanned, so it is taken as
    # moving (never an alarm, never "delivered"), and the wording refines it as for transit.
    "unknown": (Status.IN_TRANSIT, Reason.NONE),
    "unknown/returned": (Status.RETURNING, Reason.NONE),
    "unknown/customs-hold": (Status.EXCEPTION, Reason.CUSTOMS_HOLD),
    "unknown/refused": (Status.EXCEPTION, Reason.REFUSED),
    "unknown/pickup-point": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    "unknown/address": (Status.FAILED_ATTEMPT, Reason.ADDRESS_PROBLEM),
    "unknown/absent": (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
    "unknown/attempt": (Status.FAILED_ATTEMPT, Reason.NONE),
    "unknown/out-for-delivery": (Status.OUT_FOR_DELIVERY, Reason.NONE),
}


def _rule(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# Keyword rules, in priority order (the first that matches and has a CODES entry for the
# event's statusCode wins). English first (we ask for language=en), German and French for
# the services that answer in their own language whatever is asked.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # A return beats the reason for it ("refused by the recipient, returned to sender").
    (
        "returned",
        _rule(
            r"\b(returned|returning|return|sent back|being sent back)\s+to\s+(the\s+)?(sender|shipper|origin)",
            r"\bbeing returned\b",
            r"\bdelivered\s+back\s+to\s+(the\s+)?(sender|shipper)",
            r"zur[üu]ck\s+an\s+(den\s+)?absender",
            r"r[üu]cksendung\s+an\s+(den\s+)?absender",
            r"retourn[ée]e?s?\s+[àa]\s+l['’]exp[ée]diteur",
            r"retour\s+(à\s+l['’])?exp[ée]diteur",
        ),
    ),
    # Held, not merely processed: hold/delay/awaiting/pending/inspection near customs.
    (
        "customs-hold",
        _rule(
            r"\b(held|hold|on hold|retained|detained|delay(ed)?|awaiting|pending|inspection)\b[^.]{0,60}\b(customs|clearance)\b",
            r"\b(customs|clearance)\b[^.]{0,60}\b(held|hold|on hold|retained|detained|delay(ed)?|awaiting|pending|inspection|duties|documents? (required|missing))\b",
            r"\bzoll\w*\b[^.]{0,60}(angehalten|verz[öo]ger|pr[üu]fung|zur[üu]ckgehalten)",
            r"retenu\w*\s+(en|à la)\s+douane",
            r"douane[^.]{0,60}(retenu|bloqu|en attente)",
        ),
    ),
    ("damaged", _rule(r"\bdamaged?\b", r"besch[äa]digt", r"endommag")),
    (
        "lost",
        _rule(
            r"\blost\b",
            r"\b(can ?not|could not|couldn't) be (located|found)\b",
            r"verloren",
            r"verschollen",
            r"\bperdu",
            r"\bégaré",
        ),
    ),
    (
        "refused",
        _rule(
            r"\brefused\b",
            r"\b(declined|rejected)\s+by\s+(the\s+)?(recipient|consignee|receiver)",
            r"annahme\s+verweigert",
            r"\brefus[ée]?\b",
        ),
    ),
    # Waiting for collection — not a ServicePoint merely named ("dropped off at a DHL
    # ServicePoint" by the sender, "will be taken to a ServicePoint").
    (
        "pickup-point",
        _rule(
            r"(?<!will be )\b(ready|available|waiting|awaiting)\s+(for\s+)?(pick\s?-?\s?up|collection)\b",
            r"\bcan (now )?be (collected|picked up)\b",
            r"\b(has been|was|been)\s+(delivered|brought|taken)\s+to\s+(the\s+|a\s+)?(dhl\s+)?"
            r"(service\s?point|packstation|parcel\s?shop|parcel\s?locker|locker|post\s?office|"
            r"retail\s+outlet|postfiliale|pick\s?-?\s?up\s+(point|location))",
            r"zur\s+abholung\s+bereit",
            r"\babholbereit\b",
            r"disponible\s+(en|au|dans\s+(le|votre))\s+(point\s+relais|bureau\s+de\s+poste|servicepoint|consigne)",
        ),
    ),
    (
        "address",
        _rule(
            r"\baddress\b[^.]{0,30}\b(incorrect|incomplete|insufficient|unknown|wrong|invalid)\b",
            r"\b(incorrect|incomplete|insufficient|unknown|wrong|invalid)\s+(delivery\s+)?address\b",
            r"\b(recipient|consignee)\s+(is\s+)?unknown\b",
            r"(anschrift|adresse)\s+(ist\s+)?(fehlerhaft|unzureichend|unvollst[äa]ndig|falsch)",
            r"empf[äa]nger\s+unbekannt",
            r"adresse\s+(incorrecte|incompl[èe]te|inconnue|erron[ée]e)",
            r"destinataire\s+inconnu",
        ),
    ),
    (
        "absent",
        _rule(
            r"\b(recipient|consignee|receiver)\b[^.]{0,20}\b(not (at home|available|present|in)|absent)\b",
            r"\bnobody (was )?(at home|present|available)\b",
            r"\bno one (was )?(at home|present|available)\b",
            r"nicht\s+angetroffen",
            r"destinataire\s+absent",
        ),
    ),
    (
        "attempt",
        _rule(
            r"\b(could not|couldn't|cannot|can not|was not|unable to) be delivered\b",
            r"\bunable to deliver\b",
            r"\b(unsuccessful|failed)\s+(delivery\s+)?attempt\b",
            r"\bdelivery attempt\b",
            r"zustellung\s+nicht\s+m[öo]glich",
            r"nicht\s+zugestellt\s+werden",
            r"\bavis\s+de\s+passage\b",
        ),
    ),
    ("weather", _rule(r"\bweather\b", r"\bstorm\b", r"unwetter", r"intemp[ée]ries")),
    (
        "out-for-delivery",
        _rule(
            r"\bout for delivery\b",
            r"\bwith (the )?(delivery )?courier for delivery\b",
            r"\bout with (the )?courier\b",
            r"\bloaded onto the delivery vehicle\b",
            r"\bon the delivery vehicle\b",
            r"\bin zustellung\b",
            r"zustellfahrzeug\s+geladen",
            r"en cours de livraison",
            r"mis en (livraison|distribution)",
        ),
    ),
)

# Home zones of national services (their bare times are that country's civil time).
_SERVICE_ZONES = {
    "parcel-de": "Europe/Berlin",
    "post-de": "Europe/Berlin",
    "parcel-nl": "Europe/Amsterdam",
    "parcel-pl": "Europe/Warsaw",
    "parcel-uk": "Europe/London",
}


def classify(status_code: str, text: str) -> str:
    """Return the :data:`CODES` key for an event: its statusCode refined by the first
    keyword rule that matches *text* and has an entry for that statusCode."""
    for name, pattern in _RULES:
        key = f"{status_code}/{name}"
        if key in CODES and pattern.search(text):
            return key
    return status_code


def _text(value: Any) -> str:
    return text(value, numbers=True)  # a JSON number is read as its text too


def _status_code(event: dict[str, Any]) -> str:
    return _text(event.get("statusCode")).lower() or "unknown"


@dataclasses.dataclass(frozen=True)
class _Context:
    """What a shipment says about the zone of its bare local times."""

    service_zone: str = ""
    domestic_country: str = ""  # origin and destination in the same country


def _country(place: Any) -> str:
    return _text(as_dict(as_dict(place).get("address")).get("countryCode")).upper()


def _aware(value: Any, *, country: str, context: _Context, noon_if_date: bool) -> datetime | None:
    """A DHL timestamp with its offset (the carrier's, or its local zone's), else None."""
    raw = _text(value)
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if "T" not in raw.upper() and " " not in raw:  # a bare date
        if not noon_if_date:
            return None  # an event without a time of day is not placed at a guessed time
        parsed = datetime.combine(parsed.date(), time(12))
    if parsed.tzinfo is not None:
        return parsed if parsed.utcoffset() is not None else None
    found = localize(parsed, country=country, default_zone=context.service_zone)
    if found is None and context.domestic_country:
        found = localize(parsed, country=context.domestic_country)
    return found


def _event(raw: Any, number: str, context: _Context) -> TrackingEvent | None:
    if not isinstance(raw, dict):
        return None
    code = _status_code(raw)
    if code not in STATUS_CODES:
        return None  # reported by unmapped_codes; kept out of the timeline, not fatal
    description = _text(raw.get("description"))
    status_text = _text(raw.get("status"))
    words = " ".join(filter(None, (description, status_text, _text(raw.get("remark")))))
    raw_code = classify(code, words)
    address = as_dict(as_dict(raw.get("location")).get("address"))
    country = _text(address.get("countryCode")).upper()
    occurred = _aware(raw.get("timestamp"), country=country, context=context, noon_if_date=False)
    if occurred is None:
        return None
    status, reason = CODES[raw_code]
    place = " ".join(
        filter(None, (_text(address.get("postalCode")), _text(address.get("addressLocality"))))
    )
    return TrackingEvent(
        tracking_number=number,
        status=status,
        reason=reason,
        occurred_at=occurred,
        raw_code=raw_code,
        raw_label=description or status_text,
        location=place,
        country=country,
    )


def _estimated(shipment: dict[str, Any], context: _Context) -> datetime | None:
    """The promised delivery: ``estimatedTimeOfDelivery``, else the end of the estimated
    window. A bare date becomes local noon at the destination (a day marker: noon keeps the
    same calendar day wherever it is shown, within ±12 hours)."""
    frame = as_dict(shipment.get("estimatedDeliveryTimeFrame"))
    destination = _country(shipment.get("destination"))
    for value in (
        shipment.get("estimatedTimeOfDelivery"),
        frame.get("estimatedThrough"),
        frame.get("estimatedFrom"),
    ):
        found = _aware(value, country=destination, context=context, noon_if_date=True)
        if found is not None:
            return found
    return None


def _shipment(item: Any) -> ShipmentUpdate | TrackingError:
    if not isinstance(item, dict):
        return TrackingError("", "carrier_error", "a shipment of the answer is not an object")
    number = _text(item.get("id"))
    service = _text(item.get("service")).lower()
    origin, destination = _country(item.get("origin")), _country(item.get("destination"))
    context = _Context(
        service_zone=_SERVICE_ZONES.get(service, ""),
        domestic_country=origin if origin and origin == destination else "",
    )
    raw_events = item.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        # Some services give only the latest status: it is the one event we know.
        raw_events = [item["status"]] if isinstance(item.get("status"), dict) else []
    events = [e for e in (_event(raw, number, context) for raw in raw_events) if e is not None]
    latest = max(events, key=lambda e: e.occurred_at, default=None)
    product = _text(as_dict(as_dict(item.get("details")).get("product")).get("productName"))
    return ShipmentUpdate(
        tracking_number=number,
        events=tuple(events),
        estimated_delivery=_estimated(item, context),
        carrier_product=product or service,
        is_final=latest is not None and latest.status in TERMINAL,
    )


def _problem(data: dict[str, Any]) -> list[Result]:
    """A problem body (RFC 7807): 404 unknown number, 400 malformed request."""
    status = data.get("status")
    message = _text(data.get("detail")) or _text(data.get("title")) or f"status {status}"
    kind = "unknown_number" if status == 404 else "invalid_number" if status == 400 else ""
    if not kind:
        return unusable(f"DHL answered a problem: {message}")
    return [TrackingError("", kind, message)]


def parse(body: bytes) -> list[Result]:
    """Parse a Unified Tracking answer; bad data gives errors, never raises."""
    data, problem = read_json(body)
    if problem:
        return unusable(problem)
    if not isinstance(data, dict):
        return unusable("the answer is not an object")
    shipments = data.get("shipments")
    if shipments is None:
        return _problem(data) if "status" in data or "title" in data else unusable("no shipments")
    if not isinstance(shipments, list):
        return unusable("shipments is not an array")
    if not shipments:
        return [TrackingError("", "unknown_number", "DHL found no shipment for this number")]
    return [_shipment(item) for item in shipments]


def unmapped_codes(body: bytes) -> set[str]:
    """Status codes in *body* that :data:`STATUS_CODES` does not know (tests, monitoring)."""
    data, _ = read_json(body)
    shipments = as_dict(data).get("shipments")
    found: set[str] = set()
    for shipment in shipments if isinstance(shipments, list) else []:
        shipment = as_dict(shipment)
        events = shipment.get("events")
        for event in [shipment.get("status"), *(events if isinstance(events, list) else [])]:
            if isinstance(event, dict) and _status_code(event) not in STATUS_CODES:
                found.add(_status_code(event))
    return found


def fetch(numbers: Sequence[str], account: Account) -> list[Result]:
    """Ask DHL about one number; 200 and 404/400 problem bodies are read by :func:`parse`,
    401/403, 429 and 5xx raise (see :mod:`suivi.carriers.base`)."""
    if len(numbers) != MAX_NUMBERS_PER_CALL:
        raise ValueError("the DHL Unified Tracking API takes one number per call")
    number = numbers[0]
    response = call(
        "GET",
        f"{account.base_url.rstrip('/')}/track/shipments",
        account=account,
        params={"trackingNumber": number, "language": "en"},
        headers={"DHL-API-Key": account.credential("api_key"), "Accept": "application/json"},
    )
    return for_number(parse(response.content), number)


CONNECTOR = Connector(
    code="dhl",
    name="DHL (Express, Parcel, eCommerce)",
    default_base_url="https://api-eu.dhl.com",
    max_numbers_per_call=MAX_NUMBERS_PER_CALL,
    codes=CODES,
    parse=parse,
    fetch=fetch,
    unmapped_codes=unmapped_codes,
    credential_names=("api_key",),
    # Starter level: 1 call per second and 250 calls per day (more on request). The daily
    # quota (reset at 00:00 GMT) has no field here: past it DHL answers 429 until midnight.
    requests_per_minute=60,
    requests_per_day=250,  # the entry plan's daily quota (an account can raise it)
    tracking_url="https://www.dhl.com/fr-fr/home/tracking.html?tracking-id={number}&submit=1",
)
