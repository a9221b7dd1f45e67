"""Connect tracking to the worker: polling due legs and detecting stalled parcels."""

from __future__ import annotations

import time

from django.conf import settings

POLL_BUDGET_SECONDS = 5.0


def poll_due() -> int:
    """Worker job: poll due legs (embedded mode) or hand batches to Celery (scale-out)."""
    from . import polling

    done = 0
    started = time.monotonic()
    limit = settings.SUIVI_POLL_BATCH
    while time.monotonic() - started < POLL_BUDGET_SECONDS:
        ids = polling.claim(limit)
        if ids and settings.SUIVI_TASKS == "celery":
            import suivi.celery_app  # noqa: F401 - configures the broker for .delay()

            from .tasks import poll_legs

            poll_legs.delay(ids)
        elif ids:
            polling.poll(ids)
        done += len(ids)
        if len(ids) < limit:
            break
    return done


def register_due() -> int:
    """Worker job: register new numbers with carriers that push only for those."""
    from . import registration

    return registration.run_once()


def renew_registrations() -> int:
    from . import registration

    return registration.renew_expiring()


def detect_stalled() -> int:
    from . import stalled

    return stalled.detect()


def connect() -> None:
    """Called once from ``ShipmentsConfig.ready()``."""
    from suivi.core.worker import register_job

    register_job("shipments.poll", 2.0, poll_due)
    register_job("shipments.stalled", 600.0, detect_stalled)
    register_job("shipments.register", 5.0, register_due)
    register_job("shipments.renew_registrations", 3600.0, renew_registrations)
