"""Mondial Relay merchant web service ``WSI2_TracingColisDetaille`` (SOAP): pure parsing.

``POST {base}/Web_Services.asmx`` with ``SOAPAction:
"http://www.mondialrelay.fr/webservice/WSI2_TracingColisDetaille"`` and four parameters:
``Enseigne`` (the merchant code), ``Expedition`` (one 8-digit shipment number), ``Langue``
and ``Security`` = uppercase hex MD5 of ``Enseigne + Expedition + Langue + private key``
(MD5 is the service's own integrity token, not a choice of ours).

The answer's ``STAT`` is either an error (``94`` unknown parcel, ``97`` bad security key…) or
the parcel's state: ``80`` registered, ``81`` being handled by Mondial Relay (in transit or
waiting at the relay point), ``82`` delivered (collected), ``83`` anomaly; ``84``–``89`` are
reserved tracing codes. Then ``Libelle01``/``Libelle02`` (a summary), ``Relais_Num`` and
``Relais_Libelle`` (the destination relay point) and the detail rows
``Tracing/ret_WSI2_sub_TracingColisDetaille``: ``Libelle``, ``Date`` (``dd/mm/yy``),
``Heure`` (``HH:MM``), ``Emplacement``, ``Relais_Num``, ``Relais_Pays`` — padded with empty
rows. Rows carry no code, only a French label, so the label (accents and case folded) is the
row's code and :data:`LABELS` maps each one on purpose; an unknown label is kept out and
reported by :func:`unmapped_codes`. Times are bare French local times: the relay's country
gives the offset, else Paris.

``82`` and ``83`` state an outcome a row may not carry (an anomaly has no row of its own):
when no mapped row already says it, the STAT becomes an event dated at the latest row — the
moment Mondial Relay's answer is known to be true from, never an invented time.

The body does not repeat the shipment number: :func:`parse` leaves it empty (one number per
call, so the result applies to it) and :func:`fetch` fills it in.
"""

from __future__ import annotations

import hashlib
import unicodedata
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
from suivi.carriers.common import find, local_name, safe_xml
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError, TrackingEvent

MAX_NUMBERS_PER_CALL = 1  # one Expedition per call
PATH = "/Web_Services.asmx"
NAMESPACE = "http://www.mondialrelay.fr/webservice/"
SOAP_ACTION = f"{NAMESPACE}WSI2_TracingColisDetaille"
NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
LANGUAGE = "FR"  # the row labels below are the French ones
HOME_ZONE = "Europe/Paris"

# The tracing STATs: the parcel's state as a whole, mapped on purpose.
STATS: dict[str, tuple[Status, Reason]] = {
    # 80 "Colis enregistré": the shipment exists, nothing handed over yet.
    "80": (Status.INFO_RECEIVED, Reason.NONE),
    # 81 "Colis en traitement chez Mondial Relay": anywhere between drop-off and collection,
    # including waiting at the relay point — the rows say which.
    "81": (Status.IN_TRANSIT, Reason.NONE),
    # 82 "Colis livré": delivered, for a relay parcel collected by the recipient.
    "82": (Status.DELIVERED, Reason.NONE),
    # 83 "Anomalie": something went wrong; Libelle01 says what, in words.
    "83": (Status.EXCEPTION, Reason.OTHER),
}
# STATs that become an event when no mapped row already says the same (see the docstring).
STATED_OUTCOMES = frozenset({"82", "83"})
# "0" is a plain success without a state; 84–89 are reserved tracing codes: the rows are
# read, the STAT adds nothing (84–89 are still reported as unmapped, to be looked at).
STAT_OK = "0"
RESERVED_STATS = frozenset({"84", "85", "86", "87", "88", "89"})

# Row labels (folded: no accents, upper case, single spaces), each mapped on purpose.
LABELS: dict[str, tuple[Status, Reason]] = {
    # "Réception des données": the merchant's label data arrived; nothing moved.
    "RECEPTION DES DONNEES": (Status.INFO_RECEIVED, Reason.NONE),
    # "Prise en charge Point Relais": the sender dropped the parcel at a relay point — the
    # parcel enters the network (it is not the recipient's relay; that one says "disponible").
    "PRISE EN CHARGE POINT RELAIS": (Status.IN_TRANSIT, Reason.NONE),
    # "Prise en charge en agence": at a Mondial Relay sorting agency.
    "PRISE EN CHARGE EN AGENCE": (Status.IN_TRANSIT, Reason.NONE),
    # "Colis remis au livreur": with the driver who takes it to the relay point (or home).
    "COLIS REMIS AU LIVREUR": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    # "(Colis) disponible au Point Relais": waiting for the recipient at the relay.
    "DISPONIBLE AU POINT RELAIS": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    "COLIS DISPONIBLE AU POINT RELAIS": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    # "Colis livré": handed to the recipient (collected at the relay, or delivered home).
    "COLIS LIVRE": (Status.DELIVERED, Reason.NONE),
}

