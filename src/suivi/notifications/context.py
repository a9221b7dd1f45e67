"""What a notification template can read: plain data built from an order.

Templates — ours and the merchants' — render in a sandbox, and the sandbox is only as tight
as what it is given: here every value is a ``dict``, ``list``, ``str``, ``bool``, ``int`` or
``None``, never an ORM object, a ``Decimal`` or a lazy translation. Money and dates are
formatted already, in the message's locale (babel) and the shop's time zone.

Every key below is always present; what is unknown is ``""`` (or ``[]``/``False``), so that
``{{ tracking.number }}`` never fails. Only ``pickup`` and ``marketing`` may be ``None``:
test them with ``{% if pickup %}``. The renderer uses ``StrictUndefined``: a misspelt name
is an error (the merchant's editor shows it; sending falls back to the default template).
Payload keys are the producer's and may be missing: write ``event.payload.x|default("")``.

Template variables (the merchant-facing reference)
--------------------------------------------------
``locale``
    ``"fr"`` or ``"en"``: the language of the message.
``shop``
    ``name``, ``sender_name`` (the name customers know; the shop name when not set),
    ``primary_color``, ``accent_color`` (``#RRGGBB``, checked), ``primary_text_color``,
    ``accent_text_color`` (black or white, whichever reads better on that colour),
    ``logo_url`` (the notification settings' logo URL, else the absolute address of the
    logo uploaded in the back office; ``""`` when none).
``customer``
    ``first_name``, ``last_name``, ``full_name``.
``order``
    ``reference``, ``status``, ``status_label`` (what the customer sees), ``placed_at``
    (date and time), ``fulfilment_mode`` (``delivery`` / ``click_and_collect``),
    ``is_click_and_collect``, ``currency``,
    ``lines`` — each ``name``, ``sku``, ``quantity`` (ordered), ``quantity_cancelled``,
    ``quantity_remaining`` (still in the order after cancellations), ``unit_price``,
    ``line_total`` (for the quantity still ordered), ``original_line_total``,
    ``cancelled_total``, ``struck`` (the whole line is cancelled), ``partially_struck``
    (part of it is),
    ``lines_total``, ``shipping``, ``has_shipping``, ``total`` (now, after cancellations),
    ``original_total`` (as ordered), ``cancelled_amount``, ``has_cancellations``,
    ``promised_delivery_date``, ``cancellation_reason`` (a code such as ``sold_in_store``,
    ``out_of_stock``, ``customer_request``), ``cancellation_reason_label``,
    ``sold_in_store``, ``shipping_address`` (``name``, ``line1``, ``line2``, ``postcode``,
    ``city``, ``country`` (its name), ``country_code``).
``pickup``
    ``None``, or where to collect: ``kind`` (``store`` / ``relay_point``), ``name``,
    ``address``, ``postcode``, ``city``, ``opening_hours`` (a list of ``day``, ``hours``),
    ``deadline`` (collect before; ``""`` when unknown).
``tracking``
    ``url`` (the tracking page, also ``links.tracking``), ``carrier``, ``number``, ``eta``
    (expected delivery date when a carrier gave one).
``event``
    The step this message tells: ``key`` (``shipped``…), ``type`` (``order.shipped``…),
    ``label``, ``at``, ``reason`` and ``reason_label`` (for cancellations and delivery
    problems), ``payload`` (the event's raw data).
``events``
    Every step this message tells, oldest first (several when a burst was merged).
``claim``
    ``reference``, ``status`` (a code), ``status_label``, ``message`` (for claim updates;
    ``""`` otherwise).
``return``
    The shop's decision on a return (for return updates; ``""``/``False`` otherwise):
    ``id``, ``status`` (``approved``, ``refused``, ``received``, ``refunded``),
    ``status_label`` (« acceptée »…), ``reason`` (why it was refused), ``amount`` (what
    was refunded, formatted), ``credit_note_number``, ``has_label`` (a return label
    waits in the customer space).
``links``
    ``tracking``, ``order`` (the order in the customer space; the customer signs in),
    ``preferences`` (where the customer chooses their channels).
``marketing``
    ``None``, or the shop's marketing block: ``html``, ``text``.
``informed_channels``
    The channels this customer hears on: a list of ``key``, ``label``;
    ``informed_channels_text`` says it as a phrase (« e-mail et SMS »).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_time, get_day_names
from babel.lists import format_list
from django.utils import timezone, translation
from django.utils.functional import Promise

from suivi.core.errors import InvalidInput
from suivi.core.money import format_money, quantize
from suivi.orders import lifecycle
from suivi.orders.lifecycle import Mode, Status
from suivi.orders.models import Order, OrderEvent
from suivi.shops.branding import logo_path
from suivi.shops.models import Location, Shop

from .catalog import CUSTOMER_CHANNELS, EVENTS, event_key_for
from .links import base_url, order_space_url
from .models import NotificationSettings

SUPPORTED_LOCALES: Final = ("fr", "en")
FALLBACK_LOCALE: Final = "fr"


def resolve_locale(locale: str | None) -> str:
    """Return the template language for *locale*: ``fr`` or ``en`` (``fr-CA`` → ``fr``).

    Any other language falls back to French, the platform's first language.
    """
    lang = (locale or "").replace("_", "-").split("-")[0].strip().lower()
    return lang if lang in SUPPORTED_LOCALES else FALLBACK_LOCALE


# --- customer-facing wording -----------------------------------------------------------

EVENT_LABELS: Final[dict[str, dict[str, str]]] = {
    "fr": {
        "confirmed": "Commande confirmée",
        "in_preparation": "En préparation",
        "ready_to_ship": "Prête à être expédiée",
        "shipped": "Expédiée",
        "in_transit": "En cours d’acheminement",
        "ready_for_pickup": "Prête à retirer en magasin",
        "available_for_pickup": "Disponible en point relais",
        "out_for_delivery": "En cours de livraison",
        "delivered": "Livrée",
        "collected": "Retirée",
        "cancelled": "Annulée",
        "partially_cancelled": "Partiellement annulée",
        "delayed": "Retard de livraison",
        "exception": "Incident de livraison",
        "failed_attempt": "Tentative de livraison infructueuse",
        "pickup_reminder": "À retirer bientôt",
        "claim_update": "Suivi de votre demande",
        "return_update": "Suivi de votre retour",
    },
    "en": {
        "confirmed": "Order confirmed",
        "in_preparation": "Being prepared",
        "ready_to_ship": "Ready to ship",
        "shipped": "Shipped",
        "in_transit": "On its way",
        "ready_for_pickup": "Ready for pickup in store",
        "available_for_pickup": "At the pickup point",
        "out_for_delivery": "Out for delivery",
        "delivered": "Delivered",
        "collected": "Collected",
        "cancelled": "Cancelled",
        "partially_cancelled": "Partially cancelled",
        "delayed": "Delivery delayed",
        "exception": "Delivery issue",
        "failed_attempt": "Delivery attempt failed",
        "pickup_reminder": "Awaiting pickup",
        "claim_update": "Update on your request",
        "return_update": "Update on your return",
    },
}

# Delivery problems carriers and merchants report (order.exception / shipment.* reasons).
REASON_LABELS: Final[dict[str, dict[str, str]]] = {
    "fr": {
        "damaged": "Colis endommagé",
        "lost": "Colis égaré",
        "address_problem": "Problème d’adresse",
        "address_issue": "Problème d’adresse",
        "wrong_address": "Adresse incorrecte",
        "customs_held": "Colis retenu en douane",
        "returned_to_sender": "Colis retourné à l’expéditeur",
        "refused": "Colis refusé",
        "recipient_absent": "Destinataire absent",
        "no_access": "Accès au domicile impossible",
        "failed_attempt": "Livraison impossible",
        "delay": "Retard",
        "stalled": "Colis immobilisé",
    },
    "en": {
        "damaged": "Parcel damaged",
        "lost": "Parcel lost",
        "address_problem": "Address problem",
        "address_issue": "Address problem",
        "wrong_address": "Wrong address",
        "customs_held": "Held at customs",
        "returned_to_sender": "Returned to sender",
        "refused": "Parcel refused",
        "recipient_absent": "Nobody was home",
        "no_access": "No access to the address",
        "failed_attempt": "Delivery not possible",
        "delay": "Delay",
        "stalled": "Parcel not moving",
    },
}

CHANNEL_LABELS: Final[dict[str, dict[str, str]]] = {
    "fr": {"email": "e-mail", "sms": "SMS", "push": "notifications de votre navigateur"},
    "en": {"email": "email", "sms": "text message", "push": "browser notifications"},
}

CLAIM_STATUS_LABELS: Final[dict[str, dict[str, str]]] = {
    "fr": {
        "open": "reçue",
        "received": "reçue",
        "in_progress": "en cours de traitement",
        "waiting_customer": "en attente de votre réponse",
        "resolved": "résolue",
        "accepted": "acceptée",
        "refused": "refusée",
        "rejected": "refusée",
        "closed": "clôturée",
    },
    "en": {
        "open": "received",
        "received": "received",
        "in_progress": "in progress",
        "waiting_customer": "waiting for your reply",
        "resolved": "resolved",
        "accepted": "accepted",
        "refused": "declined",
        "rejected": "declined",
        "closed": "closed",
    },
}

# The shop's decisions on a return, as the messages say them (« Votre demande de retour
# … est acceptée »). The customer's own steps (requested, cancelled) are not notified.
RETURN_STATUS_LABELS: Final[dict[str, dict[str, str]]] = {
    "fr": {
        "approved": "acceptée",
        "refused": "refusée",
        "received": "reçue",
        "refunded": "remboursée",
    },
    "en": {
        "approved": "approved",
        "refused": "refused",
        "received": "received",
        "refunded": "refunded",
    },
}

CLOSED: Final = {"fr": "fermé", "en": "closed"}
_AT: Final = {"fr": "{date} à {time}", "en": "{date} at {time}"}
_DAY_PATTERN: Final = {"fr": "EEEE d MMMM", "en": "EEEE, MMMM d"}
_WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

CARRIER_NAMES: Final[dict[str, str]] = {
    "colissimo": "Colissimo",
    "chronopost": "Chronopost",
    "mondial_relay": "Mondial Relay",
    "mondialrelay": "Mondial Relay",
    "relais_colis": "Relais Colis",
    "colis_prive": "Colis Privé",
    "la_poste": "La Poste",
    "laposte": "La Poste",
    "dpd": "DPD",
    "gls": "GLS",
    "ups": "UPS",
    "dhl": "DHL",
    "fedex": "FedEx",
    "tnt": "TNT",
}

_SHIPPED_STATUSES: Final = frozenset(
    {
        Status.SHIPPED,
        Status.IN_TRANSIT,
        Status.OUT_FOR_DELIVERY,
        Status.AVAILABLE_FOR_PICKUP,
        Status.DELIVERED,
    }
)

_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


# --- facts: what the builder needs, from an order or made up for a preview --------------


@dataclass(frozen=True)
class _Place:
    name: str
    line1: str
    line2: str
    postcode: str
    city: str
    opening_hours: Mapping[str, Any]


@dataclass(frozen=True)
class _Line:
    name: str
    sku: str
    unit_price: Decimal
    ordered: int
    cancelled: int


@dataclass
class _Facts:
    shop: Shop
    reference: str
    status: str
    mode: str
    currency: str
    placed_at: dt.datetime | None
    promised: dt.date | None
    first_name: str
    last_name: str
    lines: list[_Line]
    lines_amount: Decimal
    shipping_amount: Decimal
    total_amount: Decimal
    original_total: Decimal
    cancellation_reason: str
    address: dict[str, str]
    store: _Place | None
    shipped_payload: Mapping[str, Any] = field(default_factory=dict)


# --- small formatting helpers -----------------------------------------------------------


def _tz(shop: Shop) -> dt.tzinfo:
    try:
        return ZoneInfo(shop.timezone or "Europe/Paris")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Paris")


def _parse_when(value: object) -> dt.datetime | dt.date | None:
    """Read an ISO-8601 datetime or date from a payload; None if it is not one."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def _local(moment: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(tz)


