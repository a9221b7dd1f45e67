"""Reads of parcels, each taking the shop (the API renders them; the customer tracking page
and the back office will read through the same functions)."""

from __future__ import annotations

from dataclasses import dataclass

from suivi.core.errors import NotFound
from suivi.orders.models import Order
from suivi.shops.models import Shop

from .models import Parcel, TrackingEvent


def parcels(
    *, shop: Shop, ids: list[int] | None = None, order_id: int | None = None
) -> list[Parcel]:
    """The shop's parcels (by ids or of one order) with legs, lines and events prefetched."""
    rows = Parcel.objects.filter(shop=shop)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    if order_id is not None:
        rows = rows.filter(order_id=order_id)
    return list(rows.prefetch_related("legs", "lines__order_line", "events").order_by("pk"))


def parcel(*, shop: Shop, parcel_id: int) -> Parcel:
    found = parcels(shop=shop, ids=[parcel_id])
    if not found:
        raise NotFound("No such parcel.", parcel_id=parcel_id)
    return found[0]


def parcels_of_order(*, shop: Shop, order_id: int) -> list[Parcel]:
    """An order's parcels; another shop's order answers like a missing one."""
    if not Order.objects.filter(shop=shop, pk=order_id).exists():
        raise NotFound("No such order.", order_id=order_id)
    return parcels(shop=shop, order_id=order_id)


def parcel_page(
    *,
    shop: Shop,
    status: str | None = None,
    stalled: bool | None = None,
    after: int = 0,
    limit: int = 50,
) -> tuple[list[Parcel], int | None]:
    """One page of the shop's parcels (oldest first, without events) and the next cursor."""
    rows = Parcel.objects.filter(shop=shop, pk__gt=after)
    if status is not None:
        rows = rows.filter(status=status)
    if stalled is not None:
        rows = rows.filter(stalled_at__isnull=not stalled)
    page = list(rows.prefetch_related("legs", "lines__order_line").order_by("pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].pk if more and page else None)


@dataclass(frozen=True)
class TimelineEntry:
    """A carrier event with the carrier and number of the leg that reported it."""

    event: TrackingEvent
    carrier: str
    tracking_number: str


def timeline(parcel: Parcel) -> list[TimelineEntry]:
    """The parcel's events, newest first (by instant, not by local clock), each with its
    leg's carrier and number (a hand-off's events come from the destination carrier)."""
    legs = {leg.pk: leg for leg in parcel.legs.all()}
    return [
        TimelineEntry(
            event=event,
            carrier=legs[event.leg_id].carrier if event.leg_id in legs else parcel.carrier,
            tracking_number=legs[event.leg_id].tracking_number
            if event.leg_id in legs
            else parcel.tracking_number,
        )
        for event in sorted(parcel.events.all(), key=lambda e: (e.occurred_at, e.pk), reverse=True)
    ]
