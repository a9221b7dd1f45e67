"""Partial and whole cancellation arithmetic, invoices and credit notes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suivi.core import events
from suivi.core.errors import InvalidInput
from suivi.orders.errors import InvalidQuantity, InvalidTransition, InvoicingError
from suivi.orders.lifecycle import Action, CancellationReason, Mode, Status
from suivi.orders.models import CreditNote, Invoice, Order, OrderEvent
from suivi.orders.services import (
    AddressInput,
    CustomerInput,
    LineCancellation,
    LineInput,
    OrderInput,
    order_apply_action,
    order_cancel,
    order_cancel_lines,
    order_create,
    order_invoice,
)
from suivi.shops.models import Shop
from suivi.testing import make_order

from .support import new_events, order_in_status, snapshot

SOLD = CancellationReason.SOLD_IN_STORE
PULL, BONNET = 1, 2  # positions in the default order: 2 x 49.90 + 1 x 15.00, shipping 4.90


def _cancel(shop: Shop, order: Order, *items: tuple[int, int]) -> Order:
    return order_cancel_lines(
        shop=shop,
        order_id=order.pk,
        cancellations=[LineCancellation(position, quantity) for position, quantity in items],
        reason=SOLD,
    )


def _pay(shop: Shop, order: Order) -> Order:
    return order_apply_action(shop=shop, order_id=order.pk, action=Action.CONFIRM_PAYMENT)


# --- arithmetic -------------------------------------------------------------------------


def test_a_new_order_totals_its_lines_and_shipping(shop_a: Shop, shop_b: Shop) -> None:
    for shop in (shop_a, shop_b):
        order = Order.objects.get(pk=make_order(shop).pk)
        assert order.lines_amount == Decimal("114.80")
        assert order.shipping_amount == Decimal("4.90")
        assert order.total_amount == Decimal("119.70")


def test_cancelling_one_pull_of_two_takes_its_price_off_the_total(
    shop_a: Shop, shop_b: Shop
) -> None:
    # given 2 x 49.90 + 15.00 + 4.90 shipping = 119.70 in each shop
    order = make_order(shop_b)
    other = make_order(shop_a, reference=order.reference)
    # when one pull is cancelled
    returned = _cancel(shop_b, order, (PULL, 1))
    # then
    stored = Order.objects.get(pk=order.pk)
    assert stored.total_amount == returned.total_amount == Decimal("69.80")
    assert stored.lines_amount == Decimal("64.90")
    assert stored.shipping_amount == Decimal("4.90")
    assert stored.status == Status.AWAITING_PAYMENT
    assert stored.is_partially_cancelled
    line = stored.lines.get(position=PULL)
    assert (line.quantity_ordered, line.quantity_cancelled) == (2, 1)
    event = stored.events.get(type="order.lines_cancelled")
    assert event.payload["lines"] == [
        {
            "position": 1,
            "sku": "PULL-M",
            "name": "Pull marin",
            "unit_price": "49.90",
            "tax_rate": "20.00",
            "quantity": 1,
            "amount": "49.90",
        }
    ]
    assert event.payload["total_amount"] == "69.80"
    # and the twin order of the other shop kept its total
    assert Order.objects.get(pk=other.pk).total_amount == Decimal("119.70")


def test_cancelling_several_lines_at_once_is_one_change(shop_a: Shop, shop_b: Shop) -> None:
    order = make_order(shop_a, lines=[("A", "A", "10.10", 3), ("B", "B", "0.07", 5)])
    before = snapshot(order.pk)
    _cancel(shop_a, order, (1, 2), (2, 4))
    stored = Order.objects.get(pk=order.pk)
    # 10.10 + 0.07 + 4.90
    assert stored.total_amount == Decimal("15.07")
    assert stored.version == order.version + 1
    assert new_events(order.pk, before) == ["order.lines_cancelled"]
    assert make_order(shop_b).total_amount == Decimal("119.70")


def test_cancelling_everything_line_by_line_ends_cancelled_with_nothing_to_pay(
    shop_a: Shop, shop_b: Shop
) -> None:
    for shop in (shop_a, shop_b):
        order = make_order(shop)
        _cancel(shop, order, (PULL, 1))
        _cancel(shop, order, (BONNET, 1))
        last = _cancel(shop, order, (PULL, 1))
        stored = Order.objects.get(pk=order.pk)
        assert stored.status == last.status == Status.CANCELLED
        assert stored.total_amount == stored.lines_amount == stored.shipping_amount == 0
        assert stored.cancellation_reason == SOLD
        assert [line.quantity_cancelled for line in stored.lines.all()] == [2, 1]
        assert list(stored.events.values_list("type", flat=True)) == [
            "order.created",
            "order.lines_cancelled",
            "order.lines_cancelled",
            "order.cancelled",
        ]


def test_cancelling_every_remaining_item_in_one_call_is_a_whole_cancellation(
    shop_a: Shop, shop_b: Shop
) -> None:
    order = make_order(shop_a)
    twin = make_order(shop_b, reference=order.reference)
    _cancel(shop_a, order, (PULL, 2), (BONNET, 1))
    assert Order.objects.get(pk=order.pk).status == Status.CANCELLED
    assert Order.objects.get(pk=twin.pk).status == Status.AWAITING_PAYMENT


@pytest.mark.parametrize(
    ("items", "error"),
    [
        pytest.param([(PULL, 3)], InvalidQuantity, id="more-than-ordered"),
        pytest.param([(PULL, 0)], InvalidQuantity, id="zero"),
        pytest.param([(PULL, -1)], InvalidQuantity, id="negative"),
        pytest.param([(BONNET, 1), (PULL, 3)], InvalidQuantity, id="second-line-too-many"),
        pytest.param([(3, 1)], InvalidInput, id="position-not-in-order"),
        pytest.param([(0, 1)], InvalidInput, id="position-zero"),
        pytest.param([(PULL, 1), (PULL, 1)], InvalidInput, id="duplicate-position"),
        pytest.param([], InvalidInput, id="nothing"),
    ],
)
def test_a_bad_cancellation_changes_nothing(
    shop_a: Shop, shop_b: Shop, items: list[tuple[int, int]], error: type[Exception]
) -> None:
    # given the same order in each shop
    order = make_order(shop_a)
    other = make_order(shop_b, reference=order.reference)
    before, other_before = snapshot(order.pk), snapshot(other.pk)
    # when
    with pytest.raises(error):
        _cancel(shop_a, order, *items)
    # then
    assert snapshot(order.pk) == before
    assert snapshot(other.pk) == other_before


def test_over_cancelling_what_is_left_after_a_partial_cancellation_changes_nothing(
    shop_a: Shop, shop_b: Shop
) -> None:
    order = make_order(shop_b)
    make_order(shop_a, reference=order.reference)
    _cancel(shop_b, order, (PULL, 1))
    before = snapshot(order.pk)
    with pytest.raises(InvalidQuantity) as caught:
        _cancel(shop_b, order, (PULL, 2))
    assert caught.value.details["remaining"] == 1
    assert snapshot(order.pk) == before


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        (Mode.DELIVERY, Status.SHIPPED),
        (Mode.DELIVERY, Status.DELIVERED),
        (Mode.DELIVERY, Status.CANCELLED),
        (Mode.CLICK_AND_COLLECT, Status.COLLECTED),
        (Mode.CLICK_AND_COLLECT, Status.CANCELLED),
    ],
)
def test_lines_cannot_be_cancelled_once_the_goods_left(
    shop_a: Shop, shop_b: Shop, mode: Mode, status: Status
) -> None:
    for shop in (shop_a, shop_b):
        order = order_in_status(shop, mode, status)
        before = snapshot(order.pk)
        with pytest.raises(InvalidTransition):
            _cancel(shop, order, (PULL, 1))
        with pytest.raises(InvalidTransition):
            order_cancel(shop=shop, order_id=order.pk, reason=SOLD)
        assert snapshot(order.pk) == before


def test_lines_can_be_cancelled_while_the_order_waits_to_ship_or_be_collected(
    shop_a: Shop, shop_b: Shop
) -> None:
    ready = order_in_status(shop_a, Mode.DELIVERY, Status.READY_TO_SHIP)
    pickup = order_in_status(shop_b, Mode.CLICK_AND_COLLECT, Status.READY_FOR_PICKUP)
    assert _cancel(shop_a, ready, (BONNET, 1)).total_amount == Decimal("104.70")
    # Click & Collect has no shipping
    assert _cancel(shop_b, pickup, (BONNET, 1)).total_amount == Decimal("99.80")
    assert Order.objects.get(pk=ready.pk).status == Status.READY_TO_SHIP
    assert Order.objects.get(pk=pickup.pk).status == Status.READY_FOR_PICKUP


def test_amounts_are_rounded_to_the_currency(shop_a: Shop, shop_b: Shop) -> None:
    def yen_order(shop: Shop, reference: str) -> Order:
        return order_create(
            shop=shop,
            data=OrderInput(
                reference=reference,
                customer=CustomerInput(email="kenji@example.jp"),
                fulfilment_mode=Mode.DELIVERY,
                lines=[LineInput("TEA", "Thé", Decimal("1200.5"), 2)],
                currency="jpy",
                shipping_amount=Decimal("499.5"),
                shipping_address=AddressInput("Kenji", "1-1", "100-0001", "Tokyo", "JP"),
            ),
        )

    order = yen_order(shop_a, "JP-1")
    other = yen_order(shop_b, "JP-1")
    for placed in (order, other):
        stored = Order.objects.get(pk=placed.pk)
        assert stored.currency == "JPY"
        # 1200.5 -> 1201 (half up), x2 = 2402; 499.5 -> 500
        assert stored.lines.get().unit_price == Decimal("1201")
        assert stored.total_amount == Decimal("2902")
    assert _cancel(shop_a, order, (1, 1)).total_amount == Decimal("1701")


# --- invoices ---------------------------------------------------------------------------


def test_invoice_numbers_run_without_gaps_per_shop_when_shops_interleave(
    shop_a: Shop, shop_b: Shop
) -> None:
    # given both shops invoice
    shop_b.invoicing_enabled = True
    shop_b.invoice_prefix = "EB-"
    shop_b.save()
    numbers: dict[int, list[str]] = {shop_a.pk: [], shop_b.pk: []}
    # when their orders are paid in turn
    for shop in (shop_a, shop_b, shop_b, shop_a, shop_a, shop_b, shop_a):
        order = _pay(shop, make_order(shop))
        numbers[shop.pk].append(Invoice.objects.get(order=order).number)
    # then each shop counts 1, 2, 3... on its own
    assert numbers[shop_a.pk] == ["F-000001", "F-000002", "F-000003", "F-000004"]
    assert numbers[shop_b.pk] == ["EB-000001", "EB-000002", "EB-000003"]
    assert list(
        Invoice.objects.filter(shop=shop_a).order_by("id").values_list("sequence_number", flat=True)
    ) == [1, 2, 3, 4]


def test_paying_an_order_invoices_exactly_what_was_sold(shop_a: Shop, shop_b: Shop) -> None:
    # given a partly cancelled order, then paid
    order = make_order(shop_a)
    _cancel(shop_a, order, (PULL, 1))
    before = snapshot(order.pk)
    _pay(shop_a, order)
    # then
    assert new_events(order.pk, before) == ["order.confirmed", "order.invoiced"]
    invoice = Invoice.objects.get(order=order)
    assert invoice.shop_id == shop_a.pk
    assert invoice.total_amount == Decimal("69.80")
    assert invoice.shipping_amount == Decimal("4.90")
    assert [(ln["sku"], ln["quantity"], ln["amount"]) for ln in invoice.lines] == [
        ("PULL-M", 1, "49.90"),
        ("BONNET", 1, "15.00"),
    ]
    assert sum(Decimal(ln["amount"]) for ln in invoice.lines) + invoice.shipping_amount == (
        invoice.total_amount
    )
    # and shop B, which does not invoice, issues nothing on payment
    paid_b = _pay(shop_b, make_order(shop_b))
    assert not Invoice.objects.filter(order_id=paid_b.pk).exists()


def test_an_order_created_paid_is_confirmed_and_invoiced_at_once(
    shop_a: Shop, shop_b: Shop
) -> None:
    order = make_order(shop_a, paid=True)
    unbilled = make_order(shop_b, paid=True)
    assert Order.objects.get(pk=order.pk).status == Status.TO_PREPARE
    assert list(order.events.values_list("type", flat=True)) == [
        "order.created",
        "order.confirmed",
        "order.invoiced",
    ]
    assert Invoice.objects.get(order=order).total_amount == Decimal("119.70")
    assert list(unbilled.events.values_list("type", flat=True)) == [
        "order.created",
        "order.confirmed",
    ]


def test_a_partial_cancellation_after_invoicing_issues_a_credit_note_and_keeps_the_invoice(
    shop_a: Shop, shop_b: Shop
) -> None:
    # given an invoiced order
    order = _pay(shop_a, make_order(shop_a))
    invoice_before = Invoice.objects.filter(order=order).values().get()
    before = snapshot(order.pk)
    # when a pull is cancelled
    _cancel(shop_a, order, (PULL, 1))
    # then a credit note for the pull, and the invoice row is exactly as it was
    assert new_events(order.pk, before) == ["order.lines_cancelled", "order.credit_note_issued"]
    assert Invoice.objects.filter(order=order).values().get() == invoice_before
    note = CreditNote.objects.get(order=order)
    assert note.shop_id == shop_a.pk
    assert note.invoice_id == invoice_before["id"]
    assert note.number == "AV-000001"
    assert note.total_amount == Decimal("49.90")
    assert note.shipping_amount == Decimal("0")
    assert note.reason == SOLD
    assert [(ln["position"], ln["quantity"], ln["amount"]) for ln in note.lines] == [
        (1, 1, "49.90")
    ]
    # what is owed = invoice - credit notes
    assert (
        invoice_before["total_amount"] - note.total_amount
        == Order.objects.get(pk=order.pk).total_amount
    )
    # and shop B's paid orders are untouched by A's numbering
    assert not CreditNote.objects.filter(shop=shop_b).exists()


def test_a_whole_cancellation_after_invoicing_credits_the_rest_and_the_shipping(
    shop_a: Shop, shop_b: Shop
) -> None:
    # given an invoiced order, partly cancelled once
    order = _pay(shop_a, make_order(shop_a))
    invoice_before = Invoice.objects.filter(order=order).values().get()
    _cancel(shop_a, order, (PULL, 1))
    # when the rest is cancelled
    order_cancel(shop=shop_a, order_id=order.pk, reason=SOLD, note="vendu en boutique")
    # then the second credit note covers one pull, the bonnet and the shipping
    notes = list(CreditNote.objects.filter(order=order).order_by("sequence_number"))
    assert [note.number for note in notes] == ["AV-000001", "AV-000002"]
    last = notes[1]
    assert last.shipping_amount == Decimal("4.90")
    assert last.total_amount == Decimal("69.80")
    assert [(ln["sku"], ln["quantity"]) for ln in last.lines] == [("PULL-M", 1), ("BONNET", 1)]
    # the credit notes add up to the invoice, which never changed
    assert sum(note.total_amount for note in notes) == invoice_before["total_amount"]
    assert Invoice.objects.filter(order=order).values().get() == invoice_before
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.total_amount, stored.cancellation_note) == (
        Status.CANCELLED,
        Decimal("0"),
        "vendu en boutique",
    )
    assert not CreditNote.objects.filter(shop=shop_b).exists()


def test_no_credit_note_when_the_order_was_never_invoiced(shop_a: Shop, shop_b: Shop) -> None:
    # shop A invoices, but this order was not paid yet; shop B never invoices
    unpaid = make_order(shop_a)
    paid_elsewhere = _pay(shop_b, make_order(shop_b))
    _cancel(shop_a, unpaid, (PULL, 1))
    order_cancel(shop=shop_a, order_id=unpaid.pk, reason=SOLD)
    _cancel(shop_b, paid_elsewhere, (BONNET, 1))
    order_cancel(shop=shop_b, order_id=paid_elsewhere.pk, reason=SOLD)
    assert not CreditNote.objects.exists()
    assert not OrderEvent.objects.filter(type="order.credit_note_issued").exists()


def test_an_order_is_invoiced_once(shop_a: Shop, shop_b: Shop) -> None:
    # given a paid (hence invoiced) order
    order = _pay(shop_a, make_order(shop_a))
    before = snapshot(order.pk)
    # when invoiced again by hand
    with pytest.raises(InvoicingError):
        order_invoice(shop=shop_a, order_id=order.pk)
    # then nothing changed, the sequence included
    assert snapshot(order.pk) == before


@pytest.mark.parametrize(
    "status", [Status.AWAITING_PAYMENT, Status.CANCELLED], ids=["unpaid", "cancelled"]
)
def test_unpaid_or_cancelled_orders_cannot_be_invoiced(
    shop_a: Shop, shop_b: Shop, status: Status
) -> None:
    order = order_in_status(shop_a, Mode.DELIVERY, status)
    before = snapshot(order.pk)
    with pytest.raises(InvoicingError):
        order_invoice(shop=shop_a, order_id=order.pk)
    assert snapshot(order.pk) == before


def test_a_shop_that_does_not_invoice_refuses_to(shop_a: Shop, shop_b: Shop) -> None:
    order = order_in_status(shop_b, Mode.DELIVERY, Status.SHIPPED)
    before = snapshot(order.pk)
    with pytest.raises(InvoicingError):
        order_invoice(shop=shop_b, order_id=order.pk)
    assert snapshot(order.pk) == before


def test_invoicing_by_hand_takes_the_next_number_and_bumps_the_version(
    shop_a: Shop, shop_b: Shop
) -> None:
    # given shop A invoices from now on an order paid while it did not
    shop_a.invoicing_enabled = False
    shop_a.save()
    order = _pay(shop_a, make_order(shop_a))
    shop_a.invoicing_enabled = True
    shop_a.save()
    _pay(shop_a, make_order(shop_a))  # takes number 1
    before = snapshot(order.pk)
    # when
    invoice = order_invoice(shop=shop_a, order_id=order.pk)
    # then
    assert (invoice.number, invoice.sequence_number) == ("F-000002", 2)
    assert Order.objects.get(pk=order.pk).version == order.version + 1
    assert new_events(order.pk, before) == ["order.invoiced"]
    assert not Invoice.objects.filter(shop=shop_b).exists()


def test_a_failure_after_the_number_was_taken_leaves_no_gap(shop_a: Shop, shop_b: Shop) -> None:
    # given a subscriber that fails once the invoice row is written
    def refuse(event: events.DomainEvent) -> None:
        raise RuntimeError("subscriber down")

    first = make_order(shop_a)
    second = make_order(shop_a)
    make_order(shop_b)
    before = snapshot(first.pk)
    events.subscribe("order.invoiced", refuse)
    try:
        # when paying fails after the sequence advanced
        with pytest.raises(RuntimeError):
            _pay(shop_a, first)
    finally:
        events.unsubscribe("order.invoiced", refuse)
    # then the payment, the invoice and the counter were all rolled back
    assert snapshot(first.pk) == before
    assert not Invoice.objects.exists()
    # and the next invoice takes number 1
    _pay(shop_a, second)
    assert Invoice.objects.get().number == "F-000001"


def test_a_failed_credit_note_rolls_back_the_cancellation(shop_a: Shop, shop_b: Shop) -> None:
    def refuse(event: events.DomainEvent) -> None:
        raise RuntimeError("subscriber down")

    order = _pay(shop_a, make_order(shop_a))
    make_order(shop_b, reference=order.reference)
    before = snapshot(order.pk)
    events.subscribe("order.credit_note_issued", refuse)
    try:
        with pytest.raises(RuntimeError):
            _cancel(shop_a, order, (PULL, 1))
        with pytest.raises(RuntimeError):
            order_cancel(shop=shop_a, order_id=order.pk, reason=SOLD)
    finally:
        events.unsubscribe("order.credit_note_issued", refuse)
    assert snapshot(order.pk) == before
    order_cancel(shop=shop_a, order_id=order.pk, reason=SOLD)
    assert CreditNote.objects.get().number == "AV-000001"


def test_an_order_paid_before_invoicing_was_enabled_can_be_invoiced_by_hand(
    shop_a: Shop, shop_b: Shop
) -> None:
    # given shop B paid an order while it did not invoice, then turned invoicing on
    order = _pay(shop_b, make_order(shop_b))
    assert not Invoice.objects.filter(order=order).exists()
    before = snapshot(order.pk)
    shop_b.invoicing_enabled = True
    shop_b.save(update_fields=["invoicing_enabled"])
    # when the order is invoiced by hand
    invoice = order_invoice(shop=shop_b, order_id=order.pk)
    # then it gets shop B's first number and what was sold
    assert invoice.sequence_number == 1
    assert invoice.shop_id == shop_b.pk
    assert invoice.total_amount == order.total_amount
    assert new_events(order.pk, before) == ["order.invoiced"]


def test_lines_cancelled_before_payment_are_not_on_the_invoice(shop_a: Shop, shop_b: Shop) -> None:
    # given the bonnet was cancelled before payment
    order = _cancel(shop_a, make_order(shop_a), (2, 1))
    # when paid
    _pay(shop_a, order)
    # then the invoice lists the pulls only
    invoice = Invoice.objects.get(order=order)
    assert [ln["sku"] for ln in invoice.lines] == ["PULL-M"]


@pytest.mark.parametrize(
    "items",
    [((2, 1),), ((1, 1),), ((1, 2), (2, 1)), ((1, 2),)],
    ids=["the beanie", "one pull", "everything", "both pulls"],
)
def test_the_outcome_shown_before_cancelling_is_what_cancelling_does(
    shop_a: Shop, items: tuple[tuple[int, int], ...]
) -> None:
    from suivi.orders.services import cancellation_outcome

    order = make_order(shop_a, paid=True)
    cancellations = [LineCancellation(position=p, quantity=q) for p, q in items]
    before = snapshot(order.pk)

    total, whole = cancellation_outcome(Order.objects.get(pk=order.pk), cancellations)

    assert snapshot(order.pk) == before  # a preview writes nothing
    after = _cancel(shop_a, order, *items)
    assert (total, whole) == (after.total_amount, after.status == Status.CANCELLED)
