"""Eligibility: what an order allows to return, when, and how many of each line."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from suivi.orders.lifecycle import Action, Mode, Status
from suivi.orders.models import OrderEvent
from suivi.orders.services import order_apply_action
from suivi.orders.tests.support import order_in_status
from suivi.returns import selectors, services
from suivi.returns.services import ReturnItem
from suivi.shipments.models import Parcel
from suivi.shipments.services import ParcelInput, ParcelLineInput, parcels_create
from suivi.shops.models import Shop
from suivi.testing import make_order

from .support import customer_user, delivered_order, lines_of, staff_user

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def eligible_by_sku(elig: selectors.OrderEligibility) -> dict[str, int]:
    return {item.line.sku: item.eligible for item in elig.lines}


def test_a_delivered_order_can_return_every_shipped_item(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    elig = selectors.order_return_eligibility(order)
    assert elig.is_open and elig.reason == "" and elig.message == ""
    assert eligible_by_sku(elig) == {"PULL-M": 2, "BONNET": 1}


@pytest.mark.parametrize(
    "status", [Status.TO_PREPARE, Status.SHIPPED, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY]
)
def test_an_order_not_delivered_cannot_be_returned_and_says_why(
    shop_a: Shop, status: Status
) -> None:
    order = order_in_status(shop_a, Mode.DELIVERY, status)
    elig = selectors.order_return_eligibility(order)
    assert not elig.is_open
    assert elig.reason == "not-delivered"
    with translation.override("en"):
        assert "once the order has been delivered" in elig.message
    assert all(item.eligible == 0 and item.reason == "not-delivered" for item in elig.lines)


def test_a_click_and_collect_order_waits_for_the_collection(shop_a: Shop) -> None:
    waiting = order_in_status(shop_a, Mode.CLICK_AND_COLLECT, Status.READY_FOR_PICKUP)
    elig = selectors.order_return_eligibility(waiting)
    assert elig.reason == "not-delivered"
    with translation.override("en"):
        assert "collected" in elig.message
    collected = delivered_order(shop_a, mode=Mode.CLICK_AND_COLLECT)
    elig = selectors.order_return_eligibility(collected)
    assert elig.is_open
    assert eligible_by_sku(elig) == {"PULL-M": 2, "BONNET": 1}


def test_a_cancelled_order_has_nothing_to_return(shop_a: Shop) -> None:
    order = order_in_status(shop_a, Mode.DELIVERY, Status.CANCELLED)
    elig = selectors.order_return_eligibility(order)
    assert elig.reason == "cancelled"
    assert {item.reason for item in elig.lines} == {"cancelled"}
    assert all(item.eligible == 0 for item in elig.lines)


def test_the_window_closes_at_the_end_of_its_last_day_in_the_shop_time_zone(
    shop_a: Shop,
) -> None:
    order = delivered_order(shop_a)
    delivered = dt.datetime(2026, 3, 1, 10, 0, tzinfo=PARIS)
    OrderEvent.objects.filter(order=order, type="order.delivered").update(occurred_at=delivered)
    assert shop_a.return_window_days == 30

    last_minute = dt.datetime(2026, 3, 31, 23, 59, tzinfo=PARIS)
    elig = selectors.order_return_eligibility(order, now=last_minute)
    assert elig.is_open
    assert elig.delivered_at == delivered
    assert elig.last_day == dt.date(2026, 3, 31)

    closed = selectors.order_return_eligibility(
        order, now=dt.datetime(2026, 4, 1, 0, 0, tzinfo=PARIS)
    )
    assert not closed.is_open and closed.reason == "window-closed"
    with translation.override("en"):
        assert closed.message == (
            "The return period ended on March 31, 2026 (30 days after delivery)."
        )
    with translation.override("fr"):
        assert "31 mars 2026" in closed.message


def test_the_window_follows_the_shop_setting(shop_a: Shop) -> None:
    order = delivered_order(shop_a, days_ago=20)
    assert selectors.order_return_eligibility(order).is_open
    Shop.objects.filter(pk=shop_a.pk).update(return_window_days=14)
    order.shop.refresh_from_db()
    assert selectors.order_return_eligibility(order).reason == "window-closed"
    Shop.objects.filter(pk=shop_a.pk).update(return_window_days=0)
    order.shop.refresh_from_db()
    assert selectors.order_return_eligibility(order).reason == "returns-disabled"


def test_only_the_quantities_that_left_in_a_parcel_can_be_returned(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    parcels_create(
        shop=shop_a,
        order_id=order.pk,
        parcels=[
            ParcelInput(
                tracking_number="6A12345678901", carrier="laposte",
                lines=[ParcelLineInput(line=1, quantity=1)],
            )
        ],
    )  # fmt: skip
    order_apply_action(shop=shop_a, order_id=order.pk, action=Action.MARK_DELIVERED, actor="t")
    order.refresh_from_db()
    elig = selectors.order_return_eligibility(order)
    assert elig.is_open
    assert eligible_by_sku(elig) == {"PULL-M": 1, "BONNET": 0}
    bonnet = next(item for item in elig.lines if item.line.sku == "BONNET")
    assert bonnet.reason == "not-delivered"


def test_a_parcel_back_with_the_sender_undelivered_is_not_returnable(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    _kept, back = parcels_create(
        shop=shop_a,
        order_id=order.pk,
        parcels=[
            ParcelInput(
                tracking_number="6A12345678904", carrier="laposte",
                lines=[ParcelLineInput(line=2, quantity=1)],
            ),
            ParcelInput(
                tracking_number="6A12345678905", carrier="laposte",
                lines=[ParcelLineInput(line=1, quantity=2)],
            ),
        ],
    )  # fmt: skip
    order_apply_action(shop=shop_a, order_id=order.pk, action=Action.MARK_DELIVERED, actor="t")
    order.refresh_from_db()
    Parcel.objects.filter(pk=back.pk).update(status="returned", delivered_at=None)
    assert eligible_by_sku(selectors.order_return_eligibility(order)) == {
        "PULL-M": 0,
        "BONNET": 1,
    }
    # Delivered first, then sent back: that is a return, the items did reach the customer.
    Parcel.objects.filter(pk=back.pk).update(delivered_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    assert eligible_by_sku(selectors.order_return_eligibility(order))["PULL-M"] == 2


def test_a_parcel_sent_back_and_replaced_leaves_its_items_returnable(shop_a: Shop) -> None:
    from suivi.shipments.replacement import replacement_parcel_create

    order = make_order(shop_a, paid=True)
    (lost,) = parcels_create(
        shop=shop_a, order_id=order.pk,
        parcels=[ParcelInput(tracking_number="6A12345678904", carrier="laposte")],
    )  # fmt: skip
    replacement = replacement_parcel_create(
        shop=shop_a, order_id=order.pk, tracking_number="6A12345678905", carrier="laposte",
        lines=[ParcelLineInput(line=1, quantity=2)], supersedes=[lost.pk],
    )  # fmt: skip
    order_apply_action(shop=shop_a, order_id=order.pk, action=Action.MARK_DELIVERED, actor="t")
    order.refresh_from_db()
    Parcel.objects.filter(pk=lost.pk).update(status="returned", delivered_at=None)
    # The lost parcel came back: its sweaters reached the customer in the replacement, its
    # beanie (not sent again) never did.
    assert eligible_by_sku(selectors.order_return_eligibility(order)) == {
        "PULL-M": 2,
        "BONNET": 0,
    }
    # The replacement itself back undelivered: those sweaters never arrived.
    Parcel.objects.filter(pk=replacement.pk).update(status="returned", delivered_at=None)
    assert eligible_by_sku(selectors.order_return_eligibility(order))["PULL-M"] == 0


def test_items_in_open_returns_are_held_and_released_by_refusal_or_cancellation(
    shop_a: Shop,
) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    pull = lines_of(order)["PULL-M"]
    first = services.return_request(
        user=user, order=order, lines=[ReturnItem(pull.pk, 1, "wrong_size")]
    )
    assert eligible_by_sku(selectors.order_return_eligibility(order)) == {
        "PULL-M": 1,
        "BONNET": 1,
    }
    second = services.return_request(
        user=user,
        order=order,
        lines=[(pull.pk, 1, "damaged", ""), (lines_of(order)["BONNET"].pk, 1, "other", "")],
    )
    elig = selectors.order_return_eligibility(order)
    assert elig.reason == "nothing-left"
    assert {item.reason for item in elig.lines} == {"already-returned"}

    services.return_refuse(ret=first, user=staff_user(shop_a), reason="Worn item.")
    assert eligible_by_sku(selectors.order_return_eligibility(order))["PULL-M"] == 1
    services.return_cancel(ret=second, user=user)
    assert eligible_by_sku(selectors.order_return_eligibility(order)) == {
        "PULL-M": 2,
        "BONNET": 1,
    }


def test_the_delivery_date_falls_back_on_the_parcels(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    parcels_create(
        shop=shop_a,
        order_id=order.pk,
        parcels=[ParcelInput(tracking_number="6A12345678903", carrier="laposte")],
    )
    order_apply_action(shop=shop_a, order_id=order.pk, action=Action.MARK_DELIVERED, actor="t")
    order.refresh_from_db()
    OrderEvent.objects.filter(order=order, type="order.delivered").delete()
    assert selectors.order_return_eligibility(order).reason == "no-delivery-date"
    moment = dt.datetime(2026, 2, 1, 12, 0, tzinfo=dt.UTC)
    Parcel.objects.filter(order=order).update(delivered_at=moment)
    assert selectors.delivery_moment(order) == moment
    assert selectors.order_return_eligibility(order, now=moment).is_open
