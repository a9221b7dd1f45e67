"""The services agree with the lifecycle table, for every status and every action.

Each case brings a real order to a status through the services, then tries every action on
it: an allowed one changes the status, bumps the version once and writes one event of the
right type; a denied one raises :class:`InvalidTransition` and writes nothing. A twin order
with the same reference in the other shop must come out untouched.
"""

from __future__ import annotations

import pytest

from suivi.orders.errors import InvalidTransition
from suivi.orders.lifecycle import Action, Mode, Status
from suivi.orders.models import Order, OrderLine
from suivi.orders.services import order_set_exception
from suivi.shops.models import Shop

from . import expected
from .support import act, new_events, order_in_status, snapshot

CASES = [(mode, status) for mode in Mode for status in expected.PATHS[mode]]


@pytest.mark.parametrize(("mode", "status"), CASES, ids=[f"{m}-{s}" for m, s in CASES])
def test_each_action_on_an_order_does_what_the_table_says(
    shop_a: Shop, shop_b: Shop, mode: Mode, status: Status
) -> None:
    # given an order in `status` in shop B (no invoicing: one event per change) and its twin,
    # same reference, in shop A
    denied_order = order_in_status(shop_b, mode, status)
    twin = order_in_status(shop_a, mode, status, reference=denied_order.reference)
    twin_before = snapshot(twin.pk)

    for action in Action:
        if not expected.action_allowed(mode, status, action):
            # when a denied action is tried
            before = snapshot(denied_order.pk)
            with pytest.raises(InvalidTransition):
                act(shop_b, denied_order.pk, action)
            # then nothing at all was written
            assert snapshot(denied_order.pk) == before, action
            continue

        # when an allowed action is applied to a fresh order in the same status
        order = order_in_status(shop_b, mode, status)
        before = snapshot(order.pk)
        returned = act(shop_b, order.pk, action)

        # then the status moved to the action's target, once, with one event
        target = expected.ACTION_TARGETS[mode][action]
        stored = Order.objects.get(pk=order.pk)
        assert stored.status == returned.status == target, action
        assert stored.version == returned.version == order.version + 1, action
        assert new_events(order.pk, before) == [expected.EVENT_TYPES[mode][action]], action
        event = stored.events.order_by("-id").first()
        assert event is not None
        assert event.shop_id == shop_b.pk
        assert event.actor == "test"
        if action is not Action.CANCEL:
            assert (event.payload["from"], event.payload["to"]) == (status, target)

    # and the other shop's twin never moved
    assert snapshot(twin.pk) == twin_before


@pytest.mark.parametrize("mode", list(Mode))
def test_statuses_of_the_other_mode_are_never_reachable_by_any_action(
    shop_a: Shop, shop_b: Shop, mode: Mode
) -> None:
    # given an order of each shop walked along every path of its mode
    foreign = set(Status) - expected.STATUSES[mode]
    for shop in (shop_a, shop_b):
        for status in expected.PATHS[mode]:
            order = order_in_status(shop, mode, status)
            # then every action either fails or lands on a status of the mode
            for action in Action:
                try:
                    order = act(shop, order.pk, action)
                except InvalidTransition:
                    continue
                assert order.status not in foreign


def test_shipping_marks_every_remaining_item_shipped(shop_a: Shop, shop_b: Shop) -> None:
    # given a paid delivery with a line partly cancelled, in each shop
    for shop in (shop_a, shop_b):
        order = order_in_status(shop, Mode.DELIVERY, Status.TO_PREPARE)
        OrderLine.objects.filter(order=order, position=1).update(quantity_cancelled=1)
        # when it ships
        act(shop, order.pk, Action.SHIP)
        # then what was not cancelled left, nothing else
        quantities = list(
            OrderLine.objects.filter(order=order)
            .order_by("position")
            .values_list("quantity_ordered", "quantity_cancelled", "quantity_shipped")
        )
        assert quantities == [(2, 1, 1), (1, 0, 1)]


def test_collecting_marks_every_remaining_item_collected(shop_a: Shop, shop_b: Shop) -> None:
    for shop in (shop_a, shop_b):
        order = order_in_status(shop, Mode.CLICK_AND_COLLECT, Status.READY_FOR_PICKUP)
        act(shop, order.pk, Action.MARK_COLLECTED)
        quantities = list(
            OrderLine.objects.filter(order=order)
            .order_by("position")
            .values_list("quantity_collected", "quantity_shipped", "quantity_cancelled")
        )
        assert quantities == [(2, 0, 0), (1, 0, 0)]


def test_delivering_or_collecting_clears_a_delivery_exception(shop_a: Shop, shop_b: Shop) -> None:
    delivery = order_in_status(shop_a, Mode.DELIVERY, Status.IN_TRANSIT)
    pickup = order_in_status(shop_b, Mode.CLICK_AND_COLLECT, Status.READY_FOR_PICKUP)
    order_set_exception(shop=shop_a, order_id=delivery.pk, reason="delay")
    order_set_exception(shop=shop_b, order_id=pickup.pk, reason="delay")

    act(shop_a, delivery.pk, Action.MARK_DELIVERED)
    act(shop_b, pickup.pk, Action.MARK_COLLECTED)

    assert Order.objects.get(pk=delivery.pk).exception_reason == ""
    assert Order.objects.get(pk=pickup.pk).exception_reason == ""
