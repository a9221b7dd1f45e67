"""Polling in real worker processes: the embedded ``suivi worker``, and scale-out mode where
the claimer hands batches to Celery workers over Redis or RabbitMQ."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from suivi.carriers.testing import FakeCarrier, Reply
from suivi.notifications.tests import processes
from suivi.shipments import services
from suivi.shipments.models import Parcel, ParcelLeg

from .factories import number, shipped_order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
XDIST = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS = f"redis://127.0.0.1:6379/{11 + XDIST}"
QUEUE = f"suivi-poll-test-{XDIST}"


def _answer(request) -> Reply:
    numbers = request.path.rsplit("/", 1)[1].split(",")
    items = [
        {
            "returnCode": 200,
            "shipment": {
                "idShip": n,
                "event": [
                    {"code": "ET1", "label": "En cours", "date": "2026-11-18T08:00:00+01:00"}
                ],
            },
        }
        for n in numbers
    ]
    return Reply(207, json.dumps(items).encode())


@pytest.mark.parametrize("mode", ["embedded", "celery-redis", "celery-rabbitmq"])
def test_workers_poll_every_due_parcel_once(shop_a, mode: str) -> None:
    with FakeCarrier() as carrier:
        carrier.route = _answer
        services.account_create(
            shop=shop_a, carrier="laposte", credentials={"api_key": "k"}, base_url=carrier.url
        )
        parcels = [shipped_order(shop_a, number())[1][0] for _ in range(45)]
        ParcelLeg.objects.update(next_poll_at=timezone.now() - timedelta(seconds=1))
        env = processes.worker_env(
            1,
            SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS="127.0.0.0/8",
            SUIVI_POLL_BATCH="10",
        )
        started = []
        if mode.startswith("celery"):
            env.update(
                SUIVI_TASKS="celery",
                SUIVI_CELERY_BROKER_URL=processes.fresh_broker(
                    mode.removeprefix("celery-"), redis_url=REDIS, queue=QUEUE
                ),
                SUIVI_CELERY_QUEUE=QUEUE,
            )
            argv = ["celery", "worker", "--pool=solo", "--without-gossip", "--without-mingle"]
            argv += ["--without-heartbeat", "--loglevel=WARNING"]
            for name in ("p1", "p2"):
                started.append(processes.start([*argv, "-n", f"{name}@%h"], env))
        started.append(processes.start(["worker"], env))
        logs: list[str] = []
        try:
            processes.wait_until(
                lambda: (
                    not Parcel.objects.filter(pk__in=[p.pk for p in parcels])
                    .exclude(status="in_transit")
                    .exists()
                ),
                120,
                "every parcel polled",
            )
        finally:
            logs = [processes.stop(p) for p in started]
        asked = Counter(
            n for request in carrier.requests for n in request.path.rsplit("/", 1)[1].split(",")
        )
    assert set(asked) == {p.tracking_number for p in parcels}, logs
    assert max(asked.values()) == 1, logs  # claims never overlap
    assert all(len(r.path.rsplit("/", 1)[1].split(",")) <= 10 for r in carrier.requests)
    # Every leg is scheduled again by its state (in transit: hours away).
    soonest = ParcelLeg.objects.order_by("next_poll_at").values_list("next_poll_at", flat=True)[0]
    assert soonest > timezone.now() + timedelta(hours=2)
