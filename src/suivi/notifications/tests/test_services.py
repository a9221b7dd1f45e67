"""The configuration services of the notification engine, as the API and the back office
call them: what they validate, what they write, and that a shop never reaches another's.

Webhook deliveries that go through the wire use the real dispatcher and the loopback
receiver of :mod:`fake_webhook`; nothing of ours is replaced.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail
from django.utils import timezone

from suivi.core import crypto
from suivi.core.errors import InvalidInput, NotFound
from suivi.notifications import channels, config, dispatch, services
from suivi.notifications.catalog import CUSTOMER_CHANNELS, EVENTS
from suivi.notifications.channels.webhook import webhook_id
from suivi.notifications.models import (
    CustomerPreference,
    DeliveryAttempt,
    NotificationRule,
    NotificationSettings,
    OutboxMessage,
    PushSubscription,
    Template,
    WebhookEndpoint,
)
from suivi.shops.models import Shop
from suivi.testing import make_order

from .fake_webhook import Answer, FakeWebhookReceiver

pytestmark = pytest.mark.django_db
Status = OutboxMessage.Status

# A public address literal: accepted without any DNS lookup (the tests run offline).
PUBLIC_URL = "https://93.184.216.34/hooks/suivi"
PUSH_URL = "https://93.184.216.34/push/c1KrQ2v0"
SANDBOX_ESCAPE = "{{ ''.__class__.__mro__ }}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def push_keys() -> tuple[str, str]:
    """A browser's keys: a real P-256 public point and a 16-byte auth secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return _b64url(point), _b64url(os.urandom(16))


def invalid(call: Any, **kwargs: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call(**kwargs)
    return caught.value


@pytest.fixture(autouse=True)
def _no_private_networks(settings: Any) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = []
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BASE_URL = "https://suivi.test"
    channels.reset()


# --- rules ------------------------------------------------------------------------------


def test_the_matrix_shows_every_event_and_customer_channel_with_the_catalog_defaults(
    shop_a: Shop,
) -> None:
    rows = services.rules_matrix(shop=shop_a)
    cells = {(r.event_key, r.channel): r for r in rows}

    assert len(rows) == len(EVENTS) * len(CUSTOMER_CHANNELS)
    assert {channel for _key, channel in cells} == {"email", "sms", "push"}
    assert cells[("shipped", "email")].enabled is True
    assert cells[("in_transit", "email")].enabled is False
    assert cells[("ready_for_pickup", "sms")].enabled is True
    assert cells[("shipped", "sms")].enabled is False
    assert all(r.is_default and r.delay_seconds == 0 for r in rows)
    assert cells[("out_for_delivery", "sms")].urgent is True
    assert cells[("cancelled", "email")].essential is True


def test_an_update_writes_the_cells_and_the_planner_sees_it_at_once(
    shop_a: Shop, shop_b: Shop
) -> None:
    assert config.shop_config(shop_a.pk).rule("in_transit", "email").enabled is False  # cached

    rows = services.rules_update(
        shop=shop_a,
        changes=[
            {"event_key": "in_transit", "channel": "email", "enabled": True},
            {"event_key": "shipped", "channel": "sms", "enabled": True, "delay_seconds": 3600},
        ],
        actor="test",
    )

    cells = {(r.event_key, r.channel): r for r in rows}
    assert cells[("in_transit", "email")].enabled is True
    assert cells[("in_transit", "email")].is_default is False
    assert cells[("shipped", "sms")].delay_seconds == 3600
    assert config.shop_config(shop_a.pk).rule("in_transit", "email").enabled is True
    assert config.shop_config(shop_a.pk).rule("shipped", "sms").delay_seconds == 3600
    other = {(r.event_key, r.channel): r for r in services.rules_matrix(shop=shop_b)}
    assert other[("in_transit", "email")].enabled is False
    assert not NotificationRule.objects.filter(shop=shop_b).exists()


def test_an_update_without_a_delay_keeps_the_delay(shop_a: Shop) -> None:
    services.rules_update(
        shop=shop_a,
        changes=[{"event_key": "shipped", "channel": "sms", "enabled": True, "delay_seconds": 60}],
    )
    services.rules_update(
        shop=shop_a, changes=[services.RuleChange("shipped", "sms", enabled=False)]
    )

    rule = NotificationRule.objects.get(shop=shop_a, event_key="shipped", channel="sms")
    assert (rule.enabled, rule.delay_seconds) == (False, 60)
    assert NotificationRule.objects.filter(shop=shop_a).count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_key": "teleported", "channel": "email", "enabled": True}, "changes.1.event_key"),
        ({"event_key": "shipped", "channel": "webhook", "enabled": True}, "changes.1.channel"),
        ({"event_key": "shipped", "channel": "fax", "enabled": True}, "changes.1.channel"),
        ({"event_key": "shipped", "channel": "sms", "enabled": "yes"}, "changes.1.enabled"),
        (
            {"event_key": "shipped", "channel": "sms", "enabled": True, "delay_seconds": 604801},
            "changes.1.delay_seconds",
        ),
        (
            {"event_key": "shipped", "channel": "sms", "enabled": True, "delay_seconds": -1},
            "changes.1.delay_seconds",
        ),
        ({"event_key": "shipped", "channel": "sms"}, "changes.1.enabled"),
        ({"event_key": "delivered", "channel": "email", "enabled": True}, "changes.1"),
    ],
)
def test_an_invalid_change_names_its_field_and_writes_nothing(
    shop_a: Shop, change: dict[str, Any], field: str
) -> None:
    changes = [{"event_key": "delivered", "channel": "email", "enabled": False}, change]

    error = invalid(services.rules_update, shop=shop_a, changes=changes)

    assert error.field == field
    assert error.status == 422
    assert not NotificationRule.objects.filter(shop=shop_a).exists()


