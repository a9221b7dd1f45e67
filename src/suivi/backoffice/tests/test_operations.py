"""Operations: every problem on one page, and "Retry" for a dead message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from suivi.backoffice.views_operations import CAP, mask_recipient
from suivi.notifications import services as notifications
from suivi.notifications.models import OutboxMessage, WebhookEndpoint
from suivi.orders.models import Order
from suivi.shipments.models import Parcel
from suivi.shipments.tests.factories import number, shipped_order
from suivi.shops.models import Shop
from suivi.testing import make_order

from .support import client_for

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.216.34/hooks/suivi"


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def url(shop: Shop, name: str = "operations", **kwargs: Any) -> str:
    return reverse(f"backoffice:{name}", kwargs={"slug": shop.slug, **kwargs})


def _dead_email(shop: Shop, email: str = "claire.martin@example.fr") -> OutboxMessage:
    order = make_order(shop, paid=True, email=email)
    message = OutboxMessage.objects.filter(order=order, channel="email").first()
    assert message is not None
    OutboxMessage.objects.filter(pk=message.pk).update(
        status="dead", attempts=13, last_error="550 mailbox unavailable"
    )
    return message


def test_every_problem_is_listed_with_counts(shop_a: Shop, shop_b: Shop, service_a: Any) -> None:
    stalled_order, [stalled] = shipped_order(shop_a, number())
    Parcel.objects.filter(pk=stalled.pk).update(stalled_at=timezone.now() - timedelta(days=1))
    troubled_order, [troubled] = shipped_order(shop_a, number())
    Parcel.objects.filter(pk=troubled.pk).update(status="exception", status_reason="damaged")
    exception_order = make_order(shop_a)
    Order.objects.filter(pk=exception_order.pk).update(exception_reason="address_problem")
    dead = _dead_email(shop_a)
    failing = OutboxMessage.objects.filter(order=troubled_order, channel="email").first()
    OutboxMessage.objects.filter(pk=failing.pk).update(
        status="pending", attempts=2, last_error="421 try again later"
    )
    endpoint, _secret = notifications.endpoint_create(shop=shop_a, url=PUBLIC_URL)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_at=timezone.now(), disabled_reason="Failing for 5 days."
    )
    # Shop B's problems stay out of A's page.
    other_order, [other] = shipped_order(shop_b, number())
    Parcel.objects.filter(pk=other.pk).update(stalled_at=timezone.now())

    response = client_for(service_a).get(url(shop_a))
    assert response.status_code == 200
    html = response.content.decode()
    assert stalled.tracking_number in html and stalled_order.reference in html
    assert troubled.tracking_number in html and "damaged" in html
    assert exception_order.reference in html and "address_problem" in html
    assert "550 mailbox unavailable" in html and "claire.martin@example.fr" not in html
    assert "c•••@example.fr" in html
    assert "421 try again later" in html
    assert "Failing for 5 days." in html and PUBLIC_URL in html
    assert other.tracking_number not in html and other_order.reference not in html
    context = response.context
    assert context["stalled"].count == 1 and context["troubled"].count == 1
    assert context["exceptions"].count == 1 and context["failing"].count == 1
    assert context["dead"].count == 1 and context["disabled"].count == 1
    assert f'action="{url(shop_a, "operations-retry", message_id=dead.pk)}"' in html
    assert "Retry" in html
    # Customer service cannot open the webhook settings: no link there.
    assert url(shop_a, "settings-webhook-deliveries", endpoint_id=endpoint.pk) not in html


def test_the_owner_gets_a_link_to_the_disabled_endpoint(shop_a: Shop, owner_a: Any) -> None:
    endpoint, _secret = notifications.endpoint_create(shop=shop_a, url=PUBLIC_URL)
    notifications.endpoint_update(shop=shop_a, endpoint_id=endpoint.pk, enabled=False)
    html = client_for(owner_a).get(url(shop_a)).content.decode()
    assert url(shop_a, "settings-webhook-deliveries", endpoint_id=endpoint.pk) in html


def test_sections_are_capped_with_the_full_count(shop_a: Shop, logistics_a: Any) -> None:
    order = make_order(shop_a, paid=True)
    template = OutboxMessage.objects.filter(order=order).first()
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                shop=shop_a,
                order=order,
                channel="email",
                recipient=f"c{i}@example.fr",
                event_key=template.event_key,
                event_type=template.event_type,
                idempotency_key=f"cap-test-{i}",
                status="dead",
                last_error="gave up",
            )
            for i in range(CAP + 5)
        ]
    )
    response = client_for(logistics_a).get(url(shop_a))
    dead = response.context["dead"]
    assert dead.count == CAP + 5 and len(dead.rows) == CAP and dead.truncated
    assert f"{CAP} of {CAP + 5} shown." in response.content.decode()


def test_retry_requeues_a_dead_message(shop_a: Shop, logistics_a: Any) -> None:
    message = _dead_email(shop_a)
    client = client_for(logistics_a)
    response = client.post(url(shop_a, "operations-retry", message_id=message.pk), follow=True)
    assert "queued to be sent again" in " ".join(str(m) for m in response.context["messages"])
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("pending", 0, "")
    again = client.post(url(shop_a, "operations-retry", message_id=message.pk), follow=True)
    assert "cannot be retried" in " ".join(str(m) for m in again.context["messages"])
    assert OutboxMessage.objects.get(pk=message.pk).status == "pending"
    assert client.get(url(shop_a, "operations-retry", message_id=message.pk)).status_code == 405


def test_retry_of_another_shops_message_is_404(shop_a: Shop, shop_b: Shop, owner_a: Any) -> None:
    theirs = _dead_email(shop_b)
    response = client_for(owner_a).post(url(shop_a, "operations-retry", message_id=theirs.pk))
    assert response.status_code == 404
    assert OutboxMessage.objects.get(pk=theirs.pk).status == "dead"


def test_recipients_are_masked() -> None:
    assert mask_recipient("email", "claire.martin@example.fr") == "c•••@example.fr"
    assert mask_recipient("sms", "+33612345678") == "+33•••78"
    assert mask_recipient("webhook", "https://erp.example.com/hooks?token=x") == "erp.example.com"
    assert "+336" not in mask_recipient("push", "+33612345678")
