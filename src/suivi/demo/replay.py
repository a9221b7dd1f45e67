"""Replay an :class:`~.generator.OrderPlan` in memory into the rows the order services write.

The services write one order in a dozen queries; a benchmark data set of 100,000 orders needs
bulk inserts instead. This module builds the same rows (order, lines, timeline, invoice,
credit notes) without touching the database, following :mod:`suivi.orders.services` step
by step, and sharing its amount and snapshot helpers so that the arithmetic cannot differ.
``test_replay_matches_services`` checks both paths row by row on every kind of plan.

What the fast path does not do: publish events on the in-transaction bus. Bulk-loaded
orders are history; no notification is planned for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from suivi.core.errors import InvalidInput
from suivi.core.money import quantize

# Shared on purpose: the replay must compute amounts and snapshots exactly as the services.
from suivi.orders.creation import line_amounts, shop_language
from suivi.orders.errors import InvalidQuantity, InvalidTransition
from suivi.orders.lifecycle import (
    CANCELLABLE,
    Action,
    CancellationReason,
    Status,
    action_allowed,
    action_target,
    can_transition,
    event_type,
)
from suivi.orders.models import CreditNote, Invoice, Order, OrderLine
from suivi.orders.services import _line_snapshot
from suivi.shops.models import Shop

from .generator import CHANNEL_ACTOR, Op, OpKind, OrderPlan

_CENT = Decimal("0.01")


@dataclass
class Numbering:
    """The shop's gap-free document counters, advanced in memory during a batch."""

    last: dict[str, int] = field(default_factory=dict)

    def next(self, kind: str) -> int:
        """Return the next number of *kind* (``invoice`` or ``credit_note``)."""
        self.last[kind] = self.last.get(kind, 0) + 1
        return self.last[kind]


@dataclass(slots=True)
class EventRow:
    """An :class:`OrderEvent` row to insert. Plain slots rather than a model instance: a
    large data set has millions of events, and building model instances was a third of the
    time."""

    shop_id: int
    type: str
    actor: str
    occurred_at: datetime
    payload: dict[str, Any]
    order_id: int | None = None
    id: int | None = None


@dataclass
class Replayed:
    """The unsaved rows of one order; foreign keys to the order are set when it is saved."""

    order: Order
    lines: list[OrderLine]
    events: list[EventRow] = field(default_factory=list)
    invoice: Invoice | None = None
    credit_notes: list[CreditNote] = field(default_factory=list)


