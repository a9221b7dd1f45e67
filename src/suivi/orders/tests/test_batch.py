"""order_create_many: the bulk path writes exactly what order_create writes, item by item."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from suivi.core import events
from suivi.core.errors import InvalidInput
from suivi.customers.models import Customer
from suivi.notifications.config import shop_config
from suivi.orders.batch import MAX_BATCH, order_create_many
from suivi.orders.errors import DuplicateReference
from suivi.orders.lifecycle import Mode
from suivi.orders.models import Order, OrderEvent
from suivi.orders.services import CustomerInput, order_create
from suivi.shops.models import Shop
from suivi.testing import order_input

_VOLATILE = {"id", "shop", "customer", "placed_at", "created_at", "updated_at", "pickup_location"}


def _inputs() -> list[Any]:
    # Delivery and Click & Collect, a paid one, a repeat customer whose details change,
    # a phone to normalise, and different line counts.
    items = [
        order_input(reference="X-1", phone="06 12 34 56 78"),
        order_input(reference="X-2", mode=Mode.CLICK_AND_COLLECT, email="paul@example.fr"),
        order_input(reference="X-3", paid=True, email="zoe@example.fr"),
        order_input(
            reference="X-4",
            email="Claire.Martin@example.fr ",
            lines=[("LAMPE", "Lampe", "89.00", 1)],
        ),
    ]
    items[3] = type(items[3])(**{**items[3].__dict__, "customer": CustomerInput(
        email="Claire.Martin@example.fr ", first_name="Claire-Anne", last_name="Martin"
    )})  # fmt: skip
    return items


def _rows(shop: Shop) -> dict[str, Any]:
    orders = []
    for order in Order.objects.filter(shop=shop).order_by("reference"):
        row = {
            k: v for k, v in order.__dict__.items() if k not in _VOLATILE and not k.startswith("_")
        }
        row.pop("customer_id"), row.pop("shop_id"), row.pop("pickup_location_id")
        row["store"] = order.pickup_location.code if order.pickup_location else None
        row["lines"] = list(
            order.lines.values(
                "position", "sku", "name", "unit_price", "tax_rate", "quantity_ordered",
                "quantity_cancelled", "quantity_shipped", "quantity_collected",
            )
        )  # fmt: skip
        row["events"] = [(e.type, e.actor, e.payload) for e in order.events.all()]
        row["customer"] = order.customer.email
        orders.append(row)
    customers = list(
        Customer.objects.filter(shop=shop)
        .order_by("email")
        .values("email", "phone", "first_name", "last_name", "language")
    )
    return {"orders": orders, "customers": customers}


def test_the_bulk_path_writes_the_same_rows_as_one_by_one(shop_a: Shop, shop_b: Shop) -> None:
    # given the same inputs, one by one in shop A and as one batch in shop B
    shop_b.invoicing_enabled = True
    shop_b.save(update_fields=["invoicing_enabled"])
    for data in _inputs():
        order_create(shop=shop_a, data=data, actor="test")
    # when
    results = order_create_many(shop=shop_b, items=_inputs(), actor="test")
    # then every item was created, and the rows are the same
    assert all(isinstance(result, Order) for result in results)
    assert [r.reference for r in results if isinstance(r, Order)] == ["X-1", "X-2", "X-3", "X-4"]
    assert _rows(shop_b) == _rows(shop_a)


def test_a_batch_of_unpaid_orders_takes_a_handful_of_statements(shop_a: Shop, shop_b: Shop) -> None:
    items = [order_input(reference=f"Q-{n}", email=f"c{n}@example.fr") for n in range(50)]
    # The notification planner reads the shop's configuration once and keeps it a few
    # seconds (steady state); unpaid orders notify nobody, so it adds nothing per order.
    shop_config(shop_a.pk)

    with CaptureQueriesContext(connection) as queries:
        order_create_many(shop=shop_a, items=items)

    # stores, references, customers, 4 bulk INSERTs (SQLite splits the biggest by its
    # parameter limit) and transaction statements; one by one it would be about 450
    assert len(queries) <= 16, [q["sql"][:60] for q in queries.captured_queries]
    assert Order.objects.filter(shop=shop_a).count() == 50


def test_refused_items_are_reported_in_place_and_write_nothing(shop_a: Shop, shop_b: Shop) -> None:
    # given an existing X-1 in shop A, and the same reference free in shop B
    order_create(shop=shop_a, data=order_input(reference="X-1"))
    order_create(shop=shop_b, data=order_input(reference="X-2"))
    bad_store = order_input(reference="X-3", mode=Mode.CLICK_AND_COLLECT)
    bad_store = type(bad_store)(**{**bad_store.__dict__, "pickup_location_code": "nowhere"})
    items = [
        order_input(reference="X-1"),  # taken in shop A
        order_input(reference="X-2"),  # free in shop A (taken in B only)
        bad_store,
        order_input(reference="X-2"),  # repeated within the batch
    ]
    # when
    results = order_create_many(shop=shop_a, items=items)
    # then
    assert isinstance(results[0], DuplicateReference)
    assert isinstance(results[1], Order) and results[1].shop_id == shop_a.pk
    assert isinstance(results[2], InvalidInput) and results[2].field == "pickup_location_code"
    assert isinstance(results[3], DuplicateReference)
    assert sorted(Order.objects.filter(shop=shop_a).values_list("reference", flat=True)) == [
        "X-1",
        "X-2",
    ]
    assert OrderEvent.objects.filter(order__shop=shop_a).count() == 2


def test_subscribers_hear_every_order_created_in_bulk(shop_a: Shop, shop_b: Shop) -> None:
    heard: list[tuple[str, int]] = []

    def listen(event: events.DomainEvent) -> None:
        heard.append((event.type, event.subject_id))

    events.subscribe("order.", listen)
    try:
        results = order_create_many(
            shop=shop_a, items=[order_input(reference=f"S-{n}") for n in range(3)]
        )
    finally:
        events.unsubscribe("order.", listen)
    assert heard == [("order.created", r.pk) for r in results if isinstance(r, Order)]


def test_a_subscriber_that_fails_rolls_the_whole_batch_back(shop_a: Shop, shop_b: Shop) -> None:
    def fail(event: events.DomainEvent) -> None:
        raise RuntimeError("planner down")

    events.subscribe("order.created", fail)
    try:
        with pytest.raises(RuntimeError):
            order_create_many(shop=shop_a, items=[order_input(reference="F-1")])
    finally:
        events.unsubscribe("order.created", fail)
    assert not Order.objects.exists()
    assert not Customer.objects.filter(shop=shop_a).exists()


def test_a_batch_holds_one_to_max_orders(shop_a: Shop, shop_b: Shop) -> None:
    with pytest.raises(InvalidInput):
        order_create_many(shop=shop_a, items=[])
    with pytest.raises(InvalidInput):
        order_create_many(
            shop=shop_a, items=[order_input(reference=f"M-{n}") for n in range(MAX_BATCH + 1)]
        )
    assert not Order.objects.exists()


def test_amounts_are_exact_in_bulk(shop_a: Shop, shop_b: Shop) -> None:
    (order,) = order_create_many(shop=shop_a, items=[order_input(reference="A-1")])

    assert isinstance(order, Order)
    assert Order.objects.get(pk=order.pk).total_amount == Decimal("119.70")
