"""Scale-out: the same deliveries executed by two Celery workers with a real Redis broker,
the database outbox staying the source of truth."""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest
import redis

from suivi.notifications.models import DeliveryAttempt, OutboxMessage
from suivi.shops.models import Shop
from suivi.testing import make_order

from . import processes
from .smtp_server import SMTPServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
# One Redis database per pytest-xdist worker, so parallel runs never share a queue.
BROKER_DB = 9 + int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
BROKER = f"redis://127.0.0.1:6379/{BROKER_DB}"


@pytest.fixture
def broker() -> str:
    client = redis.Redis.from_url(BROKER)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis is not running on 127.0.0.1:6379 ({exc})")
    return BROKER


def _celery_worker(env: dict[str, str], name: str):  # type: ignore[no-untyped-def]
    return processes.start(
        [
            "celery", "worker", "--pool=solo", "-n", f"{name}@%h", "--without-gossip",
            "--without-mingle", "--without-heartbeat", "--loglevel=WARNING",
        ],
        env,
    )  # fmt: skip


def test_two_celery_workers_deliver_everything_once(
    shop_a: Shop, smtp: SMTPServer, broker: str
) -> None:
    orders = [make_order(shop_a, paid=True, email=f"c{n}@example.fr") for n in range(120)]
    env = processes.worker_env(
        smtp.port,
        SUIVI_TASKS="celery",
        SUIVI_CELERY_BROKER_URL=broker,
        SUIVI_OUTBOX_BATCH="10",
    )
    workers = [_celery_worker(env, "w1"), _celery_worker(env, "w2")]
    claimer = processes.start(["worker"], env)
    logs = []
    try:
        processes.wait_until(
            lambda: not OutboxMessage.objects.exclude(status="sent").exists(), 120, "all sent"
        )
    finally:
        logs = [processes.stop(p) for p in [claimer, *workers]]

    counts = Counter(r.rcpt_tos[0] for r in smtp.messages)
    assert set(counts) == {o.email for o in orders}, logs
    assert max(counts.values()) == 1
    # both Celery workers did part of the work
    assert DeliveryAttempt.objects.values("worker").distinct().count() == 2, logs


def test_a_celery_worker_killed_mid_batch_loses_nothing(
    shop_a: Shop, smtp: SMTPServer, broker: str
) -> None:
    smtp.handler.delay_seconds = 0.03
    orders = [make_order(shop_a, paid=True, email=f"k{n}@example.fr") for n in range(80)]
    env = processes.worker_env(
        smtp.port,
        SUIVI_TASKS="celery",
        SUIVI_CELERY_BROKER_URL=broker,
        SUIVI_OUTBOX_BATCH="20",
        SUIVI_OUTBOX_LEASE_SECONDS="2",
    )
    victim, survivor = _celery_worker(env, "victim"), _celery_worker(env, "survivor")
    claimer = processes.start(["worker"], env)
    try:
        processes.wait_until(lambda: len(smtp.messages) >= 15, 60, "the first emails")
        processes.stop(victim, signal.SIGKILL)
        processes.wait_until(
            lambda: not OutboxMessage.objects.exclude(status="sent").exists(),
            120,
            "every message sent after the kill",
        )
    finally:
        for p in (claimer, survivor, victim):
            processes.stop(p)

    counts = Counter(r.rcpt_tos[0] for r in smtp.messages)
    assert set(counts) == {o.email for o in orders}
    assert sum(n - 1 for n in counts.values()) <= 1, {a: n for a, n in counts.items() if n > 1}