class _Replay:
    def __init__(
        self,
        shop: Shop,
        numbering: Numbering,
        rows: Replayed,
        warehouse_ids: Mapping[str, int],
    ) -> None:
        self.shop = shop
        self.warehouse_ids = warehouse_ids
        self.numbering = numbering
        self.rows = rows
        self.order = rows.order

    def record(self, type_: str, at: datetime, actor: str, payload: dict[str, Any]) -> None:
        self.rows.events.append(EventRow(self.shop.pk, type_, actor, at, payload))

    def compare_and_set(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self.order, name, value)
        self.order.version += 1

    # --- the services, step by step ------------------------------------------------------

    def apply(self, op: Op) -> None:
        if op.kind is OpKind.ACTION:
            assert op.action is not None
            self.action(op, op.action)
        elif op.kind is OpKind.EXCEPTION:
            self.exception(op)
        elif op.kind is OpKind.CANCEL:
            self.check_cancellable()
            if not can_transition(self.order.fulfilment_mode, self.order.status, Status.CANCELLED):
                raise InvalidTransition(f"Cannot cancel an order that is {self.order.status}.")
            self.cancel_all(op)
        else:
            self.cancel_lines(op)

    def action(self, op: Op, action: Action) -> None:
        order = self.order
        target = action_target(action, order.fulfilment_mode)
        if target is None or not action_allowed(action, order.fulfilment_mode, order.status):
            raise InvalidTransition(
                f"Cannot {action.value.replace('_', ' ')} an order that is {order.status}"
                f" ({order.fulfilment_mode}).",
            )
        previous = order.status
        changes: dict[str, Any] = {"status": target.value}
        if action is Action.ROUTE and op.payload.get("warehouse"):
            code = op.payload["warehouse"]
            if code not in self.warehouse_ids:
                raise InvalidInput(f"The shop has no active warehouse {code!r}.")
            changes["warehouse_id"] = self.warehouse_ids[code]
        if target in (Status.DELIVERED, Status.COLLECTED):
            changes["exception_reason"] = ""
        self.compare_and_set(**changes)
        for line in self.rows.lines:
            if action is Action.SHIP:
                line.quantity_shipped = (
                    line.quantity_ordered - line.quantity_cancelled - line.quantity_collected
                )
            elif action is Action.MARK_COLLECTED:
                line.quantity_collected = (
                    line.quantity_ordered - line.quantity_cancelled - line.quantity_shipped
                )
        self.record(
            event_type(action, target),
            op.at,
            op.actor,
            {"from": previous, "to": target.value, **op.payload},
        )
        if (
            action is Action.CONFIRM_PAYMENT
            and self.shop.invoicing_enabled
            and not self.rows.invoice
        ):
            self.invoice(op)

    def invoice(self, op: Op) -> None:
        order = self.order
        seq = self.numbering.next("invoice")
        invoice = Invoice(
            shop_id=self.shop.pk,
            sequence_number=seq,
            number=f"{self.shop.invoice_prefix}{seq:06d}",
            issued_at=op.at,
            currency=order.currency,
            # Lines cancelled before invoicing are not invoiced at all.
            lines=[
                _line_snapshot(ln, ln.quantity_active, order.currency)
                for ln in self.rows.lines
                if ln.quantity_active
            ],
            shipping_amount=order.shipping_amount,
            total_amount=order.total_amount,
        )
        self.rows.invoice = invoice
        self.record(
            "order.invoiced",
            op.at,
            op.actor,
            {"invoice_number": invoice.number, "total_amount": str(invoice.total_amount)},
        )

    def credit_note(
        self, op: Op, *, lines: list[dict[str, Any]], shipping: Decimal, reason: str
    ) -> None:
        invoice = self.rows.invoice
        if invoice is None:
            return
        order = self.order
        total = quantize(
            sum((Decimal(ln["amount"]) for ln in lines), Decimal("0")) + shipping, order.currency
        )
        seq = self.numbering.next("credit_note")
        note = CreditNote(
            shop_id=self.shop.pk,
            sequence_number=seq,
            number=f"{self.shop.credit_note_prefix}{seq:06d}",
            issued_at=op.at,
            currency=order.currency,
            reason=reason,
            lines=lines,
            shipping_amount=shipping,
            total_amount=total,
        )
        self.rows.credit_notes.append(note)
        self.record(
            "order.credit_note_issued",
            op.at,
            op.actor,
            {
                "credit_note_number": note.number,
                "invoice_number": invoice.number,
                "total_amount": str(total),
            },
        )

    def exception(self, op: Op) -> None:
        if self.order.exception_reason == op.reason:
            return
        self.compare_and_set(exception_reason=op.reason)
        self.record(
            "order.exception" if op.reason else "order.exception_cleared",
            op.at,
            op.actor,
            {"reason": op.reason},
        )

    def check_cancellable(self) -> None:
        if Status(self.order.status) not in CANCELLABLE:
            raise InvalidTransition(
                f"An order that is {self.order.status} can no longer be cancelled."
            )

    def cancel_all(self, op: Op, reason: str | None = None) -> None:
        order = self.order
        reason = CancellationReason(reason or op.reason).value
        credited = [
            _line_snapshot(line, line.quantity_remaining, order.currency)
            for line in self.rows.lines
            if line.quantity_remaining
        ]
        shipping = order.shipping_amount
        for line in self.rows.lines:
            line.quantity_cancelled = (
                line.quantity_ordered - line.quantity_shipped - line.quantity_collected
            )
        previous = order.status
        zero = Decimal("0")
        self.compare_and_set(
            status=Status.CANCELLED.value,
            cancellation_reason=reason,
            cancellation_note="",
            lines_amount=zero,
            shipping_amount=zero,
            total_amount=zero,
        )
        self.record(
            "order.cancelled",
            op.at,
            op.actor,
            {"from": previous, "reason": reason, "note": "", "lines": credited},
        )
        self.credit_note(op, lines=credited, shipping=shipping, reason=reason)

    def cancel_lines(self, op: Op) -> None:
        reason = CancellationReason(op.reason).value
        if not op.cancellations:
            raise InvalidInput("Say which lines to cancel.", field="lines")
        self.check_cancellable()
        lines = {line.position: line for line in self.rows.lines}
        for item in op.cancellations:
            line = lines.get(item.position)
            if line is None:
                raise InvalidInput(f"The order has no line {item.position}.")
            if item.quantity < 1 or item.quantity > line.quantity_remaining:
                raise InvalidQuantity(f"Line {item.position} has {line.quantity_remaining} left.")
        requested = sum(c.quantity for c in op.cancellations)
        if all(
            lines[c.position].quantity_remaining == c.quantity for c in op.cancellations
        ) and requested == sum(line.quantity_remaining for line in lines.values()):
            self.cancel_all(op, reason)
            return
        credited = []
        for item in op.cancellations:
            line = lines[item.position]
            line.quantity_cancelled += item.quantity
            credited.append(_line_snapshot(line, item.quantity, self.order.currency))
        amounts = line_amounts(self.rows.lines, self.order.shipping_amount, self.order.currency)
        self.compare_and_set(is_partially_cancelled=True, **amounts)
        self.record(
            "order.lines_cancelled",
            op.at,
            op.actor,
            {
                "reason": reason,
                "note": "",
                "lines": credited,
                "total_amount": str(self.order.total_amount),
            },
        )
        self.credit_note(op, lines=credited, shipping=Decimal("0"), reason=reason)


