"""Replacement parcels: goods already shipped sent again, followed like any parcel, never
counted as shipping them; the parcels they supersede no longer drive the order's status."""

from __future__ import annotations

import pytest

from suivi.carriers.vocabulary import Reason, Status
from suivi.orders.lifecycle import Mode
from suivi.orders.lifecycle import Status as OrderStatus
from suivi.orders.models import Order, OrderEvent
from suivi.orders.tests.support import order_in_status
from suivi.shipments import services
from suivi.shipments.errors import CarrierNotDetected, DuplicateParcel, NotShippable
from suivi.shipments.ingest import ingest
from suivi.shipments.models import Parcel, ParcelLeg, ParcelLine
from suivi.shipments.replacement import EVENT_TYPE, replacement_parcel_create
from suivi.shipments.services import ParcelLineInput
from suivi.shops.models import Shop
from suivi.testing import make_order

from .factories import at, number, scan, shipped_order, update

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


def test_only_goods_that_were_shipped(shop_a: Shop) -> None:
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


def _track(shop: Shop, *scans_by_number: tuple[str, list[tuple[Status, int, int]]]) -> None:
    """Carrier news through the real ingestion: (number, [(status, day, hour)…])."""
    items = [
        (
            "laposte",
            update(
                n,
                *(
                    scan(n, status, at(day, hour), reason=Reason.LOST)
                    if status is Status.EXCEPTION
                    else scan(n, status, at(day, hour))
                    for status, day, hour in scans
                ),
            ),
        )
        for n, scans in scans_by_number
    ]
    ingest(shop, items, source="push")


def _partly_shipped(shop: Shop) -> tuple[Order, Parcel]:
    """An order whose line 1 (2 ordered) left 1 in a first parcel, line 2 whole."""
    order = make_order(shop, paid=True)
    [parcel] = services.parcels_create(
        shop=shop,
        order_id=order.pk,
        parcels=[
            services.ParcelInput(
                tracking_number=number(),
                carrier="laposte",
                lines=[ParcelLineInput(1, 1), ParcelLineInput(2, 1)],
            )
        ],
    )
    order.refresh_from_db()
    return order, parcel


def _shipped(order: Order) -> list[int]:
    return [line.quantity_shipped for line in order.lines.order_by("position")]


def test_a_replacement_never_counts_as_shipping_the_goods(shop_a: Shop) -> None:
    order, _first = _partly_shipped(shop_a)
    assert _shipped(order) == [1, 1]
    replacement = replacement_parcel_create(
        shop=shop_a, order_id=order.pk, tracking_number=number(), lines=[ParcelLineInput(1, 1)]
    )
    assert replacement.is_replacement
    services.shipped_quantities(order)  # recounted from the parcels: the replacement is out
    assert _shipped(order) == [1, 1]
    # What is left of line 1 still ships with the order, neither more nor less.
    with pytest.raises(services.InvalidInput, match="1 left to ship"):
        services.parcels_create(
            shop=shop_a,
            order_id=order.pk,
            parcels=[services.ParcelInput(number(), "laposte", lines=[ParcelLineInput(1, 2)])],
        )
    [rest] = services.parcels_create(
        shop=shop_a, order_id=order.pk, parcels=[services.ParcelInput(number(), "laposte")]
    )
    assert [(pl.order_line.position, pl.quantity) for pl in rest.lines.all()] == [(1, 1)]
    assert _shipped(order) == [2, 1]


def test_a_partly_unshipped_line_is_reshipped_up_to_what_was_shipped(shop_a: Shop) -> None:
    order, _first = _partly_shipped(shop_a)
    before = _state(order)
    with pytest.raises(services.InvalidInput, match="1 shipped, cannot send 2"):
        replacement_parcel_create(
            shop=shop_a,
            order_id=order.pk,
            tracking_number=number(),
            lines=[ParcelLineInput(1, 2)],
        )
    assert _state(order) == before
    replacement_parcel_create(
        shop=shop_a, order_id=order.pk, tracking_number=number(), lines=[ParcelLineInput(1, 1)]
    )
    assert _shipped(order) == [1, 1]


