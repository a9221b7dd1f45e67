"""suivi.orders.selectors, called directly: shop scoping, filters and keyset pages.

(They live here because the API owns the selectors module; the orders app's tests are
another engineer's.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from suivi.core.errors import NotFound
from suivi.orders.lifecycle import Action, Mode, Status
from suivi.orders.models import Order, OrderLine
from suivi.orders.selectors import DocumentRef, order_detail, order_events, order_get, order_list
from suivi.orders.services import LineCancellation, order_apply_action, order_cancel_lines
from suivi.shops.models import Shop
from suivi.testing import make_order


def test_order_get_finds_the_shops_order_and_not_another_shops(shop_a: Shop, shop_b: Shop) -> None:
    mine = make_order(shop_a)
    theirs = make_order(shop_b)

    assert order_get(shop=shop_a, order_id=mine.pk) == mine
    with pytest.raises(NotFound) as raised:
        order_get(shop=shop_a, order_id=theirs.pk)
    assert raised.value.details == {}


def test_order_detail_hands_over_lines_invoice_and_credit_notes(
    shop_a: Shop, shop_b: Shop, django_assert_num_queries: Any
) -> None:
    order = make_order(shop_a, paid=True)
    order_cancel_lines(
        shop=shop_a,
        order_id=order.pk,
        cancellations=[LineCancellation(position=2, quantity=1)],
        reason="out_of_stock",
    )
    unpaid = make_order(shop_a)

    with django_assert_num_queries(3):
        detail = order_detail(shop=shop_a, order_id=order.pk)
    with django_assert_num_queries(2):
        plain = order_detail(shop=shop_a, order_id=unpaid.pk)

    assert detail.order == order
    assert detail.order.total_amount == Decimal("104.70")
    assert detail.order.placed_at == Order.objects.get(pk=order.pk).placed_at
    assert (detail.customer_first_name, detail.customer_last_name) == ("Claire", "Martin")
    assert detail.pickup_store is None
    assert [(line.position, line.unit_price) for line in detail.lines] == [
        (1, Decimal("49.90")),
        (2, Decimal("15.00")),
    ]
    assert detail.lines[1].quantity_cancelled == 1
    assert detail.invoice == DocumentRef("F-000001", Decimal("119.70"))
    assert detail.credit_notes == [DocumentRef("AV-000001", Decimal("15.00"))]
    assert plain.invoice is None
    assert plain.credit_notes == []
    with pytest.raises(NotFound):
        order_detail(shop=shop_b, order_id=order.pk)


def _line_values(lines: list[OrderLine]) -> list[tuple[Any, ...]]:
    return [
        (line.pk, line.position, line.sku, line.unit_price, line.tax_rate, line.quantity_cancelled)
        for line in lines
    ]


def test_order_detail_and_order_list_describe_an_order_the_same_way(
    shop_a: Shop, shop_b: Shop
) -> None:
    invoiced = make_order(shop_a, paid=True)
    order_cancel_lines(
        shop=shop_a,
        order_id=invoiced.pk,
        cancellations=[LineCancellation(position=1, quantity=1)],
        reason="out_of_stock",
    )
    collected = make_order(shop_a, mode=Mode.CLICK_AND_COLLECT)

    listed = {d.order.pk: d for d in order_list(shop=shop_a).items}

    for order in (invoiced, collected):
        one = order_detail(shop=shop_a, order_id=order.pk)
        other = listed[order.pk]
        assert _line_values(one.lines) == _line_values(other.lines)
        assert (one.order.status, one.order.total_amount, one.order.placed_at) == (
            other.order.status,
            other.order.total_amount,
            other.order.placed_at,
        )
        assert (one.customer_first_name, one.pickup_store, one.invoice, one.credit_notes) == (
            other.customer_first_name,
            other.pickup_store,
            other.invoice,
            other.credit_notes,
        )
    assert listed[collected.pk].pickup_store == "boutique"


def test_order_list_pages_newest_first_within_the_shop(shop_a: Shop, shop_b: Shop) -> None:
    mine = [make_order(shop_a).pk for _ in range(5)]
    make_order(shop_b)

    first = order_list(shop=shop_a, limit=2)
    second = order_list(shop=shop_a, limit=2, before_id=first.last_id)
    last = order_list(shop=shop_a, limit=2, before_id=second.last_id)

    pages = [first, second, last]
    assert [d.order.pk for page in pages for d in page.items] == sorted(mine, reverse=True)
    assert [page.has_more for page in pages] == [True, True, False]


def test_an_exactly_full_last_page_says_there_is_no_more(shop_a: Shop, shop_b: Shop) -> None:
    for _ in range(2):
        make_order(shop_a)

    page = order_list(shop=shop_a, limit=2)

    assert len(page.items) == 2
    assert page.has_more is False


def test_order_list_filters_combine(shop_a: Shop, shop_b: Shop) -> None:
    paid = make_order(shop_a, paid=True, reference="P-1")
    make_order(shop_a, paid=False)
    make_order(shop_b, paid=True, reference="P-1")

    by_status = order_list(shop=shop_a, status=Status.TO_PREPARE)
    by_reference = order_list(shop=shop_a, reference="P-1")
    window = order_list(
        shop=shop_a,
        placed_after=paid.placed_at,
        placed_before=datetime(2100, 1, 1, tzinfo=UTC),
        status=Status.TO_PREPARE,
    )

    assert [d.order.pk for d in by_status.items] == [paid.pk]
    assert [d.order.pk for d in by_reference.items] == [paid.pk]
    assert [d.order.pk for d in window.items] == [paid.pk]
    assert (
        order_list(shop=shop_a, placed_before=paid.placed_at, status=Status.TO_PREPARE).items == []
    )


def test_order_events_lists_the_timeline_oldest_first_and_hides_other_shops(
    shop_a: Shop, shop_b: Shop
) -> None:
    order = make_order(shop_a)
    order_apply_action(shop=shop_a, order_id=order.pk, action=Action.CONFIRM_PAYMENT)
    theirs = make_order(shop_b)

    first = order_events(shop=shop_a, order_id=order.pk, limit=1)
    rest = order_events(shop=shop_a, order_id=order.pk, after_id=first.last_id)

    assert [e.type for e in first.items + rest.items] == [
        "order.created",
        "order.confirmed",
        "order.invoiced",
    ]
    assert first.has_more and not rest.has_more
    with pytest.raises(NotFound):
        order_events(shop=shop_a, order_id=theirs.pk)
