"""Scale-out: the same deliveries executed by two Celery workers with a real broker (Redis
and RabbitMQ), the database outbox staying the source of truth."""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest

from suivi.notifications.models import DeliveryAttempt, OutboxMessage
from suivi.shops.models import Shop
from suivi.testing import make_order

from . import processes
from .smtp_server import SMTPServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
# One Redis database and one queue name per pytest-xdist worker: parallel runs never share.
XDIST = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS = f"redis://127.0.0.1:6379/{9 + XDIST}"
QUEUE = f"suivi-test-{XDIST}"


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> str:
    return processes.fresh_broker(request.param, redis_url=REDIS, queue=QUEUE)


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
        SUIVI_CELERY_QUEUE=QUEUE,
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
        SUIVI_CELERY_QUEUE=QUEUE,
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
