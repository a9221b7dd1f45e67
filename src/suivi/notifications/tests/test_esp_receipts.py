"""ESP delivery and bounce webhooks (through django-anymail) update the message and the
contact point. The requests are Postmark's documented webhook bodies."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from suivi.notifications.models import CustomerPreference, DeliveryAttempt, OutboxMessage
from suivi.shops.models import Shop
from suivi.testing import make_order

pytestmark = pytest.mark.django_db
URL = "/notifications/esp/postmark/tracking/"
PROVIDER_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


@pytest.fixture
def sent_message(shop_a: Shop, settings: Any) -> OutboxMessage:
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret"}
    order = make_order(shop_a, paid=True, email="john@example.com")
    message = OutboxMessage.objects.get(order=order, channel="email")
    OutboxMessage.objects.filter(pk=message.pk).update(
        status="sent", provider_message_id=PROVIDER_ID
    )
    DeliveryAttempt.objects.create(
        message=message, started_at=message.created_at, duration_ms=12, outcome="ok",
        provider_message_id=PROVIDER_ID,
    )  # fmt: skip
    return message


def _post(body: dict[str, Any], auth: str = "hook:s3cret") -> int:
    token = base64.b64encode(auth.encode()).decode()
    response = Client().post(
        URL, data=json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {token}",
    )  # fmt: skip
    return response.status_code


def test_a_delivery_webhook_marks_the_message_delivered(sent_message: OutboxMessage) -> None:
    status = _post(
        {
            "RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound",
            "MessageID": PROVIDER_ID, "Recipient": "john@example.com", "Tag": "",
            "DeliveredAt": "2026-11-05T16:33:54.9070259Z", "Details": "smtp;250 2.0.0 OK",
            "Metadata": {},
        }
    )  # fmt: skip
    assert status == 200
    sent_message.refresh_from_db()
    assert sent_message.status == "delivered" and sent_message.delivered_at
    assert DeliveryAttempt.objects.get(message=sent_message).receipt_status == "delivered"


def test_a_hard_bounce_kills_the_message_and_the_address(sent_message: OutboxMessage) -> None:
    status = _post(
        {
            "RecordType": "Bounce", "MessageStream": "outbound", "ID": 4323372036854775807,
            "Type": "HardBounce", "TypeCode": 1, "Name": "Hard bounce", "Tag": "",
            "MessageID": PROVIDER_ID, "Metadata": {}, "ServerID": 23,
            "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "Email": "john@example.com", "From": "sender@example.com",
            "BouncedAt": "2026-11-05T16:33:54.9070259Z", "DumpAvailable": False,
            "Inactive": True, "CanActivate": True, "Subject": "Votre commande",
        }
    )  # fmt: skip
    assert status == 200
    sent_message.refresh_from_db()
    assert sent_message.status == "dead" and "bounced" in sent_message.last_error
    pref = CustomerPreference.objects.get(customer_id=sent_message.customer_id)
    assert pref.email_invalid_at is not None


def test_a_webhook_without_the_secret_changes_nothing(sent_message: OutboxMessage) -> None:
    status = _post({"RecordType": "Delivery", "MessageID": PROVIDER_ID}, auth="hook:wrong")
    assert status in (400, 401, 403)
    sent_message.refresh_from_db()
    assert sent_message.status == "sent"
