"""Celery tasks of the notification engine (scale-out mode)."""

from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections


@shared_task(name="suivi.notifications.deliver_claim")  # type: ignore[untyped-decorator]
def deliver_claim(token: str, ids: list[int]) -> int:
    """Deliver the messages of one claim (a batch of ids under one token)."""
    from . import dispatch, outbox

    close_old_connections()
    try:
        return dispatch.deliver(outbox.Claim(token, list(ids))).claimed
    finally:
        close_old_connections()
