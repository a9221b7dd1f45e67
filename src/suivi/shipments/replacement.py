"""Replacement parcels: goods already shipped, sent again (a claim resolved by reshipment).

A replacement is a new parcel of an order that was already shipped, flagged
``is_replacement``. Unlike :func:`suivi.shipments.services.parcels_create` it neither counts
against what is left to ship nor changes the lines' shipped quantities: the goods it carries
left once already, and the services that count shipped goods leave replacements out. It is
followed exactly like any other parcel (same leg, polling and registration rules, through the
same ``_create_parcel``) and recorded on the order's timeline as ``shipment.replacement``.

The caller names the parcels the replacement **supersedes** (the ones whose goods it sends
again: lost, stuck, back with the sender). They get ``superseded_by`` and from then on the
order's carrier-driven status follows the replacement instead of them (see :mod:`.ingest`);
a parcel already delivered, or already superseded, is never superseded. Creating the
replacement does not move the order: it has no carrier news yet.

Only quantities that were shipped can be sent again. A line still partly unshipped may be
reshipped (its shipped part); what is left of it is still shipped with the order, and the
replacement never counts as part of that shipment.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from suivi.core.errors import InvalidInput, NotFound
from suivi.orders.lifecycle import Mode
from suivi.orders.models import Order, OrderEvent, OrderLine
from suivi.orders.services import SYSTEM, publish_recorded
from suivi.shops.models import Shop

from .errors import DuplicateParcel, NotShippable
from .models import Parcel, ParcelLeg
from .services import (
    ParcelInput,
    ParcelLineInput,
    _create_parcel,
    choose_carrier,
    normalise_number,
    same_connector,
)

EVENT_TYPE = "shipment.replacement"
MAX_LINES = 200


def _plan(order: Order, lines: Sequence[ParcelLineInput]) -> list[tuple[OrderLine, int]]:
    if not lines:
        raise InvalidInput("Say which items the replacement parcel carries.", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput("Too many lines in one parcel.", field="lines")
    by_position = {line.position: line for line in order.lines.all()}
    plan: list[tuple[OrderLine, int]] = []
    seen: set[int] = set()
    for index, item in enumerate(lines):
        line = by_position.get(item.line)
        if line is None:
            raise InvalidInput(f"The order has no line {item.line}.", field=f"lines.{index}")
        if line.pk in seen:
            raise InvalidInput(f"Line {item.line} is given twice.", field=f"lines.{index}")
        seen.add(line.pk)
        if line.quantity_shipped < 1:
            raise NotShippable(
                f"Line {item.line} ({line.sku}) was not shipped yet: ship it with the order.",
                order_id=order.pk,
                line=item.line,
            )
        if not 1 <= item.quantity <= line.quantity_shipped:
            raise InvalidInput(
                f"Line {item.line} ({line.sku}): {line.quantity_shipped} shipped,"
                f" cannot send {item.quantity} again.",
                field=f"lines.{index}.quantity",
                line=item.line,
                shipped=line.quantity_shipped,
            )
        plan.append((line, item.quantity))
    return plan


def _lock_superseded(
    shop: Shop, order_id: int, parcel_ids: Collection[int]
) -> tuple[list[Parcel], list[int]]:
    """Lock the parcels to supersede (before the order: ingestion's lock order, parcels then
    orders, so the two cannot deadlock). Return the ones still live and not delivered, and
    the ids that are not parcels of the order."""
    wanted = {int(pk) for pk in parcel_ids}
    if not wanted:
        return [], []
    found = list(
        Parcel.objects.select_for_update()
        .filter(shop=shop, order_id=order_id, pk__in=wanted)
        .order_by("pk")
    )
    missing = sorted(wanted - {parcel.pk for parcel in found})
    # Delivered or superseded meanwhile (the caller chose without a lock): left alone.
    return [p for p in found if p.delivered_at is None and p.superseded_by_id is None], missing


def replacement_parcel_create(
    *,
    shop: Shop,
    order_id: int,
    tracking_number: str,
    lines: Sequence[ParcelLineInput],
    carrier: str = "",
    service: str = "",
    supersedes: Collection[int] = (),
    actor: str = SYSTEM,
    payload: Mapping[str, Any] | None = None,
) -> Parcel:
    """Send shipped *lines* of an order again in a new parcel, followed like any other.

    *lines* name order lines by position with the quantity sent again (at most what was
    shipped). The carrier is the one given or the one the number tells (never a guess).
    *supersedes* names the order's parcels (ids) whose goods the replacement sends again;
    those still undelivered and not yet superseded are superseded by it (see module doc).
    The lines' quantities and the order's status are left alone. *payload* is added to the
    ``shipment.replacement`` event (e.g. the claim it answers). Raises :class:`InvalidInput`,
    :class:`~.errors.CarrierNotDetected`, :class:`~.errors.DuplicateParcel`,
    :class:`~.errors.NotShippable` or :class:`NotFound`, and writes nothing then.
    """
    number = normalise_number(tracking_number)
    if not 4 <= len(number) <= 64:
        raise InvalidInput("A tracking number has 4 to 64 characters.", field="tracking_number")
    chosen = choose_carrier(number, carrier)
    with transaction.atomic():
        replaced, missing = _lock_superseded(shop, order_id, supersedes)
        order = Order.objects.select_for_update().filter(pk=order_id, shop=shop).first()
        if order is None:
            raise NotFound("No such order.", order_id=order_id)
        order.shop = shop
        if missing:
            raise InvalidInput(
                "The order has no such parcel to replace.", field="supersedes", parcel_ids=missing
            )
        if order.fulfilment_mode != Mode.DELIVERY:
            raise NotShippable(
                "A Click & Collect order has no delivery address to send a parcel to.",
                order_id=order.pk,
            )
        plan = _plan(order, lines)
        if ParcelLeg.objects.filter(
            shop=shop, tracking_number=number, carrier__in=same_connector(chosen)
        ).exists():
            raise DuplicateParcel(
                f"The shop already follows {number} with this carrier.",
                order_id=order.pk,
                tracking_number=number,
            )
        data = ParcelInput(tracking_number=number, carrier=chosen, service=service)
        now = timezone.now()
        try:
            with transaction.atomic():
                parcel = _create_parcel(
                    shop, order, data, number, chosen, plan, now, replacement=True
                )
        except IntegrityError:
            raise DuplicateParcel(
                "The shop already follows this tracking number.", order_id=order.pk
            ) from None
        if replaced:
            Parcel.objects.filter(pk__in=[p.pk for p in replaced]).update(
                superseded_by=parcel, updated_at=now
            )
        event = OrderEvent.objects.create(
            shop_id=shop.pk,
            order=order,
            type=EVENT_TYPE,
            actor=actor,
            payload={
                **(payload or {}),
                "order_id": order.pk,
                "parcel_id": parcel.pk,
                "carrier": parcel.carrier,
                "tracking_number": parcel.tracking_number,
                "tracking_url": parcel.tracking_url,
                "lines": [
                    {"position": line.position, "sku": line.sku, "quantity": quantity}
                    for line, quantity in plan
                ],
                "supersedes": [
                    {"parcel_id": p.pk, "carrier": p.carrier, "tracking_number": p.tracking_number}
                    for p in replaced
                ],
            },
        )
        publish_recorded(order, event)
    return parcel
