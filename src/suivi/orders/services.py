"""Writes on orders: creation, lifecycle transitions, cancellation, invoicing.

Every service runs in one transaction that writes the new state with a compare-and-set on
the order's version, appends an :class:`OrderEvent` and publishes it on the core event bus
(whose subscribers plan notifications in the same transaction). An invalid or concurrent
change raises and writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from suivi.core import events
from suivi.core.errors import InvalidInput, NotFound
from suivi.core.money import quantize
from suivi.customers.services import customer_upsert
from suivi.shops.models import Location, Shop

from .creation import (
    PreparedOrder,
    created_event_payload,
    line_amounts,
    new_order_row,
    order_prepare,
)
from .errors import (
    ConcurrentChange,
    DuplicateReference,
    InvalidQuantity,
    InvalidTransition,
    InvoicingError,
)
from .inputs import (
    AddressInput,
    CustomerInput,
    LineCancellation,
    LineInput,
    OrderInput,
)
from .lifecycle import (
    CANCELLABLE,
    Action,
    CancellationReason,
    Status,
    action_allowed,
    action_target,
    can_transition,
    event_type,
)
from .models import CreditNote, DocumentSequence, Invoice, Order, OrderEvent, OrderLine

# Re-exported: every caller of these services builds the inputs alongside them.
__all__ = [
    "AddressInput",
    "CustomerInput",
    "LineCancellation",
    "LineInput",
    "OrderInput",
    "PreparedOrder",
    "created_event_payload",
    "new_order_row",
    "order_prepare",
]

SYSTEM = "system"


# --- internals --------------------------------------------------------------------------


def _record(order: Order, type_: str, actor: str, payload: dict[str, Any]) -> OrderEvent:
    """Append a timeline event and publish it to in-transaction subscribers."""
    event = OrderEvent.objects.create(
        shop_id=order.shop_id, order=order, type=type_, actor=actor, payload=payload
    )
    publish_recorded(order, event)
    return event


def _compare_and_set(order: Order, **changes: Any) -> None:
    """Write *changes* only if nobody changed the order since we read it."""
    changes["updated_at"] = timezone.now()
    updated = Order.objects.filter(
        pk=order.pk, shop_id=order.shop_id, version=order.version, status=order.status
    ).update(version=F("version") + 1, **changes)
    if updated != 1:
        raise ConcurrentChange(
            "The order changed while this request was processed; nothing was changed.",
            order_id=order.pk,
        )
    for name, value in changes.items():
        setattr(order, name, value)
    order.version += 1


def _lock_order(*, shop: Shop, order_id: int) -> Order:
    try:
        order = Order.objects.get(pk=order_id, shop=shop)
    except Order.DoesNotExist:
        raise NotFound("No such order.", order_id=order_id) from None
    order.shop = shop  # the caller's shop: no join, no second query
    return order


def _next_sequence(shop: Shop, kind: str) -> int:
    """Advance the shop's gap-free counter; the row stays locked until our commit."""
    updated = DocumentSequence.objects.filter(shop=shop, kind=kind).update(
        last_value=F("last_value") + 1
    )
    if not updated:
        try:
            with transaction.atomic():
                DocumentSequence.objects.create(shop=shop, kind=kind, last_value=1)
            return 1
        except IntegrityError:  # created concurrently: take the normal path
            DocumentSequence.objects.filter(shop=shop, kind=kind).update(
                last_value=F("last_value") + 1
            )
    return DocumentSequence.objects.get(shop=shop, kind=kind).last_value


def _line_snapshot(line: OrderLine, quantity: int, currency: str) -> dict[str, Any]:
    return {
        "position": line.position,
        "sku": line.sku,
        "name": line.name,
        "unit_price": str(line.unit_price),
        "tax_rate": str(line.tax_rate),
        "quantity": quantity,
        "amount": str(quantize(line.unit_price * quantity, currency)),
    }


def issue_invoice(order: Order, actor: str) -> Invoice:
    """Issue *order*'s invoice with the shop's next number (inside the caller's transaction)."""
    lines = list(order.lines.all())
    seq = _next_sequence(order.shop, "invoice")
    invoice = Invoice.objects.create(
        shop_id=order.shop_id,
        order=order,
        sequence_number=seq,
        number=f"{order.shop.invoice_prefix}{seq:06d}",
        currency=order.currency,
        # Lines cancelled before invoicing are not invoiced at all.
        lines=[
            _line_snapshot(ln, ln.quantity_active, order.currency)
            for ln in lines
            if ln.quantity_active
        ],
        shipping_amount=order.shipping_amount,
        total_amount=order.total_amount,
    )
    _record(
        order,
        "order.invoiced",
        actor,
        {"invoice_number": invoice.number, "total_amount": str(invoice.total_amount)},
    )
    return invoice