# --- settings ---------------------------------------------------------------------------


def test_settings_start_from_the_defaults_and_change_field_by_field(
    shop_a: Shop, shop_b: Shop
) -> None:
    assert services.settings_get(shop=shop_a).burst_window_seconds == 600

    services.settings_update(shop=shop_a, logo_url="https://cdn.example.fr/logo.png")
    settings = services.settings_update(
        shop=shop_a,
        sms_sender="MaisonLum",
        burst_window_seconds=0,
        quiet_start=dt.time(22, 0),
        quiet_end=dt.time(7, 30),
        reply_to="contact@maison.example",
    )

    stored = NotificationSettings.objects.get(shop=shop_a)
    assert stored.logo_url == "https://cdn.example.fr/logo.png"
    assert (stored.sms_sender, stored.burst_window_seconds) == ("MaisonLum", 0)
    assert (stored.quiet_start, stored.quiet_end) == (dt.time(22, 0), dt.time(7, 30))
    assert settings.pk == stored.pk
    assert config.shop_config(shop_a.pk).settings.burst_window_seconds == 0
    assert not NotificationSettings.objects.filter(shop=shop_b).exists()


def test_a_phone_number_sender_is_stored_as_international_digits(shop_a: Shop) -> None:
    settings = services.settings_update(shop=shop_a, sms_sender="06 12 34 56 78")
    again = services.settings_update(shop=shop_a, sms_sender=settings.sms_sender)

    assert settings.sms_sender == "33612345678"
    assert again.sms_sender == "33612345678"  # what GET shows can be sent back


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"logo_url": "javascript:alert(1)"}, "logo_url"),
        ({"logo_url": "ftp://cdn.example.fr/logo.png"}, "logo_url"),
        ({"logo_url": "https://cdn.example.fr/" + "x" * 200}, "logo_url"),
        ({"reply_to": "not an address"}, "reply_to"),
        ({"sms_sender": "MaisonLumiere"}, "sms_sender"),  # 13 characters
        ({"sms_sender": "Maison-Lum"}, "sms_sender"),
        ({"sms_sender": "+44 20 7946 0958 1234"}, "sms_sender"),
        ({"burst_window_seconds": 3601}, "burst_window_seconds"),
        ({"burst_window_seconds": True}, "burst_window_seconds"),
        ({"quiet_start": dt.time(21, 0, tzinfo=dt.UTC)}, "quiet_start"),
        ({"quiet_end": "08:00"}, "quiet_end"),
        ({"marketing_html": "a\x00b"}, "marketing_html"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_settings_are_refused_with_their_field(
    shop_a: Shop, fields: dict[str, Any], field: str
) -> None:
    error = invalid(services.settings_update, shop=shop_a, **fields)

    assert error.field == field
    assert not NotificationSettings.objects.filter(shop=shop_a).exists()


# --- templates --------------------------------------------------------------------------


def test_a_valid_override_is_saved_and_only_its_shop_sees_it(shop_a: Shop, shop_b: Shop) -> None:
    saved = services.template_save(
        shop=shop_a,
        event_key="shipped",
        channel="email",
        locale="fr",
        subject="{{ shop.name }} — {{ order.reference }} est partie",
        body_text="Bonjour {{ customer.first_name }}",
        body_html="",
        actor="api-key:abc",
    )

    assert saved.updated_by == "api-key:abc"
    found = services.template_get(shop=shop_a, event_key="shipped", channel="email", locale="fr")
    assert found is not None and found.pk == saved.pk
    assert (
        services.template_get(shop=shop_b, event_key="shipped", channel="email", locale="fr")
        is None
    )
    assert (
        services.template_get(shop=shop_a, event_key="shipped", channel="email", locale="en")
        is None
    )

    assert (
        services.template_reset(shop=shop_b, event_key="shipped", channel="email", locale="fr")
        is False
    )
    assert Template.objects.filter(pk=saved.pk).exists()
    assert (
        services.template_reset(shop=shop_a, event_key="shipped", channel="email", locale="fr")
        is True
    )
    assert not Template.objects.filter(pk=saved.pk).exists()


@pytest.mark.parametrize(
    ("channel", "sources", "field"),
    [
        ("email", {"body_text": SANDBOX_ESCAPE}, "body_text"),
        (
            "email",
            {"body_html": "<p>{{ ''.__class__.__mro__[1].__subclasses__() }}</p>"},
            "body_html",
        ),
        ("email", {"subject": "{{ order.referense }}"}, "subject"),
        ("email", {"body_text": "{% if %}"}, "body_text"),
        ("sms", {"body_text": "{{ cycler }}"}, "body_text"),
        ("sms", {"subject": "Hello", "body_text": "Bonjour"}, "subject"),
        ("push", {"subject": "{{ order.__class__ }}"}, "subject"),
    ],
)
def test_an_override_that_does_not_render_safely_is_refused_with_every_problem(
    shop_a: Shop, channel: str, sources: dict[str, str], field: str
) -> None:
    kwargs = {"subject": "", "body_text": "", "body_html": "", **sources}

    with pytest.raises(services.TemplateInvalid) as caught:
        services.template_save(
            shop=shop_a, event_key="shipped", channel=channel, locale="fr", **kwargs
        )

    error = caught.value
    assert error.code == "template-invalid"
    assert error.status == 422
    assert error.problems
    assert field in [f for f, _message in error.errors]
    assert not Template.objects.filter(shop=shop_a).exists()


def test_templates_refuse_unknown_targets_and_empty_sources(shop_a: Shop) -> None:
    base = {"shop": shop_a, "subject": "", "body_text": "x", "body_html": ""}
    assert (
        invalid(services.template_save, event_key="x", channel="email", locale="fr", **base).field
        == "event_key"
    )
    assert (
        invalid(
            services.template_save, event_key="shipped", channel="webhook", locale="fr", **base
        ).field
        == "channel"
    )
    assert (
        invalid(
            services.template_save, event_key="shipped", channel="email", locale="de", **base
        ).field
        == "locale"
    )
    empty = {**base, "body_text": "   "}
    assert invalid(
        services.template_save, event_key="shipped", channel="email", locale="fr", **empty
    )


# --- previews and test sends --------------------------------------------------------------


def test_a_sample_preview_renders_without_an_order_and_without_saving(shop_a: Shop) -> None:
    result = services.preview(shop=shop_a, event_key="shipped", channel="email", locale="fr")

    assert result["sample"] is True
    assert result["subject"]
    assert shop_a.name in result["html"]
    assert "/t/demo." in result["text"]
    assert result["segments"] is None
    assert result["used_override"] is False
    assert result["problems"] == []


def test_an_sms_preview_counts_segments_and_uses_unsaved_sources(shop_a: Shop) -> None:
    result = services.preview(
        shop=shop_a,
        event_key="ready_for_pickup",
        channel="sms",
        locale="fr",
        body_text="Commande {{ order.reference }} prete. " + "x" * 150,
    )

    assert result["used_override"] is True
    assert result["text"].startswith("Commande CMD-004217 prete. xxx")
    assert "/t/demo." in result["text"]  # the tracking link is always there
    # 150 + ~75 GSM-7 characters: two concatenated parts of 153.
    assert 160 < result["segments"]["characters"] <= 306
    assert result["segments"]["encoding"] == "GSM-7"
    assert result["segments"]["segments"] == 2
    assert not Template.objects.exists()


def test_a_broken_unsaved_source_falls_back_to_the_default_and_says_why(shop_a: Shop) -> None:
    result = services.preview(
        shop=shop_a, event_key="shipped", channel="email", locale="en", body_text=SANDBOX_ESCAPE
    )

    assert result["used_override"] is False
    assert result["problems"]
    assert "__mro__" not in result["text"] and "object" not in result["text"].split("\n")[0]


def test_a_preview_with_an_order_uses_its_data_and_only_an_order_of_the_shop(
    shop_a: Shop, shop_b: Shop
) -> None:
    mine = make_order(shop_a, paid=True)
    theirs = make_order(shop_b, paid=True)

    result = services.preview(
        shop=shop_a, event_key="confirmed", channel="email", locale="fr", order_id=mine.pk
    )

    assert result["sample"] is False
    assert mine.reference in result["subject"] + result["text"]
    with pytest.raises(NotFound) as other:
        services.preview(
            shop=shop_a, event_key="confirmed", channel="email", locale="fr", order_id=theirs.pk
        )
    with pytest.raises(NotFound) as missing:
        services.preview(
            shop=shop_a, event_key="confirmed", channel="email", locale="fr", order_id=987654
        )
    assert other.value.message == missing.value.message


def test_a_test_send_queues_one_test_message_that_the_worker_delivers(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    OutboxMessage.objects.filter(order=order).delete()  # only the test message to deliver

    message = services.test_send(
        shop=shop_a,
        event_key="confirmed",
        channel="email",
        locale="fr",
        to=" equipe@maison.example ",
        order_id=order.pk,
        actor="test",
    )
    again = services.test_send(
        shop=shop_a, event_key="confirmed", channel="email", locale="fr", to="equipe@maison.example"
    )

    assert message.is_test and message.status == Status.PENDING
    assert message.recipient == "equipe@maison.example"
    assert message.customer_id is None
    assert message.order_id == order.pk
    assert message.events[0]["type"] == "order.confirmed"
    assert message.idempotency_key.startswith("test:")
    assert again.idempotency_key != message.idempotency_key
    assert again.order_id is None
    OutboxMessage.objects.filter(pk=again.pk).delete()

    dispatch.run_once()

    [sent] = mail.outbox
    assert sent.to == ["equipe@maison.example"]
    assert order.reference in sent.subject
    assert OutboxMessage.objects.get(pk=message.pk).status == Status.SENT


def test_a_test_sms_goes_to_a_normalised_number(shop_a: Shop) -> None:
    message = services.test_send(
        shop=shop_a, event_key="shipped", channel="sms", locale="fr", to="06 12 34 56 78"
    )

    assert message.recipient == "+33612345678"


def test_test_sends_are_validated_scoped_and_limited(shop_a: Shop, shop_b: Shop) -> None:
    base = {"shop": shop_a, "event_key": "shipped", "locale": "fr"}
    assert invalid(services.test_send, channel="email", to="nobody", **base).field == "to"
    assert invalid(services.test_send, channel="sms", to="12", **base).field == "to"
    assert invalid(services.test_send, channel="push", to="x@y.fr", **base).field == "channel"
    theirs = make_order(shop_b)
    with pytest.raises(NotFound):
        services.test_send(channel="email", to="a@b.fr", order_id=theirs.pk, **base)
    for _ in range(services.MAX_TEST_MESSAGES_PER_HOUR):
        services.test_send(channel="email", to="a@b.fr", **base)

    with pytest.raises(services.TooManyTestMessages) as caught:
        services.test_send(channel="email", to="a@b.fr", **base)

    assert caught.value.status == 429
    assert OutboxMessage.objects.filter(shop=shop_a, is_test=True).count() == 30
    services.test_send(shop=shop_b, event_key="shipped", locale="fr", channel="email", to="a@b.fr")


# --- preferences and push ---------------------------------------------------------------


def test_preferences_default_then_replace_for_a_customer_of_the_shop(
    shop_a: Shop, shop_b: Shop
) -> None:
    customer_id = make_order(shop_a).customer_id
    theirs = make_order(shop_b).customer_id

    default = services.preferences_get(shop=shop_a, customer_id=customer_id)
    assert default.pk is None and default.channels is None

    saved = services.preferences_update(
        shop=shop_a,
        customer_id=customer_id,
        channels=["push", "email", "email"],
        service_opt_out=False,
        marketing_opt_out=True,
        language="en",
        timezone="America/Montreal",
        quiet_start=dt.time(22, 0),
        quiet_end=dt.time(7, 0),
    )

    stored = CustomerPreference.objects.get(customer_id=customer_id)
    assert stored.pk == saved.pk
    assert stored.channels == ["email", "push"]
    assert (stored.language, stored.timezone) == ("en", "America/Montreal")
    assert stored.marketing_opt_out is True
    for call in (services.preferences_get, services.preferences_update):
        kwargs: dict[str, Any] = {"shop": shop_a, "customer_id": theirs}
        if call is services.preferences_update:
            kwargs.update(
                channels=None,
                service_opt_out=True,
                marketing_opt_out=False,
                language="",
                timezone="",
                quiet_start=None,
                quiet_end=None,
            )
        with pytest.raises(NotFound) as caught:
            call(**kwargs)
        assert caught.value.message == "No such customer."
    assert not CustomerPreference.objects.filter(customer_id=theirs).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"language": "de"}, "language"),
        ({"channels": ["email", "webhook"]}, "channels.1"),
        ({"channels": []}, "channels"),
        ({"quiet_start": dt.time(22, 0)}, "quiet_end"),
        ({"quiet_start": dt.time(22, 0), "quiet_end": dt.time(22, 0)}, "quiet_end"),
        ({"service_opt_out": "no"}, "service_opt_out"),
    ],
)
def test_invalid_preferences_name_their_field(
    shop_a: Shop, changes: dict[str, Any], field: str
) -> None:
    customer_id = make_order(shop_a).customer_id
    kwargs: dict[str, Any] = {
        "channels": None,
        "service_opt_out": False,
        "marketing_opt_out": False,
        "language": "",
        "timezone": "",
        "quiet_start": None,
        "quiet_end": None,
        **changes,
    }

    error = invalid(services.preferences_update, shop=shop_a, customer_id=customer_id, **kwargs)

    assert error.field == field
    assert not CustomerPreference.objects.exists()


