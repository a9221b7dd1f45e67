"""Celery tasks of tracking (scale-out mode): one task polls one claimed batch of legs."""

from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections


@shared_task(name="suivi.shipments.poll_legs")  # type: ignore[untyped-decorator]
def poll_legs(ids: list[int]) -> int:
    """Poll the legs of one claim (their lease was taken by the claimer)."""
    from . import polling

    close_old_connections()
    try:
        return polling.poll(list(ids)).claimed
    finally:
        close_old_connections()
