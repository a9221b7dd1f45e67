"""Create many orders, or move many orders along their lifecycle, in one transaction.

Sales channels push orders in batches. Per order, :func:`services.order_create` costs nine
statements and a savepoint; here a batch of orders costs about seven statements in all:
the references and customers already known are read once, and customers, orders, lines
and events are each written with one bulk INSERT. Rows are built by the same functions as
:func:`services.order_create`, and a test compares the two paths row by row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from suivi.core.errors import DomainError, InvalidInput, NotFound
from suivi.customers.models import Customer
from suivi.shops.models import Location, Shop

from .creation import PreparedOrder, created_event_payload, new_order_row, order_prepare
from .errors import ConcurrentChange, DuplicateReference
from .inputs import OrderInput
from .lifecycle import Action, Status, action_allowed, action_target, event_type
from .models import Invoice, Order, OrderEvent, OrderLine
from .services import (
    SYSTEM,
    invalid_action,
    issue_invoice,
    order_create,
    publish_recorded_many,
    settle_lines,
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
    publish_recorded_many(created)
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


@dataclass(frozen=True)
class ActionItem:
    """Apply *action* to the order *order_id*, optionally only at *expected_version*."""

    order_id: int
    action: Action
    expected_version: int | None = None
    # Facts recorded on the event (a carrier's number, ETA, relay point…).
    payload: Mapping[str, Any] = field(default_factory=dict)


def order_apply_actions(
    *, shop: Shop, items: Sequence[ActionItem], actor: str = SYSTEM
) -> list[Order | DomainError]:
    """Apply lifecycle actions to many orders in one transaction, in item order.

    The orders are read once and locked (in id order, so two batches cannot deadlock);
    each item is checked against the lifecycle table on the state the earlier items left,
    and a refused item (unknown order, forbidden transition, other version) refuses only
    itself. The new states are written with one UPDATE per (status, number of changes)
    group and the events with one bulk INSERT. Returns, per item, the order as it is after
    the batch, or the error. ``cancel`` is not an action here (it has a reason and lines).
    """
    if not 1 <= len(items) <= MAX_BATCH:
        raise InvalidInput(f"A batch holds 1 to {MAX_BATCH} actions.", field="actions")
    results: list[Order | DomainError | None] = [None] * len(items)
    with transaction.atomic():
        orders = {
            order.pk: order
            for order in Order.objects.select_for_update()
            .filter(shop=shop, pk__in={item.order_id for item in items})
            .order_by("pk")
        }
        versions = {pk: order.version for pk, order in orders.items()}
        invoiced = (
            set(Invoice.objects.filter(order__in=orders).values_list("order_id", flat=True))
            if shop.invoicing_enabled
            else set()
        )
        new_events: list[OrderEvent] = []
        shipped: set[int] = set()
        collected: set[int] = set()
        for index, item in enumerate(items):
            order = orders.get(item.order_id)
            if order is None:
                results[index] = NotFound("No such order.", order_id=item.order_id)
                continue
            if item.expected_version is not None and item.expected_version != order.version:
                results[index] = ConcurrentChange(
                    "The order is not at the expected version; nothing was changed.",
                    order_id=order.pk,
                    version=order.version,
                )
                continue
            target = action_target(item.action, order.fulfilment_mode)
            if (
                item.action is Action.CANCEL
                or target is None
                or not action_allowed(item.action, order.fulfilment_mode, order.status)
            ):
                results[index] = invalid_action(order, item.action)
                continue
            previous, order.status = order.status, target.value
            order.version += 1
            if target in (Status.DELIVERED, Status.COLLECTED):
                order.exception_reason = ""
            new_events.append(
                OrderEvent(
                    shop_id=shop.pk,
                    order=order,
                    type=event_type(item.action, target),
                    actor=actor,
                    payload={"from": previous, "to": target.value, **item.payload},
                )
            )
            if item.action is Action.SHIP:
                shipped.add(order.pk)
            elif item.action is Action.MARK_COLLECTED:
                collected.add(order.pk)
            elif (
                item.action is Action.CONFIRM_PAYMENT
                and shop.invoicing_enabled
                and order.pk not in invoiced
            ):
                # Payment issues the invoice: write the events so far first, so that each
                # order's timeline reads as it does when its actions come one by one.
                _flush_events(new_events)
                order.shop = shop
                issue_invoice(order, actor)
                invoiced.add(order.pk)
            results[index] = order
        _write_states(orders, versions)
        settle_lines(order_ids=shipped, action=Action.SHIP)
        settle_lines(order_ids=collected, action=Action.MARK_COLLECTED)
        _flush_events(new_events)
    return [result for result in results if result is not None]


def _flush_events(pending: list[OrderEvent]) -> None:
    """Insert the pending events in one statement, publish them, and empty the list."""
    OrderEvent.objects.bulk_create(pending)
    publish_recorded_many(pending)
    pending.clear()


def _write_states(orders: dict[int, Order], versions: dict[int, int]) -> None:
    """Write the orders that changed, one UPDATE per (status, changes, exception) group."""
    groups: dict[tuple[str, int, str], list[int]] = defaultdict(list)
    for pk, order in orders.items():
        changes = order.version - versions[pk]
        if changes:
            groups[(order.status, changes, order.exception_reason)].append(pk)
    now = timezone.now()
    for (status, changes, exception_reason), pks in groups.items():
        # The rows are locked since we read them, so the versions read are still theirs.
        Order.objects.filter(pk__in=pks).update(
            status=status,
            version=F("version") + changes,
            exception_reason=exception_reason,
            updated_at=now,
        )
