"""The customer changes the delivery address of an order that has not left yet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from suivi.core.errors import DomainError, InvalidInput
from suivi.shops.models import Shop

from .lifecycle import Mode, Status
from .models import Order
from .services import _compare_and_set, _lock_order, _record

# Until the parcel is handed to the carrier, the warehouse can still relabel it.
CHANGEABLE = frozenset(
    {
        Status.AWAITING_PAYMENT,
        Status.AWAITING_STOCK,
        Status.ROUTED,
        Status.TO_PREPARE,
        Status.IN_PREPARATION,
        Status.READY_TO_SHIP,
    }
)
FIELDS = {
    "ship_name": 200,
    "ship_line1": 200,
    "ship_line2": 200,
    "ship_postcode": 16,
    "ship_city": 100,
    "ship_country": 2,
}
REQUIRED = ("ship_name", "ship_line1", "ship_postcode", "ship_city", "ship_country")


class AddressLocked(DomainError):
    code = "address-locked"
    status = 409


def address_changeable(order: Order) -> bool:
    """May the delivery address still change (a delivery order not shipped yet)?"""
    return order.fulfilment_mode == Mode.DELIVERY and order.status in CHANGEABLE


def order_change_address(
    *, shop: Shop, order_id: int, address: Mapping[str, Any], actor: str
) -> Order:
    """Replace the delivery address; refused once the order has shipped. The old and the new
    address are kept on the order's timeline (``order.address_changed``)."""
    clean: dict[str, str] = {}
    for name, limit in FIELDS.items():
        value = str(address.get(name) or "").strip()
        if len(value) > limit:
            raise InvalidInput(f"{name} is too long (at most {limit} characters).", field=name)
        clean[name] = value
    clean["ship_country"] = clean["ship_country"].upper()
    for name in REQUIRED:
        if not clean[name]:
            raise InvalidInput(f"{name} is required.", field=name)
    if not clean["ship_country"].isalpha() or len(clean["ship_country"]) != 2:
        raise InvalidInput("Give the country as a two-letter code (FR, BE…).", field="ship_country")
    with transaction.atomic():
        order = _lock_order(shop=shop, order_id=order_id)
        if not address_changeable(order):
            raise AddressLocked(
                "The order has left the warehouse: its delivery address can no longer change.",
                order_id=order.pk,
                status=order.status,
            )
        before = {name: getattr(order, name) for name in FIELDS}
        if before == clean:
            return order
        _compare_and_set(order, **clean)
        _record(order, "order.address_changed", actor, {"before": before, "after": clean})
    return order
