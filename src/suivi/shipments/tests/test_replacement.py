"""Replacement parcels: goods already shipped sent again, followed like any parcel, without
touching the shipped quantities nor the order's status."""

from __future__ import annotations

import pytest

from suivi.orders.lifecycle import Mode
from suivi.orders.lifecycle import Status as OrderStatus
from suivi.orders.models import Order, OrderEvent
from suivi.orders.tests.support import order_in_status
from suivi.shipments import services
from suivi.shipments.errors import CarrierNotDetected, DuplicateParcel, NotShippable
from suivi.shipments.models import Parcel, ParcelLeg, ParcelLine
from suivi.shipments.replacement import EVENT_TYPE, replacement_parcel_create
from suivi.shipments.services import ParcelLineInput
from suivi.shops.models import Shop
from suivi.testing import make_order

from .factories import number, shipped_order

pytestmark = pytest.mark.django_db


def _state(order: Order) -> tuple[object, ...]:
    order.refresh_from_db()
    return (
        order.status,
        order.version,
        [(ln.quantity_shipped, ln.quantity_cancelled) for ln in order.lines.all()],
        Parcel.objects.filter(order=order).count(),
        ParcelLeg.objects.filter(parcel__order=order).count(),
        OrderEvent.objects.filter(order=order).count(),
    )


def test_a_replacement_parcel_is_followed_without_changing_the_shipment(shop_a: Shop) -> None:
    order, [original] = shipped_order(shop_a)
    before = _state(order)
    replacement = replacement_parcel_create(
        shop=shop_a,
        order_id=order.pk,
        tracking_number=" 6a 987654321 09 ",
        lines=[ParcelLineInput(line=1, quantity=1)],
        actor="staff:7",
        payload={"claim_id": 42},
    )
    assert replacement.pk != original.pk
    assert (replacement.carrier, replacement.tracking_number) == ("colissimo", "6A98765432109")
    assert replacement.tracking_url  # the carrier's public page
    [line] = ParcelLine.objects.filter(parcel=replacement)
    assert (line.order_line.position, line.quantity) == (1, 1)
    [leg] = ParcelLeg.objects.filter(parcel=replacement)
    assert (leg.tracking_number, leg.role) == ("6A98765432109", ParcelLeg.Role.ORIGIN)
    assert leg.account is None and leg.next_poll_at is None  # no account: push only
    order.refresh_from_db()
    # Quantities and status untouched: the goods left once already.
    assert order.status == before[0] and order.version == before[1]
    assert [(ln.quantity_shipped, ln.quantity_cancelled) for ln in order.lines.all()] == before[2]
    event = OrderEvent.objects.filter(order=order).latest("pk")
    assert (event.type, event.actor) == (EVENT_TYPE, "staff:7")
    assert event.payload["claim_id"] == 42
    assert event.payload["parcel_id"] == replacement.pk
    assert event.payload["lines"] == [{"position": 1, "sku": "PULL-M", "quantity": 1}]


def test_a_replacement_leg_is_due_for_polling_when_the_shop_has_an_account(shop_a: Shop) -> None:
    services.account_create(shop=shop_a, carrier="laposte", credentials={"api_key": "okapi"})
    order, _parcels = shipped_order(shop_a)
    parcel = replacement_parcel_create(
        shop=shop_a,
        order_id=order.pk,
        tracking_number=number(),
        lines=[ParcelLineInput(line=2, quantity=1)],
    )
    [leg] = ParcelLeg.objects.filter(parcel=parcel)
    assert leg.account is not None and leg.next_poll_at is not None


@pytest.mark.parametrize(
    ("number_", "lines", "error"),
    [
        ("ZZ", [ParcelLineInput(1, 1)], "4 to 64"),
        ("NOT A NUMBER AT ALL", [ParcelLineInput(1, 1)], "No carrier"),
        (None, [ParcelLineInput(1, 3)], "2 shipped"),
        (None, [ParcelLineInput(9, 1)], "no line 9"),
        (None, [ParcelLineInput(1, 1), ParcelLineInput(1, 1)], "twice"),
        (None, [], "which items"),
    ],
)
def test_bad_input_writes_nothing(
    shop_a: Shop, number_: str | None, lines: list[ParcelLineInput], error: str
) -> None:
    order, _parcels = shipped_order(shop_a)
    before = _state(order)
    with pytest.raises((CarrierNotDetected, services.InvalidInput)) as caught:
        replacement_parcel_create(
            shop=shop_a, order_id=order.pk, tracking_number=number_ or number(), lines=lines
        )
    assert error in str(caught.value)
    assert _state(order) == before


def test_a_number_the_shop_already_follows_is_refused(shop_a: Shop) -> None:
    order, [parcel] = shipped_order(shop_a)
    before = _state(order)
    with pytest.raises(DuplicateParcel):
        replacement_parcel_create(
            shop=shop_a,
            order_id=order.pk,
            tracking_number=parcel.tracking_number,
            lines=[ParcelLineInput(1, 1)],
        )
    assert _state(order) == before


def test_only_shipped_goods_of_lines_with_nothing_left_to_ship(shop_a: Shop) -> None:
    unshipped = make_order(shop_a, paid=True)
    with pytest.raises(NotShippable):
        replacement_parcel_create(
            shop=shop_a,
            order_id=unshipped.pk,
            tracking_number=number(),
            lines=[ParcelLineInput(1, 1)],
        )
    collect = order_in_status(shop_a, Mode.CLICK_AND_COLLECT, OrderStatus.COLLECTED)
    with pytest.raises(NotShippable):
        replacement_parcel_create(
            shop=shop_a,
            order_id=collect.pk,
            tracking_number=number(),
            lines=[ParcelLineInput(1, 1)],
        )
    assert not Parcel.objects.filter(order__in=[unshipped, collect]).exists()


def test_another_shops_order_is_not_found(shop_a: Shop, shop_b: Shop) -> None:
    order, _parcels = shipped_order(shop_a)
    with pytest.raises(services.NotFound):
        replacement_parcel_create(
            shop=shop_b,
            order_id=order.pk,
            tracking_number=number(),
            lines=[ParcelLineInput(1, 1)],
        )
    assert Parcel.objects.filter(order=order).count() == 1
