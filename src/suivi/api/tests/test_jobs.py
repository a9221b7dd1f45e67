"""The API's periodic jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from suivi.api.jobs import purge_idempotency_records
from suivi.api.models import IdempotencyRecord
from suivi.core.worker import registered_jobs
from suivi.shops.models import Shop


def test_the_idempotency_purge_is_registered_with_the_worker() -> None:
    jobs = {job.name: job for job in registered_jobs()}

    assert jobs["api.purge_idempotency_records"].func is purge_idempotency_records


@pytest.mark.parametrize("ttl_hours", [24, 6])
def test_the_purge_deletes_records_older_than_the_configured_ttl(
    shop_a: Shop, shop_b: Shop, settings: object, ttl_hours: int
) -> None:
    # given records of both shops just over and just under the TTL
    settings.SUIVI_IDEMPOTENCY_TTL_HOURS = ttl_hours  # type: ignore[attr-defined]
    now = timezone.now()
    for shop in (shop_a, shop_b):
        for key, age in (("old", ttl_hours + 1), ("fresh", ttl_hours - 1)):
            IdempotencyRecord.objects.create(
                shop=shop, key=key, method="POST", path="/api/v1/orders", body_sha256="0" * 64,
                lock_token="t", created_at=now - timedelta(hours=age),
                claimed_at=now - timedelta(hours=age),
            )  # fmt: skip
    # when the job runs
    purge_idempotency_records()
    # then only the fresh ones remain, in both shops
    assert sorted(IdempotencyRecord.objects.values_list("shop_id", "key")) == sorted(
        [(shop_a.pk, "fresh"), (shop_b.pk, "fresh")]
    )