def _issue_credit_note(
    order: Order,
    actor: str,
    *,
    lines: list[dict[str, Any]],
    shipping: Decimal,
    reason: str,
) -> CreditNote | None:
    invoice = Invoice.objects.filter(order=order).first()
    if invoice is None:
        return None
    total = quantize(
        sum((Decimal(ln["amount"]) for ln in lines), Decimal("0")) + shipping, order.currency
    )
    seq = _next_sequence(order.shop, "credit_note")
    note = CreditNote.objects.create(
        shop_id=order.shop_id,
        order=order,
        invoice=invoice,
        sequence_number=seq,
        number=f"{order.shop.credit_note_prefix}{seq:06d}",
        currency=order.currency,
        reason=reason,
        lines=lines,
        shipping_amount=shipping,
        total_amount=total,
    )
    _record(
        order,
        "order.credit_note_issued",
        actor,
        {
            "credit_note_number": note.number,
            "invoice_number": invoice.number,
            "total_amount": str(total),
        },
    )
    return note


# --- creation ---------------------------------------------------------------------------


def _domain_event(order: Order, event: OrderEvent) -> events.DomainEvent:
    return events.DomainEvent(
        type=event.type,
        shop_id=order.shop_id,
        subject_id=order.pk,
        occurred_at=event.occurred_at,
        actor=event.actor,
        payload=event.payload,
        event_id=event.pk,
    )


def publish_recorded(order: Order, event: OrderEvent) -> None:
    """Publish one recorded event to the in-transaction subscribers."""
    events.publish(_domain_event(order, event))


def publish_recorded_many(recorded: Sequence[OrderEvent]) -> None:
    """Publish event rows written in bulk, in one call (batch subscribers plan them at once)."""
    events.publish_many([_domain_event(event.order, event) for event in recorded])


def order_create(*, shop: Shop, data: OrderInput, actor: str = SYSTEM) -> Order:
    """Create an order with its lines, recording ``order.created`` (and ``order.confirmed``
    then the invoice when it arrives already paid)."""
    prepared = order_prepare(shop=shop, data=data)
    try:
        with transaction.atomic():
            customer = customer_upsert(
                shop=shop,
                email=data.customer.email,
                phone=prepared.phone,
                first_name=data.customer.first_name,
                last_name=data.customer.last_name,
                language=prepared.language,
            )
            order = new_order_row(shop, prepared, customer)
            order.save(force_insert=True)
            for line in prepared.lines:
                line.order = order
            OrderLine.objects.bulk_create(prepared.lines)
            _record(order, "order.created", actor, created_event_payload(order, prepared))
            if data.paid:
                _apply_action(order, Action.CONFIRM_PAYMENT, actor, {})
    except IntegrityError as exc:
        if Order.objects.filter(shop=shop, reference=data.reference).exists():
            raise DuplicateReference(
                f"The shop already has an order {data.reference!r}.", reference=data.reference
            ) from exc
        raise
    return order


# --- transitions ------------------------------------------------------------------------


def invalid_action(order: Order, action: Action) -> InvalidTransition:
    """Return the error for *action* not applying to *order* in its current status."""
    return InvalidTransition(
        f"Cannot {action.value.replace('_', ' ')} an order that is {order.status}"
        f" ({order.fulfilment_mode}).",
        action=action.value,
        status=order.status,
        fulfilment_mode=order.fulfilment_mode,
    )


def settle_lines(*, order_ids: Collection[int], action: Action) -> None:
    """Record on the lines what *action* handed over: all that is left ships or is collected.

    Everything not cancelled leaves together; split parcels come with shipments.
    """
    if not order_ids:
        return
    lines = OrderLine.objects.filter(order_id__in=order_ids)
    if action is Action.SHIP:
        lines.update(
            quantity_shipped=F("quantity_ordered")
            - F("quantity_cancelled")
            - F("quantity_collected")
        )
    elif action is Action.MARK_COLLECTED:
        lines.update(
            quantity_collected=F("quantity_ordered")
            - F("quantity_cancelled")
            - F("quantity_shipped")
        )


