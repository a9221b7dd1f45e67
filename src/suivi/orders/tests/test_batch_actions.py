"""order_apply_actions: many transitions in one transaction, same result as one by one."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from suivi.core.errors import InvalidInput, NotFound
from suivi.orders.batch import ActionItem, order_apply_actions
from suivi.orders.errors import ConcurrentChange, InvalidTransition
from suivi.orders.lifecycle import Action, Mode
from suivi.orders.models import Invoice, Order, OrderEvent
from suivi.orders.services import order_apply_action
from suivi.shops.models import Shop
from suivi.testing import make_order

A = Action
WALK = [A.CONFIRM_PAYMENT, A.START_PREPARATION, A.MARK_READY, A.SHIP, A.MARK_DELIVERED]


def _state(shop: Shop) -> list[dict[str, Any]]:
    rows = []
    for order in Order.objects.filter(shop=shop).order_by("id"):
        rows.append(
            {
                "status": order.status,
                "version": order.version,
                "lines": list(order.lines.values_list("quantity_shipped", "quantity_collected")),
                "events": [(e.type, e.actor, e.payload) for e in order.events.all()],
                "invoice": Invoice.objects.filter(order=order)
                .values_list("sequence_number", "total_amount")
                .first(),
            }
        )
    return rows


def _orders(shop: Shop) -> list[Order]:
    return [
        make_order(shop, reference="W-1"),
        make_order(shop, reference="W-2"),
        make_order(shop, reference="W-3", mode=Mode.CLICK_AND_COLLECT),
    ]


def _plan(orders: list[Order]) -> list[tuple[int, Action]]:
    # Interleaved walks, a Click & Collect order to collected, and refusals in between.
    first, second, collect = orders
    plan = []
    for action in WALK:
        plan += [(first.pk, action), (second.pk, action)]
    plan += [(second.pk, A.SHIP)]  # refused: already delivered
    plan += [(collect.pk, a) for a in (A.CONFIRM_PAYMENT, A.MARK_READY, A.MARK_COLLECTED)]
    plan += [(collect.pk, A.SHIP)]  # refused: not a delivery
    return plan


def test_a_batch_leaves_exactly_what_one_by_one_leaves(shop_a: Shop, shop_b: Shop) -> None:
    # given the same orders in two invoicing shops
    shop_b.invoicing_enabled = True
    shop_b.save(update_fields=["invoicing_enabled"])
    one_by_one, batched = _orders(shop_a), _orders(shop_b)
    # when shop A applies the plan action by action and shop B as one batch
    for order_id, action in _plan(one_by_one):
        with contextlib.suppress(InvalidTransition):
            order_apply_action(shop=shop_a, order_id=order_id, action=action, actor="test")
    results = order_apply_actions(
        shop=shop_b,
        items=[ActionItem(order_id, action) for order_id, action in _plan(batched)],
        actor="test",
    )
    # then the same states, versions, quantities, events and invoices
    assert _state(shop_b) == _state(shop_a)
    refused = [i for i, r in enumerate(results) if isinstance(r, InvalidTransition)]
    assert refused == [10, 14]
    assert [o.status for o in Order.objects.filter(shop=shop_b).order_by("id")] == [
        "delivered",
        "delivered",
        "collected",
    ]


def test_unknown_other_shop_and_stale_items_refuse_only_themselves(
    shop_a: Shop, shop_b: Shop
) -> None:
    # given an order of each shop
    mine = make_order(shop_a)
    theirs = make_order(shop_b)
    events_b = OrderEvent.objects.filter(order=theirs).count()
    # when shop A's batch names B's order, a missing one, a stale version and a good one
    results = order_apply_actions(
        shop=shop_a,
        items=[
            ActionItem(theirs.pk, A.CONFIRM_PAYMENT),
            ActionItem(10**9, A.CONFIRM_PAYMENT),
            ActionItem(mine.pk, A.CONFIRM_PAYMENT, expected_version=7),
            ActionItem(mine.pk, A.CONFIRM_PAYMENT, expected_version=1),
        ],
    )
    # then
    assert isinstance(results[0], NotFound)
    assert isinstance(results[1], NotFound)
    assert isinstance(results[2], ConcurrentChange)
    assert isinstance(results[3], Order) and results[3].status == "to_prepare"
    theirs.refresh_from_db()
    assert theirs.status == "awaiting_payment" and theirs.version == 1
    assert OrderEvent.objects.filter(order=theirs).count() == events_b


def test_cancel_is_not_a_batch_action(shop_a: Shop, shop_b: Shop) -> None:
    order = make_order(shop_a)

    (result,) = order_apply_actions(shop=shop_a, items=[ActionItem(order.pk, A.CANCEL)])

    assert isinstance(result, InvalidTransition)
    order.refresh_from_db()
    assert order.status == "awaiting_payment"


def test_a_batch_holds_one_to_max_actions(shop_a: Shop, shop_b: Shop) -> None:
    with pytest.raises(InvalidInput):
        order_apply_actions(shop=shop_a, items=[])
