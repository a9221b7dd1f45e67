"""Periodic jobs of the API, run by the worker."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings

from .idempotency import idempotency_purge

logger = logging.getLogger("suivi.worker")


def purge_idempotency_records() -> None:
    """Delete API idempotency records older than ``SUIVI_IDEMPOTENCY_TTL_HOURS``."""
    deleted = idempotency_purge(older_than=timedelta(hours=settings.SUIVI_IDEMPOTENCY_TTL_HOURS))
    if deleted:
        logger.info("purged %d expired idempotency records", deleted)