def test_a_push_subscription_is_recorded_then_updated_by_endpoint(shop_a: Shop) -> None:
    customer_id = make_order(shop_a).customer_id
    p256dh, auth = push_keys()

    first, created = services.push_subscribe(
        shop=shop_a,
        customer_id=customer_id,
        endpoint=PUSH_URL,
        p256dh=p256dh,
        auth=auth,
        user_agent="Firefox",
    )
    new_p256dh, new_auth = push_keys()
    second, created_again = services.push_subscribe(
        shop=shop_a,
        customer_id=customer_id,
        endpoint=PUSH_URL,
        p256dh=new_p256dh,
        auth=new_auth,
    )

    assert created is True and created_again is False
    assert second.pk == first.pk
    stored = PushSubscription.objects.get()
    assert (stored.p256dh, stored.auth, stored.shop_id) == (new_p256dh, new_auth, shop_a.pk)


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"endpoint": "https://10.0.0.1/push/1"}, "endpoint", "url-not-allowed"),
        ({"endpoint": "https://127.0.0.1/push/1"}, "endpoint", "url-not-allowed"),
        ({"endpoint": "file:///etc/passwd"}, "endpoint", "url-not-allowed"),
        ({"endpoint": "https://user:pw@93.184.216.34/push"}, "endpoint", "url-not-allowed"),
        ({"p256dh": _b64url(b"\x04" + b"\x00" * 64)}, "p256dh", "invalid-input"),  # not on curve
        ({"p256dh": _b64url(b"\x04" * 33)}, "p256dh", "invalid-input"),
        ({"p256dh": "***"}, "p256dh", "invalid-input"),
        ({"auth": _b64url(b"x" * 15)}, "auth", "invalid-input"),
    ],
)
def test_a_push_subscription_with_a_bad_endpoint_or_key_is_refused(
    shop_a: Shop, changes: dict[str, str], field: str, code: str
) -> None:
    customer_id = make_order(shop_a).customer_id
    p256dh, auth = push_keys()
    kwargs = {"endpoint": PUSH_URL, "p256dh": p256dh, "auth": auth, **changes}

    error = invalid(services.push_subscribe, shop=shop_a, customer_id=customer_id, **kwargs)

    assert (error.field, error.code) == (field, code)
    assert not PushSubscription.objects.exists()


