"""Builders for the customer-web tests: orders shipped and tracked through the real services."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.utils import timezone

from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingEvent
from suivi.customers.models import Customer
from suivi.orders.lifecycle import Mode
from suivi.orders.lifecycle import Status as OrderStatus
from suivi.orders.models import Order
from suivi.orders.tests.support import order_in_status
from suivi.shipments.ingest import ingest
from suivi.shipments.services import ParcelInput, parcels_create
from suivi.shops.models import Shop

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
RELAY = {
    "name": "Tabac de la Gare",
    "line1": "2 place de la Gare",
    "postcode": "75011",
    "city": "Paris",
    "opening_hours": {"mon": [["08:00", "19:00"]], "sun": []},
}
# Personal data of the test customer: none of it may appear on a page without proof.
PERSONAL = {
    "email": "ines.moreau@example.org",
    "first_name": "Inès",
    "last_name": "Moreau-Delacroix",
    "street": "3 place Bellecour",
    "line": "Pull marin",
}


def ready_order(shop: Shop, *, email: str = PERSONAL["email"], **kwargs: Any) -> Order:
    """A delivery order ready to ship, for a customer with the PERSONAL details."""
    order = order_in_status(shop, Mode.DELIVERY, OrderStatus.READY_TO_SHIP, email=email, **kwargs)
    Customer.objects.filter(pk=order.customer_id).update(
        first_name=PERSONAL["first_name"], last_name=PERSONAL["last_name"]
    )
    Order.objects.filter(pk=order.pk).update(
        ship_name=f"{PERSONAL['first_name']} {PERSONAL['last_name']}", phone="+33612345678"
    )
    return Order.objects.get(pk=order.pk)


def event(number: str, status: Status, hours_ago: float, label: str, place: str, *,
          tz: ZoneInfo = PARIS, now: datetime | None = None,
          reason: Reason = Reason.NONE, code: str = "ET1") -> TrackingEvent:  # fmt: skip
    now = now or timezone.now()
    return TrackingEvent(
        tracking_number=number,
        status=status,
        reason=reason,
        occurred_at=(now - timedelta(hours=hours_ago)).astimezone(tz).replace(microsecond=0),
        raw_code=code,
        raw_label=label,
        location=place,
        country="FR",
    )


def shipped_order(shop: Shop, *, number: str = "6A12345678901", **kwargs: Any) -> Order:
    """A ready order shipped in one Colissimo parcel with two carrier scans."""
    order = ready_order(shop, **kwargs)
    parcels_create(shop=shop, order_id=order.pk, parcels=[ParcelInput(number, "colissimo")])
    push(shop, number, [
        event(number, Status.IN_TRANSIT, 30, "Votre colis a été déposé.", "Lyon", code="PC1"),
        event(number, Status.IN_TRANSIT, 20, "Votre colis est en cours d'acheminement.",
              "Chilly-Mazarin"),
    ])  # fmt: skip
    return Order.objects.get(pk=order.pk)


def push(shop: Shop, number: str, events: list[TrackingEvent], **extra: Any) -> None:
    """Push carrier events through the real ingestion."""
    ingest(shop, [("colissimo", ShipmentUpdate(number, tuple(events), **extra))], source="push")


def customer_user(order: Order, *, email: str | None = None) -> Any:
    """A signed-up user owning *order*'s customer (as after email verification)."""
    user = get_user_model().objects.create_user(
        username=(email or order.email), email=email or order.email, password="x-Long-pass-9"
    )
    Customer.objects.filter(pk=order.customer_id).update(user=user)
    return user