CODES: dict[str, tuple[Status, Reason]] = {**STATS, **LABELS}

# Error STATs that can answer a tracing call: what each means for the caller. "auth": the
# merchant's account or key is wrong (fetch raises AuthenticationFailed); "unavailable":
# Mondial Relay is down (fetch raises CarrierUnavailable); otherwise a TrackingError kind.
ERROR_STATS: dict[str, tuple[str, str]] = {
    "1": ("auth", "Enseigne invalide"),
    "2": ("auth", "Numéro d'enseigne vide ou inexistant"),
    "24": ("invalid_number", "Numéro de colis Mondial Relay invalide"),
    "69": ("auth", "Code enseigne invalide"),
    "74": ("carrier_error", "Langue invalide"),
    "90": ("unavailable", "AS400 indisponible"),
    "91": ("invalid_number", "Numéro d'expédition invalide"),
    "94": ("unknown_number", "Colis inexistant"),
    "95": ("auth", "Compte enseigne non activé"),
    "96": ("auth", "Type d'enseigne incorrect en base"),
    "97": ("auth", "Clé de sécurité invalide"),
    "98": ("unavailable", "Service indisponible"),
    "99": ("carrier_error", "Erreur générique du service"),
}
_ERROR_KINDS = frozenset({"unknown_number", "invalid_number", "carrier_error"})


def security_key(enseigne: str, expedition: str, langue: str, private_key: str) -> str:
    """The ``Security`` parameter: uppercase MD5 of the parameters in order, then the key."""
    data = f"{enseigne}{expedition}{langue}{private_key}".encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest().upper()


def request_envelope(enseigne: str, expedition: str, private_key: str) -> bytes:
    """The SOAP request for one shipment number, signed."""
    security = security_key(enseigne, expedition, LANGUAGE, private_key)
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{NS_SOAP}">'
        f'<soap:Body><WSI2_TracingColisDetaille xmlns="{NAMESPACE}">'
        f"<Enseigne>{escape(enseigne)}</Enseigne><Expedition>{escape(expedition)}</Expedition>"
        f"<Langue>{LANGUAGE}</Langue><Security>{security}</Security>"
        "</WSI2_TracingColisDetaille></soap:Body></soap:Envelope>"
    ).encode()


def label_key(label: str) -> str:
    """A row label folded to its code: no accents, upper case, single spaces."""
    decomposed = unicodedata.normalize("NFKD", label)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.upper().replace("’", "'").split()).rstrip(" .")


# --- XML --------------------------------------------------------------------------------


def _text(parent: ElementTree.Element | None, name: str) -> str:
    """The text of the first child called *name* (case-insensitive: ``STAT`` / ``Stat``)."""
    if parent is None:
        return ""
    wanted = name.lower()
    found = next((el for el in parent if local_name(el.tag).lower() == wanted), None)
    return " ".join((found.text or "").split()) if found is not None else ""


# --- Parsing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    results: list[Result]
    stat: str = ""


def _parse_time(day: str, hour: str, country: str) -> datetime | None:
    for pattern in ("%d/%m/%y %H:%M", "%d/%m/%Y %H:%M", "%d/%m/%y %H:%M:%S", "%d/%m/%Y %H:%M:%S"):
        try:
            naive = datetime.strptime(f"{day} {hour}", pattern)  # a bare French local time
        except ValueError:
            continue
        return localize(naive, country=country, default_zone=HOME_ZONE)
    return None


def _relay(number: str, name: str, country: str) -> str:
    if not number:
        return ""
    where = f"Point Relais {number}"
    if name:
        where = f"{where} {name}"
    return f"{where} ({country})" if country else where


def _row_event(
    number: str, row: ElementTree.Element, relay: tuple[str, str]
) -> TrackingEvent | None:
    label = _text(row, "Libelle")
    code = label_key(label)
    country = _text(row, "Relais_Pays").upper()
    if len(country) != 2:
        country = ""
    occurred = _parse_time(_text(row, "Date"), _text(row, "Heure"), country)
    if code not in LABELS or occurred is None:
        return None  # an empty padding row, an unknown label or an unreadable time
    status, reason = LABELS[code]
    relay_number, relay_name = _text(row, "Relais_Num"), ""
    if not relay_number and status is Status.AVAILABLE_FOR_PICKUP:
        relay_number, relay_name = relay  # the shipment's destination relay
    elif relay_number and relay_number == relay[0]:
        relay_name = relay[1]  # the destination relay: its name is known
    place = [_relay(relay_number, relay_name, country), _text(row, "Emplacement")]
    return TrackingEvent(
        tracking_number=number,
        status=status,
        reason=reason,
        occurred_at=occurred,
        raw_code=code,
        raw_label=label,
        location=", ".join(part for part in place if part),
        country=country,
    )


