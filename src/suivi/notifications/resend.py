"""Send a customer message about an order again, at a merchant's request.

A dead message goes back in the queue as it is (:func:`services.message_retry`). A message
that went out (sent or delivered) stays in the log as it is: the resend is a new outbox row
copying the event, channel, recipient and locale, due now, whose idempotency key starts
with ``resend:<original id>:`` — the mark that tells a resend from a planned message.
"""

from __future__ import annotations

import logging
import uuid
from typing import Final

from django.db import transaction
from django.utils import timezone

from suivi.core.errors import DomainError, NotFound
from suivi.shops.models import Shop

from .catalog import CUSTOMER_CHANNELS
from .models import OutboxMessage
from .services import SYSTEM, NotRetryable, message_get, message_retry

logger = logging.getLogger("suivi.notifications")
Status = OutboxMessage.Status

RESEND_PREFIX: Final = "resend:"
_WENT_OUT: Final = frozenset({Status.SENT, Status.DELIVERED})


def is_resend(message: OutboxMessage) -> bool:
    """Tell whether *message* was created by :func:`message_resend`."""
    return message.idempotency_key.startswith(RESEND_PREFIX)


def resend_of(message: OutboxMessage) -> int | None:
    """Return the id of the message *message* resends, or None for a planned message."""
    if not is_resend(message):
        return None
    original = message.idempotency_key[len(RESEND_PREFIX) :].split(":", 1)[0]
    return int(original) if original.isdigit() else None


def message_resend(*, shop: Shop, message_id: int, actor: str = SYSTEM) -> OutboxMessage:
    """Send the shop's customer message *message_id* again; return the message queued.

    Dead: retried in place. Sent or delivered: a new message for the same event, channel
    and recipient. Anything else (still waiting, being sent, merged, skipped) and webhook
    deliveries (replayed from their endpoint's log) are refused with the reason.
    """
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().filter(shop=shop, pk=message_id).first()
        if message is None:
            raise NotFound("No such message.")
        if message.channel not in CUSTOMER_CHANNELS:
            raise NotResendable(
                "A webhook delivery is replayed from its endpoint's delivery log.",
                channel=message.channel,
            )
        if message.is_test or message.order_id is None:
            raise NotResendable("Only a message about an order can be sent again.")
        if message.status == Status.DEAD:
            return message_retry(shop=shop, message_id=message.pk, actor=actor)
        if message.status not in _WENT_OUT:
            # Same wording as a retry's refusal: waiting, sending, merged or skipped.
            raise _refusal(message)
        now = timezone.now()
        copy = OutboxMessage.objects.create(
            shop=shop,
            order_id=message.order_id,
            customer_id=message.customer_id,
            push_subscription_id=message.push_subscription_id,
            channel=message.channel,
            recipient=message.recipient,
            locale=message.locale,
            event_key=message.event_key,
            event_type=message.event_type,
            events=message.events,
            idempotency_key=f"{RESEND_PREFIX}{message.pk}:{uuid.uuid4().hex}",
            status=Status.PENDING,
            not_before=now,
            created_at=now,
        )
    logger.info("message %s of shop %s resent as %s by %s", message.pk, shop.pk, copy.pk, actor)
    return message_get(shop=shop, message_id=copy.pk)


class NotResendable(DomainError):
    """This message cannot be sent again (a webhook, a test, or not finished)."""

    code = "not-resendable"
    status = 409


def _refusal(message: OutboxMessage) -> DomainError:
    reasons = {
        Status.PENDING: "it is already waiting to be sent",
        Status.SENDING: "it is being sent right now",
        Status.MERGED: "it was merged into another message",
        Status.SKIPPED: f"it was skipped on purpose ({message.last_error or 'no reason given'})",
    }
    why = reasons.get(Status(message.status), f"its status is {message.status}")
    return NotRetryable(f"This message cannot be sent again: {why}.", status_now=message.status)
