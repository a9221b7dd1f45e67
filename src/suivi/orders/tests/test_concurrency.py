"""Races between writers on separate connections, on SQLite and on PostgreSQL.

The two databases serialise writers differently, so where the contenders read differs:

* PostgreSQL lets two transactions read the same row; the contenders read inside their
  transactions, meet at a barrier, then write. The loser's compare-and-set UPDATE waits for
  the winner's row lock, re-reads the row once it commits, finds another version and raises.
* SQLite opens write transactions with BEGIN IMMEDIATE, which takes the database's write lock
  at once, so two transactions can never both have read: a barrier inside them would only
  wait for the lock. There the contenders read before their transactions, meet, then write
  with what they read, which is the same stale-read race, decided by the same CAS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from django.db import connection, transaction

from suivi.core import events
from suivi.core.errors import DomainError
from suivi.orders import services
from suivi.orders.errors import ConcurrentChange, InvalidQuantity, InvalidTransition
from suivi.orders.lifecycle import Action, CancellationReason, Mode, Status
from suivi.orders.models import Invoice, Order, OrderEvent, OrderLine
from suivi.orders.services import LineCancellation, order_apply_action, order_cancel_lines
from suivi.shops.models import Shop
from suivi.testing import make_order

from .support import is_postgresql, order_in_status, snapshot

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")
WAIT = 15  # seconds; a barrier that times out fails the test instead of hanging it


def _run_in_threads(*jobs: Callable[[], T]) -> list[T | BaseException]:
    """Run each job in its own thread and connection; return results or raised errors."""

    def run(job: Callable[[], T]) -> T | BaseException:
        try:
            return job()
        except BaseException as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _stale_read_then_apply(
    shop: Shop, order_id: int, action: Action, barrier: threading.Barrier
) -> Callable[[], str]:
    """Read the order, wait until the other contender has read it too, then apply *action*."""

    def job() -> str:
        if is_postgresql():
            with transaction.atomic():
                order = services._lock_order(shop=shop, order_id=order_id)
                barrier.wait(WAIT)
                services._apply_action(order, action, "racer", {})
        else:
            order = services._lock_order(shop=shop, order_id=order_id)
            barrier.wait(WAIT)
            with transaction.atomic():
                services._apply_action(order, action, "racer", {})
        return action.value

    return job


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (Action.SHIP, Action.SHIP),
        (Action.ROUTE, Action.START_PREPARATION),
        (Action.MARK_READY, Action.HOLD_FOR_STOCK),
    ],
)
def test_two_transitions_racing_on_one_order_make_exactly_one_change(
    shop_a: Shop, shop_b: Shop, first: Action, second: Action
) -> None:
    # given a paid order in shop B and its twin in shop A
    order = order_in_status(shop_b, Mode.DELIVERY, Status.TO_PREPARE)
    twin = order_in_status(shop_a, Mode.DELIVERY, Status.TO_PREPARE, reference=order.reference)
    twin_before = snapshot(twin.pk)
    events_before = OrderEvent.objects.filter(order=order).count()
    barrier = threading.Barrier(2)

    # when both read version N, then both write
    results = _run_in_threads(
        _stale_read_then_apply(shop_b, order.pk, first, barrier),
        _stale_read_then_apply(shop_b, order.pk, second, barrier),
    )

    # then one won, the other was told the order changed
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert len(losers) == 1 and isinstance(losers[0], ConcurrentChange | InvalidTransition), results
    stored = Order.objects.get(pk=order.pk)
    winner = Action(winners[0])
    assert (
        stored.status
        == {
            Action.SHIP: Status.SHIPPED,
            Action.ROUTE: Status.ROUTED,
            Action.START_PREPARATION: Status.IN_PREPARATION,
            Action.MARK_READY: Status.READY_TO_SHIP,
            Action.HOLD_FOR_STOCK: Status.AWAITING_STOCK,
        }[winner]
    )
    assert stored.version == order.version + 1
    assert OrderEvent.objects.filter(order=order).count() == events_before + 1
    assert snapshot(twin.pk) == twin_before


def test_the_public_service_with_an_expected_version_lets_one_of_two_win(
    shop_a: Shop, shop_b: Shop
) -> None:
    # given an order both contenders saw at version N
    order = order_in_status(shop_a, Mode.CLICK_AND_COLLECT, Status.TO_PREPARE)
    make_order(shop_b, reference=order.reference)
    events_before = OrderEvent.objects.filter(order=order).count()
    barrier = threading.Barrier(2)

    def contender(action: Action) -> Callable[[], str]:
        def job() -> str:
            barrier.wait(WAIT)
            order_apply_action(
                shop=shop_a, order_id=order.pk, action=action, expected_version=order.version
            )
            return action.value

        return job

    # when both send their action with that version
    results = _run_in_threads(contender(Action.MARK_READY), contender(Action.START_PREPARATION))

    # then exactly one change happened
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], ConcurrentChange | InvalidTransition)
    stored = Order.objects.get(pk=order.pk)
    assert stored.version == order.version + 1
    assert stored.status in (Status.READY_FOR_PICKUP, Status.IN_PREPARATION)
    assert OrderEvent.objects.filter(order=order).count() == events_before + 1


@contextmanager
def _subscribed(prefix: str, subscriber: Callable[[events.DomainEvent], None]) -> Iterator[None]:
    events.subscribe(prefix, subscriber)
    try:
        yield
    finally:
        events.unsubscribe(prefix, subscriber)


def _wait_until_a_transaction_waits_for_a_lock() -> None:
    """Return once another connection is blocked on a lock (PostgreSQL) or after a pause."""
    if not is_postgresql():
        # SQLite: the contender waits in BEGIN IMMEDIATE; there is nothing to observe.
        time.sleep(0.5)
        return
    deadline = time.monotonic() + WAIT
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            (waiting,) = cursor.fetchone()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second writer never waited for the first one's lock")


def test_a_partial_cancellation_racing_another_is_refused_not_crashed(
    shop_a: Shop, shop_b: Shop
) -> None:
    # given an order with 2 pulls, in shop A, and its twin in shop B
    order = make_order(shop_a)
    twin = make_order(shop_b, reference=order.reference)
    twin_before = snapshot(twin.pk)
    first_inside = threading.Event()
    release_first = threading.Event()

    def hold_first(event: events.DomainEvent) -> None:
        # Keep the first cancellation's transaction open once it has written everything.
        # (Only the first can get here: the second is refused before it records anything.)
        first_inside.set()
        assert release_first.wait(WAIT)

    def cancel(quantity: int) -> Callable[[], Order | BaseException]:
        def job() -> Order | BaseException:
            try:
                return order_cancel_lines(
                    shop=shop_a,
                    order_id=order.pk,
                    cancellations=[LineCancellation(position=1, quantity=quantity)],
                    reason=CancellationReason.OUT_OF_STOCK,
                )
            except BaseException as exc:
                return exc
            finally:
                connection.close()

        return job

    with _subscribed("order.lines_cancelled", hold_first), ThreadPoolExecutor(2) as pool:
        # when one pull is cancelled and its transaction is still open
        first = pool.submit(cancel(1))
        assert first_inside.wait(WAIT)
        # and meanwhile a second cancellation reads the order (2 pulls left, as committed)
        # and asks for both; PostgreSQL makes it wait for the first one's row lock
        second = pool.submit(cancel(2))
        _wait_until_a_transaction_waits_for_a_lock()
        release_first.set()
        results = [first.result(WAIT), second.result(WAIT)]

    # then the first cancelled one pull, the second was refused with a domain error (not an
    # IntegrityError from the quantity constraint, nor a deadlock)
    assert isinstance(results[0], Order), results
    assert isinstance(results[1], ConcurrentChange | InvalidQuantity), results
    line = OrderLine.objects.get(order=order, position=1)
    assert (line.quantity_ordered, line.quantity_cancelled) == (2, 1)
    stored = Order.objects.get(pk=order.pk)
    assert stored.total_amount == Decimal("69.80")
    assert stored.version == order.version + 1
    assert OrderEvent.objects.filter(order=order, type="order.lines_cancelled").count() == 1
    assert snapshot(twin.pk) == twin_before


def test_invoices_issued_at_the_same_time_in_one_shop_get_consecutive_numbers(
    shop_a: Shop, shop_b: Shop
) -> None:
    # given four unpaid orders in shop A (which invoices) and one in shop B
    orders = [make_order(shop_a) for _ in range(4)]
    make_order(shop_b, reference=orders[0].reference)

    def pay_together(pair: list[Order]) -> list[Any]:
        barrier = threading.Barrier(len(pair))

        def meet(event: events.DomainEvent) -> None:
            # PostgreSQL: both transactions have confirmed their order and neither has
            # taken a number yet. (SQLite: the barrier before the call below instead.)
            barrier.wait(WAIT)

        def pay(order: Order) -> Callable[[], int]:
            def job() -> int:
                if not is_postgresql():
                    barrier.wait(WAIT)
                order_apply_action(shop=shop_a, order_id=order.pk, action=Action.CONFIRM_PAYMENT)
                return Invoice.objects.get(order=order).sequence_number

            return job

        if is_postgresql():
            with _subscribed("order.confirmed", meet):
                return _run_in_threads(*(pay(order) for order in pair))
        return _run_in_threads(*(pay(order) for order in pair))

    # when two are paid at once while the shop has no counter yet, then two more
    first_round = pay_together(orders[:2])
    second_round = pay_together(orders[2:])

    # then the numbers are 1, 2 then 3, 4, in some order, without gaps or duplicates
    assert sorted(first_round) == [1, 2], first_round
    assert sorted(second_round) == [3, 4], second_round
    assert sorted(Invoice.objects.filter(shop=shop_a).values_list("number", flat=True)) == [
        "F-000001",
        "F-000002",
        "F-000003",
        "F-000004",
    ]
    assert not Invoice.objects.filter(shop=shop_b).exists()


def test_domain_errors_in_threads_are_reported_not_swallowed(shop_a: Shop, shop_b: Shop) -> None:
    # A check on the harness itself: an error raised in a contender reaches the test.
    order = order_in_status(shop_a, Mode.DELIVERY, Status.DELIVERED)
    results = _run_in_threads(
        lambda: order_apply_action(shop=shop_a, order_id=order.pk, action=Action.SHIP),
        lambda: order_apply_action(shop=shop_b, order_id=order.pk, action=Action.SHIP),
    )
    assert isinstance(results[0], InvalidTransition)
    assert isinstance(results[1], DomainError) and results[1].code == "not-found"
