"""Two requests for the same items at the same time: one wins, the other is refused.

The service locks the order row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` serialises writers) before it counts what is left. To make a missing
lock show, the eligibility read is slowed down: without the lock both contenders would
count the same free items during that pause and both would write a return.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from suivi.returns import services
from suivi.returns.errors import InvalidReturnQuantity, NotReturnable
from suivi.returns.models import ReturnLine, ReturnRequest
from suivi.shops.models import Shop

from .support import customer_user, delivered_order, lines_of

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 15


def test_concurrent_requests_cannot_both_take_the_same_items(
    shop_a: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    pull = lines_of(order)["PULL-M"]
    real = services.order_return_eligibility

    def slow(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        time.sleep(0.4)
        return result

    monkeypatch.setattr(services, "order_return_eligibility", slow)
    barrier = threading.Barrier(2)

    def contender() -> Callable[[], Any]:
        def job() -> Any:
            try:
                barrier.wait(WAIT)
                return services.return_request(
                    user=user, order=order, lines=[(pull.pk, 2, "wrong_size", "")]
                )
            except Exception as exc:  # the result under test
                return exc
            finally:
                connection.close()

        return job

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: job(), [contender(), contender()]))

    won = [r for r in results if isinstance(r, ReturnRequest)]
    lost = [r for r in results if not isinstance(r, ReturnRequest)]
    assert len(won) == 1, results
    assert len(lost) == 1 and isinstance(lost[0], InvalidReturnQuantity | NotReturnable), results
    assert ReturnRequest.objects.filter(order=order).count() == 1
    assert sum(ReturnLine.objects.filter(order_line=pull).values_list("quantity", flat=True)) == 2