def _stated_event(
    number: str, stat: str, summary: str, relay: tuple[str, str], events: list[TrackingEvent]
) -> TrackingEvent | None:
    """The STAT's outcome as an event, dated at the latest row, when no row says it."""
    if stat not in STATED_OUTCOMES or not events:
        return None
    status, reason = STATS[stat]
    if any(event.status is status for event in events):
        return None
    latest = max(events, key=lambda event: event.occurred_at)
    return TrackingEvent(
        tracking_number=number,
        status=status,
        reason=reason,
        occurred_at=latest.occurred_at,
        raw_code=stat,
        raw_label=summary or ("Colis livré" if stat == "82" else "Anomalie"),
        location=_relay(relay[0], relay[1], latest.country) if relay[0] else latest.location,
        country=latest.country,
    )


def _read(body: bytes, number: str) -> _Reading:
    root = safe_xml(body)
    if isinstance(root, str):
        return _Reading([TrackingError(number, "carrier_error", root)])
    fault = find(root, "Fault")
    if fault is not None:
        message = _text(fault, "faultstring") or "SOAP fault"
        return _Reading([TrackingError(number, "carrier_error", message)])
    result = find(root, "WSI2_TracingColisDetailleResult")
    if result is None:
        return _Reading([TrackingError(number, "carrier_error", "the answer has no result")])
    stat = _text(result, "STAT")
    if stat in ERROR_STATS:
        kind, message = ERROR_STATS[stat]
        kind = kind if kind in _ERROR_KINDS else "carrier_error"
        return _Reading([TrackingError(number, kind, f"STAT {stat}: {message}")], stat)
    if stat not in STATS and stat != STAT_OK and stat not in RESERVED_STATS:
        message = f"STAT {stat or '(none)'} is not a tracing answer Suivi knows"
        return _Reading([TrackingError(number, "carrier_error", message)], stat)
    relay = (_text(result, "Relais_Num"), _text(result, "Relais_Libelle"))
    tracing = next((el for el in result if local_name(el.tag) == "Tracing"), None)
    rows = [] if tracing is None else list(tracing)
    events = [event for event in (_row_event(number, row, relay) for row in rows) if event]
    summary = " ".join(
        part for part in (_text(result, "Libelle01"), _text(result, "Libelle02")) if part
    )
    stated = _stated_event(number, stat, summary, relay, events)
    if stated is not None:
        events.append(stated)
    update = ShipmentUpdate(tracking_number=number, events=tuple(events), is_final=stat == "82")
    return _Reading([update], stat)


def parse(body: bytes) -> list[Result]:
    """Parse one ``WSI2_TracingColisDetaille`` answer (number left empty); never raises."""
    return _read(body, "").results


def unmapped_codes(body: bytes) -> set[str]:
    """STATs and row labels in *body* that the tables do not map."""
    root = safe_xml(body)
    if isinstance(root, str):
        return set()
    result = find(root, "WSI2_TracingColisDetailleResult")
    if result is None:
        return set()
    found: set[str] = set()
    stat = _text(result, "STAT")
    if stat not in STATS and stat not in ERROR_STATS and stat != STAT_OK:
        found.add(stat)
    for row in result.iter():
        if local_name(row.tag) == "ret_WSI2_sub_TracingColisDetaille":
            code = label_key(_text(row, "Libelle"))
            if code and code not in LABELS:
                found.add(code)
    return found


def fetch(numbers: Sequence[str], account: Account) -> list[Result]:
    """Ask ``WSI2_TracingColisDetaille`` about one shipment number.

    Credentials ``enseigne`` and ``private_key``. A STAT saying the account or the security
    key is wrong raises :class:`AuthenticationFailed`; a STAT saying the service is down
    raises :class:`CarrierUnavailable`; other failures as in :mod:`suivi.carriers.base`.
    """
    if len(numbers) != MAX_NUMBERS_PER_CALL:
        raise ValueError("WSI2_TracingColisDetaille takes exactly one shipment number per call")
    number = numbers[0]
    enseigne = account.credential("enseigne")
    private_key = account.credential("private_key")
    response = call(
        "POST",
        f"{account.base_url.rstrip('/')}{PATH}",
        account=account,
        content=request_envelope(enseigne, number, private_key),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{SOAP_ACTION}"'},
    )
    reading = _read(response.content, number)
    kind, message = ERROR_STATS.get(reading.stat, ("", ""))
    if kind == "auth":
        raise AuthenticationFailed(f"Mondial Relay STAT {reading.stat}: {message}")
    if kind == "unavailable":
        raise CarrierUnavailable(f"Mondial Relay STAT {reading.stat}: {message}")
    return reading.results


CONNECTOR = Connector(
    code="mondial_relay",
    name="Mondial Relay",
    default_base_url="https://api.mondialrelay.com",
    max_numbers_per_call=MAX_NUMBERS_PER_CALL,
    codes=CODES,
    parse=parse,
    fetch=fetch,
    unmapped_codes=unmapped_codes,
    credential_names=("enseigne", "private_key"),
    requests_per_minute=60,  # no documented limit; one number per call, so stay moderate
    tracking_url="https://www.mondialrelay.fr/suivi-de-colis/?numeroExpedition={number}",
)
