"""The outbox's state changes: claim, record, sweep. The database is the source of truth.

- **claim**: take up to N due ``pending`` rows and mark them ``sending`` with a lease
  (``claimed_by`` = a token unique to this claim, ``claimed_until``). PostgreSQL: ``SELECT
  … FOR UPDATE SKIP LOCKED`` so concurrent workers take disjoint rows without waiting.
  SQLite (one writer at a time): the ``UPDATE … WHERE status='pending'`` compare-and-set
  claims, and we read back what carries our token.
- **record**: one short transaction per message, right after its provider answered: the
  attempt row and the message's new state. So a worker killed mid-batch leaves at most the
  message in flight unrecorded (it may go twice; the idempotency key goes with it to
  providers that accept one). Recording only touches a row that still carries our token.
- **sweep**: ``sending`` rows whose lease expired (their worker died) go back to
  ``pending``; a claim that outlives its lease (slow provider) renews it while it works.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from . import retry
from .channels.base import Outcome
from .contacts import invalidate_contact
from .models import DeliveryAttempt, OutboxMessage, WebhookEndpoint

logger = logging.getLogger("suivi.notifications")
Status = OutboxMessage.Status
WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"
# A webhook endpoint failing for this long in a row is disabled (Standard Webhooks practice).
ENDPOINT_DISABLE_AFTER = timedelta(days=3)


@dataclass(frozen=True)
class Claim:
    token: str
    ids: list[int]


def _lease() -> timedelta:
    return timedelta(seconds=settings.SUIVI_OUTBOX_LEASE_SECONDS)


def claim(limit: int | None = None, *, now: datetime | None = None) -> Claim:
    """Claim up to *limit* due pending messages for this worker."""
    limit = limit or settings.SUIVI_OUTBOX_BATCH
    now = now or timezone.now()
    token = f"{WORKER_NAME}:{uuid.uuid4().hex[:12]}"
    due = OutboxMessage.objects.filter(status=Status.PENDING, not_before__lte=now).order_by(
        "not_before", "id"
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            ids = list(due.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
            if ids:
                OutboxMessage.objects.filter(id__in=ids).update(
                    status=Status.SENDING, claimed_by=token, claimed_until=now + _lease()
                )
        else:
            candidates = list(due.values_list("id", flat=True)[:limit])
            if candidates:
                OutboxMessage.objects.filter(id__in=candidates, status=Status.PENDING).update(
                    status=Status.SENDING, claimed_by=token, claimed_until=now + _lease()
                )
            ids = list(
                OutboxMessage.objects.filter(claimed_by=token, status=Status.SENDING)
                .order_by("not_before", "id")
                .values_list("id", flat=True)
            )
    return Claim(token, ids)


def renew(token: str, ids: Iterable[int]) -> int:
    """Extend the lease of the messages of a claim that are still ours and unsent."""
    return OutboxMessage.objects.filter(
        id__in=list(ids), claimed_by=token, status=Status.SENDING
    ).update(claimed_until=timezone.now() + _lease())


def sweep(*, now: datetime | None = None) -> int:
    """Return messages whose worker died (lease expired) to ``pending``."""
    now = now or timezone.now()
    count = OutboxMessage.objects.filter(status=Status.SENDING, claimed_until__lt=now).update(
        status=Status.PENDING, claimed_by="", claimed_until=None
    )
    if count:
        logger.warning("returned %d messages whose worker stopped to the queue", count)
    return count


def record(
    message: OutboxMessage,
    outcome: Outcome,
    *,
    token: str,
    started_at: datetime,
    duration_ms: int,
) -> str:
    """Record one attempt and move the message on; return its new status."""
    now = timezone.now()
    if outcome.kind == "ok" and not _endpoint_failing(message):
        _record_sent(
            message, outcome, token=token, started_at=started_at, duration_ms=duration_ms, now=now
        )
        return Status.SENT
    attempts = message.attempts + 1
    changes: dict[str, object] = {"attempts": F("attempts") + 1, "claimed_until": None}
    if outcome.kind == "ok":
        status = Status.SENT
        changes.update(
            status=status,
            sent_at=now,
            provider_message_id=outcome.provider_message_id[:200],
            last_error="",
            claimed_by="",
        )
    else:
        delay = (
            None
            if outcome.kind == "permanent"
            else retry.next_delay(
                message.channel, attempts, retry_after=outcome.retry_after_seconds
            )
        )
        if delay is None:
            status = Status.DEAD
            why = outcome.answer or outcome.kind
            if outcome.kind == "temporary":
                why = f"Gave up after {attempts} attempts; last answer: {why}"
            changes.update(status=status, last_error=why[:2000], claimed_by="")
        else:
            status = Status.PENDING
            changes.update(
                status=status,
                not_before=now + delay,
                last_error=(outcome.answer or outcome.kind)[:2000],
                claimed_by="",
            )
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(
            pk=message.pk, claimed_by=token, status=Status.SENDING
        ).update(**changes)
        if not updated and not OutboxMessage.objects.filter(pk=message.pk).exists():
            logger.warning("message %s was deleted while it was being sent", message.pk)
            return status
        DeliveryAttempt.objects.create(
            message_id=message.pk,
            started_at=started_at,
            duration_ms=duration_ms,
            outcome=outcome.kind,
            status_code=outcome.status_code,
            answer=outcome.answer[:2000],
            provider_message_id=outcome.provider_message_id[:200],
            worker=WORKER_NAME,
        )
        if not updated:
            logger.warning(
                "message %s was no longer ours when its attempt ended (%s); attempt kept",
                message.pk,
                outcome.kind,
            )
        if message.endpoint_id:
            _endpoint_health(message.endpoint_id, ok=outcome.kind == "ok", now=now)
        if outcome.kind != "ok" and outcome.invalidate:
            invalidate_contact(message, reason=outcome.answer or "refused by the provider")
    return status


def _endpoint_failing(message: OutboxMessage) -> bool:
    """Whether a success must also reset the endpoint's failure streak."""
    if not message.endpoint_id:
        return False
    endpoint = message.endpoint  # loaded with the message by the dispatcher
    return endpoint is None or endpoint.failure_streak > 0 or endpoint.first_failure_at is not None