def test_push_subscriptions_stay_inside_their_shop(shop_a: Shop, shop_b: Shop) -> None:
    theirs_customer = make_order(shop_b).customer_id
    p256dh, auth = push_keys()
    with pytest.raises(NotFound):
        services.push_subscribe(
            shop=shop_a, customer_id=theirs_customer, endpoint=PUSH_URL, p256dh=p256dh, auth=auth
        )
    theirs, _ = services.push_subscribe(
        shop=shop_b, customer_id=theirs_customer, endpoint=PUSH_URL, p256dh=p256dh, auth=auth
    )

    with pytest.raises(NotFound):
        services.push_unsubscribe(shop=shop_a, subscription_id=theirs.pk)

    assert PushSubscription.objects.filter(pk=theirs.pk).exists()
    services.push_unsubscribe(shop=shop_b, subscription_id=theirs.pk)
    assert not PushSubscription.objects.exists()


# --- webhook endpoints ------------------------------------------------------------------


def test_an_endpoint_secret_is_returned_once_and_stored_encrypted(shop_a: Shop) -> None:
    endpoint, secret = services.endpoint_create(
        shop=shop_a,
        url=PUBLIC_URL,
        event_types=["order.shipped", "shipment.", "order.shipped"],
        description=" ERP ",
    )

    row = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert secret.startswith("whsec_")
    assert secret not in row.secret_encrypted
    assert secret.removeprefix("whsec_") not in row.secret_encrypted
    assert crypto.decrypt(row.secret_encrypted) == secret
    assert row.event_types == ["order.shipped", "shipment."]
    assert row.description == "ERP"
    assert [e.pk for e in config.shop_config(shop_a.pk).endpoints] == [endpoint.pk]

    _same, rotated = services.endpoint_rotate_secret(shop=shop_a, endpoint_id=endpoint.pk)
    assert rotated != secret
    assert crypto.decrypt(WebhookEndpoint.objects.get(pk=endpoint.pk).secret_encrypted) == rotated


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hooks",
        "http://10.0.0.1/hooks",
        "https://192.168.1.10/hooks",
        "http://[::1]/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://2130706433/hooks",
        "https://hooks.invalid/suivi",
        "ftp://93.184.216.34/hooks",
        "not a url",
    ],
)
def test_an_endpoint_on_a_private_or_unresolvable_address_is_refused(
    shop_a: Shop, url: str
) -> None:
    error = invalid(services.endpoint_create, shop=shop_a, url=url)

    assert (error.code, error.field, error.status) == ("url-not-allowed", "url", 422)
    assert not WebhookEndpoint.objects.exists()


