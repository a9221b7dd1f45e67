"""Create many orders in one transaction, with few statements.

Sales channels push orders in batches. Per order, :func:`services.order_create` costs nine
statements and a savepoint; here a batch of orders costs about seven statements in all:
the references and customers already known are read once, and customers, orders, lines
and events are each written with one bulk INSERT. Rows are built by the same functions as
:func:`services.order_create`, and a test compares the two paths row by row.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction

from suivi.core.errors import DomainError, InvalidInput
from suivi.customers.models import Customer
from suivi.shops.models import Location, Shop

from .errors import DuplicateReference
from .models import Order, OrderEvent, OrderLine
from .services import (
    SYSTEM,
    OrderInput,
    PreparedOrder,
    created_event_payload,
    new_order_row,
    order_create,
    order_prepare,
    publish_recorded,
)

MAX_BATCH = 100
_CUSTOMER_FIELDS = ("phone", "first_name", "last_name", "language")


def _merge_customer(customer: Customer, prepared: PreparedOrder) -> bool:
    """Apply the non-empty contact details of *prepared*, as ``customer_upsert`` does."""
    given = prepared.data.customer
    values = {
        "phone": prepared.phone,
        "first_name": given.first_name,
        "last_name": given.last_name,
        "language": prepared.language,
    }
    changed = False
    for name, value in values.items():
        if value and getattr(customer, name) != value:
            setattr(customer, name, value)
            changed = True
    return changed


def _insert(shop: Shop, batch: dict[int, PreparedOrder], actor: str) -> dict[int, Order]:
    """Write the orders of *batch* (checked, unpaid, references free) with bulk INSERTs."""
    emails = {prepared.email for prepared in batch.values()}
    customers = {c.email: c for c in Customer.objects.filter(shop=shop, email__in=emails)}
    known = set(customers)
    new: dict[str, Customer] = {}
    updated: dict[str, Customer] = {}
    for prepared in batch.values():
        email = prepared.email
        if email not in customers:
            customers[email] = new[email] = Customer(shop=shop, email=email)
        if _merge_customer(customers[email], prepared) and email in known:
            updated[email] = customers[email]
    Customer.objects.bulk_create(list(new.values()))
    if updated:
        Customer.objects.bulk_update(list(updated.values()), list(_CUSTOMER_FIELDS))
    orders = {
        index: new_order_row(shop, prepared, customers[prepared.email])
        for index, prepared in batch.items()
    }
    Order.objects.bulk_create(list(orders.values()))
    lines = []
    for index, prepared in batch.items():
        for line in prepared.lines:
            line.order = orders[index]
            lines.append(line)
    OrderLine.objects.bulk_create(lines)
    created = [
        OrderEvent(
            shop_id=shop.pk,
            order=orders[index],
            type="order.created",
            actor=actor,
            payload=created_event_payload(orders[index], prepared),
        )
        for index, prepared in batch.items()
    ]
    OrderEvent.objects.bulk_create(created)
    for event in created:
        publish_recorded(event.order, event)
    return orders


def order_create_many(
    *, shop: Shop, items: Sequence[OrderInput], actor: str = SYSTEM
) -> list[Order | DomainError]:
    """Create several orders in one transaction; a refused item refuses only itself.

    Returns, in input order, the created order or the domain error that refused it.
    Orders that arrive paid go through :func:`services.order_create` (their payment
    confirmation and invoice are per order); so does everything if a concurrent writer
    takes a reference or a customer email between our checks and the bulk INSERTs.
    """
    if not 1 <= len(items) <= MAX_BATCH:
        raise InvalidInput(f"A batch holds 1 to {MAX_BATCH} orders.", field="orders")
    results: list[Order | DomainError | None] = [None] * len(items)
    stores = {
        store.code: store
        for store in Location.objects.filter(shop=shop, kind=Location.Kind.STORE, is_active=True)
    }
    prepared: dict[int, PreparedOrder] = {}
    for index, data in enumerate(items):
        try:
            prepared[index] = order_prepare(shop=shop, data=data, stores=stores)
        except DomainError as exc:
            results[index] = exc
    references = [p.data.reference for p in prepared.values()]
    taken = set(
        Order.objects.filter(shop=shop, reference__in=references).values_list(
            "reference", flat=True
        )
    )
    for index in list(prepared):
        reference = prepared[index].data.reference
        if reference in taken:
            results[index] = DuplicateReference(
                f"The shop already has an order {reference!r}.", reference=reference
            )
            del prepared[index]
        taken.add(reference)  # a reference repeated within the batch: the first one wins
    with transaction.atomic():
        bulk = {index: p for index, p in prepared.items() if not p.data.paid}
        try:
            with transaction.atomic():
                orders = _insert(shop, bulk, actor) if bulk else {}
        except IntegrityError:
            orders = {}  # rolled back to the savepoint: order_create below starts afresh
        for index, p in prepared.items():
            if index in orders:
                results[index] = orders[index]
                continue
            try:
                results[index] = order_create(shop=shop, data=p.data, actor=actor)
            except DomainError as exc:
                results[index] = exc
    return [result for result in results if result is not None]