_SENT_UPDATE = (
    "UPDATE notifications_outboxmessage SET status = 'sent', sent_at = %s, "
    "provider_message_id = %s, last_error = '', claimed_by = '', claimed_until = NULL, "
    "attempts = attempts + 1 WHERE id = %s AND claimed_by = %s AND status = 'sending'"
)
_ATTEMPT_COLUMNS = (
    "message_id, started_at, duration_ms, outcome, status_code, answer, provider_message_id, "
    "worker, receipt_status"
)


# Built from the constants above only (no caller text): S608 does not apply.
_ATTEMPT_INSERT = (
    f"INSERT INTO notifications_deliveryattempt ({_ATTEMPT_COLUMNS}) "  # noqa: S608
    "SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s "
    "WHERE EXISTS (SELECT 1 FROM notifications_outboxmessage WHERE id = %s)"
)
_PG_SENT = f"WITH moved AS ({_SENT_UPDATE} RETURNING id) {_ATTEMPT_INSERT}"


def _record_sent(
    message: OutboxMessage,
    outcome: Outcome,
    *,
    token: str,
    started_at: datetime,
    duration_ms: int,
    now: datetime,
) -> None:
    """The common case in as few round trips as the database allows.

    Measured: the ORM version (transaction, UPDATE with F(), INSERT) cost ~1.5 ms of CPU per
    message, the largest share of a send after MIME. PostgreSQL does both writes in one
    statement (a data-modifying CTE) committed on its own; SQLite in one short transaction.
    """
    provider_id = outcome.provider_message_id[:200]
    attempt: list[Any] = [message.pk, started_at, duration_ms, "ok", outcome.status_code,
               outcome.answer[:2000], provider_id, WORKER_NAME, ""]  # fmt: skip
    update: list[Any] = [now, provider_id, message.pk, token]
    if connection.vendor == "postgresql":
        # One statement in autocommit: atomic by itself, one round trip.
        with connection.cursor() as cursor:
            cursor.execute(_PG_SENT, [*update, *attempt, message.pk])
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SENT_UPDATE, update)
        cursor.execute(_ATTEMPT_INSERT, [*attempt, message.pk])


def _endpoint_health(endpoint_id: int, *, ok: bool, now: datetime) -> None:
    if ok:
        WebhookEndpoint.objects.filter(pk=endpoint_id, failure_streak__gt=0).update(
            failure_streak=0, first_failure_at=None
        )
        return
    WebhookEndpoint.objects.filter(pk=endpoint_id, first_failure_at__isnull=True).update(
        first_failure_at=now
    )
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(failure_streak=F("failure_streak") + 1)
    WebhookEndpoint.objects.filter(
        pk=endpoint_id, enabled=True, first_failure_at__lte=now - ENDPOINT_DISABLE_AFTER
    ).update(
        enabled=False,
        disabled_at=now,
        disabled_reason="Every delivery failed for three days.",
    )


def finish_without_sending(message: OutboxMessage, *, token: str, status: str, reason: str) -> None:
    """Close a claimed message that cannot be sent (endpoint disabled, subscription gone)."""
    OutboxMessage.objects.filter(pk=message.pk, claimed_by=token, status=Status.SENDING).update(
        status=status, last_error=reason[:2000], claimed_by="", claimed_until=None
    )
