"""Connect the notification engine to the rest: the event subscriber, the worker jobs, the
provider receipt signals and the configuration cache invalidation."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger("suivi.notifications")

# A delivery job keeps claiming batches while they come full, for at most this long, then
# lets the worker run its other jobs.
DELIVER_BUDGET_SECONDS = 2.0


def deliver_due() -> int:
    """Worker job: deliver due messages (embedded mode) or hand them to Celery."""
    from . import dispatch, outbox

    done = 0
    started = time.monotonic()
    limit = settings.SUIVI_OUTBOX_BATCH
    while time.monotonic() - started < DELIVER_BUDGET_SECONDS:
        if settings.SUIVI_TASKS == "celery":
            import suivi.celery_app  # noqa: F401 - configures the broker for .delay()

            from .tasks import deliver_claim

            claim = outbox.claim(limit)
            if claim.ids:
                deliver_claim.delay(claim.token, claim.ids)
            count = len(claim.ids)
        else:
            count = dispatch.run_once(limit).claimed
        done += count
        if count < limit:
            break
    return done


def sweep_expired() -> int:
    from . import outbox

    return outbox.sweep()


def _forget_config(sender: Any, instance: Any, **kwargs: Any) -> None:
    from .config import forget

    forget(instance.shop_id)


def _on_anymail_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    from .receipts import Receipt, apply_receipt

    kind = event.event_type
    apply_receipt(
        Receipt(
            channel="email",
            provider_message_id=str(event.message_id or ""),
            status=str(kind),
            delivered=kind == "delivered",
            failed=kind in {"bounced", "rejected", "failed"},
            permanent=kind in {"bounced", "rejected"},
            detail=str(event.description or event.mta_response or "")[:500],
        )
    )


def connect() -> None:
    """Called once from ``NotificationsConfig.ready()``."""
    from anymail.signals import tracking

    from suivi.core.events import subscribe_batch
    from suivi.core.worker import register_job

    from .models import NotificationRule, NotificationSettings, WebhookEndpoint
    from .planning import on_events

    subscribe_batch("", on_events)
    register_job("notifications.deliver", 0.2, deliver_due)
    # Sweep often enough that a dead worker's messages wait about one lease, not more.
    register_job(
        "notifications.sweep",
        max(1.0, min(15.0, settings.SUIVI_OUTBOX_LEASE_SECONDS / 4)),
        sweep_expired,
    )
    for model in (NotificationRule, NotificationSettings, WebhookEndpoint):
        post_save.connect(_forget_config, sender=model, dispatch_uid=f"forget-{model.__name__}")
        post_delete.connect(_forget_config, sender=model, dispatch_uid=f"forget-d-{model.__name__}")
    tracking.connect(_on_anymail_tracking, dispatch_uid="suivi-anymail-tracking")
