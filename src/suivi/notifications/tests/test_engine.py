"""The engine end to end: an order action plans messages in its transaction, a worker round
claims and sends them to a real SMTP server, and every attempt is recorded."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from suivi.core.events import DomainEvent
from suivi.notifications import dispatch, outbox
from suivi.notifications.models import (
    CustomerPreference,
    DeliveryAttempt,
    NotificationRule,
    NotificationSettings,
    OutboxMessage,
)
from suivi.notifications.planning import on_event
from suivi.orders.lifecycle import Mode
from suivi.orders.models import Order
from suivi.orders.services import order_apply_action
from suivi.shops.models import Shop
from suivi.testing import make_order

from .smtp_server import SMTPServer

pytestmark = pytest.mark.django_db
Status = OutboxMessage.Status


def _due_now() -> None:
    OutboxMessage.objects.filter(status=Status.PENDING).update(not_before=timezone.now())


def _deliver_all() -> dispatch.Report:
    total = dispatch.Report()
    while True:
        report = dispatch.run_once()
        if not report.claimed:
            return total
        total.claimed += report.claimed
        total.sent += report.sent
        total.retrying += report.retrying
        total.dead += report.dead


def _ship(shop: Shop, order: Order, **payload: Any) -> None:
    for action in ("start_preparation", "mark_ready"):
        order_apply_action(shop=shop, order_id=order.pk, action=action, actor="test")
    order_apply_action(
        shop=shop,
        order_id=order.pk,
        action="ship",
        actor="test",
        payload={"carrier": "colissimo", "tracking_number": "6A12345678901", **payload},
    )


def test_a_paid_order_plans_its_confirmation_in_the_same_transaction(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)

    messages = list(OutboxMessage.objects.filter(order=order))
    assert [(m.channel, m.event_key, m.recipient, m.status) for m in messages] == [
        ("email", "confirmed", "claire.martin@example.fr", "pending")
    ]
    assert messages[0].events[0]["type"] == "order.confirmed"


def test_a_rolled_back_action_plans_nothing(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    before = OutboxMessage.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        order_apply_action(shop=shop_a, order_id=order.pk, action="start_preparation")
        raise RuntimeError("crash after the event, before commit")

    assert OutboxMessage.objects.count() == before


def test_the_same_event_planned_twice_is_queued_once(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    event = order.events.get(type="order.confirmed")
    domain = DomainEvent(
        type=event.type,
        shop_id=shop_a.pk,
        subject_id=order.pk,
        occurred_at=event.occurred_at,
        actor="test",
        payload=event.payload,
        event_id=event.pk,
    )
    with transaction.atomic():
        on_event(domain)
        on_event(domain)

    assert OutboxMessage.objects.filter(order=order, channel="email").count() == 1


def test_email_reaches_the_smtp_server_with_both_parts_and_headers(
    shop_a: Shop, smtp: SMTPServer
) -> None:
    order = make_order(shop_a, paid=True)

    report = _deliver_all()

    assert report.sent == 1
    [mail] = smtp.to("claire.martin@example.fr")
    assert shop_a.name in mail["From"]
    assert "notifications@suivi.test" in mail["From"]
    assert order.reference in mail["Subject"]
    assert mail["Message-ID"].endswith("@suivi.test>")
    assert mail["List-Unsubscribe"].startswith("<https://suivi.test/p/")
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "https://suivi.test/t/" in text and "https://suivi.test/t/" in html
    message = OutboxMessage.objects.get(order=order)
    assert message.status == Status.SENT and message.attempts == 1 and message.sent_at
    [attempt] = DeliveryAttempt.objects.filter(message=message)
    assert attempt.outcome == "ok" and attempt.provider_message_id == mail["Message-ID"]


def test_french_and_english_customers_get_their_language(shop_a: Shop, smtp: SMTPServer) -> None:
    make_order(shop_a, paid=True, email="fr@example.fr")
    en = make_order(shop_a, paid=False, email="en@example.com")
    Order.objects.filter(pk=en.pk).update(language="en")
    order_apply_action(shop=shop_a, order_id=en.pk, action="confirm_payment")

    _deliver_all()

    [fr_mail] = smtp.to("fr@example.fr")
    [en_mail] = smtp.to("en@example.com")
    assert "commande" in fr_mail["Subject"].lower()
    assert "order" in en_mail["Subject"].lower()
    assert "commande" not in en_mail.get_body(("plain",)).get_content().lower()


def test_a_disabled_rule_sends_nothing_and_a_delay_holds_the_message(shop_a: Shop) -> None:
    NotificationRule.objects.create(
        shop=shop_a, event_key="confirmed", channel="email", enabled=False
    )
    NotificationRule.objects.create(
        shop=shop_a, event_key="in_preparation", channel="email", delay_seconds=3600
    )
    order = make_order(shop_a, paid=True)
    order_apply_action(shop=shop_a, order_id=order.pk, action="start_preparation")

    [message] = OutboxMessage.objects.filter(order=order)
    assert message.event_key == "in_preparation"
    assert message.not_before > timezone.now() + dt.timedelta(minutes=59)
    assert outbox.claim().ids == []


def test_preferences_skip_refused_channels_and_non_essential_messages(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=False)
    CustomerPreference.objects.create(customer=order.customer, service_opt_out=True)

    order_apply_action(shop=shop_a, order_id=order.pk, action="confirm_payment")
    order_apply_action(shop=shop_a, order_id=order.pk, action="start_preparation")

    by_key = {m.event_key: m for m in OutboxMessage.objects.filter(order=order)}
    assert by_key["confirmed"].status == Status.PENDING  # essential: the receipt of payment
    assert by_key["in_preparation"].status == Status.SKIPPED
    assert "opted out" in by_key["in_preparation"].last_error


def test_a_hard_bounce_kills_the_message_and_marks_the_address(
    shop_a: Shop, smtp: SMTPServer
) -> None:
    smtp.handler.refuse["gone@example.fr"] = "550 5.1.1 <gone@example.fr>: no such user"
    order = make_order(shop_a, paid=True, email="gone@example.fr")

    report = _deliver_all()

    assert report.dead == 1
    message = OutboxMessage.objects.get(order=order)
    assert message.status == Status.DEAD and "550" in message.last_error
    pref = CustomerPreference.objects.get(customer=order.customer)
    assert pref.email_invalid_at is not None
    # the next event is not sent to a known-bad address, and says why
    order_apply_action(shop=shop_a, order_id=order.pk, action="start_preparation")
    later = OutboxMessage.objects.get(order=order, event_key="in_preparation")
    assert later.status == Status.SKIPPED and "invalid" in later.last_error


def test_smtp_down_then_up_delivers_everything_once(shop_a: Shop, smtp: SMTPServer) -> None:
    orders = [make_order(shop_a, paid=True, email=f"c{n}@example.fr") for n in range(5)]
    smtp.stop()

    report = _deliver_all()

    assert report.sent == 0 and report.retrying == 5
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {Status.PENDING}
    assert all(m.not_before > timezone.now() for m in OutboxMessage.objects.all())
    assert DeliveryAttempt.objects.filter(outcome="temporary").count() == 5

    smtp.start()
    _due_now()
    _deliver_all()
    _deliver_all()  # nothing left

    received = [r.rcpt_tos[0] for r in smtp.messages]
    assert sorted(received) == sorted(o.email for o in orders)
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {Status.SENT}


def test_a_temporary_smtp_refusal_is_retried(shop_a: Shop, smtp: SMTPServer) -> None:
    smtp.handler.tempfail = True
    make_order(shop_a, paid=True)
    assert _deliver_all().retrying == 1
    smtp.handler.tempfail = False
    _due_now()
    assert _deliver_all().sent == 1
    assert len(smtp.messages) == 1


def test_a_lost_worker_is_swept_back_to_the_queue(
    shop_a: Shop, smtp: SMTPServer, settings: Any
) -> None:
    make_order(shop_a, paid=True)
    claim = outbox.claim()
    assert claim.ids
    # the worker dies here; nothing is sent until its lease expires
    assert outbox.claim().ids == []
    assert (
        outbox.sweep(
            now=timezone.now() + dt.timedelta(seconds=settings.SUIVI_OUTBOX_LEASE_SECONDS + 1)
        )
        == 1
    )

    assert _deliver_all().sent == 1
    assert len(smtp.messages) == 1


def test_two_claims_never_share_a_message(shop_a: Shop) -> None:
    for n in range(7):
        make_order(shop_a, paid=True, email=f"c{n}@example.fr")
    first = outbox.claim(4)
    second = outbox.claim(4)
    assert len(first.ids) == 4 and len(second.ids) == 3
    assert not set(first.ids) & set(second.ids)


def test_without_an_sms_provider_sms_rules_are_skipped_with_the_reason(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True, phone="+33612345678", mode=Mode.CLICK_AND_COLLECT)
    order_apply_action(shop=shop_a, order_id=order.pk, action="start_preparation")
    order_apply_action(shop=shop_a, order_id=order.pk, action="mark_ready")

    sms = OutboxMessage.objects.get(order=order, channel="sms", event_key="ready_for_pickup")
    assert sms.status == Status.SKIPPED and "No SMS provider" in sms.last_error


def test_quiet_hours_hold_sms_until_morning_but_urgent_ones_go(shop_a: Shop, settings: Any) -> None:
    settings.SUIVI_SMS_PROVIDER = "twilio"
    NotificationRule.objects.create(shop=shop_a, event_key="in_preparation", channel="sms")
    NotificationSettings.objects.create(
        shop=shop_a, quiet_start=dt.time(0, 0), quiet_end=dt.time(23, 59)
    )  # quiet all day, whatever time the test runs
    order = make_order(shop_a, paid=True, phone="+33612345678", mode=Mode.CLICK_AND_COLLECT)

    order_apply_action(shop=shop_a, order_id=order.pk, action="start_preparation")

    held = OutboxMessage.objects.get(order=order, channel="sms")
    local = held.not_before.astimezone(ZoneInfo("Europe/Paris"))
    assert held.event_key == "in_preparation" and (local.hour, local.minute) == (23, 59)

    # an urgent step joins the waiting SMS and takes it out at once: the customer must act
    order_apply_action(shop=shop_a, order_id=order.pk, action="mark_ready")

    held.refresh_from_db()
    assert held.event_key == "ready_for_pickup" and held.status == Status.PENDING
    assert held.not_before <= timezone.now()
    assert [e["key"] for e in held.events] == ["in_preparation", "ready_for_pickup"]


def test_an_urgent_sms_goes_during_quiet_hours(shop_a: Shop, settings: Any) -> None:
    settings.SUIVI_SMS_PROVIDER = "twilio"
    NotificationSettings.objects.create(
        shop=shop_a, quiet_start=dt.time(0, 0), quiet_end=dt.time(23, 59)
    )
    order = make_order(shop_a, paid=True, phone="+33612345678", mode=Mode.CLICK_AND_COLLECT)
    for action in ("start_preparation", "mark_ready"):
        order_apply_action(shop=shop_a, order_id=order.pk, action=action)

    sms = OutboxMessage.objects.get(order=order, channel="sms")
    assert sms.event_key == "ready_for_pickup" and sms.not_before <= timezone.now()


def test_a_minor_step_soon_after_a_message_is_merged_not_sent(
    shop_a: Shop, smtp: SMTPServer
) -> None:
    NotificationRule.objects.create(shop=shop_a, event_key="in_transit", channel="email")
    order = make_order(shop_a, paid=True)
    _ship(shop_a, order)
    _deliver_all()
    before = len(smtp.messages)
    shipped = OutboxMessage.objects.get(order=order, event_key="shipped", status=Status.SENT)

    order_apply_action(shop=shop_a, order_id=order.pk, action="mark_in_transit")
    _deliver_all()

    in_transit = OutboxMessage.objects.get(order=order, event_type="order.in_transit")
    assert in_transit.status == Status.MERGED and in_transit.merged_into_id == shipped.pk
    assert len(smtp.messages) == before


def test_events_while_a_message_waits_become_one_message(shop_a: Shop, smtp: SMTPServer) -> None:
    NotificationRule.objects.create(
        shop=shop_a, event_key="shipped", channel="email", delay_seconds=300
    )
    order = make_order(shop_a, paid=True)
    for action in ("start_preparation", "mark_ready"):
        order_apply_action(shop=shop_a, order_id=order.pk, action=action)
    _deliver_all()  # the confirmation and the preparation steps go
    order_apply_action(shop=shop_a, order_id=order.pk, action="ship")  # waits 5 min

    order_apply_action(shop=shop_a, order_id=order.pk, action="mark_out_for_delivery")

    waiting = OutboxMessage.objects.get(order=order, status=Status.PENDING)
    assert [e["type"] for e in waiting.events] == ["order.shipped", "order.out_for_delivery"]
    assert waiting.event_key == "out_for_delivery"
    assert waiting.not_before <= timezone.now()  # the urgent step does not wait for the delay
    _deliver_all()
    told = [m["X-Suivi-Event"] for m in smtp.to(order.email)]
    assert told.count("out_for_delivery") == 1 and "shipped" not in told


def test_essential_messages_are_never_merged(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)  # confirmation pending, not sent yet
    order_apply_action(shop=shop_a, order_id=order.pk, action="start_preparation")

    keys = sorted(OutboxMessage.objects.filter(order=order).values_list("event_key", "status"))
    assert keys == [("confirmed", "pending"), ("in_preparation", "pending")]


def test_messages_belong_to_their_shop(shop_a: Shop, shop_b: Shop) -> None:
    a = make_order(shop_a, paid=True)
    b = make_order(shop_b, paid=True)
    assert set(OutboxMessage.objects.filter(order=a).values_list("shop_id", flat=True)) == {
        shop_a.pk
    }
    assert set(OutboxMessage.objects.filter(order=b).values_list("shop_id", flat=True)) == {
        shop_b.pk
    }


def test_a_test_message_without_an_order_is_sent_with_sample_data(
    shop_a: Shop, smtp: SMTPServer
) -> None:
    from suivi.notifications.services import test_send

    message = test_send(
        shop=shop_a, event_key="shipped", channel="email", locale="fr", to="me@shop.fr"
    )

    assert _deliver_all().sent == 1
    [mail] = smtp.to("me@shop.fr")
    assert mail["X-Suivi-Event"] == "shipped" and shop_a.name in mail["From"]
    message.refresh_from_db()
    assert message.status == Status.SENT and message.is_test and message.customer_id is None


def test_a_batch_of_payments_is_planned_in_a_constant_number_of_statements(
    shop_b: Shop,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from suivi.notifications.config import shop_config
    from suivi.orders.batch import ActionItem, order_apply_actions, order_create_many
    from suivi.orders.lifecycle import Action
    from suivi.testing import order_input

    def batch(prefix: str, size: int) -> int:
        items = [
            order_input(reference=f"{prefix}-{n}", email=f"{prefix}{n}@example.fr")
            for n in range(size)
        ]
        created = order_create_many(shop=shop_b, items=items)
        actions = [
            ActionItem(order_id=o.pk, action=Action.CONFIRM_PAYMENT)
            for o in created
            if isinstance(o, Order)
        ]
        shop_config(shop_b.pk)  # steady state: the configuration is cached
        with CaptureQueriesContext(connection) as queries:
            order_apply_actions(shop=shop_b, items=actions)
        return len(queries)

    small, large = batch("S", 5), batch("L", 60)

    assert OutboxMessage.objects.filter(event_key="confirmed", status="pending").count() == 65
    # the planner reads orders and recent messages once per batch, not once per order
    assert large - small <= 4, (small, large)


def test_an_endpoint_deleted_elsewhere_never_fails_an_order_write(shop_a: Shop) -> None:
    from suivi.core import crypto
    from suivi.notifications.config import shop_config
    from suivi.notifications.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(
        shop=shop_a,
        url="https://hooks.example.com/suivi",
        secret_encrypted=crypto.encrypt("whsec_x"),
    )
    order = make_order(shop_a, paid=True)
    assert shop_config(shop_a.pk).endpoints  # cached in this process
    # another process deletes it (no signal reaches this process: its cache does not know)
    OutboxMessage.objects.filter(endpoint=endpoint)._raw_delete("default")
    WebhookEndpoint.objects.filter(pk=endpoint.pk)._raw_delete("default")

    order_apply_action(shop=shop_a, order_id=order.pk, action="start_preparation")

    from django.db import connection

    connection.check_constraints()  # what COMMIT would check (the foreign keys are deferred)
    order.refresh_from_db()
    assert order.status == "in_preparation"
    assert OutboxMessage.objects.filter(order=order, channel="webhook").count() == 0
