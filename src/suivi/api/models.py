"""What the API itself stores: idempotency records of write requests."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from suivi.shops.models import Shop


class IdempotencyRecord(models.Model):
    """A write request claimed under an ``Idempotency-Key``, then its stored response.

    The row is inserted (claimed) before the handler runs, so the unique constraint on
    (shop, key) lets exactly one of two racing requests run. ``response_status`` stays
    null while the request is in flight; it is written in the handler's own transaction,
    so the stored response and the change it describes commit together or not at all.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.TextField()
    body_sha256 = models.CharField(max_length=64)
    # Proves ownership of an in-flight claim: a stale claim taken over by a retry gets a
    # new token, and the slow original then fails to complete (and rolls back).
    lock_token = models.CharField(max_length=32)
    claimed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    response_body = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "key"], name="idempotency_key_unique_per_shop"),
        ]
        indexes = [
            # The worker's purge: oldest records first, across shops.
            models.Index(fields=["created_at"], name="idempotency_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"

    @property
    def in_flight(self) -> bool:
        """Tell whether the request that claimed the key has not finished yet."""
        return self.response_status is None
