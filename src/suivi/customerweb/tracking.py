"""The tracking page's read model: what a customer sees of an order, built in four queries.

Two levels of access, decided by the caller:

- **public** (a signed link from a message, or a lookup by order number and postcode): the
  order's progress, each parcel with its carrier events, the ETA, the relay point or store
  with its opening hours and pickup deadline, and what to do on a problem. No personal
  data: no name, no email, no phone, no street address, no line items, no amounts.
- **owner** (the signed-in customer, or a lookup by order number and the order's email):
  the same plus the delivery address and the lines.

Everything is plain data formatted for the language asked (dates in the shop's time zone;
carrier events in the carrier's own local time, as it reported them).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from suivi.core.money import format_money
from suivi.notifications.context import (
    REASON_LABELS,
    carrier_name,
    format_day,
    format_deadline,
    format_moment,
    opening_hours_lines,
    resolve_locale,
)
from suivi.orders import lifecycle
from suivi.orders.models import Order
from suivi.shipments.models import Parcel, TrackingEvent
from suivi.shops.models import Shop

from .changes import version_of

PARCEL_LABELS = {
    "pending": _("Waiting for the carrier"),
    "info_received": _("Label created, waiting for the carrier"),
    "in_transit": _("On its way"),
    "out_for_delivery": _("Out for delivery today"),
    "available_for_pickup": _("Waiting for you at the pickup point"),
    "delivered": _("Delivered"),
    "failed_attempt": _("Delivery attempt failed"),
    "exception": _("Delivery problem"),
    "returning": _("Being returned to the sender"),
    "returned": _("Returned to the sender"),
    "expired": _("No more news from the carrier"),
}
PROBLEM_STATUSES = frozenset({"failed_attempt", "exception", "returning", "returned", "expired"})
# Carriers whose own tracking page lets the recipient reschedule or redirect a delivery.
RESCHEDULE_CARRIERS = frozenset(
    {"laposte", "colissimo", "chronopost", "dhl", "ups", "dpd", "gls", "fedex"}
)


@dataclass
class EventView:
    when: str
    iso: str
    label: str
    place: str


@dataclass
class ParcelView:
    id: int
    carrier: str
    number: str
    tracking_url: str
    status: str
    status_label: str
    reason_label: str
    problem: bool
    stalled: bool
    eta: str
    delivered_at: str
    pickup_deadline: str
    relay_point: dict[str, Any] | None
    customs: str
    can_reschedule: bool
    events: list[EventView] = field(default_factory=list)


@dataclass
class StepView:
    label: str
    done: bool
    current: bool


@dataclass
class TrackingView:
    order_id: int
    reference: str
    locale: str
    status: str
    status_label: str
    is_click_and_collect: bool
    cancelled: bool
    steps: list[StepView]
    history: list[EventView]
    parcels: list[ParcelView]
    store: dict[str, Any] | None
    pickup_deadline: str
    promised: str
    problem: bool
    support_email: str
    support_phone: str
    version: str
    owner: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The public JSON of the page (the owner part only when the caller is the owner)."""
        from dataclasses import asdict

        data = asdict(self)
        if self.owner is None:
            data.pop("owner")
        return data


def _tz(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name or "Europe/Paris")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Paris")


def order_for_tracking(order_id: int) -> Order | None:
    """The order with its shop and store (one query)."""
    return Order.objects.select_related("shop", "pickup_location").filter(pk=order_id).first()


def _relay_point(raw: object, locale: str) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or not raw:
        return None
    text = {k: str(v).strip() for k, v in raw.items() if isinstance(v, str | int | float)}
    address = text.get("address") or ", ".join(
        x for x in (text.get("address_line1") or text.get("line1"), text.get("line2")) if x
    )
    return {
        "name": text.get("name", ""),
        "address": address,
        "postcode": text.get("postcode") or text.get("zip", ""),
        "city": text.get("city", ""),
        "opening_hours": opening_hours_lines(raw.get("opening_hours"), locale),
    }