def test_a_private_address_is_accepted_when_the_operator_allows_its_network(
    shop_a: Shop, settings: Any
) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["10.0.0.0/8"]

    endpoint, _secret = services.endpoint_create(shop=shop_a, url="http://10.0.0.1/hooks")

    assert endpoint.url == "http://10.0.0.1/hooks"
    with pytest.raises(InvalidInput):
        services.endpoint_create(shop=shop_a, url="http://127.0.0.1/hooks")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"event_types": ["Order Shipped"]}, "event_types.0"),
        ({"event_types": "order.shipped"}, "event_types"),
        ({"description": "x" * 201}, "description"),
    ],
)
def test_endpoint_fields_are_validated(shop_a: Shop, kwargs: dict[str, Any], field: str) -> None:
    error = invalid(services.endpoint_create, shop=shop_a, **{"url": PUBLIC_URL, **kwargs})

    assert error.field == field


def test_re_enabling_an_endpoint_clears_why_it_was_disabled(shop_a: Shop) -> None:
    endpoint, _ = services.endpoint_create(shop=shop_a, url=PUBLIC_URL)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False,
        disabled_at=timezone.now(),
        disabled_reason="Every delivery failed for three days.",
        failure_streak=40,
        first_failure_at=timezone.now() - dt.timedelta(days=3),
    )

    updated = services.endpoint_update(shop=shop_a, endpoint_id=endpoint.pk, enabled=True)

    row = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert updated.enabled and row.enabled
    assert (row.disabled_at, row.disabled_reason, row.failure_streak, row.first_failure_at) == (
        None,
        "",
        0,
        None,
    )
    services.endpoint_update(shop=shop_a, endpoint_id=endpoint.pk, enabled=False)
    row.refresh_from_db()
    assert not row.enabled and row.disabled_reason == "Disabled by the merchant."
    assert config.shop_config(shop_a.pk).endpoints == ()


