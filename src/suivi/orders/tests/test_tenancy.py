"""Every order service scopes by shop: another shop's order does not exist for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from suivi.core.errors import InvalidInput, NotFound
from suivi.customers.models import Customer
from suivi.orders.errors import DuplicateReference
from suivi.orders.lifecycle import Action, CancellationReason, Mode, Status
from suivi.orders.models import Order
from suivi.orders.services import (
    LineCancellation,
    order_apply_action,
    order_cancel,
    order_cancel_lines,
    order_create,
    order_invoice,
    order_set_exception,
)
from suivi.shops.models import Location, Shop
from suivi.shops.services import location_create
from suivi.testing import make_order, order_input

from .support import order_in_status, snapshot

ServiceCall = Callable[[Shop, int], Any]

SERVICES: dict[str, ServiceCall] = {
    "order_apply_action": lambda shop, order_id: order_apply_action(
        shop=shop, order_id=order_id, action=Action.START_PREPARATION
    ),
    "order_apply_action with expected_version": lambda shop, order_id: order_apply_action(
        shop=shop, order_id=order_id, action=Action.START_PREPARATION, expected_version=2
    ),
    "order_set_exception": lambda shop, order_id: order_set_exception(
        shop=shop, order_id=order_id, reason="delay"
    ),
    "order_cancel": lambda shop, order_id: order_cancel(
        shop=shop, order_id=order_id, reason=CancellationReason.CUSTOMER_REQUEST
    ),
    "order_cancel_lines": lambda shop, order_id: order_cancel_lines(
        shop=shop,
        order_id=order_id,
        cancellations=[LineCancellation(position=1, quantity=1)],
        reason=CancellationReason.OUT_OF_STOCK,
    ),
    "order_invoice": lambda shop, order_id: order_invoice(shop=shop, order_id=order_id),
}


@pytest.mark.parametrize("service", list(SERVICES), ids=list(SERVICES))
def test_a_service_called_with_shop_b_on_an_order_of_shop_a_finds_nothing(
    shop_a: Shop, shop_b: Shop, service: str
) -> None:
    # given a paid order of shop A (shop B also invoices, so order_invoice would succeed)
    shop_b.invoicing_enabled = True
    shop_b.save()
    order = order_in_status(shop_a, Mode.DELIVERY, Status.TO_PREPARE)
    before = snapshot(order.pk)
    # when shop B names it
    with pytest.raises(NotFound) as caught:
        SERVICES[service](shop_b, order.pk)
    # then it does not exist for B, and nothing changed
    assert caught.value.status == 404
    assert snapshot(order.pk) == before
    # while the same call from shop A works (the failure was the tenant, not the call)
    if service != "order_invoice":  # already invoiced on payment
        SERVICES[service](shop_a, order.pk)
        assert snapshot(order.pk) != before


@pytest.mark.parametrize("service", list(SERVICES), ids=list(SERVICES))
def test_another_shops_order_and_a_missing_order_look_the_same(
    shop_a: Shop, shop_b: Shop, service: str
) -> None:
    order = make_order(shop_a)
    missing = Order.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    with pytest.raises(NotFound) as foreign:
        SERVICES[service](shop_b, order.pk)
    with pytest.raises(NotFound) as absent:
        SERVICES[service](shop_b, missing)
    assert (foreign.value.code, foreign.value.message) == (absent.value.code, absent.value.message)


def test_the_same_reference_may_exist_once_in_each_shop(shop_a: Shop, shop_b: Shop) -> None:
    first = make_order(shop_a, reference="CMD-42")
    second = make_order(shop_b, reference="CMD-42")
    assert first.pk != second.pk
    before = snapshot(first.pk)
    with pytest.raises(DuplicateReference):
        make_order(shop_a, reference="CMD-42")
    assert snapshot(first.pk) == before
    assert Order.objects.filter(reference="CMD-42").count() == 2


def test_an_order_cannot_be_picked_up_in_another_shops_store(shop_a: Shop, shop_b: Shop) -> None:
    # given a store that only shop A has
    location_create(shop=shop_a, kind=Location.Kind.STORE, code="part-dieu", name="Part-Dieu")
    data = order_input(mode=Mode.CLICK_AND_COLLECT)
    data = replace(data, pickup_location_code="part-dieu")
    # when shop B takes a Click & Collect order for it
    with pytest.raises(InvalidInput) as caught:
        order_create(shop=shop_b, data=data)
    # then it is refused, and nothing was written for B
    assert caught.value.field == "pickup_location_code"
    assert not Order.objects.filter(shop=shop_b).exists()
    assert not Customer.objects.filter(shop=shop_b).exists()
    # and shop A can
    assert order_create(shop=shop_a, data=data).pickup_location.code == "part-dieu"


def test_orders_of_one_customer_email_in_two_shops_belong_to_two_customers(
    shop_a: Shop, shop_b: Shop
) -> None:
    order_a = make_order(shop_a, email="Claire.Martin@Example.fr")
    order_b = make_order(shop_b, email="claire.martin@example.fr")
    assert order_a.customer_id != order_b.customer_id
    assert Customer.objects.get(pk=order_a.customer_id).shop_id == shop_a.pk
    assert Customer.objects.get(pk=order_b.customer_id).shop_id == shop_b.pk
    # a second order in shop A reuses A's customer only
    assert make_order(shop_a).customer_id == order_a.customer_id
