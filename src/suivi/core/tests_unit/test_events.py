"""The in-transaction event bus: publish only inside the writer's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from suivi.core import events
from suivi.customers.models import Customer
from suivi.orders.models import Order, OrderEvent
from suivi.shops.models import Shop
from suivi.testing import make_order


def _event(type_: str = "order.created", shop_id: int = 1) -> events.DomainEvent:
    return events.DomainEvent(
        type=type_,
        shop_id=shop_id,
        subject_id=1,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        actor="test",
    )


@contextmanager
def subscribed(prefix: str, subscriber: events.Subscriber) -> Iterator[None]:
    events.subscribe(prefix, subscriber)
    try:
        yield
    finally:
        events.unsubscribe(prefix, subscriber)


@pytest.mark.django_db(transaction=True)
def test_publishing_outside_a_transaction_is_refused(shop_a: Shop, shop_b: Shop) -> None:
    # given a subscriber, and no transaction open (autocommit)
    received: list[events.DomainEvent] = []
    assert not connection.in_atomic_block
    with subscribed("order.", received.append):
        # when an event is published
        with pytest.raises(RuntimeError, match="inside the transaction"):
            events.publish(_event(shop_id=shop_a.pk))
        # then nobody heard it; inside a transaction it goes through
        assert received == []
        with transaction.atomic():
            events.publish(_event(shop_id=shop_b.pk))
    assert [event.shop_id for event in received] == [shop_b.pk]


def test_subscribers_run_inside_the_transaction_that_records_the_event(
    shop_a: Shop, shop_b: Shop
) -> None:
    # given a subscriber that looks at the database when it is called
    seen: list[tuple[bool, bool, int]] = []

    def look(event: events.DomainEvent) -> None:
        assert event.event_id is not None
        seen.append(
            (
                connection.in_atomic_block,
                OrderEvent.objects.filter(pk=event.event_id, type=event.type).exists(),
                event.shop_id,
            )
        )

    # when an order is created in each shop
    with subscribed("order.created", look):
        make_order(shop_a)
        make_order(shop_b)
    # then it ran twice, in a transaction, and saw each shop's event row already written
    assert seen == [(True, True, shop_a.pk), (True, True, shop_b.pk)]


def test_a_subscriber_that_fails_rolls_back_the_whole_change(shop_a: Shop, shop_b: Shop) -> None:
    # given a subscriber that fails on shop B's orders only
    def refuse(event: events.DomainEvent) -> None:
        if event.shop_id == shop_b.pk:
            raise RuntimeError("planner down")

    with subscribed("order.", refuse):
        # when an order is created in each shop
        make_order(shop_a, email="anne@example.fr")
        with pytest.raises(RuntimeError):
            make_order(shop_b, email="bruno@example.fr")
    # then B has no order, no event and no customer; A has all three
    assert not Order.objects.filter(shop=shop_b).exists()
    assert not OrderEvent.objects.filter(shop=shop_b).exists()
    assert not Customer.objects.filter(shop=shop_b).exists()
    assert Order.objects.filter(shop=shop_a).count() == 1
    assert OrderEvent.objects.filter(shop=shop_a).count() == 1
    assert Customer.objects.filter(shop=shop_a).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failing_subscriber_rolls_back_a_real_transaction(shop_a: Shop, shop_b: Shop) -> None:
    # The same as above with real commits (no test transaction around it).
    def refuse(event: events.DomainEvent) -> None:
        raise RuntimeError("planner down")

    make_order(shop_a)
    with subscribed("order.", refuse), pytest.raises(RuntimeError):
        make_order(shop_b)
    assert Order.objects.filter(shop=shop_b).count() == 0
    assert OrderEvent.objects.filter(shop=shop_b).count() == 0
    assert Order.objects.filter(shop=shop_a).count() == 1


def test_a_subscriber_only_hears_the_types_it_subscribed_to(shop_a: Shop, shop_b: Shop) -> None:
    heard: list[str] = []
    with transaction.atomic(), subscribed("order.cancel", lambda e: heard.append(e.type)):
        for type_ in ("order.created", "order.cancelled", "order.confirmed", "shipment.cancel"):
            events.publish(_event(type_, shop_a.pk))
    assert heard == ["order.cancelled"]


def test_subscribing_twice_delivers_once_and_unsubscribing_stops_delivery(
    shop_a: Shop, shop_b: Shop
) -> None:
    heard: list[str] = []

    def listen(event: events.DomainEvent) -> None:
        heard.append(event.type)

    events.subscribe("order.", listen)
    events.subscribe("order.", listen)
    try:
        with transaction.atomic():
            events.publish(_event("order.created", shop_a.pk))
    finally:
        events.unsubscribe("order.", listen)
    with transaction.atomic():
        events.publish(_event("order.created", shop_b.pk))
    assert heard == ["order.created"]
    events.unsubscribe("order.", listen)  # unsubscribing again is harmless


@pytest.mark.django_db(transaction=True)
def test_a_batch_subscriber_gets_one_call_per_publication(shop_a: Shop, shop_b: Shop) -> None:
    calls: list[list[str]] = []

    def batch(published: list[events.DomainEvent]) -> None:
        calls.append([e.type for e in published])

    events.subscribe_batch("order.c", batch)
    try:
        with transaction.atomic():
            events.publish_many(
                [_event("order.created"), _event("order.shipped"), _event("order.confirmed")]
            )
            events.publish(_event("order.cancelled"))
    finally:
        events.unsubscribe_batch("order.c", batch)

    assert calls == [["order.created", "order.confirmed"], ["order.cancelled"]]
    with pytest.raises(RuntimeError):
        events.publish_many([_event()])