def test_another_shops_endpoint_is_not_found_and_untouched(shop_a: Shop, shop_b: Shop) -> None:
    theirs, _ = services.endpoint_create(shop=shop_b, url=PUBLIC_URL)
    before = list(WebhookEndpoint.objects.filter(pk=theirs.pk).values())
    calls = [
        lambda: services.endpoint_get(shop=shop_a, endpoint_id=theirs.pk),
        lambda: services.endpoint_update(shop=shop_a, endpoint_id=theirs.pk, enabled=False),
        lambda: services.endpoint_rotate_secret(shop=shop_a, endpoint_id=theirs.pk),
        lambda: services.endpoint_delete(shop=shop_a, endpoint_id=theirs.pk),
        lambda: services.endpoint_deliveries(shop=shop_a, endpoint_id=theirs.pk),
    ]
    for call in calls:
        with pytest.raises(NotFound) as caught:
            call()
        assert caught.value.message == "No such webhook endpoint."

    assert list(WebhookEndpoint.objects.filter(pk=theirs.pk).values()) == before
    assert services.endpoint_list(shop=shop_a) == []


# --- deliveries, replay and retry -------------------------------------------------------


@pytest.fixture
def receiver(settings: Any) -> Iterator[FakeWebhookReceiver]:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    with FakeWebhookReceiver("whsec_unset") as rx:
        yield rx


