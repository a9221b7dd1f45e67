"""Creating orders: what is refused, and what a new order looks like."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from suivi.core.errors import InvalidInput
from suivi.customers.models import Customer
from suivi.orders.lifecycle import Mode, Status
from suivi.orders.models import Order, OrderEvent
from suivi.orders.services import AddressInput, LineInput, order_create
from suivi.shops.models import Location, Shop
from suivi.testing import make_order, order_input

DELIVERY = order_input()
PICKUP = order_input(mode=Mode.CLICK_AND_COLLECT)
ADDRESS = AddressInput("Claire Martin", "3 place Bellecour", "69002", "Lyon")

BAD_INPUTS: dict[str, tuple[Any, str]] = {
    "no lines": (replace(DELIVERY, lines=[]), "lines"),
    "zero quantity": (
        replace(DELIVERY, lines=[LineInput("A", "A", Decimal("1"), 0)]),
        "lines.0.quantity",
    ),
    "negative price": (
        replace(
            DELIVERY,
            lines=[
                LineInput("A", "A", Decimal("1"), 1),
                LineInput("B", "B", Decimal("-0.01"), 1),
            ],
        ),
        "lines.1.unit_price",
    ),
    "negative shipping": (replace(DELIVERY, shipping_amount=Decimal("-4.90")), "shipping_amount"),
    "delivery without address": (replace(DELIVERY, shipping_address=None), "shipping_address"),
    "delivery with a pickup store": (
        replace(DELIVERY, pickup_location_code="boutique"),
        "pickup_location_code",
    ),
    "click and collect without store": (
        replace(PICKUP, pickup_location_code=None),
        "pickup_location_code",
    ),
    "click and collect at a warehouse": (
        replace(PICKUP, pickup_location_code="entrepot"),
        "pickup_location_code",
    ),
    "unknown currency": (replace(DELIVERY, currency="EURO"), "currency"),
    "invalid phone": (
        replace(DELIVERY, customer=replace(DELIVERY.customer, phone="06 12")),
        "customer.phone",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_an_invalid_order_is_refused_and_writes_nothing(
    shop_a: Shop, shop_b: Shop, case: str
) -> None:
    data, field = BAD_INPUTS[case]
    make_order(shop_b)
    with pytest.raises(InvalidInput) as caught:
        order_create(shop=shop_a, data=replace(data, reference="REFUSED"))
    assert caught.value.field == field
    assert not Order.objects.filter(shop=shop_a).exists()
    assert not Customer.objects.filter(shop=shop_a).exists()
    assert not OrderEvent.objects.filter(shop=shop_a).exists()


def test_an_inactive_store_takes_no_click_and_collect_orders(shop_a: Shop, shop_b: Shop) -> None:
    Location.objects.filter(shop=shop_a, code="boutique").update(is_active=False)
    with pytest.raises(InvalidInput):
        order_create(shop=shop_a, data=PICKUP)
    # shop B's store with the same code is open
    assert order_create(shop=shop_b, data=PICKUP).pickup_location.shop_id == shop_b.pk


def test_a_new_order_records_its_creation(shop_a: Shop, shop_b: Shop) -> None:
    # given
    data = replace(
        order_input(phone="+33 6 12 34 56 78"),
        currency="eur",
        language="en",
        metadata={"channel": "shopify"},
        shipping_address=replace(ADDRESS, country="fr"),
    )
    # when
    order = order_create(shop=shop_a, data=data, actor="api:key-1")
    make_order(shop_b, reference=data.reference)
    # then
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.version, stored.currency) == (Status.AWAITING_PAYMENT, 1, "EUR")
    assert (stored.phone, stored.language, stored.ship_country) == ("+33612345678", "en", "FR")
    assert [line.position for line in stored.lines.all()] == [1, 2]
    event = stored.events.get()
    assert (event.type, event.actor, event.shop_id) == ("order.created", "api:key-1", shop_a.pk)
    assert event.payload == {
        "reference": data.reference,
        "fulfilment_mode": "delivery",
        "total_amount": "119.70",
        "currency": "EUR",
        "metadata": {"channel": "shopify"},
    }


def test_click_and_collect_orders_carry_no_shipping(shop_a: Shop, shop_b: Shop) -> None:
    order = order_create(shop=shop_a, data=replace(PICKUP, shipping_amount=Decimal("0")))
    make_order(shop_b, mode=Mode.CLICK_AND_COLLECT)
    stored = Order.objects.get(pk=order.pk)
    assert stored.shipping_amount == 0
    assert stored.total_amount == Decimal("114.80")
    assert stored.pickup_location is not None
    assert (stored.pickup_location.shop_id, stored.pickup_location.code) == (shop_a.pk, "boutique")
    assert stored.ship_line1 == ""
