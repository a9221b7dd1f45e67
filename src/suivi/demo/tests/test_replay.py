"""The bulk path writes exactly the rows the order services write for the same plans.

This is what keeps the fast path honest: every kind of plan (each status, each way of
reaching it, cancelled lines, exceptions, invoices and credit notes) goes through both
paths into two identical shops, and the databases must then hold the same rows.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from suivi.customers.models import Customer
from suivi.demo import fastinsert
from suivi.demo.generator import coverage, generate_plans
from suivi.demo.loader import orders_bulk_create, orders_write_through_services
from suivi.demo.specs import DEMO_SHOPS, ShopSpec
from suivi.orders.models import CreditNote, DocumentSequence, Invoice, Order
from suivi.orders.services import CustomerInput
from suivi.shops.models import Shop
from suivi.shops.services import location_create, shop_create

# In the past, so that both paths date every row before the moment they run.
NOW = datetime(2025, 3, 14, 15, 0, tzinfo=UTC)

_ORDER_FIELDS_IGNORED = {"id", "shop", "customer", "pickup_location", "warehouse", "created_at", "updated_at"}  # fmt: skip


def make_shop(spec: ShopSpec, slug: str) -> Shop:
    shop = shop_create(name=spec.name, slug=slug, invoicing_enabled=spec.invoicing)
    for loc in spec.locations:
        location_create(shop=shop, kind=loc.kind, code=loc.code, name=loc.name)
    return shop


def snapshot(shop: Shop) -> dict[str, Any]:
    """Everything the order services wrote for *shop*, without ids and row timestamps."""
    order_fields = [
        f.name for f in Order._meta.concrete_fields if f.name not in _ORDER_FIELDS_IGNORED
    ]
    orders = {}
    orders_with_places = Order.objects.filter(shop=shop).select_related(
        "customer", "pickup_location", "warehouse"
    )
    for order in orders_with_places:
        invoice = Invoice.objects.filter(order=order).first()
        orders[order.reference] = {
            **{name: getattr(order, name) for name in order_fields},
            "customer": order.customer.email,
            "pickup": order.pickup_location.code if order.pickup_location else None,
            "warehouse": order.warehouse.code if order.warehouse else None,
            "lines": list(
                order.lines.values_list(
                    "position", "sku", "name", "unit_price", "tax_rate", "quantity_ordered",
                    "quantity_cancelled", "quantity_shipped", "quantity_collected",
                )
            ),
            "events": list(order.events.values_list("type", "actor", "occurred_at", "payload")),
            "invoice": invoice and (
                invoice.number, invoice.sequence_number, invoice.issued_at, invoice.currency,
                invoice.lines, invoice.shipping_amount, invoice.total_amount,
            ),
            "credit_notes": list(
                CreditNote.objects.filter(order=order).order_by("sequence_number").values_list(
                    "number", "sequence_number", "issued_at", "reason", "lines",
                    "shipping_amount", "total_amount", "invoice__number",
                )
            ),
        }  # fmt: skip
    return {
        "orders": orders,
        "customers": sorted(
            Customer.objects.filter(shop=shop).values_list(
                "email", "phone", "first_name", "last_name", "language"
            )
        ),
        "sequences": dict(
            DocumentSequence.objects.filter(shop=shop).values_list("kind", "last_value")
        ),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("spec", DEMO_SHOPS, ids=lambda s: s.slug)
@pytest.mark.parametrize("seed", [1, 29])
def test_replay_matches_services(spec: ShopSpec, seed: int) -> None:
    through_services = make_shop(spec, "through-services")
    in_bulk = make_shop(spec, "in-bulk")
    count = len(coverage(spec)) + 15
    first = list(generate_plans(spec, count=count, seed=seed, now=NOW))
    # A second load: customers seen before (one with a new phone number), counters that exist.
    returning = dataclasses.replace(
        first[0],
        data=dataclasses.replace(
            first[0].data,
            reference="RETURNING-1",
            customer=CustomerInput(
                email=first[0].data.customer.email.upper(), phone="07 81 23 45 67",
                first_name="Camille", last_name=first[0].data.customer.last_name,
            ),
        ),
    )  # fmt: skip
    second = [
        *generate_plans(spec, count=10, seed=seed, now=NOW + timedelta(days=1), first_number=count + 1),
        returning,
    ]  # fmt: skip

    for plans in (first, second):
        orders_write_through_services(shop=through_services, plans=plans)
        # Small batches: customers and invoice numbers carry over from batch to batch.
        orders_bulk_create(shop=in_bulk, plans=plans, batch_size=7)

    expected, actual = snapshot(through_services), snapshot(in_bulk)
    assert len(expected["orders"]) == count + 11
    assert bool(expected["sequences"]) == spec.invoicing  # invoice and credit note numbers
    assert actual["customers"] == expected["customers"]
    assert actual["sequences"] == expected["sequences"]
    for reference, order in expected["orders"].items():
        assert actual["orders"][reference] == order, reference
    assert actual == expected


@pytest.mark.django_db
def test_bulk_ids_are_above_every_id_issued_before_even_a_deleted_one(shop_a: Shop) -> None:
    from django.db import transaction

    gone = Customer.objects.create(shop=shop_a, email="gone@example.com")
    kept = Customer.objects.create(shop=shop_a, email="kept@example.com")
    gone_id = max(gone.pk, kept.pk)
    Customer.objects.filter(pk=gone_id).delete()
    new = [Customer(shop_id=shop_a.pk, email=f"new{i}@example.com") for i in range(3)]

    with transaction.atomic():
        fastinsert.insert(Customer, new)

    assert [c.pk for c in new] == list(range(new[0].pk, new[0].pk + 3))
    assert new[0].pk > gone_id
    stored = Customer.objects.filter(pk__in=[c.pk for c in new]).order_by("pk")
    assert [c.email for c in stored] == ["new0@example.com", "new1@example.com", "new2@example.com"]
    assert all(c.created_at is not None for c in stored)
    # The database's own counter moved past them: the next ordinary insert does not collide.
    after = Customer.objects.create(shop=shop_a, email="after@example.com")
    assert after.pk > new[-1].pk


@pytest.mark.django_db(transaction=True)
def test_bulk_insert_refuses_to_run_outside_a_transaction() -> None:
    shop = shop_create(name="Épicerie Bleue")

    with pytest.raises(RuntimeError, match="inside a transaction"):
        fastinsert.insert(Customer, [Customer(shop_id=shop.pk, email="x@example.com")])
    assert not Customer.objects.exists()