def _endpoint_for(shop: Shop, rx: FakeWebhookReceiver) -> WebhookEndpoint:
    endpoint, secret = services.endpoint_create(
        shop=shop, url=rx.url, event_types=["order.confirmed"]
    )
    rx.secret = secret
    return endpoint


def test_a_replayed_delivery_goes_out_again_with_the_same_webhook_id(
    shop_a: Shop, receiver: FakeWebhookReceiver
) -> None:
    endpoint = _endpoint_for(shop_a, receiver)
    make_order(shop_a, paid=True)
    OutboxMessage.objects.exclude(channel="webhook").delete()
    dispatch.run_once()
    [message] = OutboxMessage.objects.filter(endpoint=endpoint)
    assert message.status == Status.SENT

    page = services.endpoint_deliveries(shop=shop_a, endpoint_id=endpoint.pk)
    assert [m.pk for m in page.items] == [message.pk]
    assert [a.outcome for a in page.items[0].attempt_list] == ["ok"]

    replayed = services.endpoint_replay(shop=shop_a, endpoint_id=endpoint.pk, message_id=message.pk)
    assert replayed.status == Status.PENDING
    assert replayed.idempotency_key == message.idempotency_key
    with pytest.raises(services.NotRetryable):  # already queued again
        services.endpoint_replay(shop=shop_a, endpoint_id=endpoint.pk, message_id=message.pk)
    dispatch.run_once()

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.headers["webhook-id"] == webhook_id(message.idempotency_key)
    assert first.body == second.body
    assert second.problem == ""
    assert DeliveryAttempt.objects.filter(message=message).count() == 2


