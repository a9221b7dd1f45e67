"""Replacement parcels: goods already shipped, sent again (a claim resolved by reshipment).

A replacement is a new parcel of an order that was already shipped. Unlike
:func:`suivi.shipments.services.parcels_create` it neither counts against what is left to
ship nor changes the lines' shipped quantities or the order's status: the goods it carries
left once already. It is followed exactly like any other parcel (same leg, polling and
registration rules, through the same ``_create_parcel``) and recorded on the order's
timeline as ``shipment.replacement``.

Only quantities that were shipped can be sent again, and only for lines with nothing left to
ship: otherwise a later regular parcel of that line would count the replacement as part of
the shipment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
        if line.quantity_remaining > 0:
            raise NotShippable(
                f"Line {item.line} ({line.sku}) still has {line.quantity_remaining} to ship:"
                " ship it with the order first.",
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


def replacement_parcel_create(
    *,
    shop: Shop,
    order_id: int,
    tracking_number: str,
    lines: Sequence[ParcelLineInput],
    carrier: str = "",
    service: str = "",
    actor: str = SYSTEM,
    payload: Mapping[str, Any] | None = None,
) -> Parcel:
    """Send shipped *lines* of an order again in a new parcel, followed like any other.

    *lines* name order lines by position with the quantity sent again (at most what was
    shipped). The carrier is the one given or the one the number tells (never a guess). The
    lines' quantities and the order's status are left alone. *payload* is added to the
    ``shipment.replacement`` event (e.g. the claim it answers). Raises :class:`InvalidInput`,
    :class:`~.errors.CarrierNotDetected`, :class:`~.errors.DuplicateParcel`,
    :class:`~.errors.NotShippable` or :class:`NotFound`, and writes nothing then.
    """
    number = normalise_number(tracking_number)
    if not 4 <= len(number) <= 64:
        raise InvalidInput("A tracking number has 4 to 64 characters.", field="tracking_number")
    chosen = choose_carrier(number, carrier)
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id, shop=shop).first()
        if order is None:
            raise NotFound("No such order.", order_id=order_id)
        order.shop = shop
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
        try:
            with transaction.atomic():
                parcel = _create_parcel(shop, order, data, number, chosen, plan, timezone.now())
        except IntegrityError:
            raise DuplicateParcel(
                "The shop already follows this tracking number.", order_id=order.pk
            ) from None
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
            },
        )
        publish_recorded(order, event)
    return parcel
