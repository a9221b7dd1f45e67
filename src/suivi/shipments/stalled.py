"""Stalled parcels: no carrier movement for N business days.

N depends on the carrier and the service (``SUIVI_STALLED_BUSINESS_DAYS``: ``{"default":
3, "laposte": 3, "laposte:lettre": 5, …}``, the most specific key wins). Business days are
Monday to Friday minus the public holidays of the shop's country, from the maintained
``holidays`` library (French ones by default). A stalled parcel gets ``stalled_at`` and a
``shipment.stalled`` event on its order (notifiable as a delay; listed for the merchant);
its next carrier event clears ``stalled_at`` (see :mod:`.ingest`).

The query is bounded: only parcels neither terminal nor already stalled whose last movement
is older than N *calendar* days (N business days are at least that), through a partial index.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from suivi.orders.models import Order, OrderEvent
from suivi.orders.services import publish_recorded_many

from .ingest import parcel_payload
from .models import Parcel

DEFAULT_DAYS = 3
BATCH = 500


def threshold(carrier: str, service: str = "") -> int:
    """Business days without movement after which a parcel of *carrier*/*service* stalls."""
    table: dict[str, int] = {"default": DEFAULT_DAYS, **settings.SUIVI_STALLED_BUSINESS_DAYS}
    for key in (f"{carrier}:{service}" if service else "", carrier, "default"):
        if key and key in table:
            return int(table[key])
    return DEFAULT_DAYS


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError:  # a country the library does not know: weekends only
        return frozenset()


def is_business_day(day: date, country: str = "FR") -> bool:
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def business_days_between(start: date, end: date, country: str = "FR") -> int:
    """Business days after *start* up to and including *end* (0 if end <= start)."""
    count = 0
    day = start + timedelta(days=1)
    while day <= end:
        if is_business_day(day, country):
            count += 1
        day += timedelta(days=1)
    return count


def is_stalled(
    last_movement: datetime,
    now: datetime,
    *,
    days: int,
    country: str = "FR",
    tz: str = "Europe/Paris",
) -> bool:
    zone = ZoneInfo(tz)
    start = last_movement.astimezone(zone).date()
    end = now.astimezone(zone).date()
    return business_days_between(start, end, country) >= days


def detect(now: datetime | None = None, *, limit: int = BATCH) -> int:
    """Mark newly stalled parcels and publish ``shipment.stalled``; return how many."""
    now = now or timezone.now()
    smallest = min([DEFAULT_DAYS, *map(int, settings.SUIVI_STALLED_BUSINESS_DAYS.values())])
    cutoff = now - timedelta(days=smallest)
    candidates = list(
        Parcel.objects.filter(stalled_at__isnull=True)
        .exclude(status__in=["delivered", "returned", "expired"])
        .annotate(moved=Coalesce("last_event_at", "shipped_at"))
        .filter(Q(moved__lt=cutoff))
        .select_related("shop")
        .order_by("moved")[:limit]
    )
    stalled = [
        parcel
        for parcel in candidates
        if is_stalled(
            parcel.moved,
            now,
            days=threshold(parcel.carrier, parcel.service),
            country=parcel.shop.country or "FR",
            tz=parcel.shop.timezone or "Europe/Paris",
        )
    ]
    if not stalled:
        return 0
    with transaction.atomic():
        marked = set(
            Parcel.objects.filter(pk__in=[p.pk for p in stalled], stalled_at__isnull=True)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        Parcel.objects.filter(pk__in=marked).update(stalled_at=now)
        events = [
            OrderEvent(
                shop_id=parcel.shop_id,
                order_id=parcel.order_id,
                type="shipment.stalled",
                actor="suivi",
                payload={
                    **parcel_payload(parcel),
                    "reason": "delay",
                    "last_movement": parcel.moved.isoformat(),
                    "business_days": threshold(parcel.carrier, parcel.service),
                },
            )
            for parcel in stalled
            if parcel.pk in marked
        ]
        OrderEvent.objects.bulk_create(events)
        for event in events:
            event.order = Order(pk=event.order_id, shop_id=event.shop_id)
        publish_recorded_many(events)
    return len(events)