def _apply_action(order: Order, action: Action, actor: str, payload: dict[str, Any]) -> None:
    target = action_target(action, order.fulfilment_mode)
    if target is None or not action_allowed(action, order.fulfilment_mode, order.status):
        raise invalid_action(order, action)
    previous = order.status
    changes: dict[str, Any] = {"status": target.value}
    if action is Action.ROUTE and payload.get("warehouse"):
        warehouse = Location.objects.filter(
            shop_id=order.shop_id,
            kind=Location.Kind.WAREHOUSE,
            code=payload["warehouse"],
            is_active=True,
        ).first()
        if warehouse is None:
            raise InvalidInput(
                f"The shop has no active warehouse {payload['warehouse']!r}.", field="warehouse"
            )
        changes["warehouse"] = warehouse
    if target in (Status.DELIVERED, Status.COLLECTED):
        changes["exception_reason"] = ""
    _compare_and_set(order, **changes)
    settle_lines(order_ids=[order.pk], action=action)
    _record(
        order, event_type(action, target), actor, {"from": previous, "to": target.value, **payload}
    )
    if (
        action is Action.CONFIRM_PAYMENT
        and order.shop.invoicing_enabled
        and not Invoice.objects.filter(order=order).exists()
    ):
        issue_invoice(order, actor)


def order_apply_action(
    *,
    shop: Shop,
    order_id: int,
    action: Action | str,
    actor: str = SYSTEM,
    expected_version: int | None = None,
    payload: dict[str, Any] | None = None,
) -> Order:
    """Move the order along the lifecycle by *action* (any action but ``cancel``).

    Raises :class:`InvalidTransition` if the table forbids it and :class:`ConcurrentChange`
    if the order changed meanwhile (or is not at *expected_version*); nothing is written then.
    """
    action = Action(action)
    if action is Action.CANCEL:
        raise InvalidInput("Use order_cancel to cancel an order.", field="action")
    with transaction.atomic():
        order = _lock_order(shop=shop, order_id=order_id)
        if expected_version is not None and order.version != expected_version:
            raise ConcurrentChange(
                "The order is not at the expected version; nothing was changed.",
                order_id=order.pk,
                version=order.version,
            )
        _apply_action(order, action, actor, payload or {})
    return order


def order_set_exception(*, shop: Shop, order_id: int, reason: str, actor: str = SYSTEM) -> Order:
    """Flag a delivery exception (delay, damaged, lost…) shown beside the status; "" clears it."""
    max_length = Order._meta.get_field("exception_reason").max_length or 0
    if len(reason) > max_length:
        raise InvalidInput(
            f"An exception reason has at most {max_length} characters.", field="reason"
        )
    with transaction.atomic():
        order = _lock_order(shop=shop, order_id=order_id)
        if order.exception_reason == reason:
            return order
        _compare_and_set(order, exception_reason=reason)
        _record(
            order,
            "order.exception" if reason else "order.exception_cleared",
            actor,
            {"reason": reason},
        )
    return order


# --- cancellation -----------------------------------------------------------------------


def _check_cancellable(order: Order) -> None:
    if Status(order.status) not in CANCELLABLE:
        raise InvalidTransition(
            f"An order that is {order.status} can no longer be cancelled.",
            action=Action.CANCEL.value,
            status=order.status,
            fulfilment_mode=order.fulfilment_mode,
        )


def _cancel_all(order: Order, lines: list[OrderLine], actor: str, reason: str, note: str) -> None:
    credited = [
        _line_snapshot(line, line.quantity_remaining, order.currency)
        for line in lines
        if line.quantity_remaining
    ]
    shipping = order.shipping_amount
    previous = order.status
    # The order row first, then its lines: see order_cancel_lines.
    _compare_and_set(
        order,
        status=Status.CANCELLED.value,
        cancellation_reason=reason,
        cancellation_note=note,
        lines_amount=Decimal("0"),
        shipping_amount=Decimal("0"),
        total_amount=Decimal("0"),
    )
    OrderLine.objects.filter(order=order).update(
        quantity_cancelled=F("quantity_ordered") - F("quantity_shipped") - F("quantity_collected")
    )
    _record(
        order,
        "order.cancelled",
        actor,
        {"from": previous, "reason": reason, "note": note, "lines": credited},
    )
    _issue_credit_note(order, actor, lines=credited, shipping=shipping, reason=reason)


def order_cancel(
    *,
    shop: Shop,
    order_id: int,
    reason: CancellationReason | str,
    note: str = "",
    actor: str = SYSTEM,
) -> Order:
    """Cancel the whole order; a credit note is issued if it was invoiced."""
    reason = CancellationReason(reason)
    with transaction.atomic():
        order = _lock_order(shop=shop, order_id=order_id)
        _check_cancellable(order)
        if not can_transition(order.fulfilment_mode, order.status, Status.CANCELLED):
            raise InvalidTransition(f"Cannot cancel an order that is {order.status}.")
        _cancel_all(order, list(order.lines.all()), actor, reason.value, note)
    return order