def test_the_named_undelivered_parcels_are_superseded(shop_a: Shop) -> None:
    lost_n, kept_n = number(), number()
    order, [lost, kept] = shipped_order(shop_a, lost_n, kept_n)
    _track(shop_a, (kept_n, [(Status.DELIVERED, 18, 10)]))
    replacement = replacement_parcel_create(
        shop=shop_a,
        order_id=order.pk,
        tracking_number=number(),
        lines=[ParcelLineInput(1, 1)],
        supersedes=[lost.pk, kept.pk],
    )
    lost.refresh_from_db()
    kept.refresh_from_db()
    assert lost.superseded_by == replacement
    assert kept.superseded_by is None  # delivered: never superseded
    assert list(replacement.supersedes.all()) == [lost]
    event = OrderEvent.objects.filter(order=order, type=EVENT_TYPE).get()
    assert event.payload["supersedes"] == [
        {"parcel_id": lost.pk, "carrier": "laposte", "tracking_number": lost_n}
    ]
    # A parcel of another order is refused, and nothing is written.
    _other, [foreign] = shipped_order(shop_a)
    before = _state(order)
    with pytest.raises(services.InvalidInput, match="no such parcel"):
        replacement_parcel_create(
            shop=shop_a,
            order_id=order.pk,
            tracking_number=number(),
            lines=[ParcelLineInput(1, 1)],
            supersedes=[foreign.pk],
        )
    assert _state(order) == before
    foreign.refresh_from_db()
    assert foreign.superseded_by is None


def test_a_lost_parcel_replaced_then_the_replacement_delivered_delivers_the_order(
    shop_a: Shop,
) -> None:
    lost_n, new_n = number(), number()
    order, [lost] = shipped_order(shop_a, lost_n)
    _track(shop_a, (lost_n, [(Status.IN_TRANSIT, 16, 8), (Status.EXCEPTION, 17, 9)]))
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT
    replacement_parcel_create(
        shop=shop_a,
        order_id=order.pk,
        tracking_number=new_n,
        lines=[ParcelLineInput(1, 2), ParcelLineInput(2, 1)],
        supersedes=[lost.pk],
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT  # no carrier news yet: unchanged
    _track(shop_a, (new_n, [(Status.IN_TRANSIT, 18, 8), (Status.OUT_FOR_DELIVERY, 19, 7)]))
    order.refresh_from_db()
    assert order.status == OrderStatus.OUT_FOR_DELIVERY
    _track(shop_a, (new_n, [(Status.DELIVERED, 19, 11)]))
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    delivered = OrderEvent.objects.get(order=order, type="order.delivered")
    assert delivered.payload["tracking_number"] == new_n
    assert _shipped(order) == [2, 1]  # shipped once, whatever was sent again


def test_without_superseding_the_lost_parcel_still_holds_the_order_back(shop_a: Shop) -> None:
    lost_n, new_n = number(), number()
    order, _parcels = shipped_order(shop_a, lost_n)
    _track(shop_a, (lost_n, [(Status.EXCEPTION, 17, 9)]))
    replacement_parcel_create(
        shop=shop_a, order_id=order.pk, tracking_number=new_n, lines=[ParcelLineInput(1, 1)]
    )
    _track(shop_a, (new_n, [(Status.DELIVERED, 19, 11)]))
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_TRANSIT


def test_a_superseded_parcel_found_later_does_not_move_the_order(shop_a: Shop) -> None:
    lost_n, new_n = number(), number()
    order, [lost] = shipped_order(shop_a, lost_n)
    _track(shop_a, (lost_n, [(Status.EXCEPTION, 17, 9)]))
    replacement_parcel_create(
        shop=shop_a,
        order_id=order.pk,
        tracking_number=new_n,
        lines=[ParcelLineInput(1, 1)],
        supersedes=[lost.pk],
    )
    _track(shop_a, (new_n, [(Status.IN_TRANSIT, 18, 8)]))
    _track(shop_a, (lost_n, [(Status.DELIVERED, 19, 11)]))
    lost.refresh_from_db()
    order.refresh_from_db()
    assert lost.status == "delivered"  # still followed and recorded…
    assert "shipment.delivered" in OrderEvent.objects.filter(order=order).values_list(
        "type", flat=True
    )
    assert order.status == OrderStatus.IN_TRANSIT  # …but the replacement speaks for the order


def test_a_delivered_order_stays_delivered_while_its_replacement_travels(shop_a: Shop) -> None:
    first_n, new_n = number(), number()
    order, _parcels = shipped_order(shop_a, first_n)
    _track(shop_a, (first_n, [(Status.DELIVERED, 17, 11)]))
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    version = order.version
    replacement_parcel_create(
        shop=shop_a, order_id=order.pk, tracking_number=new_n, lines=[ParcelLineInput(2, 1)]
    )
    _track(shop_a, (new_n, [(Status.IN_TRANSIT, 18, 8), (Status.OUT_FOR_DELIVERY, 19, 7)]))
    order.refresh_from_db()
    assert (order.status, order.version) == (OrderStatus.DELIVERED, version)
    _track(shop_a, (new_n, [(Status.DELIVERED, 19, 11)]))
    order.refresh_from_db()
    assert (order.status, order.version) == (OrderStatus.DELIVERED, version)
    assert OrderEvent.objects.filter(order=order, type="order.delivered").count() == 1