def format_moment(moment: dt.datetime | None, locale: str, tz: dt.tzinfo) -> str:
    """``15 mars 2025 à 18:05`` / ``March 15, 2025 at 6:05 PM`` in the shop's time zone."""
    if moment is None:
        return ""
    local = _local(moment, tz)
    return _AT[locale].format(
        date=format_date(local.date(), "long", locale=locale),
        time=format_time(local, "short", locale=locale),
    )


def format_deadline(moment: dt.datetime | dt.date | None, locale: str, tz: dt.tzinfo) -> str:
    """``samedi 15 mars à 19:00`` / ``Saturday, March 15 at 7:00 PM`` (day only for a date)."""
    if moment is None:
        return ""
    if not isinstance(moment, dt.datetime):
        return format_date(moment, _DAY_PATTERN[locale], locale=locale)
    local = _local(moment, tz)
    return _AT[locale].format(
        date=format_date(local.date(), _DAY_PATTERN[locale], locale=locale),
        time=format_time(local, "short", locale=locale),
    )


def format_day(moment: dt.datetime | dt.date | None, locale: str, tz: dt.tzinfo) -> str:
    """``samedi 15 mars`` / ``Saturday, March 15``."""
    if moment is None:
        return ""
    if isinstance(moment, dt.datetime):
        moment = _local(moment, tz).date()
    return format_date(moment, _DAY_PATTERN[locale], locale=locale)


