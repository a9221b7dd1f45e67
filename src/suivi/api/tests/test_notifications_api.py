"""The notification endpoints: rules, settings, templates, previews, test sends, customer
preferences, push subscriptions, webhook endpoints and the message log.

Each test goes through the HTTP API with a shop key; bodies are checked against the
documented response schemas, errors against their problem type and field.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from suivi.api.models import IdempotencyRecord
from suivi.api.notifications import (
    MessageListOut,
    MessageOut,
    MessagePageOut,
    PreferencesOut,
    PreviewOut,
    PushSubscriptionOut,
    RulesOut,
    SettingsOut,
    TemplateOut,
    VapidKeyOut,
    WebhookListOut,
    WebhookOut,
    WebhookSecretOut,
)
from suivi.core import crypto
from suivi.notifications.models import (
    CustomerPreference,
    NotificationRule,
    OutboxMessage,
    PushSubscription,
    Template,
    WebhookEndpoint,
)

from .conftest import BASE, Api, assert_matches_schema, problem_fields

MISSING_ID = 987654321
PUBLIC_URL = "https://93.184.216.34/hooks/suivi"  # a public address: no DNS needed
PUSH_URL = "https://93.184.216.34/push/c1KrQ2v0"
PROBLEM = "https://suivi.dev/problems/"


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = []
    settings.BASE_URL = "https://suivi.test"


def call(api: Api, method: str, path: str, body: Any = None, **headers: str) -> Any:
    """Send *method* to ``/api/v1<path>`` with *body* as JSON (any method)."""
    if method == "get":
        return api.client.get(f"{BASE}{path}", headers=api._headers(headers))
    data = b"" if body is None else json.dumps(body)
    return getattr(api.client, method)(
        f"{BASE}{path}",
        data=data,
        content_type="application/json",
        headers=api._headers(headers),
    )


def problem_type(response: Any) -> str:
    assert response["Content-Type"] == "application/problem+json", response.content
    return str(response.json()["type"]).removeprefix(PROBLEM)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def subscription_body(endpoint: str = PUSH_URL, **keys: str) -> dict[str, Any]:
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": _b64url(point), "auth": _b64url(os.urandom(16)), **keys},
        "user_agent": "Mozilla/5.0 Firefox/128.0",
    }


def create_webhook(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.post("/webhooks", {"url": PUBLIC_URL, **overrides})
    assert response.status_code == 201, response.content
    return dict(response.json())


# --- rules ------------------------------------------------------------------------------


def test_the_rules_matrix_shows_the_defaults(api_a: Api, api_b: Api) -> None:
    response = api_a.get("/notifications/rules")

    assert response.status_code == 200
    body = response.json()
    assert_matches_schema(RulesOut, body)
    cells = {(r["event_key"], r["channel"]): r for r in body["rules"]}
    assert cells[("shipped", "email")]["enabled"] is True
    assert cells[("in_transit", "email")]["enabled"] is False
    assert cells[("shipped", "email")]["label"] == {"fr": "Expédiée", "en": "Shipped"}
    assert all(r["is_default"] for r in body["rules"])
    assert "webhook" not in {r["channel"] for r in body["rules"]}


def test_rules_are_changed_cell_by_cell(api_a: Api, api_b: Api) -> None:
    response = call(
        api_a,
        "put",
        "/notifications/rules",
        {
            "rules": [
                {"event_key": "in_transit", "channel": "email", "enabled": True},
                {"event_key": "shipped", "channel": "sms", "enabled": True, "delay_seconds": 900},
            ]
        },
    )

    assert response.status_code == 200
    cells = {(r["event_key"], r["channel"]): r for r in response.json()["rules"]}
    assert cells[("in_transit", "email")]["enabled"] is True
    assert cells[("in_transit", "email")]["is_default"] is False
    assert cells[("shipped", "sms")]["delay_seconds"] == 900
    theirs = {
        (r["event_key"], r["channel"]): r for r in api_b.get("/notifications/rules").json()["rules"]
    }
    assert theirs[("in_transit", "email")]["enabled"] is False


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"event_key": "teleported", "channel": "email", "enabled": True}, "rules.0.event_key"),
        ({"event_key": "shipped", "channel": "webhook", "enabled": True}, "rules.0.channel"),
        (
            {"event_key": "shipped", "channel": "sms", "enabled": True, "delay_seconds": 604801},
            "rules.0.delay_seconds",
        ),
        ({"event_key": "shipped", "channel": "sms"}, "rules.0.enabled"),
        ({"event_key": "shipped", "channel": "sms", "enabled": True, "when": 1}, "rules.0.when"),
    ],
)
def test_an_invalid_rule_is_a_422_naming_its_field(
    api_a: Api, api_b: Api, rule: dict[str, Any], field: str
) -> None:
    response = call(api_a, "put", "/notifications/rules", {"rules": [rule]})

    assert response.status_code == 422
    assert problem_type(response) == "validation-error"
    assert problem_fields(response) == [field]
    assert not NotificationRule.objects.exists()


def test_a_rule_listed_twice_is_refused(api_a: Api, api_b: Api) -> None:
    rule = {"event_key": "shipped", "channel": "sms", "enabled": True}

    response = call(api_a, "put", "/notifications/rules", {"rules": [rule, rule]})

    assert response.status_code == 422
    assert problem_fields(response) == ["rules"]


# --- settings ---------------------------------------------------------------------------


def test_settings_are_read_and_patched(api_a: Api, api_b: Api) -> None:
    assert_matches_schema(SettingsOut, api_a.get("/notifications/settings").json())

    response = call(
        api_a,
        "patch",
        "/notifications/settings",
        {"sms_sender": "MaisonLum", "quiet_start": "22:30", "burst_window_seconds": 120},
    )

    assert response.status_code == 200
    body = response.json()
    assert_matches_schema(SettingsOut, body)
    assert (body["sms_sender"], body["quiet_start"], body["burst_window_seconds"]) == (
        "MaisonLum",
        "22:30",
        120,
    )
    assert body["quiet_end"] == "08:00"  # untouched
    assert api_b.get("/notifications/settings").json()["sms_sender"] == ""


@pytest.mark.parametrize(
    ("body", "kind", "field"),
    [
        ({"logo_url": "javascript:alert(1)"}, "invalid-input", "logo_url"),
        ({"sms_sender": "Maison Lumière"}, "invalid-input", "sms_sender"),
        ({"quiet_start": "21:00+02:00"}, "validation-error", "quiet_start"),
        ({"quiet_start": "25:00"}, "validation-error", "quiet_start"),
        ({"burst_window_seconds": 3601}, "validation-error", "burst_window_seconds"),
        ({"quiet_end": None}, "validation-error", "quiet_end"),
        ({"theme": "dark"}, "validation-error", "theme"),
    ],
)
def test_invalid_settings_are_a_422_naming_the_field(
    api_a: Api, api_b: Api, body: dict[str, Any], kind: str, field: str
) -> None:
    response = call(api_a, "patch", "/notifications/settings", body)

    assert response.status_code == 422
    assert problem_type(response) == kind
    assert problem_fields(response) == [field]


# --- templates --------------------------------------------------------------------------

TEMPLATE = "/notifications/templates/shipped/email/fr"


def test_a_template_override_is_saved_read_and_reset(api_a: Api, api_b: Api) -> None:
    assert api_a.get(TEMPLATE).json()["overridden"] is False

    saved = call(
        api_a,
        "put",
        TEMPLATE,
        {"subject": "{{ order.reference }} est partie", "body_html": "<p>En route</p>"},
    )

    assert saved.status_code == 200
    assert_matches_schema(TemplateOut, saved.json())
    read = api_a.get(TEMPLATE).json()
    assert read["overridden"] is True
    assert read["subject"] == "{{ order.reference }} est partie"
    assert read["updated_by"] == f"api-key:{api_a.key.api_key.prefix}"  # type: ignore[union-attr]
    assert api_b.get(TEMPLATE).json()["overridden"] is False
    assert call(api_b, "delete", TEMPLATE).status_code == 200
    assert Template.objects.count() == 1

    reset = call(api_a, "delete", TEMPLATE)

    assert reset.status_code == 200
    assert reset.json()["overridden"] is False
    assert not Template.objects.exists()


def test_a_sandbox_escape_is_refused_with_template_invalid(api_a: Api, api_b: Api) -> None:
    response = call(
        api_a,
        "put",
        TEMPLATE,
        {"subject": "Colis {{ order.reference }}", "body_text": "{{ ''.__class__.__mro__ }}"},
    )

    assert response.status_code == 422
    assert problem_type(response) == "template-invalid"
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["body_text"]
    assert "not allowed" in errors[0]["message"] or "unsafe" in errors[0]["message"].lower()
    assert not Template.objects.exists()


def test_an_unknown_variable_and_a_syntax_error_are_both_reported(api_a: Api, api_b: Api) -> None:
    response = call(
        api_a, "put", TEMPLATE, {"subject": "{{ order.referense }}", "body_html": "{% if %}"}
    )

    assert response.status_code == 422
    assert problem_fields(response) == ["subject", "body_html"]


@pytest.mark.parametrize(
    "path",
    [
        "/notifications/templates/teleported/email/fr",
        "/notifications/templates/shipped/webhook/fr",
        "/notifications/templates/shipped/email/de",
    ],
)
def test_a_template_path_outside_the_catalog_is_a_422(api_a: Api, api_b: Api, path: str) -> None:
    for method in ("get", "put", "delete"):
        response = call(api_a, method, path, {"body_text": "x"} if method == "put" else None)
        assert response.status_code == 422, (method, response.content)
        assert problem_type(response) == "validation-error"


# --- preview, test send, VAPID ----------------------------------------------------------


def test_a_preview_renders_sample_data_or_an_order_of_the_shop(api_a: Api, api_b: Api) -> None:
    order = api_a.create_order(paid=True)

    sample = api_a.post("/notifications/preview", {"event_key": "shipped", "channel": "email"})
    real = api_a.post(
        "/notifications/preview",
        {"event_key": "confirmed", "channel": "email", "locale": "en", "order_id": order["id"]},
    )
    sms = api_a.post(
        "/notifications/preview",
        {
            "event_key": "ready_for_pickup",
            "channel": "sms",
            "body_text": "Prete {{ order.reference }}",
        },
    )

    for response in (sample, real, sms):
        assert response.status_code == 200, response.content
        assert_matches_schema(PreviewOut, response.json())
    assert sample.json()["sample"] is True and sample.json()["locale"] == "fr"
    assert order["reference"] in real.json()["subject"] + real.json()["text"]
    assert sms.json()["segments"]["segments"] == 1
    assert sms.json()["text"].startswith("Prete CMD-004217")
    assert not Template.objects.exists()


def test_a_test_message_is_queued_and_validated(api_a: Api, api_b: Api) -> None:
    response = api_a.post(
        "/notifications/test",
        {"event_key": "shipped", "channel": "sms", "to": "06 12 34 56 78"},
        headers={"Idempotency-Key": "test-1"},
    )
    replay = api_a.post(
        "/notifications/test",
        {"event_key": "shipped", "channel": "sms", "to": "06 12 34 56 78"},
        headers={"Idempotency-Key": "test-1"},
    )

    assert response.status_code == 202, response.content
    body = response.json()
    assert_matches_schema(MessageOut, body)
    assert (body["is_test"], body["recipient"], body["status"]) == (True, "+33612345678", "pending")
    assert replay.content == response.content
    assert OutboxMessage.objects.filter(is_test=True).count() == 1

    bad_phone = api_a.post(
        "/notifications/test", {"event_key": "shipped", "channel": "sms", "to": "123"}
    )
    push = api_a.post(
        "/notifications/test", {"event_key": "shipped", "channel": "push", "to": "a@b.fr"}
    )
    assert (bad_phone.status_code, problem_fields(bad_phone)) == (422, ["to"])
    assert (push.status_code, problem_fields(push)) == (422, ["channel"])


def test_the_vapid_key_is_an_uncompressed_p256_point(api_a: Api, api_b: Api) -> None:
    response = api_a.get("/notifications/vapid-public-key")

    assert response.status_code == 200
    assert_matches_schema(VapidKeyOut, response.json())
    key = response.json()["public_key"]
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4


# --- customers --------------------------------------------------------------------------


def test_preferences_are_read_and_replaced(api_a: Api, api_b: Api) -> None:
    customer_id = OutboxMessage.objects.get(
        order_id=api_a.create_order(paid=True)["id"]
    ).customer_id
    path = f"/customers/{customer_id}/notification-preferences"

    default = api_a.get(path)
    saved = call(
        api_a,
        "put",
        path,
        {
            "channels": ["email"],
            "timezone": "Europe/Brussels",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
    )

    assert default.status_code == 200 and default.json()["channels"] is None
    assert saved.status_code == 200
    assert_matches_schema(PreferencesOut, saved.json())
    stored = CustomerPreference.objects.get(customer_id=customer_id)
    assert (stored.channels, stored.timezone) == (["email"], "Europe/Brussels")
    assert api_a.get(path).json()["quiet_start"] == "22:00"

    bad = call(api_a, "put", path, {"timezone": "Europe/Atlantis"})
    half = call(api_a, "put", path, {"quiet_start": "22:00"})
    assert (bad.status_code, problem_type(bad), problem_fields(bad)) == (
        422,
        "invalid-input",
        ["timezone"],
    )
    assert (half.status_code, problem_fields(half)) == (422, ["quiet_end"])


def test_a_push_subscription_is_created_updated_and_deleted(api_a: Api, api_b: Api) -> None:
    customer_id = OutboxMessage.objects.get(
        order_id=api_a.create_order(paid=True)["id"]
    ).customer_id
    path = f"/customers/{customer_id}/push-subscriptions"

    renewed = subscription_body()
    created = api_a.post(path, subscription_body())
    updated = api_a.post(path, renewed)

    assert created.status_code == 201, created.content
    assert updated.status_code == 200
    assert_matches_schema(PushSubscriptionOut, created.json())
    assert created.json()["id"] == updated.json()["id"]
    subscription_id = created.json()["id"]
    stored = PushSubscription.objects.get(pk=subscription_id)
    assert (stored.p256dh, stored.auth) == (renewed["keys"]["p256dh"], renewed["keys"]["auth"])

    private = api_a.post(path, subscription_body("https://10.0.0.1/push/1"))
    short = api_a.post(path, subscription_body(auth=_b64url(b"x" * 8)))
    assert (private.status_code, problem_type(private), problem_fields(private)) == (
        422,
        "url-not-allowed",
        ["endpoint"],
    )
    assert (short.status_code, problem_fields(short)) == (422, ["auth"])

    deleted = call(api_a, "delete", f"/push-subscriptions/{subscription_id}")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": subscription_id, "deleted": True}
    assert not PushSubscription.objects.exists()


# --- webhooks ---------------------------------------------------------------------------


def test_a_webhook_secret_is_shown_once_and_stored_encrypted(api_a: Api, api_b: Api) -> None:
    response = api_a.post(
        "/webhooks",
        {"url": PUBLIC_URL, "event_types": ["order.shipped", "shipment."], "description": "ERP"},
        headers={"Idempotency-Key": "wh-1"},
    )
    replay = api_a.post(
        "/webhooks",
        {"url": PUBLIC_URL, "event_types": ["order.shipped", "shipment."], "description": "ERP"},
        headers={"Idempotency-Key": "wh-1"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert_matches_schema(WebhookSecretOut, body)
    secret = body["secret"]
    assert secret.startswith("whsec_")
    row = WebhookEndpoint.objects.get()
    assert secret not in row.secret_encrypted
    assert crypto.decrypt(row.secret_encrypted) == secret
    # The replay answers the same endpoint, without the secret, which nothing stored.
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == body["id"] and replay.json()["secret"] is None
    assert all(secret not in r.response_body for r in IdempotencyRecord.objects.all())
    listed = api_a.get("/webhooks").json()
    assert_matches_schema(WebhookListOut, listed)
    assert [e["id"] for e in listed["items"]] == [body["id"]]
    assert (
        "secret" not in json.dumps(listed)
        and secret not in api_a.get(f"/webhooks/{body['id']}").content.decode()
    )
    assert api_b.get("/webhooks").json() == {"items": []}

    rotated = api_a.post(f"/webhooks/{body['id']}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (None, secret)
    assert (
        crypto.decrypt(WebhookEndpoint.objects.get().secret_encrypted) == rotated.json()["secret"]
    )


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/hooks", "http://10.0.0.1/hooks", "http://[::ffff:10.0.0.1]/x"]
)
def test_a_webhook_to_a_private_address_is_url_not_allowed(
    api_a: Api, api_b: Api, url: str
) -> None:
    response = api_a.post("/webhooks", {"url": url})

    assert response.status_code == 422
    assert problem_type(response) == "url-not-allowed"
    assert problem_fields(response) == ["url"]
    assert not WebhookEndpoint.objects.exists()
    patched = call(api_a, "patch", f"/webhooks/{create_webhook(api_a)['id']}", {"url": url})
    assert (patched.status_code, problem_type(patched)) == (422, "url-not-allowed")
    assert WebhookEndpoint.objects.get().url == PUBLIC_URL


def test_a_webhook_is_patched_and_deleted(api_a: Api, api_b: Api) -> None:
    endpoint_id = create_webhook(api_a)["id"]
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        enabled=False, disabled_reason="Gone (410)", failure_streak=3, disabled_at=timezone.now()
    )

    response = call(
        api_a, "patch", f"/webhooks/{endpoint_id}", {"enabled": True, "event_types": ["order."]}
    )

    assert response.status_code == 200
    body = response.json()
    assert_matches_schema(WebhookOut, body)
    assert (body["enabled"], body["disabled_reason"], body["failure_streak"]) == (True, "", 0)
    assert body["event_types"] == ["order."]
    null = call(api_a, "patch", f"/webhooks/{endpoint_id}", {"enabled": None})
    assert (null.status_code, problem_fields(null)) == (422, ["enabled"])
    deleted = call(api_a, "delete", f"/webhooks/{endpoint_id}")
    assert deleted.json() == {"id": endpoint_id, "deleted": True}
    assert api_a.get(f"/webhooks/{endpoint_id}").status_code == 404


def test_deliveries_are_paged_and_a_replay_keeps_the_webhook_id(api_a: Api, api_b: Api) -> None:
    endpoint_id = create_webhook(api_a)["id"]
    for _ in range(3):
        api_a.create_order(paid=True)  # several events each
    messages = list(OutboxMessage.objects.filter(endpoint_id=endpoint_id).order_by("-id"))
    assert len(messages) > 4

    first = api_a.get(f"/webhooks/{endpoint_id}/deliveries", {"limit": 4})
    rest = api_a.get(f"/webhooks/{endpoint_id}/deliveries", {"cursor": first.json()["next_cursor"]})
    bad = api_a.get(f"/webhooks/{endpoint_id}/deliveries", {"cursor": "nope"})

    assert_matches_schema(MessagePageOut, first.json())
    ids = [m["id"] for m in first.json()["items"] + rest.json()["items"]]
    assert ids == [m.pk for m in messages]
    assert rest.json()["next_cursor"] is None
    assert (bad.status_code, problem_type(bad)) == (400, "invalid-cursor")

    target = messages[0]
    queued = api_a.post(f"/webhooks/{endpoint_id}/deliveries/{target.pk}/replay")
    assert (queued.status_code, problem_type(queued)) == (409, "message-not-retryable")
    OutboxMessage.objects.filter(pk=target.pk).update(status="sent", attempts=1)
    before = first.json()["items"][0]["webhook_id"]

    replayed = api_a.post(f"/webhooks/{endpoint_id}/deliveries/{target.pk}/replay")

    assert replayed.status_code == 200, replayed.content
    assert replayed.json()["status"] == "pending"
    assert replayed.json()["webhook_id"] == before
    assert OutboxMessage.objects.get(pk=target.pk).idempotency_key == target.idempotency_key
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(enabled=False)
    OutboxMessage.objects.filter(pk=target.pk).update(status="dead")
    disabled = api_a.post(f"/webhooks/{endpoint_id}/deliveries/{target.pk}/replay")
    assert (disabled.status_code, problem_type(disabled)) == (409, "endpoint-disabled")


# --- the message log --------------------------------------------------------------------


def test_an_orders_messages_and_the_retry_of_a_dead_one(api_a: Api, api_b: Api) -> None:
    order = api_a.create_order(paid=True)
    message = OutboxMessage.objects.get(order_id=order["id"])

    listed = api_a.get(f"/orders/{order['id']}/messages")
    sent_twice = api_a.post(f"/notifications/messages/{message.pk}/retry")
    OutboxMessage.objects.filter(pk=message.pk).update(status="dead", attempts=13, last_error="x")
    retried = api_a.post(f"/notifications/messages/{message.pk}/retry")

    assert listed.status_code == 200
    assert_matches_schema(MessageListOut, listed.json())
    [item] = listed.json()["items"]
    assert (item["channel"], item["event_key"], item["recipient"]) == (
        "email",
        "confirmed",
        "claire.martin@example.fr",
    )
    assert item["webhook_id"] is None
    assert (sent_twice.status_code, problem_type(sent_twice)) == (409, "message-not-retryable")
    assert "already waiting" in sent_twice.json()["detail"]
    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["attempts"], retried.json()["last_error"]) == (
        "pending",
        0,
        "",
    )


# --- tenancy ----------------------------------------------------------------------------

# Every request that names an object, with a valid body so that only the shop can fail.
REQUESTS: dict[str, Callable[[Api, dict[str, int]], Any]] = {
    "get webhook": lambda api, ids: api.get(f"/webhooks/{ids['endpoint']}"),
    "patch webhook": lambda api, ids: call(
        api, "patch", f"/webhooks/{ids['endpoint']}", {"enabled": False}
    ),
    "delete webhook": lambda api, ids: call(api, "delete", f"/webhooks/{ids['endpoint']}"),
    "rotate secret": lambda api, ids: api.post(f"/webhooks/{ids['endpoint']}/rotate-secret"),
    "deliveries": lambda api, ids: api.get(f"/webhooks/{ids['endpoint']}/deliveries"),
    "replay": lambda api, ids: api.post(
        f"/webhooks/{ids['endpoint']}/deliveries/{ids['delivery']}/replay"
    ),
    "get preferences": lambda api, ids: api.get(
        f"/customers/{ids['customer']}/notification-preferences"
    ),
    "put preferences": lambda api, ids: call(
        api,
        "put",
        f"/customers/{ids['customer']}/notification-preferences",
        {"service_opt_out": True},
    ),
    "push subscribe": lambda api, ids: api.post(
        f"/customers/{ids['customer']}/push-subscriptions",
        subscription_body("https://93.184.216.34/push/other"),
    ),
    "push unsubscribe": lambda api, ids: call(
        api, "delete", f"/push-subscriptions/{ids['subscription']}"
    ),
    "order messages": lambda api, ids: api.get(f"/orders/{ids['order']}/messages"),
    "retry": lambda api, ids: api.post(f"/notifications/messages/{ids['message']}/retry"),
    "preview": lambda api, ids: api.post(
        "/notifications/preview",
        {"event_key": "confirmed", "channel": "email", "order_id": ids["order"]},
    ),
    "test send": lambda api, ids: api.post(
        "/notifications/test",
        {"event_key": "confirmed", "channel": "email", "to": "a@b.fr", "order_id": ids["order"]},
    ),
}


def _shop_b_objects(api_b: Api) -> dict[str, int]:
    endpoint_id = create_webhook(api_b)["id"]
    order = api_b.create_order(paid=True)
    email = OutboxMessage.objects.get(order_id=order["id"], channel="email")
    delivery = OutboxMessage.objects.filter(endpoint_id=endpoint_id).first()
    assert delivery is not None
    OutboxMessage.objects.filter(pk__in=[email.pk, delivery.pk]).update(status="dead")
    subscription = api_b.post(
        f"/customers/{email.customer_id}/push-subscriptions", subscription_body()
    ).json()
    return {
        "endpoint": endpoint_id,
        "delivery": delivery.pk,
        "order": order["id"],
        "message": email.pk,
        "customer": int(email.customer_id or 0),
        "subscription": subscription["id"],
    }


def _state() -> list[Any]:
    return [
        list(WebhookEndpoint.objects.order_by("id").values()),
        list(OutboxMessage.objects.order_by("id").values("id", "status", "attempts", "not_before")),
        list(PushSubscription.objects.order_by("id").values()),
        list(CustomerPreference.objects.order_by("id").values()),
    ]


@pytest.mark.parametrize("request_name", list(REQUESTS))
def test_another_shops_object_is_a_404_identical_to_a_missing_one(
    api_a: Api, api_b: Api, request_name: str
) -> None:
    theirs = _shop_b_objects(api_b)
    missing = dict.fromkeys(theirs, MISSING_ID)
    before = _state()
    send = REQUESTS[request_name]

    other_shop = send(api_a, theirs)
    not_there = send(api_a, missing)

    assert other_shop.status_code == 404, other_shop.content
    assert other_shop.content == not_there.content
    assert other_shop["Content-Type"] == not_there["Content-Type"] == "application/problem+json"
    assert _state() == before
    assert OutboxMessage.objects.filter(shop_id=api_a.key.api_key.shop_id).count() == 0  # type: ignore[union-attr]
    # The owner reaches it.
    assert send(api_b, theirs).status_code != 404


def test_a_delivery_of_another_shop_under_my_endpoint_is_not_found(api_a: Api, api_b: Api) -> None:
    theirs = _shop_b_objects(api_b)
    mine = create_webhook(api_a)["id"]

    other = api_a.post(f"/webhooks/{mine}/deliveries/{theirs['delivery']}/replay")
    missing = api_a.post(f"/webhooks/{mine}/deliveries/{MISSING_ID}/replay")

    assert other.status_code == 404
    assert other.content == missing.content
    assert OutboxMessage.objects.get(pk=theirs["delivery"]).status == "dead"


# --- the document -----------------------------------------------------------------------

OPERATIONS = {
    "GET /api/v1/notifications/rules",
    "PUT /api/v1/notifications/rules",
    "GET /api/v1/notifications/settings",
    "PATCH /api/v1/notifications/settings",
    "GET /api/v1/notifications/templates/{event_key}/{channel}/{locale}",
    "PUT /api/v1/notifications/templates/{event_key}/{channel}/{locale}",
    "DELETE /api/v1/notifications/templates/{event_key}/{channel}/{locale}",
    "POST /api/v1/notifications/preview",
    "POST /api/v1/notifications/test",
    "GET /api/v1/notifications/vapid-public-key",
    "GET /api/v1/customers/{customer_id}/notification-preferences",
    "PUT /api/v1/customers/{customer_id}/notification-preferences",
    "POST /api/v1/customers/{customer_id}/push-subscriptions",
    "DELETE /api/v1/push-subscriptions/{subscription_id}",
    "GET /api/v1/webhooks",
    "POST /api/v1/webhooks",
    "GET /api/v1/webhooks/{endpoint_id}",
    "PATCH /api/v1/webhooks/{endpoint_id}",
    "DELETE /api/v1/webhooks/{endpoint_id}",
    "POST /api/v1/webhooks/{endpoint_id}/rotate-secret",
    "GET /api/v1/webhooks/{endpoint_id}/deliveries",
    "POST /api/v1/webhooks/{endpoint_id}/deliveries/{message_id}/replay",
    "GET /api/v1/orders/{order_id}/messages",
    "POST /api/v1/notifications/messages/{message_id}/retry",
}


def test_every_notification_endpoint_is_documented_with_problem_errors(
    anonymous: Api, shop_a: Any, shop_b: Any
) -> None:
    document = anonymous.get("/openapi.json").json()
    operations = {
        f"{method.upper()} {path}": operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }

    assert set(operations) >= OPERATIONS
    for name in OPERATIONS:
        operation = operations[name]
        assert operation["tags"] == ["notifications"]
        assert operation["security"] == [{"ApiKeyAuth": []}]
        assert "401" in operation["responses"]
        for status, response in operation["responses"].items():
            expected = "application/problem+json" if int(status) >= 400 else "application/json"
            assert list(response["content"]) == [expected], (name, status)
        if name.startswith("POST "):
            headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert headers == ["Idempotency-Key"], name
        if "{" in name:
            assert "422" in operation["responses"], name


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/notifications/rules"),
        ("put", "/notifications/rules"),
        ("post", "/webhooks"),
        ("get", "/webhooks/1"),
        ("get", "/orders/1/messages"),
        ("post", "/notifications/messages/1/retry"),
        ("get", "/customers/1/notification-preferences"),
    ],
)
def test_notification_endpoints_need_a_key(
    anonymous: Api, shop_a: Any, shop_b: Any, method: str, path: str
) -> None:
    response = call(anonymous, method, path, {})

    assert response.status_code == 401
    assert problem_type(response) == "unauthorized"
