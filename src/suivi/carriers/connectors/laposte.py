"""La Poste "Suivi v2" (Colissimo, Chronopost, tracked letters): pure parsing.

``GET {base}/suivi/v2/idships/{id1,…,id10}?lang=fr_FR`` with ``X-Okapi-Key``; one number
answers 200 with an object, several answer 207 with an array; each item has its own
``returnCode`` (200, or 400/404 with a message). Events are in ``shipment.event`` (newest
first), dates with their offset (``2023-03-09T09:38:00+01:00``). I/O lives in the polling
layer (through ``suivi.core.http``); this module turns bytes into normalised updates and
never raises on bad carrier data: it returns :class:`~.vocabulary.TrackingError` items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from suivi.carriers.base import Account, Connector, Result, call, unusable
from suivi.carriers.common import aware_time, read_json
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError, TrackingEvent

MAX_NUMBERS_PER_CALL = 10

# Every code La Poste documents, mapped on purpose (a test fails on an unmapped code):
CODES: dict[str, tuple[Status, Reason]] = {
    # DR1 "Déclaratif réceptionné": the sender announced the parcel; nothing moved yet.
    "DR1": (Status.INFO_RECEIVED, Reason.NONE),
    # PC1 "Pris en charge" / PC2 "pris en charge dans le pays d'expédition": in the network.
    "PC1": (Status.IN_TRANSIT, Reason.NONE),
    "PC2": (Status.IN_TRANSIT, Reason.NONE),
    # ET1 "En cours de traitement": being processed at a sorting site — in transit. (Not
    # "out for delivery": that is MD2; a known open-source mapping gets this wrong.)
    "ET1": (Status.IN_TRANSIT, Reason.NONE),
    # ET2/ET3/ET4: processed in the sending / destination / a transit country.
    "ET2": (Status.IN_TRANSIT, Reason.NONE),
    "ET3": (Status.IN_TRANSIT, Reason.NONE),
    "ET4": (Status.IN_TRANSIT, Reason.NONE),
    # EP1 "En attente de présentation": waiting to be presented (next delivery round).
    "EP1": (Status.IN_TRANSIT, Reason.NONE),
    # DO1 entered customs, DO2 left customs: moving normally through customs.
    "DO1": (Status.IN_TRANSIT, Reason.NONE),
    "DO2": (Status.IN_TRANSIT, Reason.NONE),
    # DO3 "Retenu en douane": held — an exception the customer may have to act on.
    "DO3": (Status.EXCEPTION, Reason.CUSTOMS_HOLD),
    # PB1 "Problème en cours": an incident; PB2 "Problème résolu": moving again.
    "PB1": (Status.EXCEPTION, Reason.OTHER),
    "PB2": (Status.IN_TRANSIT, Reason.NONE),
    # MD2 "Mis en distribution": out for delivery.
    "MD2": (Status.OUT_FOR_DELIVERY, Reason.NONE),
    # ND1 "Non distribuable": the delivery could not be made (address, absence): a failed
    # attempt, the parcel usually goes to a counter next.
    "ND1": (Status.FAILED_ATTEMPT, Reason.ADDRESS_PROBLEM),
    # AG1 "En attente d'être retiré au guichet": waiting at a counter / pickup point.
    "AG1": (Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
    # RE1 "Retourné à l'expéditeur": on its way back to the sender.
    "RE1": (Status.RETURNING, Reason.NONE),
    # DI1 "Distribué": delivered. DI2 "Distribué à l'expéditeur": back with the sender.
    "DI1": (Status.DELIVERED, Reason.NONE),
    "DI2": (Status.RETURNED, Reason.NONE),
}

# Customs milestones (DO1 entered, DO2 released, DO3 held), shown on cross-border timelines.
CUSTOMS = {"DO1": "entered", "DO2": "released", "DO3": "held"}


def _item(item: Any) -> ShipmentUpdate | TrackingError:
    if not isinstance(item, dict):
        return TrackingError("", "carrier_error", "an item of the answer is not an object")
    found = item.get("shipment")
    shipment: dict[str, Any] = found if isinstance(found, dict) else {}
    number = str(shipment.get("idShip") or item.get("idShip") or "")
    code = item.get("returnCode")
    if code != 200:
        message = str(item.get("returnMessage") or item.get("message") or "")
        kind = (
            "unknown_number"
            if code == 404
            else "invalid_number"
            if code == 400
            else "carrier_error"
        )
        return TrackingError(number, kind, message or f"returnCode {code}")
    events = []
    for raw in shipment.get("event") or []:
        if not isinstance(raw, dict):
            continue
        raw_code = str(raw.get("code") or "")
        occurred = aware_time(raw.get("date"))  # La Poste gives the offset
        if raw_code not in CODES or occurred is None:
            # Kept out of the timeline but not fatal: the rest of the shipment still counts.
            continue
        status, reason = CODES[raw_code]
        events.append(
            TrackingEvent(
                tracking_number=number,
                status=status,
                reason=reason,
                occurred_at=occurred,
                raw_code=raw_code,
                raw_label=str(raw.get("label") or ""),
                country=str(raw.get("country") or ""),
                customs=CUSTOMS.get(raw_code, ""),
            )
        )
    return ShipmentUpdate(
        tracking_number=number,
        events=tuple(events),
        estimated_delivery=aware_time(shipment.get("estimDate")),
        carrier_product=str(shipment.get("product") or ""),
        is_final=bool(shipment.get("isFinal")),
    )


def unmapped_codes(body: bytes) -> set[str]:
    """Event codes in *body* that :data:`CODES` does not map (for tests and monitoring)."""
    data, _ = read_json(body)
    items = data if isinstance(data, list) else [data]
    return {
        str(event.get("code"))
        for item in items
        if isinstance(item, dict) and isinstance(item.get("shipment"), dict)
        for event in item["shipment"].get("event") or []
        if isinstance(event, dict) and str(event.get("code")) not in CODES
    }


def parse(body: bytes) -> list[Result]:
    """Parse a Suivi v2 answer (200 object or 207 array); bad data gives errors, not raises."""
    data, problem = read_json(body)
    if problem:
        return unusable(problem)
    if not isinstance(data, list | dict):
        return unusable("the answer is neither an object nor an array")
    items = data if isinstance(data, list) else [data]
    return [_item(item) for item in items]


def fetch(numbers: Sequence[str], account: Account) -> list[Result]:
    """Ask Suivi v2 about up to :data:`MAX_NUMBERS_PER_CALL` numbers in one call.

    200 (one number), 207 (several) and 400/404 (one bad or unknown number, with a body)
    are read by :func:`parse`; 401/403, 429 and 5xx raise (see :mod:`suivi.carriers.base`).
    """
    if not 1 <= len(numbers) <= MAX_NUMBERS_PER_CALL:
        raise ValueError(f"Suivi v2 takes 1 to {MAX_NUMBERS_PER_CALL} numbers per call")
    ids = ",".join(quote(number, safe="") for number in numbers)
    response = call(
        "GET",
        f"{account.base_url.rstrip('/')}/suivi/v2/idships/{ids}",
        account=account,
        params={"lang": "fr_FR"},
        headers={"X-Okapi-Key": account.credential("api_key"), "Accept": "application/json"},
    )
    return parse(response.content)


CONNECTOR = Connector(
    code="laposte",
    name="La Poste (Colissimo, Chronopost, Lettre suivie)",
    default_base_url="https://api.laposte.fr",
    max_numbers_per_call=MAX_NUMBERS_PER_CALL,
    codes=CODES,
    parse=parse,
    fetch=fetch,
    unmapped_codes=unmapped_codes,
    credential_names=("api_key",),
    requests_per_minute=100,  # free plan: 100 calls per minute, 429 beyond
    tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
)
