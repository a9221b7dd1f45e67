"""Web push from the order action to a browser that can read it, through the planner, the
outbox and the dispatcher; a push service answering 410 removes the subscription."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suivi.notifications import channels, dispatch, vapid
from suivi.notifications.models import (
    NotificationRule,
    NotificationSettings,
    OutboxMessage,
    PushSubscription,
)
from suivi.orders.lifecycle import Mode
from suivi.orders.services import order_apply_action
from suivi.shops.models import Shop
from suivi.testing import make_order

from .fake_push import FakePushService
from .test_webpush import Browser

pytestmark = pytest.mark.django_db


@pytest.fixture
def push_service(settings: Any, tmp_path: Path) -> Iterator[FakePushService]:
    settings.DATA_DIR = tmp_path
    settings.SUIVI_VAPID_PRIVATE_KEY = ""
    settings.SUIVI_VAPID_SUBJECT = "mailto:ops@shop.example"
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    settings.BASE_URL = "https://suivi.test"
    vapid.reset_cache()
    channels.reset()
    with FakePushService() as service:
        yield service
    vapid.reset_cache()
    channels.reset()


def test_a_ready_for_pickup_push_reaches_the_browser_and_410_removes_it(
    shop_a: Shop, push_service: FakePushService
) -> None:
    order = make_order(shop_a, paid=True, mode=Mode.CLICK_AND_COLLECT)
    browser = Browser.subscribe(push_service.endpoint())
    target = browser.target
    subscription = PushSubscription.objects.create(
        shop=shop_a, customer=order.customer, endpoint=target["endpoint"],
        p256dh=target["p256dh"], auth=target["auth"],
    )  # fmt: skip

    for action in ("start_preparation", "mark_ready"):
        order_apply_action(shop=shop_a, order_id=order.pk, action=action)
    while dispatch.run_once().claimed:
        pass

    [request] = push_service.received
    assert request.problem == ""
    payload = browser.read(request.body)
    assert order.reference in payload["title"] + payload["body"]
    assert payload["url"].startswith("https://suivi.test/t/")
    assert request.headers["urgency"] == "high"  # the customer must act
    push = OutboxMessage.objects.get(order=order, channel="push")
    assert push.status == "sent" and push.recipient == f"push:{subscription.pk}"

    # the browser unsubscribed: the push service answers 410 Gone
    push_service.answer(410)
    NotificationRule.objects.create(shop=shop_a, event_key="collected", channel="push")
    # no quiet hours, whatever time the test runs ("collected" is not urgent)
    NotificationSettings.objects.create(shop=shop_a, quiet_start=dt.time(0), quiet_end=dt.time(0))
    order_apply_action(shop=shop_a, order_id=order.pk, action="mark_collected")
    while dispatch.run_once().claimed:
        pass

    assert not PushSubscription.objects.filter(pk=subscription.pk).exists()
    gone = OutboxMessage.objects.get(order=order, channel="push", event_key="collected")
    attempt = gone.attempts_log.get()
    assert gone.status == "dead" and attempt.status_code == 410 and attempt.outcome == "permanent"
