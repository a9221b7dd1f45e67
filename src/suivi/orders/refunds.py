"""Credit notes for goods that came back after delivery (returns, goodwill refunds).

Cancellations credit what never left (see :mod:`.services`); this module credits quantities
that were delivered and then refunded. It knows nothing of the return requests that call it:
it takes order lines and quantities, and keeps one invariant — the credit notes of an order
never credit more of a line than its invoice billed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from suivi.core.errors import InvalidInput, NotFound
from suivi.shops.models import Shop

from .errors import InvalidQuantity
from .models import CreditNote, Invoice, Order, OrderLine
from .services import SYSTEM, _issue_credit_note, _line_snapshot


@dataclass(frozen=True)
class RefundedLine:
    """A quantity of one order line to credit."""

    order_line_id: int
    quantity: int


def _credited(order: Order) -> dict[int, int]:
    """Quantity already credited per line position, over every credit note of *order*."""
    credited: dict[int, int] = defaultdict(int)
    for lines in CreditNote.objects.filter(order=order).values_list("lines", flat=True):
        for line in lines:
            credited[int(line["position"])] += int(line["quantity"])
    return credited


def refund_credit_note(
    *,
    shop: Shop,
    order_id: int,
    lines: Sequence[RefundedLine],
    reason: str,
    actor: str = SYSTEM,
) -> CreditNote | None:
    """Issue a credit note for *lines* of an invoiced order; None if it has no invoice.

    Amounts come from each line's unit price and tax rate (the invoice's prices); shipping
    is not credited. Raises :class:`InvalidQuantity` when a line would be credited beyond
    what its invoice billed (counting every earlier credit note) and writes nothing then.
    Runs in the caller's transaction when there is one; the order row is locked so two
    refunds of one order are counted one after the other.
    """
    if not lines:
        raise InvalidInput("Say which lines to credit.", field="lines")
    max_length = CreditNote._meta.get_field("reason").max_length or 0
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id, shop=shop).first()
        if order is None:
            raise NotFound("No such order.", order_id=order_id)
        order.shop = shop
        invoice = Invoice.objects.filter(order=order).first()
        if invoice is None:
            return None
        by_id = {line.pk: line for line in OrderLine.objects.filter(order=order)}
        billed: dict[int, int] = defaultdict(int)
        for billed_line in invoice.lines:
            billed[int(billed_line["position"])] += int(billed_line["quantity"])
        credited = _credited(order)
        snapshots = []
        for index, item in enumerate(lines):
            line = by_id.get(item.order_line_id)
            if line is None:
                raise InvalidInput(
                    f"The order has no line {item.order_line_id}.", field=f"lines.{index}"
                )
            left = billed[line.position] - credited[line.position]
            if not 1 <= item.quantity <= left:
                raise InvalidQuantity(
                    f"Line {line.position} ({line.sku}): {left} can still be credited;"
                    f" cannot credit {item.quantity}.",
                    field=f"lines.{index}.quantity",
                    position=line.position,
                    remaining=left,
                )
            credited[line.position] += item.quantity
            snapshots.append(_line_snapshot(line, item.quantity, order.currency))
        return _issue_credit_note(
            order, actor, lines=snapshots, shipping=Decimal("0"), reason=reason[:max_length]
        )
