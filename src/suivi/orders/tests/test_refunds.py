"""Credit notes for delivered goods refunded later (returns)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suivi.core.errors import InvalidInput, NotFound
from suivi.orders.errors import InvalidQuantity
from suivi.orders.lifecycle import Action, CancellationReason
from suivi.orders.models import CreditNote, DocumentSequence, OrderEvent
from suivi.orders.refunds import RefundedLine, refund_credit_note
from suivi.orders.services import LineCancellation, order_apply_action, order_cancel_lines
from suivi.shops.models import Shop
from suivi.testing import make_order

from .support import snapshot

pytestmark = pytest.mark.django_db


def delivered(shop: Shop, **kwargs: object):  # type: ignore[no-untyped-def]
    order = make_order(shop, paid=True, **kwargs)
    for action in (Action.SHIP, Action.MARK_DELIVERED):
        order_apply_action(shop=shop, order_id=order.pk, action=action, actor="test")
    order.refresh_from_db()
    return order, {line.sku: line for line in order.lines.all()}


def test_a_refund_credits_the_lines_at_their_invoiced_prices(shop_a: Shop) -> None:
    order, lines = delivered(
        shop_a, lines=[("PULL-M", "Pull marin", "49.90", 3), ("BONNET", "Bonnet", "15.00", 1)]
    )
    note = refund_credit_note(
        shop=shop_a,
        order_id=order.pk,
        lines=[RefundedLine(lines["PULL-M"].pk, 2)],
        reason="return",
        actor="staff:1",
    )
    assert note is not None
    assert note.shop_id == shop_a.pk and note.invoice == order.invoice
    assert note.number == f"{shop_a.credit_note_prefix}000001"
    assert note.total_amount == Decimal("99.80") and note.shipping_amount == Decimal("0")
    assert note.lines == [
        {
            "position": 1, "sku": "PULL-M", "name": "Pull marin", "unit_price": "49.90",
            "tax_rate": "20.00", "quantity": 2, "amount": "99.80",
        }
    ]  # fmt: skip
    event = OrderEvent.objects.filter(order=order).latest("id")
    assert event.type == "order.credit_note_issued" and event.actor == "staff:1"
    assert event.payload["credit_note_number"] == note.number


def test_a_line_is_never_credited_beyond_what_was_invoiced(shop_a: Shop) -> None:
    order, lines = delivered(shop_a)
    pull = lines["PULL-M"].pk
    refund_credit_note(shop=shop_a, order_id=order.pk, lines=[RefundedLine(pull, 1)], reason="r")
    refund_credit_note(shop=shop_a, order_id=order.pk, lines=[RefundedLine(pull, 1)], reason="r")
    before = snapshot(order.pk)
    with pytest.raises(InvalidQuantity) as caught:
        refund_credit_note(
            shop=shop_a, order_id=order.pk, lines=[RefundedLine(pull, 1)], reason="r"
        )
    assert caught.value.details["remaining"] == 0
    assert snapshot(order.pk) == before
    assert CreditNote.objects.filter(order=order).count() == 2


def test_cancellation_credit_notes_count_too(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)  # invoiced at payment: 2 pullovers
    order_cancel_lines(
        shop=shop_a,
        order_id=order.pk,
        cancellations=[LineCancellation(position=1, quantity=1)],
        reason=CancellationReason.OUT_OF_STOCK,
    )
    for action in (Action.SHIP, Action.MARK_DELIVERED):
        order_apply_action(shop=shop_a, order_id=order.pk, action=action, actor="test")
    pull = order.lines.get(position=1).pk
    with pytest.raises(InvalidQuantity):
        refund_credit_note(
            shop=shop_a, order_id=order.pk, lines=[RefundedLine(pull, 2)], reason="r"
        )
    note = refund_credit_note(
        shop=shop_a, order_id=order.pk, lines=[RefundedLine(pull, 1)], reason="r"
    )
    assert note is not None and note.total_amount == Decimal("49.90")


def test_an_order_without_invoice_gets_no_credit_note(shop_b: Shop) -> None:
    order, lines = delivered(shop_b)
    assert (
        refund_credit_note(
            shop=shop_b, order_id=order.pk, lines=[RefundedLine(lines["BONNET"].pk, 1)], reason="r"
        )
        is None
    )
    assert not CreditNote.objects.exists()
    assert not DocumentSequence.objects.filter(shop=shop_b, kind="credit_note").exists()


def test_bad_input_and_other_shops_are_refused(shop_a: Shop, shop_b: Shop) -> None:
    order, lines = delivered(shop_a)
    _other, other_lines = delivered(shop_a)
    with pytest.raises(NotFound):
        refund_credit_note(
            shop=shop_b, order_id=order.pk, lines=[RefundedLine(lines["BONNET"].pk, 1)], reason="r"
        )
    with pytest.raises(InvalidInput):
        refund_credit_note(shop=shop_a, order_id=order.pk, lines=[], reason="r")
    with pytest.raises(InvalidInput):
        refund_credit_note(
            shop=shop_a,
            order_id=order.pk,
            lines=[RefundedLine(other_lines["BONNET"].pk, 1)],
            reason="r",
        )
    with pytest.raises(InvalidQuantity):
        refund_credit_note(
            shop=shop_a, order_id=order.pk, lines=[RefundedLine(lines["BONNET"].pk, 0)], reason="r"
        )
    assert not CreditNote.objects.exists()