def test_a_dead_delivery_is_retried_once_its_endpoint_is_enabled_again(
    shop_a: Shop, receiver: FakeWebhookReceiver
) -> None:
    endpoint = _endpoint_for(shop_a, receiver)
    receiver.answers.append(Answer(410, body=b"gone"))
    make_order(shop_a, paid=True)
    OutboxMessage.objects.exclude(channel="webhook").delete()
    dispatch.run_once()
    message = OutboxMessage.objects.get(endpoint=endpoint)
    assert message.status == Status.DEAD
    assert not WebhookEndpoint.objects.get(pk=endpoint.pk).enabled

    with pytest.raises(services.EndpointDisabled):
        services.message_retry(shop=shop_a, message_id=message.pk)
    with pytest.raises(services.EndpointDisabled):
        services.endpoint_replay(shop=shop_a, endpoint_id=endpoint.pk, message_id=message.pk)
    services.endpoint_update(shop=shop_a, endpoint_id=endpoint.pk, enabled=True)
    retried = services.message_retry(shop=shop_a, message_id=message.pk)

    assert (retried.status, retried.attempts, retried.last_error) == (Status.PENDING, 0, "")
    dispatch.run_once()
    assert OutboxMessage.objects.get(pk=message.pk).status == Status.SENT
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len(receiver.received) == 2


@pytest.mark.parametrize("status", [Status.PENDING, Status.SENT, Status.MERGED, Status.SKIPPED])
def test_only_a_dead_message_can_be_retried(shop_a: Shop, status: str) -> None:
    order = make_order(shop_a, paid=True)
    message = OutboxMessage.objects.get(order=order, channel="email")
    OutboxMessage.objects.filter(pk=message.pk).update(status=status)

    with pytest.raises(services.NotRetryable) as caught:
        services.message_retry(shop=shop_a, message_id=message.pk)

    assert caught.value.status == 409
    assert OutboxMessage.objects.get(pk=message.pk).status == status


def test_a_dead_email_is_retried_now_and_other_shops_messages_are_not_found(
    shop_a: Shop, shop_b: Shop
) -> None:
    order = make_order(shop_a, paid=True)
    message = OutboxMessage.objects.get(order=order, channel="email")
    later = timezone.now() + dt.timedelta(hours=5)
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=Status.DEAD, attempts=13, last_error="Gave up", not_before=later
    )
    theirs = OutboxMessage.objects.get(order=make_order(shop_b, paid=True), channel="email")
    OutboxMessage.objects.filter(pk=theirs.pk).update(status=Status.DEAD)

    retried = services.message_retry(shop=shop_a, message_id=message.pk)

    assert retried.status == Status.PENDING and retried.not_before <= timezone.now()
    with pytest.raises(NotFound):
        services.message_retry(shop=shop_a, message_id=theirs.pk)
    assert OutboxMessage.objects.get(pk=theirs.pk).status == Status.DEAD


def test_an_orders_messages_are_listed_with_their_attempts_inside_the_shop(
    shop_a: Shop, shop_b: Shop
) -> None:
    order = make_order(shop_a, paid=True)
    dispatch.run_once()
    theirs = make_order(shop_b, paid=True)

    messages = services.order_messages(shop=shop_a, order_id=order.pk)

    assert [(m.channel, m.event_key, m.status) for m in messages] == [
        ("email", "confirmed", Status.SENT)
    ]
    assert [a.outcome for a in messages[0].attempt_list] == ["ok"]
    with pytest.raises(NotFound) as caught:
        services.order_messages(shop=shop_a, order_id=theirs.pk)
    assert caught.value.message == "No such order."
