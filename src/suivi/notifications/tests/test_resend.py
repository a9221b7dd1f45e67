"""Resending a customer message: a new row for one that went out, a retry for a dead one."""

from __future__ import annotations

import pytest
from django.core import mail

from suivi.core.errors import NotFound
from suivi.notifications import dispatch
from suivi.notifications.models import OutboxMessage, WebhookEndpoint
from suivi.notifications.resend import NotResendable, is_resend, message_resend, resend_of
from suivi.notifications.services import NotRetryable
from suivi.shops.models import Shop
from suivi.testing import make_order

pytestmark = pytest.mark.django_db
Status = OutboxMessage.Status


def test_a_sent_email_is_sent_again_as_a_new_message_marked_as_a_resend(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    dispatch.run_once()
    original = OutboxMessage.objects.get(order=order, channel="email")
    assert original.status == Status.SENT
    sent_before = len(mail.outbox)

    copy = message_resend(shop=shop_a, message_id=original.pk, actor="staff:1")

    assert copy.pk != original.pk
    assert (copy.status, copy.channel, copy.recipient, copy.event_key, copy.order_id) == (
        Status.PENDING,
        "email",
        original.recipient,
        original.event_key,
        order.pk,
    )
    assert copy.events == original.events
    assert is_resend(copy) and not is_resend(original)
    assert resend_of(copy) == original.pk and resend_of(original) is None
    assert OutboxMessage.objects.get(pk=original.pk).status == Status.SENT
    dispatch.run_once()
    assert OutboxMessage.objects.get(pk=copy.pk).status == Status.SENT
    assert len(mail.outbox) == sent_before + 1
    assert mail.outbox[-1].to == [original.recipient]


def test_a_dead_message_is_retried_in_place(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    message = OutboxMessage.objects.get(order=order, channel="email")
    OutboxMessage.objects.filter(pk=message.pk).update(status=Status.DEAD, attempts=9)

    again = message_resend(shop=shop_a, message_id=message.pk)

    assert again.pk == message.pk
    assert (again.status, again.attempts) == (Status.PENDING, 0)
    assert OutboxMessage.objects.filter(order=order).count() == 1


@pytest.mark.parametrize("status", [Status.PENDING, Status.SENDING, Status.MERGED, Status.SKIPPED])
def test_a_message_not_finished_is_refused_and_nothing_is_queued(shop_a: Shop, status: str) -> None:
    order = make_order(shop_a, paid=True)
    message = OutboxMessage.objects.get(order=order, channel="email")
    OutboxMessage.objects.filter(pk=message.pk).update(status=status)

    with pytest.raises(NotRetryable):
        message_resend(shop=shop_a, message_id=message.pk)

    assert OutboxMessage.objects.filter(order=order).count() == 1
    assert OutboxMessage.objects.get(pk=message.pk).status == status


def test_a_webhook_delivery_is_not_resent_here(shop_a: Shop) -> None:
    endpoint = WebhookEndpoint.objects.create(
        shop=shop_a, url="https://hooks.example.com/x", secret_encrypted="", event_types=["*"]
    )
    order = make_order(shop_a, paid=True)
    message = OutboxMessage.objects.filter(order=order, endpoint=endpoint).first()
    if message is None:  # the cached configuration did not see the endpoint: make one
        message = OutboxMessage.objects.create(
            shop=shop_a,
            order=order,
            endpoint=endpoint,
            channel="webhook",
            recipient=endpoint.url,
            event_key="confirmed",
            event_type="order.confirmed",
            idempotency_key="hook-test",
            status=Status.SENT,
        )
    OutboxMessage.objects.filter(pk=message.pk).update(status=Status.SENT)
    count = OutboxMessage.objects.count()

    with pytest.raises(NotResendable):
        message_resend(shop=shop_a, message_id=message.pk)

    assert OutboxMessage.objects.count() == count


def test_another_shops_message_is_not_found(shop_a: Shop, shop_b: Shop) -> None:
    theirs = OutboxMessage.objects.get(order=make_order(shop_b, paid=True), channel="email")
    OutboxMessage.objects.filter(pk=theirs.pk).update(status=Status.SENT)
    count = OutboxMessage.objects.count()

    with pytest.raises(NotFound):
        message_resend(shop=shop_a, message_id=theirs.pk)

    assert OutboxMessage.objects.count() == count