def _leaves_nothing(lines: dict[int, OrderLine], cancellations: Sequence[LineCancellation]) -> bool:
    """Whether *cancellations* (checked) take everything left on the order's *lines*."""
    return all(lines[c.position].quantity_remaining == c.quantity for c in cancellations) and sum(
        line.quantity_remaining for line in lines.values()
    ) == sum(c.quantity for c in cancellations)


def cancellation_outcome(
    order: Order, cancellations: Sequence[LineCancellation]
) -> tuple[Decimal, bool]:
    """What :func:`order_cancel_lines` would leave, written nowhere (for a confirmation
    page): the order's new total and whether it would become a whole cancellation.
    *cancellations* name existing lines with quantities they still have."""
    lines = {line.position: line for line in order.lines.all()}
    if _leaves_nothing(lines, cancellations):
        return Decimal("0"), True
    for item in cancellations:
        lines[item.position].quantity_cancelled += item.quantity
    amounts = line_amounts(list(lines.values()), order.shipping_amount, order.currency)
    return amounts["total_amount"], False


def order_cancel_lines(
    *,
    shop: Shop,
    order_id: int,
    cancellations: Sequence[LineCancellation],
    reason: CancellationReason | str,
    note: str = "",
    actor: str = SYSTEM,
) -> Order:
    """Cancel some quantity of some lines, recompute the totals and keep the lines.

    When nothing is left the order becomes cancelled. Quantities are checked against what
    is left on each line; any error leaves the order untouched.
    """
    reason = CancellationReason(reason)
    if not cancellations:
        raise InvalidInput("Say which lines to cancel.", field="lines")
    positions = [c.position for c in cancellations]
    if len(set(positions)) != len(positions):
        raise InvalidInput("Each line may appear once.", field="lines")
    with transaction.atomic():
        order = _lock_order(shop=shop, order_id=order_id)
        _check_cancellable(order)
        lines = {line.position: line for line in order.lines.all()}
        for index, item in enumerate(cancellations):
            line = lines.get(item.position)
            if line is None:
                raise InvalidInput(
                    f"The order has no line {item.position}.", field=f"lines.{index}.position"
                )
            if item.quantity < 1 or item.quantity > line.quantity_remaining:
                raise InvalidQuantity(
                    f"Line {item.position} ({line.sku}) has {line.quantity_remaining} left;"
                    f" cannot cancel {item.quantity}.",
                    field=f"lines.{index}.quantity",
                    position=item.position,
                    remaining=line.quantity_remaining,
                )
        if _leaves_nothing(lines, cancellations):
            # Nothing would be left: this is a whole cancellation.
            _cancel_all(order, list(lines.values()), actor, reason.value, note)
            return order
        credited = []
        for item in cancellations:
            line = lines[item.position]
            line.quantity_cancelled += item.quantity
            credited.append(_line_snapshot(line, item.quantity, order.currency))
        amounts = line_amounts(list(lines.values()), order.shipping_amount, order.currency)
        # Compare-and-set the order before touching its lines. The quantities above were
        # checked against what we read; if another transaction changed the order since, the
        # CAS waits for its row lock, sees the new version and raises ConcurrentChange. Lines
        # written first would instead hit the quantity CHECK constraint (IntegrityError) or
        # deadlock with a writer that locks the order then the lines (ship, collect).
        _compare_and_set(order, is_partially_cancelled=True, **amounts)
        for item in cancellations:
            OrderLine.objects.filter(pk=lines[item.position].pk).update(
                quantity_cancelled=F("quantity_cancelled") + item.quantity
            )
        _record(
            order,
            "order.lines_cancelled",
            actor,
            {
                "reason": reason.value,
                "note": note,
                "lines": credited,
                "total_amount": str(order.total_amount),
            },
        )
        _issue_credit_note(order, actor, lines=credited, shipping=Decimal("0"), reason=reason.value)
    return order


# --- invoicing --------------------------------------------------------------------------


def order_invoice(*, shop: Shop, order_id: int, actor: str = SYSTEM) -> Invoice:
    """Issue the order's invoice with the shop's next gap-free number."""
    with transaction.atomic():
        order = _lock_order(shop=shop, order_id=order_id)
        if not shop.invoicing_enabled:
            raise InvoicingError("This shop does not issue invoices.")
        if order.status in (Status.AWAITING_PAYMENT, Status.CANCELLED):
            raise InvoicingError(f"An order that is {order.status} cannot be invoiced.")
        if Invoice.objects.filter(order=order).exists():
            raise InvoicingError("The order is already invoiced.")
        # Bump the version so a concurrent cancellation cannot miss the invoice.
        _compare_and_set(order)
        return issue_invoice(order, actor)