def order_language(plan: OrderPlan, shop: Shop) -> str:
    """Return the language ``order_create`` gives the order (and its customer)."""
    return plan.data.language or shop_language(shop)


def replay(
    plan: OrderPlan,
    *,
    shop: Shop,
    phone: str,
    location_ids: Mapping[str, int],
    numbering: Numbering,
) -> Replayed:
    """Return the rows the services would write for *plan*; *phone* is already in E.164,
    *location_ids* gives the id of each store and warehouse code of the shop.

    Raises the services' errors (:class:`InvalidTransition`, :class:`InvalidQuantity`) for
    a plan they would refuse, so a generator bug fails loudly on both paths.
    """
    data = plan.data
    currency = (data.currency or shop.currency).upper()
    shipping = quantize(data.shipping_amount, currency)
    address = data.shipping_address
    placed_at = data.placed_at or timezone.now()  # as order_create does
    lines = [
        OrderLine(
            position=position,
            sku=line.sku,
            name=line.name,
            unit_price=quantize(line.unit_price, currency),
            # The column keeps two decimals; snapshots read it back from there.
            tax_rate=line.tax_rate.quantize(_CENT),
            quantity_ordered=line.quantity,
        )
        for position, line in enumerate(data.lines, start=1)
    ]
    order = Order(
        shop_id=shop.pk,
        reference=data.reference,
        email=data.customer.email.strip().lower(),
        phone=phone,
        language=order_language(plan, shop),
        fulfilment_mode=data.fulfilment_mode.value,
        status=Status.AWAITING_PAYMENT.value,
        version=1,
        ship_name=address.name if address else "",
        ship_line1=address.line1 if address else "",
        ship_line2=address.line2 if address else "",
        ship_postcode=address.postcode if address else "",
        ship_city=address.city if address else "",
        ship_country=(address.country or shop.country).upper() if address else "",
        pickup_location_id=(
            location_ids[data.pickup_location_code] if data.pickup_location_code else None
        ),
        currency=currency,
        promised_delivery_date=data.promised_delivery_date,
        placed_at=placed_at,
        **line_amounts(lines, shipping, currency),
    )
    rows = Replayed(order=order, lines=lines)
    state = _Replay(shop, numbering, rows, location_ids)
    state.record(
        "order.created",
        placed_at,
        CHANNEL_ACTOR,
        {
            "reference": order.reference,
            "fulfilment_mode": order.fulfilment_mode,
            "total_amount": str(order.total_amount),
            "currency": currency,
        },
    )
    for op in plan.ops:
        state.apply(op)
    return rows
