"""Ingestion: idempotent, order-independent, driving orders and notifications."""

from __future__ import annotations

import pytest

from suivi.carriers.vocabulary import Handoff, Reason, Status
from suivi.notifications.models import OutboxMessage
from suivi.orders.models import OrderEvent
from suivi.shipments.ingest import ingest, order_target
from suivi.shipments.models import Parcel, ParcelLeg, TrackingEvent

from .factories import at, number, scan, shipped_order, update

pytestmark = pytest.mark.django_db


def _types(order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).values_list("type", flat=True))


def test_a_delivery_moves_the_order_and_plans_the_customer_message(shop_a) -> None:
    n = number()
    order, [parcel] = shipped_order(shop_a, n)
    assert order.status == "shipped"
    report = ingest(
        shop_a,
        [
            (
                "laposte",
                update(
                    n,
                    scan(n, Status.IN_TRANSIT, at(18, 8), "ET1"),
                    scan(n, Status.OUT_FOR_DELIVERY, at(19, 7), "MD2"),
                    scan(n, Status.DELIVERED, at(19, 11, 2), "DI1"),
                ),
            )
        ],
        source="push",
    )
    assert (report.inserted, report.duplicates, report.parcels_changed) == (3, 0, 1)
    parcel.refresh_from_db()
    order.refresh_from_db()
    assert parcel.status == "delivered" and parcel.delivered_at == at(19, 11, 2)
    assert order.status == "delivered"
    assert "shipment.delivered" in _types(order) and "order.delivered" in _types(order)
    delivered = OrderEvent.objects.get(order=order, type="order.delivered")
    assert delivered.payload["tracking_number"] == n and delivered.payload["carrier"] == "laposte"
    assert OutboxMessage.objects.filter(order_id=order.pk, event_key="delivered").exists()
    # Times keep their offset: the stored instant reads back at +01:00.
    event = TrackingEvent.objects.get(parcel=parcel, raw_code="DI1")
    assert event.local_time.isoformat() == "2026-11-19T11:02:00+01:00"
    # A delivered parcel is no longer polled.
    assert not ParcelLeg.objects.filter(parcel=parcel, next_poll_at__isnull=False).exists()


def test_the_same_events_twice_are_stored_once(shop_a) -> None:
    n = number()
    order, [parcel] = shipped_order(shop_a, n)
    batch = [("laposte", update(n, scan(n, Status.IN_TRANSIT, at(18), "ET1")))]
    ingest(shop_a, batch, source="poll")
    again = ingest(shop_a, batch + batch, source="push")
    assert (again.inserted, again.duplicates) == (0, 2)
    assert TrackingEvent.objects.filter(parcel=parcel).count() == 1
    assert _types(order).count("shipment.in_transit") == 1


def test_a_late_older_scan_joins_the_timeline_without_moving_the_status_back(shop_a) -> None:
    n = number()
    order, [parcel] = shipped_order(shop_a, n)
    ingest(
        shop_a,
        [("laposte", update(n, scan(n, Status.OUT_FOR_DELIVERY, at(19, 7), "MD2")))],
        source="poll",
    )
    late = ingest(
        shop_a,
        [("laposte", update(n, scan(n, Status.IN_TRANSIT, at(18, 8), "ET1")))],
        source="poll",
    )
    parcel.refresh_from_db()
    order.refresh_from_db()
    assert late.inserted == 1 and late.parcels_changed == 0
    assert parcel.status == "out_for_delivery" and order.status == "out_for_delivery"
    assert TrackingEvent.objects.filter(parcel=parcel).count() == 2


def test_terminal_states_stay_unless_the_carrier_truly_reverses(shop_a) -> None:
    n = number()
    order, [parcel] = shipped_order(shop_a, n)
    ingest(
        shop_a,
        [("laposte", update(n, scan(n, Status.DELIVERED, at(19, 11), "DI1")))],
        source="poll",
    )
    ingest(
        shop_a,
        [("laposte", update(n, scan(n, Status.IN_TRANSIT, at(20, 8), "ET1")))],
        source="poll",
    )
    parcel.refresh_from_db()
    assert parcel.status == "delivered"  # a later transit scan does not undo a delivery
    ingest(
        shop_a, [("laposte", update(n, scan(n, Status.RETURNED, at(25, 10), "DI2")))], source="poll"
    )
    parcel.refresh_from_db()
    assert parcel.status == "returned" and parcel.delivered_at == at(19, 11)
    order.refresh_from_db()
    assert order.status == "delivered"  # a return after delivery is not an undelivery
    assert "shipment.returned" in _types(order)


def test_split_shipment_is_delivered_when_every_parcel_is(shop_a) -> None:
    first, second = number(), number()
    order, _parcels = shipped_order(shop_a, first, second)
    ingest(
        shop_a,
        [("laposte", update(first, scan(first, Status.DELIVERED, at(19, 10), "DI1")))],
        source="poll",
    )
    order.refresh_from_db()
    assert order.status == "in_transit"  # one of two delivered: still on its way
    ingest(
        shop_a,
        [("laposte", update(second, scan(second, Status.OUT_FOR_DELIVERY, at(20, 7), "MD2")))],
        source="poll",
    )
    order.refresh_from_db()
    assert order.status == "out_for_delivery"
    ingest(
        shop_a,
        [("laposte", update(second, scan(second, Status.DELIVERED, at(20, 12), "DI1")))],
        source="poll",
    )
    order.refresh_from_db()
    assert order.status == "delivered"


