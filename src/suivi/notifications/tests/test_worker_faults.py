"""A real `suivi worker` process killed with SIGKILL in the middle of a batch loses nothing,
and only the message in flight may be sent twice."""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from suivi.notifications.models import OutboxMessage
from suivi.shops.models import Shop
from suivi.testing import make_order

from . import processes
from .smtp_server import SMTPServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_worker_killed_mid_batch_loses_nothing(shop_a: Shop, smtp: SMTPServer) -> None:
    smtp.handler.delay_seconds = 0.03  # a slow server: the kill lands inside a batch
    orders = [make_order(shop_a, paid=True, email=f"k{n}@example.fr") for n in range(60)]
    env = processes.worker_env(smtp.port, SUIVI_OUTBOX_BATCH="25", SUIVI_OUTBOX_LEASE_SECONDS="2")

    first = processes.start(["worker"], env)
    try:
        processes.wait_until(lambda: len(smtp.messages) >= 12, 60, "the first emails")
    finally:
        log = processes.stop(first, signal.SIGKILL)
    sending = OutboxMessage.objects.filter(status="sending").count()
    assert sending > 0, f"the kill did not land inside a batch; worker log:\n{log}"

    second = processes.start(["worker"], env)
    try:
        processes.wait_until(
            lambda: not OutboxMessage.objects.exclude(status="sent").exists(),
            90,
            "every message to be sent after the restart",
        )
    finally:
        processes.stop(second)

    counts = Counter(r.rcpt_tos[0] for r in smtp.messages)
    assert set(counts) == {o.email for o in orders}
    duplicates = {address: n for address, n in counts.items() if n > 1}
    assert sum(n - 1 for n in duplicates.values()) <= 1, duplicates