def _logo_url(shop: Shop, settings: NotificationSettings | None) -> str:
    """The logo emails show: the notification settings' URL when set, else the absolute
    address of the logo uploaded in the back office (served by ``shop-logo``), else ""."""
    if settings is not None and settings.logo_url:
        return settings.logo_url
    path = logo_path(shop)
    return f"{base_url()}{path}" if path else ""


def _color(value: str, default: str) -> str:
    value = (value or "").strip()
    if not _HEX_COLOR.fullmatch(value):
        return default
    if len(value) == 4:
        value = "#" + "".join(c * 2 for c in value[1:])
    return value.upper()


def readable_text_color(background: str) -> str:
    """Return black or white, whichever contrasts more with *background* (WCAG luminance)."""

    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(background[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#FFFFFF"


def _plain(value: object, depth: int = 0) -> Any:
    """Copy *value* into JSON-like plain data (anything else becomes its string form)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth > 8:
        return ""
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


def _text(value: object) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()


def _label(labels: Mapping[Any, Promise], key: str, locale: str) -> str:
    """Translate a lazy label of the lifecycle table into *locale* ("" if unknown)."""
    label = labels.get(key)
    if label is None:
        return ""
    with translation.override(locale):
        return str(label)


def _status_label(status: str, locale: str) -> str:
    try:
        info = lifecycle.info(status)
    except ValueError:
        return status
    with translation.override(locale):
        return str(info.customer_label)


def _join(*parts: str, sep: str = ", ") -> str:
    return sep.join(p for p in (x.strip() for x in parts) if p)


def _opening_hours(hours: object, locale: str) -> list[dict[str, str]]:
    """``{"mon": [["09:00", "19:00"]], "sun": []}`` → ``[{"day": "Lundi", "hours": …}]``."""
    if not isinstance(hours, Mapping):
        return []
    names = get_day_names("wide", locale=locale)
    result = []
    for index, day in enumerate(_WEEKDAYS):
        if day not in hours:
            continue
        spans = hours[day]
        texts = []
        if isinstance(spans, list):
            for span in spans:
                if isinstance(span, list | tuple) and len(span) == 2:
                    texts.append(f"{_text(span[0])}–{_text(span[1])}")
        name = str(names[index])
        result.append(
            {"day": name[:1].upper() + name[1:], "hours": ", ".join(texts) or CLOSED[locale]}
        )
    return result


def opening_hours_lines(hours: object, locale: str) -> list[dict[str, str]]:
    """Public name of the opening-hours formatter (the customer pages use it too)."""
    return _opening_hours(hours, locale)


def carrier_name(code: object) -> str:
    """The carrier's display name (``colissimo`` → ``Colissimo``)."""
    return _carrier(code)


def _country(code: str, locale: str) -> str:
    if not code:
        return ""
    return str(Locale.parse(locale).territories.get(code.upper(), code.upper()))


def _carrier(value: object) -> str:
    text = _text(value)
    return CARRIER_NAMES.get(text.lower().replace("-", "_").replace(" ", "_"), text)


# --- events -----------------------------------------------------------------------------


def _event_entry(raw: Mapping[str, Any], locale: str, tz: dt.tzinfo) -> dict[str, Any]:
    payload = raw.get("payload")
    payload = _plain(payload) if isinstance(payload, Mapping) else {}
    type_ = _text(raw.get("type"))
    key = _text(raw.get("key")) or (event_key_for(type_, payload) or "")
    reason = _text(payload.get("reason"))
    reason_label = (
        ""  # a return's refusal reason is the shop's own words, not a code
        if type_.startswith("return.")
        else REASON_LABELS[locale].get(reason, "")
        or _label(lifecycle.CANCELLATION_LABELS, reason, locale)
    )
    when = _parse_when(raw.get("at"))
    return {
        "key": key,
        "type": type_,
        "label": EVENT_LABELS[locale].get(key, ""),
        "at": format_moment(when, locale, tz) if isinstance(when, dt.datetime) else "",
        "reason": reason,
        "reason_label": reason_label,
        "payload": payload,
    }


def _latest(entries: Sequence[dict[str, Any]], key: str) -> Any:
    """The value of payload *key* in the most recent event that has one (None if none)."""
    for entry in reversed(entries):
        value = entry["payload"].get(key)
        if value not in (None, "", {}, []):
            return value
    return None


def _place_from_payload(relay: Mapping[str, Any], locale: str) -> dict[str, Any]:
    return {
        "kind": "relay_point",
        "name": _text(relay.get("name")),
        "address": _text(relay.get("address"))
        or _join(
            _text(relay.get("address_line1") or relay.get("line1")),
            _text(relay.get("address_line2") or relay.get("line2")),
        ),
        "postcode": _text(relay.get("postcode") or relay.get("zip")),
        "city": _text(relay.get("city")),
        "opening_hours": _opening_hours(relay.get("opening_hours"), locale),
        "deadline": "",
    }


# --- the builder ------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _formatted_money(amount: Decimal, currency: str, locale: str) -> str:
    return format_money(amount, currency, locale)


def _money(amount: Decimal, currency: str, locale: str) -> str:
    # babel takes ~0.1 ms per amount and a context has a dozen; prices repeat across orders.
    return _formatted_money(quantize(amount, currency), currency, locale)


def _payload_money(amount: object, currency: object, locale: str) -> str:
    """Format an amount and currency read from a payload ("" unless both are valid)."""
    code = _text(currency).upper()
    if not code or isinstance(amount, bool) or not isinstance(amount, str | int | float):
        return ""
    try:
        value = Decimal(str(amount).strip())
        if not value.is_finite():
            return ""
        return _money(value, code, locale)
    except (InvalidOperation, ValueError, InvalidInput):
        return ""


def _return_block(entries: Sequence[Mapping[str, Any]], locale: str) -> dict[str, Any]:
    """The ``return`` variable: the latest ``return.*`` step the message tells."""
    entry = next((e for e in reversed(entries) if e["type"].startswith("return.")), None)
    payload: Mapping[str, Any] = entry["payload"] if entry else {}
    status = _text(payload.get("to")) or (entry["type"].removeprefix("return.") if entry else "")
    return {
        "id": _text(payload.get("return_id")),
        "status": status,
        "status_label": RETURN_STATUS_LABELS[locale].get(status, ""),
        "reason": _text(payload.get("reason") or payload.get("refusal_reason")),
        "amount": _payload_money(payload.get("amount"), payload.get("currency"), locale),
        "credit_note_number": _text(payload.get("credit_note_number")),
        "has_label": payload.get("has_label") is True,
    }


def _build(
    facts: _Facts,
    *,
    locale: str,
    events: Iterable[Mapping[str, Any]],
    links: Mapping[str, str],
    marketing: Mapping[str, str] | None,
    informed_channels: Iterable[str],
    settings: NotificationSettings | None,
    event_key: str | None,
) -> dict[str, Any]:
    locale = resolve_locale(locale)
    shop = facts.shop
    tz = _tz(shop)
    cur = facts.currency

    entries = [_event_entry(raw, locale, tz) for raw in events]
    current = next((e for e in reversed(entries) if event_key and e["key"] == event_key), None)
    if current is None and entries:
        current = entries[-1]
    if current is None:
        key = event_key or ""
        current = {
            "key": key,
            "type": "",
            "label": EVENT_LABELS[locale].get(key, ""),
            "at": "",
            "reason": "",
            "reason_label": "",
            "payload": {},
        }

    # Lines and amounts.
    lines = []
    for line in facts.lines:
        active = line.ordered - line.cancelled
        lines.append(
            {
                "name": line.name,
                "sku": line.sku,
                "quantity": line.ordered,
                "quantity_cancelled": line.cancelled,
                "quantity_remaining": active,
                "unit_price": _money(line.unit_price, cur, locale),
                "line_total": _money(line.unit_price * active, cur, locale),
                "original_line_total": _money(line.unit_price * line.ordered, cur, locale),
                "cancelled_total": _money(line.unit_price * line.cancelled, cur, locale),
                "struck": line.cancelled >= line.ordered,
                "partially_struck": 0 < line.cancelled < line.ordered,
            }
        )
    has_cancellations = any(line.cancelled for line in facts.lines)
    original_total = max(facts.original_total, facts.total_amount)

    reason = ""
    for entry in reversed(entries):
        if entry["type"] in ("order.cancelled", "order.lines_cancelled") and entry["reason"]:
            reason = entry["reason"]
            break
    reason = reason or facts.cancellation_reason

    # Pickup: the store of a Click & Collect order, or the relay point a carrier named.
    deadline_value = _parse_when(_latest(entries, "pickup_deadline"))
    deadline = format_deadline(deadline_value, locale, tz)
    pickup: dict[str, Any] | None = None
    if facts.mode == Mode.CLICK_AND_COLLECT and facts.store is not None:
        store = facts.store
        pickup = {
            "kind": "store",
            "name": store.name,
            "address": _join(store.line1, store.line2),
            "postcode": store.postcode,
            "city": store.city,
            "opening_hours": _opening_hours(store.opening_hours, locale),
            "deadline": deadline,
        }
    else:
        relay = _latest(entries, "relay_point")
        if isinstance(relay, Mapping):
            pickup = _place_from_payload(relay, locale)
            pickup["deadline"] = deadline
        elif deadline or current["key"] == "available_for_pickup":
            pickup = {
                "kind": "relay_point",
                "name": "",
                "address": "",
                "postcode": "",
                "city": "",
                "opening_hours": [],
                "deadline": deadline,
            }

    # Tracking: the latest carrier and number told, else the order's shipment.
    shipped = facts.shipped_payload
    carrier = _latest(entries, "carrier") or shipped.get("carrier")
    number = _latest(entries, "tracking_number") or shipped.get("tracking_number")
    eta = _parse_when(_latest(entries, "eta") or _latest(entries, "estimated_delivery"))

    claim_entry = next((e for e in reversed(entries) if e["type"].startswith("claim.")), None)
    claim_payload: Mapping[str, Any] = claim_entry["payload"] if claim_entry else {}
    claim_status = _text(claim_payload.get("status"))
    claim = {
        "reference": _text(
            claim_payload.get("reference")
            or claim_payload.get("claim_reference")
            or claim_payload.get("claim_id")
        ),
        "status": claim_status,
        "status_label": _text(claim_payload.get("status_label"))
        or CLAIM_STATUS_LABELS[locale].get(claim_status, ""),
        "message": _text(claim_payload.get("message") or claim_payload.get("reply")),
    }

    channels = []
    seen = set(informed_channels)
    for key in CUSTOMER_CHANNELS:
        if key in seen:
            channels.append({"key": key, "label": CHANNEL_LABELS[locale][key]})

    primary = _color(shop.primary_color, "#1F4E79")
    accent = _color(shop.accent_color, "#F2A900")
    address = facts.address
    tracking_url = _text(links.get("tracking"))
    block = None
    if marketing is not None:
        html, text = str(marketing.get("html") or ""), str(marketing.get("text") or "")
        if html.strip() or text.strip():
            block = {"html": html, "text": text}

    return {
        "locale": locale,
        "shop": {
            "name": shop.name,
            "sender_name": shop.sender_name or shop.name,
            "primary_color": primary,
            "accent_color": accent,
            "primary_text_color": readable_text_color(primary),
            "accent_text_color": readable_text_color(accent),
            "logo_url": _logo_url(shop, settings),
        },
        "customer": {
            "first_name": facts.first_name,
            "last_name": facts.last_name,
            "full_name": _join(facts.first_name, facts.last_name, sep=" ")
            or address.get("name", ""),
        },
        "order": {
            "reference": facts.reference,
            "status": facts.status,
            "status_label": _status_label(facts.status, locale),
            "placed_at": format_moment(facts.placed_at, locale, tz),
            "fulfilment_mode": facts.mode,
            "is_click_and_collect": facts.mode == Mode.CLICK_AND_COLLECT,
            "currency": cur,
            "lines": lines,
            "lines_total": _money(facts.lines_amount, cur, locale),
            "shipping": _money(facts.shipping_amount, cur, locale),
            "has_shipping": facts.shipping_amount > 0,
            "total": _money(facts.total_amount, cur, locale),
            "original_total": _money(original_total, cur, locale),
            "cancelled_amount": _money(original_total - facts.total_amount, cur, locale),
            "has_cancellations": has_cancellations,
            "promised_delivery_date": (
                format_date(facts.promised, "long", locale=locale) if facts.promised else ""
            ),
            "cancellation_reason": reason,
            "cancellation_reason_label": _label(lifecycle.CANCELLATION_LABELS, reason, locale),
            "sold_in_store": reason == lifecycle.CancellationReason.SOLD_IN_STORE,
            "shipping_address": {
                "name": address.get("name", ""),
                "line1": address.get("line1", ""),
                "line2": address.get("line2", ""),
                "postcode": address.get("postcode", ""),
                "city": address.get("city", ""),
                "country": _country(address.get("country_code", ""), locale),
                "country_code": address.get("country_code", ""),
            },
        },
        "pickup": pickup,
        "tracking": {
            "url": tracking_url,
            "carrier": _carrier(carrier),
            "number": _text(number),
            "eta": format_day(eta, locale, tz),
        },
        "event": current,
        "events": entries,
        "claim": claim,
        "return": _return_block(entries, locale),
        "links": {
            **{str(k): _text(v) for k, v in links.items()},
            "tracking": tracking_url,
            "order": _text(links.get("order")),
            "preferences": _text(links.get("preferences")),
        },
        "marketing": block,
        "informed_channels": channels,
        "informed_channels_text": format_list([c["label"] for c in channels], locale=locale)
        if channels
        else "",
    }


# --- public entry points ----------------------------------------------------------------


def _original_total(order: Order, lines: Sequence[_Line]) -> Decimal:
    """What the order cost as placed: the lines as ordered plus the shipping charged.

    A whole cancellation zeroes the shipping on the order row; the ``order.created`` event
    keeps the total as placed (one query, only for cancelled orders).
    """
    ordered = sum((line.unit_price * line.ordered for line in lines), Decimal("0"))
    if order.status == Status.CANCELLED and order.pk is not None:
        payload = (
            OrderEvent.objects.filter(order_id=order.pk, type="order.created")
            .values_list("payload", flat=True)
            .first()
        )
        if isinstance(payload, dict):
            try:
                return Decimal(str(payload.get("total_amount")))
            except (InvalidOperation, ValueError):
                pass
    return ordered + order.shipping_amount


def _shipped_payload(order: Order, entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The carrier and number of the order's shipment when the message's events lack them."""
    for raw in entries:
        payload = raw.get("payload")
        if isinstance(payload, Mapping) and (
            payload.get("tracking_number") or payload.get("carrier")
        ):
            return {}
    if order.pk is None or order.status not in _SHIPPED_STATUSES:
        return {}
    payload = (
        OrderEvent.objects.filter(order_id=order.pk, type="order.shipped")
        .order_by("-id")
        .values_list("payload", flat=True)
        .first()
    )
    return dict(payload) if isinstance(payload, dict) else {}


def order_context(
    order: Order,
    *,
    locale: str,
    events: list[dict[str, Any]],
    links: dict[str, str],
    marketing: dict[str, str] | None,
    informed_channels: list[str],
    settings: NotificationSettings | None,
    event_key: str | None = None,
) -> dict[str, Any]:
    """Return the template context of a message about *order* (plain data only).

    *order* should come with ``select_related("shop", "customer", "pickup_location")``;
    its lines are read with ``order.lines.all()`` (prefetch them for batches). Three extra
    queries may run: the ``order.shipped`` payload of a shipped order when *events* do not
    carry the carrier, the placed total of a wholly cancelled order, and the reason of a
    refused return when its event does not carry it.
    *events* are the message's domain events, oldest first, each ``{"type", "key", "id",
    "at", "payload"}`` (missing keys are tolerated); *event_key* picks the one ``event``
    points to (default: the last). *marketing* must be the shop's own block (see
    :func:`marketing_block`), never customer data: its HTML is inserted unescaped.
    ``links["order"]`` defaults to the order's page in the customer space.
    """
    if order.pk is not None and not links.get("order"):
        links = {**links, "order": order_space_url(order.pk)}
    lines = [
        _Line(
            name=line.name,
            sku=line.sku,
            unit_price=line.unit_price,
            ordered=line.quantity_ordered,
            cancelled=line.quantity_cancelled,
        )
        for line in order.lines.all()
    ]
    store = order.pickup_location
    customer = order.customer
    facts = _Facts(
        shop=order.shop,
        reference=order.reference,
        status=order.status,
        mode=order.fulfilment_mode,
        currency=order.currency,
        placed_at=order.placed_at,
        promised=order.promised_delivery_date,
        first_name=customer.first_name,
        last_name=customer.last_name,
        lines=lines,
        lines_amount=order.lines_amount,
        shipping_amount=order.shipping_amount,
        total_amount=order.total_amount,
        original_total=_original_total(order, lines),
        cancellation_reason=order.cancellation_reason,
        address={
            "name": order.ship_name,
            "line1": order.ship_line1,
            "line2": order.ship_line2,
            "postcode": order.ship_postcode,
            "city": order.ship_city,
            "country_code": order.ship_country,
        },
        store=(
            _Place(
                store.name,
                store.address_line1,
                store.address_line2,
                store.postcode,
                store.city,
                store.opening_hours or {},
            )
            if store is not None
            else None
        ),
        shipped_payload=_shipped_payload(order, events),
    )
    return _build(
        facts,
        locale=locale,
        events=events,
        links=links,
        marketing=marketing,
        informed_channels=informed_channels,
        settings=settings,
        event_key=event_key,
    )


def marketing_block(
    settings: NotificationSettings | None, *, opted_out: bool
) -> dict[str, str] | None:
    """The ``marketing`` argument of :func:`order_context`: the shop's block, or None."""
    if settings is None or opted_out:
        return None
    if not (settings.marketing_html.strip() or settings.marketing_text.strip()):
        return None
    return {"html": settings.marketing_html, "text": settings.marketing_text}


# --- previews ---------------------------------------------------------------------------

_SAMPLE_STATUS: Final[dict[str, Status]] = {
    "confirmed": Status.TO_PREPARE,
    "in_preparation": Status.IN_PREPARATION,
    "ready_to_ship": Status.READY_TO_SHIP,
    "shipped": Status.SHIPPED,
    "in_transit": Status.IN_TRANSIT,
    "ready_for_pickup": Status.READY_FOR_PICKUP,
    "available_for_pickup": Status.AVAILABLE_FOR_PICKUP,
    "out_for_delivery": Status.OUT_FOR_DELIVERY,
    "delivered": Status.DELIVERED,
    "collected": Status.COLLECTED,
    "cancelled": Status.CANCELLED,
    "partially_cancelled": Status.IN_PREPARATION,
    "delayed": Status.IN_TRANSIT,
    "exception": Status.IN_TRANSIT,
    "failed_attempt": Status.IN_TRANSIT,
    "pickup_reminder": Status.READY_FOR_PICKUP,
    "claim_update": Status.DELIVERED,
    "return_update": Status.DELIVERED,
}
_SAMPLE_CLICK_AND_COLLECT: Final = frozenset({"ready_for_pickup", "collected", "pickup_reminder"})
_SAMPLE_TEXT: Final[dict[str, dict[str, str]]] = {
    "fr": {
        "line1": "Pull marin en laine",
        "line2": "Bonnet côtelé",
        "store": "Boutique Centre-ville",
        "relay": "Relais Tabac de la Gare",
        "claim": "Nous avons ouvert une enquête auprès du transporteur.",
    },
    "en": {
        "line1": "Wool sailor jumper",
        "line2": "Ribbed beanie",
        "store": "City centre store",
        "relay": "Station newsagent",
        "claim": "We have opened an investigation with the carrier.",
    },
}
_SAMPLE_HOURS: Final = {
    "mon": [],
    "tue": [["10:00", "19:00"]],
    "wed": [["10:00", "19:00"]],
    "thu": [["10:00", "19:00"]],
    "fri": [["10:00", "19:00"]],
    "sat": [["09:30", "12:30"], ["14:00", "19:00"]],
    "sun": [],
}


def sample_context(
    shop: Shop,
    *,
    event_key: str,
    locale: str,
    links: dict[str, str],
    settings: NotificationSettings | None = None,
    informed_channels: list[str] | None = None,
) -> dict[str, Any]:
    """Return a realistic context for previews of *event_key* without a real order.

    Two lines (the second cancelled for ``partially_cancelled``, both for ``cancelled``,
    sold in store), the shop's first store (or a made-up one) for Click & Collect events,
    a relay point with a deadline for ``available_for_pickup``, an approved return with a
    label for ``return_update``. Reads the shop's notification settings and stores when it
    is saved and *settings* is not given. ``links["order"]`` defaults to a customer-space
    address that opens no order.
    """
    if event_key not in EVENTS:
        raise ValueError(f"Unknown notification event {event_key!r}.")
    if not links.get("order"):
        links = {**links, "order": order_space_url(0)}  # no order has id 0
    locale = resolve_locale(locale)
    words = _SAMPLE_TEXT[locale]
    now = timezone.now()
    tz = _tz(shop)

    def evening(days: int) -> str:
        day = (now.astimezone(tz) + dt.timedelta(days=days)).date()
        return dt.datetime.combine(day, dt.time(19, 0), tzinfo=tz).isoformat()

    if settings is None and shop.pk is not None:
        settings = NotificationSettings.objects.filter(shop=shop).first()
    mode = Mode.CLICK_AND_COLLECT if event_key in _SAMPLE_CLICK_AND_COLLECT else Mode.DELIVERY
    store: _Place | None = None
    if mode is Mode.CLICK_AND_COLLECT:
        location = (
            Location.objects.filter(shop=shop, kind=Location.Kind.STORE, is_active=True)
            .order_by("id")
            .first()
            if shop.pk is not None
            else None
        )
        store = (
            _Place(
                location.name,
                location.address_line1,
                location.address_line2,
                location.postcode,
                location.city,
                location.opening_hours or {},
            )
            if location is not None
            else _Place(
                words["store"], "12 rue de la République", "", "69002", "Lyon", _SAMPLE_HOURS
            )
        )

    first_cancelled = {"cancelled": 1, "partially_cancelled": 1}.get(event_key, 0)
    lines = [
        _Line(words["line1"], "PULL-M", Decimal("49.90"), 2, 2 if event_key == "cancelled" else 0),
        _Line(words["line2"], "BONNET", Decimal("15.00"), 1, first_cancelled),
    ]
    shipping = Decimal("4.90") if mode is Mode.DELIVERY else Decimal("0")
    lines_amount = sum((ln.unit_price * (ln.ordered - ln.cancelled) for ln in lines), Decimal(0))
    original = sum((ln.unit_price * ln.ordered for ln in lines), Decimal(0)) + shipping
    total = Decimal(0) if event_key == "cancelled" else lines_amount + shipping
    shipped = {"carrier": "colissimo", "tracking_number": "6A12345678901"}

    payload: dict[str, Any] = {}
    domain_type = f"order.{event_key}"
    if event_key == "shipped":
        payload = dict(shipped)
    elif event_key == "cancelled":
        payload = {"reason": "sold_in_store"}
    elif event_key == "partially_cancelled":
        domain_type = "order.lines_cancelled"
        payload = {"reason": "out_of_stock", "total_amount": str(total)}
    elif event_key == "available_for_pickup":
        payload = {
            "relay_point": {
                "name": words["relay"],
                "address": "2 avenue de la Gare",
                "postcode": "69003",
                "city": "Lyon",
                "opening_hours": {"mon": [["07:00", "20:00"]], "sat": [["08:00", "13:00"]]},
            },
            "pickup_deadline": evening(10),
        }
    elif event_key in ("ready_for_pickup", "pickup_reminder"):
        days = 2 if event_key == "pickup_reminder" else 10
        payload = {"pickup_deadline": evening(days)}
    elif event_key == "delayed":
        domain_type = "shipment.delayed"
        payload = {"eta": (now + dt.timedelta(days=3)).date().isoformat()}
    elif event_key == "exception":
        domain_type = "shipment.exception"
        payload = {"reason": "damaged"}
    elif event_key == "failed_attempt":
        domain_type = "shipment.failed_attempt"
        payload = {"reason": "recipient_absent"}
    elif event_key == "claim_update":
        domain_type = "claim.updated"
        payload = {"reference": "R-1042", "status": "in_progress", "message": words["claim"]}
    elif event_key == "return_update":
        domain_type = "return.approved"
        payload = {
            "return_id": 1042,
            "order_id": 4217,
            "from": "requested",
            "to": "approved",
            "has_label": True,
        }

    facts = _Facts(
        shop=shop,
        reference="CMD-004217",
        status=_SAMPLE_STATUS[event_key].value,
        mode=mode.value,
        currency=shop.currency or "EUR",
        placed_at=now - dt.timedelta(days=2),
        promised=(now + dt.timedelta(days=3)).date() if mode is Mode.DELIVERY else None,
        first_name="Claire",
        last_name="Martin",
        lines=lines,
        lines_amount=lines_amount,
        shipping_amount=Decimal(0) if event_key == "cancelled" else shipping,
        total_amount=total,
        original_total=original,
        cancellation_reason="sold_in_store" if event_key == "cancelled" else "",
        address=(
            {
                "name": "Claire Martin",
                "line1": "3 place Bellecour",
                "line2": "",
                "postcode": "69002",
                "city": "Lyon",
                "country_code": shop.country or "FR",
            }
            if mode is Mode.DELIVERY
            else {}
        ),
        store=store,
        shipped_payload=shipped if _SAMPLE_STATUS[event_key] in _SHIPPED_STATUSES else {},
    )
    event = {
        "type": domain_type,
        "key": event_key,
        "id": 0,
        "at": now.isoformat(),
        "payload": payload,
    }
    return _build(
        facts,
        locale=locale,
        events=[event],
        links=links,
        marketing=marketing_block(settings, opted_out=False),
        informed_channels=informed_channels if informed_channels is not None else ["email", "sms"],
        settings=settings,
        event_key=event_key,
    )