def _event_view(event: TrackingEvent, locale: str) -> EventView:
    local = event.local_time
    place = ", ".join(x for x in (event.location, event.country) if x)
    label = event.raw_label or str(PARCEL_LABELS.get(event.status, event.status))
    return EventView(
        when=format_moment(local, locale, local.tzinfo or dt.UTC),
        iso=local.isoformat(),
        label=label,
        place=place,
    )


def _parcel_view(parcel: Parcel, events: list[TrackingEvent], locale: str, tz: dt.tzinfo) -> Any:
    reason = parcel.status_reason or ""
    return ParcelView(
        id=parcel.pk,
        carrier=carrier_name(parcel.carrier),
        number=parcel.tracking_number,
        tracking_url=parcel.tracking_url,
        status=parcel.status,
        status_label=str(PARCEL_LABELS.get(parcel.status, parcel.status)),
        reason_label=REASON_LABELS[locale].get(reason, "") if reason else "",
        problem=parcel.status in PROBLEM_STATUSES or parcel.stalled_at is not None,
        stalled=parcel.stalled_at is not None,
        eta=format_day(parcel.eta, locale, tz) if parcel.eta and not parcel.delivered_at else "",
        delivered_at=format_moment(parcel.delivered_at, locale, tz),
        pickup_deadline=format_deadline(parcel.pickup_deadline, locale, tz),
        relay_point=_relay_point(parcel.relay_point, locale),
        customs=parcel.customs,
        can_reschedule=bool(parcel.tracking_url)
        and parcel.carrier in RESCHEDULE_CARRIERS
        and parcel.status in {"failed_attempt", "out_for_delivery", "in_transit", "exception"},
        events=[_event_view(e, locale) for e in events],
    )


def _store(order: Order, locale: str) -> dict[str, Any] | None:
    store = order.pickup_location
    if store is None:
        return None
    return {
        "name": store.name,
        "address": ", ".join(x for x in (store.address_line1, store.address_line2) if x),
        "postcode": store.postcode,
        "city": store.city,
        "phone": store.phone,
        "opening_hours": opening_hours_lines(store.opening_hours, locale),
    }


def _owner_part(order: Order, locale: str) -> dict[str, Any]:
    lines = [
        {
            "name": line.name,
            "quantity": line.quantity_ordered,
            "cancelled": line.quantity_cancelled,
            "remaining": line.quantity_ordered - line.quantity_cancelled,
            "struck": line.quantity_cancelled >= line.quantity_ordered,
            "total": format_money(line.unit_price * line.quantity_active, order.currency, locale),
        }
        for line in order.lines.order_by("position")
    ]
    return {
        "name": order.ship_name,
        "address": ", ".join(
            x
            for x in (
                order.ship_line1,
                order.ship_line2,
                f"{order.ship_postcode} {order.ship_city}".strip(),
                order.ship_country,
            )
            if x
        ),
        "lines": lines,
        "total": format_money(order.total_amount, order.currency, locale),
        "can_change_address": order.fulfilment_mode == "delivery"
        and order.status in ADDRESS_CHANGE_STATUSES,
    }


# The order has not left the warehouse: its delivery address may still change.
ADDRESS_CHANGE_STATUSES = frozenset(
    {
        "awaiting_payment",
        "awaiting_stock",
        "routed",
        "to_prepare",
        "in_preparation",
        "ready_to_ship",
    }
)


