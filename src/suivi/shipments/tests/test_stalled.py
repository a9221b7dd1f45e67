"""Stalled parcels: N business days without movement, French public holidays counted."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from suivi.carriers.vocabulary import Status
from suivi.notifications.models import OutboxMessage
from suivi.orders.models import OrderEvent
from suivi.shipments import stalled
from suivi.shipments.ingest import ingest
from suivi.shipments.models import Parcel

from .factories import number, scan, shipped_order, update

PARIS = ZoneInfo("Europe/Paris")


def test_business_days_skip_weekends_and_french_holidays() -> None:
    # Tuesday 10 Nov 2026 → Friday 13 Nov: Wednesday 11 November (Armistice) is a holiday.
    assert stalled.business_days_between(date(2026, 11, 10), date(2026, 11, 13)) == 2
    # Friday 24 Dec → Monday 28 Dec: the weekend and Christmas Day do not count.
    assert stalled.business_days_between(date(2026, 12, 24), date(2026, 12, 28)) == 1
    assert not stalled.is_business_day(date(2026, 5, 14))  # Ascension Thursday
    assert stalled.is_business_day(date(2026, 5, 14), "GB")  # not a holiday in the UK


def test_threshold_per_carrier_and_service(settings) -> None:
    settings.SUIVI_STALLED_BUSINESS_DAYS = {"default": 4, "laposte": 3, "laposte:lettre": 6}
    assert stalled.threshold("laposte") == 3
    assert stalled.threshold("laposte", "lettre") == 6
    assert stalled.threshold("dhl") == 4


@pytest.mark.django_db
def test_a_silent_parcel_stalls_once_is_notified_and_clears_on_movement(shop_a, settings) -> None:
    settings.SUIVI_STALLED_BUSINESS_DAYS = {}
    n = number()
    order, [parcel] = shipped_order(shop_a, n)
    moved = datetime(2026, 11, 10, 9, 0, tzinfo=PARIS)  # Tuesday
    ingest(
        shop_a, [("laposte", update(n, scan(n, Status.IN_TRANSIT, moved, "ET1")))], source="poll"
    )
    # Friday 13: 2 business days (the 11th is a holiday) — not yet.
    assert stalled.detect(now=datetime(2026, 11, 13, 18, 0, tzinfo=PARIS)) == 0
    # Monday 16: 3 business days — stalled.
    monday = datetime(2026, 11, 16, 10, 0, tzinfo=PARIS)
    assert stalled.detect(now=monday) == 1
    assert stalled.detect(now=monday + timedelta(hours=1)) == 0  # once
    parcel.refresh_from_db()
    assert parcel.stalled_at is not None
    event = OrderEvent.objects.get(order=order, type="shipment.stalled")
    assert event.payload["order_id"] == order.pk and event.payload["tracking_number"] == n
    assert OutboxMessage.objects.filter(order_id=order.pk, event_key="delayed").exists()
    ingest(
        shop_a,
        [("laposte", update(n, scan(n, Status.IN_TRANSIT, monday + timedelta(hours=2), "ET3")))],
        source="poll",
    )
    parcel.refresh_from_db()
    assert parcel.stalled_at is None


@pytest.mark.django_db
def test_terminal_parcels_never_stall(shop_a) -> None:
    n = number()
    shipped_order(shop_a, n)
    moved = datetime(2026, 11, 2, 9, 0, tzinfo=PARIS)
    ingest(shop_a, [("laposte", update(n, scan(n, Status.DELIVERED, moved, "DI1")))], source="poll")
    assert stalled.detect(now=moved + timedelta(days=30)) == 0
    assert Parcel.objects.get(tracking_number=n).stalled_at is None
