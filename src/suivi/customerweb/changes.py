"""What changed an order's tracking page, in one place: its *version* (the newest order
event id and the newest carrier scan id of its parcels, ``"<event>.<scan>"``) and the orders
with new rows since given high-water marks. The live process, the public pages and the JSON's
ETag all read these, so that they agree on when a page is out of date."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Max, QuerySet


def version_of(order_event_id: int, scan_id: int) -> str:
    return f"{order_event_id}.{scan_id}"


def version_columns_sql() -> str:
    """Two sub-selects (each taking the order id as a parameter): the newest event id and
    the newest scan id of one order, each an index lookup."""
    from suivi.orders.models import OrderEvent
    from suivi.shipments.models import Parcel, TrackingEvent

    events = OrderEvent._meta.db_table
    scans = TrackingEvent._meta.db_table
    parcels = Parcel._meta.db_table
    # Table names from the models' metadata, values as parameters.
    return (
        f"COALESCE((SELECT MAX(e.id) FROM {events} e WHERE e.order_id = %s), 0), "  # noqa: S608
        f"COALESCE((SELECT MAX(t.id) FROM {scans} t WHERE t.parcel_id IN "
        f"(SELECT p.id FROM {parcels} p WHERE p.order_id = %s)), 0)"
    )


def latest_version(order_id: int) -> str:
    """The current version of *order_id*'s page (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {version_columns_sql()}", [order_id, order_id])
        row = cursor.fetchone()
    return version_of(int(row[0]), int(row[1]))


def high_water_marks() -> tuple[int, int]:
    """The newest order event id and scan id of the whole platform."""
    from suivi.orders.models import OrderEvent
    from suivi.shipments.models import TrackingEvent

    return (
        OrderEvent.objects.aggregate(m=Max("pk"))["m"] or 0,
        TrackingEvent.objects.aggregate(m=Max("pk"))["m"] or 0,
    )


def _newer(rows: QuerySet[Any, tuple[int, int]], mark: int) -> tuple[set[int], int]:
    orders: set[int] = set()
    for pk, order_id in rows.filter(pk__gt=mark).order_by("pk")[:5000]:
        orders.add(order_id)
        mark = pk
    return orders, mark


def changes_since(last_order_event: int, last_scan: int) -> tuple[set[int], int, int]:
    """Orders with new events or scans since the marks, and the new marks (at most 5,000 of
    each per call; the next call takes the rest)."""
    from suivi.orders.models import OrderEvent
    from suivi.shipments.models import TrackingEvent

    by_events, last_order_event = _newer(
        OrderEvent.objects.values_list("pk", "order_id"), last_order_event
    )
    by_scans, last_scan = _newer(
        TrackingEvent.objects.values_list("pk", "parcel__order_id"), last_scan
    )
    return by_events | by_scans, last_order_event, last_scan