def test_relay_point_with_deadline_reaches_the_order_and_the_message(shop_a) -> None:
    n = number()
    order, _ = shipped_order(shop_a, n)
    relay = {
        "name": "Tabac de la Gare",
        "line1": "2 rue de la Gare",
        "postcode": "69003",
        "city": "Lyon",
    }
    ingest(
        shop_a,
        [
            (
                "laposte",
                update(
                    n,
                    scan(n, Status.AVAILABLE_FOR_PICKUP, at(19, 14), "AG1"),
                    pickup_deadline=at(29, 19),
                    relay_point=relay,
                ),
            )
        ],
        source="push",
    )
    order.refresh_from_db()
    assert order.status == "available_for_pickup"
    event = OrderEvent.objects.get(order=order, type="order.available_for_pickup")
    assert event.payload["relay_point"]["name"] == "Tabac de la Gare"
    assert event.payload["pickup_deadline"].startswith("2026-11-29")
    assert OutboxMessage.objects.filter(
        order_id=order.pk, event_key="available_for_pickup"
    ).exists()


def test_customs_hold_is_its_own_event_and_notifies_an_exception(shop_a) -> None:
    n = number()
    order, [parcel] = shipped_order(shop_a, n)
    ingest(
        shop_a,
        [
            (
                "laposte",
                update(
                    n,
                    scan(n, Status.IN_TRANSIT, at(18), "DO1", customs="entered"),
                    scan(
                        n,
                        Status.EXCEPTION,
                        at(19),
                        "DO3",
                        reason=Reason.CUSTOMS_HOLD,
                        customs="held",
                    ),
                ),
            )
        ],
        source="poll",
    )
    parcel.refresh_from_db()
    assert (parcel.status, parcel.status_reason, parcel.customs) == (
        "exception",
        "customs_hold",
        "held",
    )
    held = OrderEvent.objects.get(order=order, type="shipment.customs_held")
    assert held.payload["order_id"] == order.pk and held.payload["reason"] == "customs_hold"
    assert OutboxMessage.objects.filter(order_id=order.pk, event_key="exception").exists()


def test_failed_attempt_is_notified(shop_a) -> None:
    n = number()
    order, _ = shipped_order(shop_a, n)
    ingest(
        shop_a,
        [
            (
                "laposte",
                update(
                    n,
                    scan(
                        n, Status.FAILED_ATTEMPT, at(19, 12), "ND1", reason=Reason.RECIPIENT_ABSENT
                    ),
                ),
            )
        ],
        source="poll",
    )
    assert OutboxMessage.objects.filter(order_id=order.pk, event_key="failed_attempt").exists()


def test_a_handoff_adds_a_destination_leg_whose_events_fold_into_the_parcel(shop_a) -> None:
    n = number()
    order, [parcel] = shipped_order(shop_a, n)
    ingest(
        shop_a,
        [
            (
                "laposte",
                update(
                    n,
                    scan(n, Status.IN_TRANSIT, at(18), "ET4"),
                    handoff=Handoff("dhl", "JJD0099999999999999"),
                ),
            )
        ],
        source="poll",
    )
    leg = ParcelLeg.objects.get(parcel=parcel, role="destination")
    assert (leg.carrier, leg.tracking_number) == ("dhl", "JJD0099999999999999")
    d = "JJD0099999999999999"
    ingest(
        shop_a,
        [("dhl", update(d, scan(d, Status.DELIVERED, at(21, 15), "delivered")))],
        source="push",
    )
    parcel.refresh_from_db()
    order.refresh_from_db()
    assert parcel.status == "delivered" and order.status == "delivered"


def test_unknown_numbers_and_other_shops_numbers_are_reported_not_created(shop_a, shop_b) -> None:
    n = number()
    shipped_order(shop_a, n)
    report = ingest(
        shop_b, [("laposte", update(n, scan(n, Status.DELIVERED, at(19), "DI1")))], source="push"
    )
    assert report.unknown == [("laposte", n)] and report.inserted == 0
    assert Parcel.objects.get(tracking_number=n).status == "pending"


@pytest.mark.parametrize(
    ("statuses", "target"),
    [
        (["delivered", "delivered"], "delivered"),
        (["delivered", "returned"], "delivered"),
        (["delivered", "in_transit"], "in_transit"),
        (["available_for_pickup", "in_transit"], "available_for_pickup"),
        (["out_for_delivery", "info_received"], "out_for_delivery"),
        (["info_received", "pending"], None),
        (["returned"], "in_transit"),
        (["returning", "delivered"], "in_transit"),
        (["expired"], "in_transit"),
    ],
)
def test_order_target(statuses, target) -> None:
    result = order_target(statuses)
    assert (result.value if result else None) == target
