"""Brevo SMS: the channel against a loopback Brevo, and the SMS webhook view.

The fake (``fake_sms.FakeBrevo``) checks the path, the ``api-key`` header and the JSON
fields (recipient digits, sender length, types) and answers with Brevo's shapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from suivi.notifications import channels
from suivi.notifications.channels.base import Outgoing
from suivi.notifications.channels.sms_brevo import (
    BrevoSms,
    brevo_recipient,
    classify,
    is_gsm7,
    webhook_url,
)
from suivi.notifications.models import CustomerPreference, OutboxMessage
from suivi.notifications.views_sms import parse_brevo_event
from suivi.shops.models import Shop
from suivi.testing import make_order

from .fake_sms import FakeBrevo, closed_port_url

API_KEY = "xkeysib-tests-0123456789"
HOOK_TOKEN = "brevo-hook-token/with+chars"
PUBLIC = "https://suivi.example.com"
PHONE = "+33612345678"
HOOK = "/notifications/callbacks/brevo/"


@pytest.fixture
def brevo() -> Iterator[FakeBrevo]:
    server = FakeBrevo(API_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def configured(settings, brevo: FakeBrevo) -> FakeBrevo:
    settings.SUIVI_SMS_PROVIDER = "brevo"
    settings.SUIVI_BREVO_API_URL = brevo.url
    settings.SUIVI_BREVO_API_KEY = API_KEY
    settings.SUIVI_BREVO_WEBHOOK_TOKEN = HOOK_TOKEN
    settings.SUIVI_SMS_SENDER = "Suivi"
    settings.BASE_URL = PUBLIC
    settings.SUIVI_SMS_TIMEOUT_SECONDS = 2
    channels.reset()
    return brevo


def outgoing(
    recipient: str = PHONE, text: str = "Votre commande est prête.", sender: str = "MaisonLum"
) -> Outgoing:
    return Outgoing(
        message_id=1,
        idempotency_key="k-1",
        shop_id=42,
        channel="sms",
        recipient=recipient,
        content={"text": text, "sender": sender},
    )


# --- sending ------------------------------------------------------------------------


def test_success_sends_brevo_request_format(configured: FakeBrevo) -> None:
    channel = channels.get_channel("sms")
    assert isinstance(channel, BrevoSms)
    assert channel.accepts_idempotency_key is False

    outcome = channel.send(outgoing())

    assert outcome.kind == "ok", outcome
    assert outcome.status_code == 201
    assert outcome.provider_message_id == str(configured.message_ids[0])
    (request,) = configured.received
    assert request.problem == ""
    assert (request.method, request.path) == ("POST", "/v3/transactionalSMS/send")
    assert request.headers["api-key"] == API_KEY
    assert request.headers["content-type"].startswith("application/json")
    web_url = request.json.pop("webUrl")
    assert request.json == {
        "sender": "MaisonLum",
        "recipient": "33612345678",
        "content": "Votre commande est prête.",
        "type": "transactional",
        "tag": "suivi-shop-42",
        "unicodeEnabled": True,  # "ê" is not GSM-7
    }
    parts = urlsplit(web_url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{PUBLIC}{HOOK}"
    assert parse_qs(parts.query) == {"token": [HOOK_TOKEN]}


def test_gsm7_text_is_not_sent_as_unicode(configured: FakeBrevo) -> None:
    assert BrevoSms().send(outgoing(text="Colis expédié : suivez-le ici.")).kind == "ok"
    assert "unicodeEnabled" not in configured.received[0].json


def test_default_sender_and_no_web_url_without_public_url(settings, configured: FakeBrevo) -> None:
    settings.BASE_URL = ""
    assert BrevoSms().send(outgoing(sender="")).kind == "ok"
    body = configured.received[0].json
    assert body["sender"] == "Suivi"
    assert "webUrl" not in body


def test_invalid_number_is_permanent_and_invalidates(configured: FakeBrevo) -> None:
    outcome = BrevoSms().send(outgoing(recipient="+336"))
    assert configured.received[0].status == 400
    assert outcome.kind == "permanent"
    assert outcome.invalidate is True
    assert outcome.answer.startswith("invalid_parameter:")


def test_invalid_sender_is_permanent_but_keeps_the_number(configured: FakeBrevo) -> None:
    outcome = BrevoSms().send(outgoing(sender="Maison Lumière & Fils"))
    assert configured.received[0].status == 400
    assert outcome.kind == "permanent"
    assert outcome.invalidate is False


def test_wrong_api_key_is_temporary(settings, configured: FakeBrevo) -> None:
    settings.SUIVI_BREVO_API_KEY = "xkeysib-wrong"
    outcome = BrevoSms().send(outgoing())
    assert configured.received[0].status == 401
    assert outcome.kind == "temporary"
    assert outcome.status_code == 401
    assert "unauthorized" in outcome.answer


def test_not_enough_credits_is_temporary(configured: FakeBrevo) -> None:
    configured.answer(402, {"code": "not_enough_credits", "message": "Not enough credits"})
    outcome = BrevoSms().send(outgoing())
    assert (outcome.kind, outcome.status_code) == ("temporary", 402)


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"x-sib-ratelimit-reset": "12", "x-sib-ratelimit-limit": "100"}, 12.0),
    ],
)
def test_rate_limited_is_temporary_with_wait(
    configured: FakeBrevo, headers: dict[str, str], wait: float
) -> None:
    configured.answer(429, {"code": "too_many_requests", "message": "Too many requests"}, headers)
    outcome = BrevoSms().send(outgoing())
    assert outcome.kind == "temporary"
    assert outcome.status_code == 429
    assert outcome.retry_after_seconds == wait


def test_server_error_is_temporary(configured: FakeBrevo) -> None:
    configured.answer(500, {"code": "internal_error", "message": "Internal error"})
    outcome = BrevoSms().send(outgoing())
    assert (outcome.kind, outcome.status_code) == ("temporary", 500)


def test_connection_refused_is_temporary(settings, configured: FakeBrevo) -> None:
    settings.SUIVI_BREVO_API_URL = closed_port_url()
    outcome = BrevoSms().send(outgoing())
    assert outcome.kind == "temporary"
    assert outcome.answer.startswith("connection:")


def test_timeout_is_temporary(settings, configured: FakeBrevo) -> None:
    settings.SUIVI_SMS_TIMEOUT_SECONDS = 0.3
    configured.answer(201, {"messageId": 1}, delay=2.0)
    outcome = BrevoSms().send(outgoing())
    assert outcome.kind == "temporary"
    assert outcome.answer.startswith("timeout:")


def test_not_configured_is_temporary_and_calls_nobody(settings, configured: FakeBrevo) -> None:
    settings.SUIVI_BREVO_API_KEY = ""
    assert BrevoSms().send(outgoing()).kind == "temporary"
    assert configured.received == []


def test_pure_helpers() -> None:
    assert is_gsm7("Colis n°12 : 3€ {ok} [ok] ~ | ^ \\ à é è ù ì ò Ç Ä ß") is False  # "°" is not
    assert is_gsm7("Colis 12 : 3€ {ok} [ok] ~ | ^ \\ à é è ù ì ò Ç Ä ß") is True
    assert is_gsm7("l’article") is False and is_gsm7("ça") is False
    assert brevo_recipient("+33612345678") == "33612345678"
    assert webhook_url("", "t") == "" and webhook_url("https://x", "") == ""
    assert (
        webhook_url("https://x/", "a b") == "https://x/notifications/callbacks/brevo/?token=a%20b"
    )
    assert classify(201, '{"messageId": 7}', {}).provider_message_id == "7"
    assert classify(201, "{}", {}).kind == "ok"
    assert classify(404, "", {}).kind == "temporary"
    assert (
        classify(
            400, '{"code": "missing_parameter", "message": "recipient is missing"}', {}
        ).invalidate
        is False
    )


# --- webhook ------------------------------------------------------------------------


@pytest.fixture
def hooks(settings) -> None:
    settings.ROOT_URLCONF = "suivi.notifications.tests.sms_test_urls"
    settings.SUIVI_BREVO_WEBHOOK_TOKEN = HOOK_TOKEN


def make_message(shop: Shop, message_id: str) -> OutboxMessage:
    order = make_order(shop, phone=PHONE)
    return OutboxMessage.objects.create(
        shop=shop,
        order=order,
        customer=order.customer,
        channel="sms",
        recipient=PHONE,
        event_key="shipped",
        event_type="order.shipped",
        idempotency_key=f"sms-brevo-{message_id}",
        status=OutboxMessage.Status.SENT,
        provider_message_id=message_id,
    )


def event(message_id: int, status: str, **extra: Any) -> dict[str, Any]:
    """A transactional SMS webhook body as Brevo documents it."""
    return {
        "id": 26570,
        "to": "33612345678",
        "sms_count": 1,
        "credits_used": 1.5,
        "messageId": message_id,
        "remaining_credit": 11488.845,
        "msg_status": status,
        "date": "2024-05-02 10:12:31",
        "type": "transactional",
        "reference": "ab1cde2fgh3i4jklmno",
        "tag": "suivi-shop-42",
        **extra,
    }


def post_hook(body: Any, token: str | None = HOOK_TOKEN, raw: bytes | None = None):
    url = (
        HOOK
        if token is None
        else f"{HOOK}?{'token=' + token.replace('+', '%2B').replace('/', '%2F')}"
    )
    data = raw if raw is not None else json.dumps(body)
    return Client().post(url, data, content_type="application/json")


@pytest.mark.django_db
def test_delivered_event_applies_receipt(hooks, shop_a: Shop) -> None:
    message = make_message(shop_a, "1511882900176220")
    response = post_hook(event(1511882900176220, "delivered"))
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DELIVERED
    assert message.receipt_status == "delivered"


@pytest.mark.django_db
@pytest.mark.parametrize("token", [None, "", "wrong-token", HOOK_TOKEN + "x"])
def test_missing_or_wrong_token_is_refused(hooks, shop_a: Shop, token: str | None) -> None:
    message = make_message(shop_a, "1511882900176221")
    response = post_hook(event(1511882900176221, "delivered"), token=token)
    assert response.status_code == 403
    message.refresh_from_db()
    assert (message.status, message.receipt_status) == (OutboxMessage.Status.SENT, "")


@pytest.mark.django_db
def test_empty_setting_refuses_even_an_empty_token(settings, hooks, shop_a: Shop) -> None:
    settings.SUIVI_BREVO_WEBHOOK_TOKEN = ""
    make_message(shop_a, "1511882900176222")
    assert post_hook(event(1511882900176222, "delivered"), token="").status_code == 403


@pytest.mark.django_db
def test_bad_json_is_400_with_a_json_error(hooks) -> None:
    response = post_hook(None, raw=b"{not json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 400
    assert response.json()["type"].endswith("/malformed-json")


@pytest.mark.django_db
def test_event_without_message_id_is_400(hooks) -> None:
    assert post_hook({"msg_status": "delivered"}).status_code == 400


@pytest.mark.django_db
def test_hard_bounce_is_dead_and_invalidates_the_phone(hooks, shop_a: Shop) -> None:
    message = make_message(shop_a, "1511882900176223")
    assert (
        post_hook(event(1511882900176223, "hard_bounce", description="Invalid number")).status_code
        == 204
    )
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DEAD
    pref = CustomerPreference.objects.get(customer=message.customer)
    assert pref.phone_invalid_at is not None


@pytest.mark.django_db
def test_soft_bounce_is_dead_without_invalidating(hooks, shop_a: Shop) -> None:
    message = make_message(shop_a, "1511882900176224")
    assert post_hook(event(1511882900176224, "soft_bounce")).status_code == 204
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DEAD
    pref = CustomerPreference.objects.filter(customer=message.customer).first()
    assert pref is None or pref.phone_invalid_at is None


@pytest.mark.django_db
def test_sent_only_records_and_unknown_id_is_acknowledged(hooks, shop_a: Shop) -> None:
    message = make_message(shop_a, "1511882900176225")
    assert post_hook(event(1511882900176225, "sent")).status_code == 204
    assert post_hook(event(999, "delivered")).status_code == 204
    message.refresh_from_db()
    assert (message.status, message.receipt_status) == (OutboxMessage.Status.SENT, "sent")


@pytest.mark.django_db
def test_batched_events_are_all_applied(hooks, shop_a: Shop) -> None:
    first = make_message(shop_a, "1511882900176226")
    second = make_message(shop_a, "1511882900176227")
    body = [event(1511882900176226, "delivered"), event(1511882900176227, "softBounce")]
    assert post_hook(body).status_code == 204
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (
        OutboxMessage.Status.DELIVERED,
        OutboxMessage.Status.DEAD,
    )


@pytest.mark.django_db
def test_get_is_not_allowed(hooks) -> None:
    assert Client().get(f"{HOOK}?token=x").status_code == 405


def test_parse_event_accepts_both_spellings() -> None:
    camel = parse_brevo_event({"messageId": 5, "event": "hardBounce", "reason": "unknown number"})
    assert camel is not None and camel.status == "hard_bounce" and camel.permanent and camel.failed
    assert camel.detail == "unknown number"
    assert parse_brevo_event({"messageId": True, "msg_status": "delivered"}) is None


@pytest.mark.django_db
def test_message_id_from_a_real_send_comes_back_as_delivered(
    hooks, configured: FakeBrevo, shop_a: Shop
) -> None:
    outcome = BrevoSms().send(outgoing())
    assert outcome.kind == "ok"
    message = make_message(shop_a, outcome.provider_message_id)
    web_url = urlsplit(configured.received[0].json["webUrl"])
    response = Client().post(
        f"{web_url.path}?{web_url.query}",
        json.dumps(event(int(outcome.provider_message_id), "delivered")),
        content_type="application/json",
    )
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DELIVERED
