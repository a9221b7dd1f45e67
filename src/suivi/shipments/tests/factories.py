"""Builders for tracking tests: scans, updates, and shipped orders through the services."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingEvent
from suivi.orders.models import Order
from suivi.shipments import services
from suivi.shipments.models import Parcel
from suivi.shops.models import Shop
from suivi.testing import make_order

PARIS_WINTER = timezone(timedelta(hours=1))
_numbers = itertools.count(10_000_000_000)


def number() -> str:
    """A fresh Colissimo-shaped number (detected as La Poste)."""
    return f"6A{next(_numbers):011d}"


def scan(
    tracking_number: str,
    status: Status,
    at: datetime,
    code: str = "",
    *,
    reason: Reason = Reason.NONE,
    location: str = "",
    customs: str = "",
) -> TrackingEvent:
    return TrackingEvent(
        tracking_number=tracking_number,
        status=status,
        reason=reason,
        occurred_at=at,
        raw_code=code or status.value.upper()[:3],
        raw_label=f"{status.value} scan",
        location=location,
        customs=customs,
    )


def update(tracking_number: str, *scans: TrackingEvent, **extras: object) -> ShipmentUpdate:
    return ShipmentUpdate(tracking_number, tuple(scans), **extras)  # type: ignore[arg-type]


def shipped_order(
    shop: Shop, *numbers: str, carrier: str = "laposte"
) -> tuple[Order, list[Parcel]]:
    """A paid delivery order shipped in one parcel per number (all lines in the first)."""
    order = make_order(shop, paid=True)
    parcels = services.parcels_create(
        shop=shop,
        order_id=order.pk,
        parcels=[
            services.ParcelInput(
                tracking_number=n,
                carrier=carrier,
                lines=None if i == 0 else [],
            )
            for i, n in enumerate(numbers or (number(),))
        ],
    )
    order.refresh_from_db()
    return order, parcels


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=PARIS_WINTER)
