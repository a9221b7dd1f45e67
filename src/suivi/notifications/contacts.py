"""Contact points that stop working: a hard-bounced address, an unknown number, a push
subscription the browser dropped, a webhook endpoint that asked us to stop.

Marking is idempotent and scoped to the message's own customer or endpoint.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from .catalog import EMAIL, PUSH, SMS, WEBHOOK
from .models import CustomerPreference, OutboxMessage, PushSubscription, WebhookEndpoint

logger = logging.getLogger("suivi.notifications")


def invalidate_contact(message: OutboxMessage, *, reason: str) -> None:
    """Make sure nothing more is planned to the contact point *message* went to."""
    now = timezone.now()
    reason = reason[:200]
    if message.channel in (EMAIL, SMS) and message.customer_id:
        pref, _ = CustomerPreference.objects.get_or_create(customer_id=message.customer_id)
        if message.channel == EMAIL and pref.email_invalid_at is None:
            pref.email_invalid_at, pref.email_invalid_reason = now, reason
            pref.save(update_fields=["email_invalid_at", "email_invalid_reason", "updated_at"])
        elif message.channel == SMS and pref.phone_invalid_at is None:
            pref.phone_invalid_at, pref.phone_invalid_reason = now, reason
            pref.save(update_fields=["phone_invalid_at", "phone_invalid_reason", "updated_at"])
    elif message.channel == PUSH and message.push_subscription_id:
        PushSubscription.objects.filter(pk=message.push_subscription_id).delete()
    elif message.channel == WEBHOOK and message.endpoint_id:
        endpoint_disable(message.endpoint_id, reason=reason)
    logger.info("contact point of message %s marked unusable: %s", message.pk, reason)


def endpoint_disable(endpoint_id: int, *, reason: str) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).update(
        enabled=False, disabled_at=timezone.now(), disabled_reason=reason[:200]
    )