def tracking_view(order: Order, *, language: str | None = None, owner: bool = False) -> Any:
    """Build the page's data for *order* (see the module's docstring for what *owner* adds)."""
    locale = resolve_locale(language or order.language)
    tz = _tz(order.shop.timezone)
    with translation.override(locale):
        info = lifecycle.info(order.status)
        every_event = list(
            order.events.order_by("occurred_at", "pk").values(
                "pk", "type", "payload", "occurred_at"
            )
        )
        order_events = [row for row in every_event if row["type"].startswith("order.")]
        parcels = list(Parcel.objects.filter(order_id=order.pk).order_by("pk"))
        events_by_parcel: dict[int, list[TrackingEvent]] = {p.pk: [] for p in parcels}
        last_tracking = 0
        if parcels:
            for event in TrackingEvent.objects.filter(parcel_id__in=list(events_by_parcel)).only(
                "pk",
                "parcel_id",
                "occurred_at",
                "utc_offset_minutes",
                "status",
                "raw_label",
                "location",
                "country",
            ):
                events_by_parcel[event.parcel_id].append(event)
                last_tracking = max(last_tracking, event.pk)
        for events in events_by_parcel.values():
            events.sort(key=lambda e: (e.occurred_at, e.pk), reverse=True)
        via_pickup = any(p.status == "available_for_pickup" or p.relay_point for p in parcels)
        steps = lifecycle.public_steps(order.fulfilment_mode, via_pickup_point=via_pickup)
        cancelled = order.status == "cancelled"
        current = steps.index(info.step) if info.step in steps else -1
        statuses = {s.value for s in lifecycle.Status}
        history = []
        pickup_deadline = ""
        for row in order_events:
            payload = row["payload"] if isinstance(row["payload"], dict) else {}
            target = payload.get("to")
            if payload.get("pickup_deadline"):
                pickup_deadline = str(payload["pickup_deadline"])
            if target not in statuses or lifecycle.info(target).internal:
                continue
            history.append(
                EventView(
                    when=format_moment(row["occurred_at"], locale, tz),
                    iso=row["occurred_at"].isoformat(),
                    label=str(lifecycle.info(target).customer_label),
                    place="",
                )
            )
        history.reverse()
        parcel_views = [_parcel_view(p, events_by_parcel[p.pk], locale, tz) for p in parcels]
        deadline_text = ""
        if pickup_deadline:
            try:
                deadline_text = format_deadline(
                    dt.datetime.fromisoformat(pickup_deadline), locale, tz
                )
            except ValueError:
                deadline_text = ""
        # Every event counts (claims too): the version says "something changed".
        last_order_event = max((row["pk"] for row in every_event), default=0)
        return TrackingView(
            order_id=order.pk,
            reference=order.reference,
            locale=locale,
            status=order.status,
            status_label=str(info.customer_label),
            is_click_and_collect=order.fulfilment_mode == "click_and_collect",
            cancelled=cancelled,
            steps=[
                StepView(
                    label=str(lifecycle.STEP_LABELS[s]), done=i <= current, current=i == current
                )
                for i, s in enumerate(steps)
            ]
            if not cancelled
            else [],
            history=history,
            parcels=parcel_views,
            store=_store(order, locale),
            pickup_deadline=deadline_text,
            promised=format_day(order.promised_delivery_date, locale, tz)
            if order.promised_delivery_date
            else "",
            problem=any(p.problem for p in parcel_views) or bool(order.exception_reason),
            support_email=order.shop.support_email,
            support_phone=order.shop.support_phone,
            version=version_of(last_order_event, last_tracking),
            owner=_owner_part(order, locale) if owner else None,
        )


def _normalise_postcode(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


def find_order(reference: str, contact: str, shop: Shop | None) -> tuple[Order | None, bool]:
    """The order matching *reference* and *contact* (its email, or its delivery postcode),
    and whether the match proves ownership (the email). The same query runs whatever the
    outcome, so that "no such order" and "wrong details" cannot be told apart."""
    reference = reference.strip()
    contact = contact.strip()
    rows = Order.objects.filter(reference__in={reference, reference.upper()})
    if shop is not None:
        rows = rows.filter(shop=shop)
    by_email = "@" in contact
    wanted = contact.lower() if by_email else _normalise_postcode(contact)
    found = None
    for order in rows.only("pk", "email", "ship_postcode")[:10]:
        have = order.email.lower() if by_email else _normalise_postcode(order.ship_postcode)
        if have and hmac.compare_digest(have.encode(), wanted.encode()):
            found = order
    return found, (found is not None and by_email)
