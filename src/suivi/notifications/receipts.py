"""Provider receipts: what happened after a provider accepted a message.

SMS delivery reports (Twilio, Brevo) and email events (django-anymail's tracking signal for
ESPs) all end here, keyed by the provider's message id. A receipt updates the last attempt
and the message; a permanent failure (hard bounce, unknown number) marks the contact point
invalid so that no later message is planned to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .models import DeliveryAttempt, OutboxMessage

logger = logging.getLogger("suivi.notifications")


@dataclass(frozen=True)
class Receipt:
    """A provider's report on one message."""

    channel: str  # "email" or "sms"
    provider_message_id: str
    status: str  # the provider's own word, kept as is ("delivered", "undelivered", "bounced"…)
    delivered: bool = False
    failed: bool = False
    permanent: bool = False  # the contact point itself is unusable (hard bounce, bad number)
    detail: str = ""


def apply_receipt(receipt: Receipt) -> bool:
    """Record *receipt*; return False if no message has that provider id (unknown/foreign)."""
    if not receipt.provider_message_id:
        return False
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update()
            .filter(channel=receipt.channel, provider_message_id=receipt.provider_message_id)
            .first()
        )
        if message is None:
            return False
        now = timezone.now()
        attempt = (
            DeliveryAttempt.objects.filter(
                message=message, provider_message_id=receipt.provider_message_id
            )
            .order_by("-started_at")
            .first()
        )
        if attempt is not None:
            attempt.receipt_status = receipt.status[:40]
            attempt.receipt_at = now
            attempt.save(update_fields=["receipt_status", "receipt_at"])
        message.receipt_status = receipt.status[:40]
        fields = ["receipt_status"]
        if receipt.delivered and message.status in {
            OutboxMessage.Status.SENT,
            OutboxMessage.Status.SENDING,
        }:
            message.status = OutboxMessage.Status.DELIVERED
            message.delivered_at = now
            fields += ["status", "delivered_at"]
        elif receipt.failed:
            message.status = OutboxMessage.Status.DEAD
            message.last_error = f"{receipt.status}: {receipt.detail}"[:2000]
            fields += ["status", "last_error"]
            if receipt.permanent:
                from .contacts import invalidate_contact

                invalidate_contact(message, reason=f"{receipt.status}: {receipt.detail}")
        message.save(update_fields=fields)
    logger.info(
        "receipt %s for %s message %s: %s",
        receipt.status,
        receipt.channel,
        message.pk,
        receipt.detail or "-",
    )
    return True
