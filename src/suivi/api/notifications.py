"""Notification endpoints: rules, settings, templates (preview, test send), customer
preferences, web push subscriptions, webhook endpoints and the merchant's message log.

Every endpoint parses the request, calls one service of :mod:`suivi.notifications.services`
(the back office calls the same ones) and renders the result. Ids are looked up inside the
key's shop: another shop's object answers the same 404 as a missing one.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.functional import Promise
from ninja import Router, Schema
from ninja.params import functions as params
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from suivi.notifications import services
from suivi.notifications.catalog import CUSTOMER_CHANNELS, EVENTS, WEBHOOK
from suivi.notifications.channels.webhook import webhook_id
from suivi.notifications.models import (
    CustomerPreference,
    NotificationSettings,
    OutboxMessage,
    PushSubscription,
    Template,
    WebhookEndpoint,
)
from suivi.shops.models import Shop

from .auth import request_actor, request_shop
from .fields import MAX_ID, clean_text
from .idempotency import REPLAYED_HEADER, IdempotencyKey, idempotent
from .pagination import cursor_decode, cursor_encode
from .problems import Problem, problem_response
from .render import json_response
from .schemas import In

router = Router(tags=["notifications"])

DELIVERY_CURSOR = "deliveries"

# --- parameters and input types ---------------------------------------------------------

EventKey = StrEnum("EventKey", [(key, key) for key in EVENTS])  # type: ignore[misc]
Channel = StrEnum("Channel", [(c, c) for c in CUSTOMER_CHANNELS])  # type: ignore[misc]
TestChannel = StrEnum("TestChannel", [(c, c) for c in services.TEST_CHANNELS])  # type: ignore[misc]
Locale = StrEnum("Locale", [(code, code) for code in services.LOCALES])  # type: ignore[misc]


def _id_param(description: str) -> Any:
    return params.Path(..., ge=1, le=MAX_ID, description=description, example=1)


EndpointId: Any = _id_param("The webhook endpoint's id.")
MessageId: Any = _id_param("The message's id.")
CustomerId: Any = _id_param("The customer's id (as in the order's events).")
SubscriptionId: Any = _id_param("The push subscription's id.")
OrderId: Any = _id_param("The order's id (not its reference).")
Limit: Any = params.Query(50, ge=1, le=services.MAX_PAGE, description="Page size.")
Cursor: Any = params.Query(None, max_length=200, description="next_cursor of the previous page.")

_STORABLE = AfterValidator(clean_text)
TemplateSource = Annotated[
    str, StringConstraints(max_length=services.MAX_TEMPLATE_CHARS), _STORABLE
]
MarketingText = Annotated[
    str, StringConstraints(max_length=services.MAX_MARKETING_CHARS), _STORABLE
]
WebhookUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=services.MAX_WEBHOOK_URL),
    _STORABLE,
    Field(examples=["https://erp.example.com/suivi/webhooks"]),
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=services.MAX_DESCRIPTION),
    _STORABLE,
]
EventType = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=services.MAX_EVENT_TYPE_CHARS,
        pattern=r"^(?:\*|[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*\.?)$",
    ),
    Field(description="A domain event type, a prefix ending with '.', or '*'."),
]
EventTypes = Annotated[list[EventType], Field(max_length=services.MAX_EVENT_TYPES)]


def _patch_schema(examples: list[dict[str, Any]]) -> Any:
    """A ``json_schema_extra`` for PATCH bodies: fields may be left out but never be null,
    so the document offers no null (pydantic would, from ``T | None = None``)."""

    def extra(document: dict[str, Any]) -> None:
        for prop in document.get("properties", {}).values():
            options = prop.get("anyOf")
            if options:
                kept = [o for o in options if o.get("type") != "null"]
                if len(kept) == 1:
                    del prop["anyOf"]
                    prop.update(kept[0])
            if "default" in prop and prop["default"] is None:
                del prop["default"]
        document["examples"] = examples

    return extra


_HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _local_time(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError("must be a local time of day (HH:MM) without a UTC offset")
    return value


# Quiet hours are local times of day (the customer's or the shop's time zone applies):
# "HH:MM", no offset, so neither side uses JSON Schema's "time" format (which needs one).
LocalTimeIn = Annotated[
    dt.time,
    AfterValidator(_local_time),
    WithJsonSchema({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"}),
    Field(examples=["21:00"]),
]
LocalTime = Annotated[str, Field(pattern=_HH_MM, examples=["21:00"])]


def _refuse_null(value: Any) -> Any:
    # PATCH fields may be left out, never set to null (a value is always stored).
    if value is None:
        raise ValueError("must not be null; leave the field out to keep its value")
    return value


# --- request bodies ---------------------------------------------------------------------


class RuleIn(In):
    event_key: EventKey
    channel: Channel
    enabled: bool
    delay_seconds: int | None = Field(
        None,
        ge=0,
        le=services.MAX_DELAY_SECONDS,
        description="Wait this long after the event (7 days at most); null keeps the delay.",
    )


class RulesIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "rules": [
                        {"event_key": "in_transit", "channel": "email", "enabled": True},
                        {
                            "event_key": "shipped",
                            "channel": "sms",
                            "enabled": True,
                            "delay_seconds": 3600,
                        },
                    ]
                }
            ]
        },
    )

    rules: list[RuleIn] = Field(
        min_length=1,
        max_length=len(EVENTS) * len(CUSTOMER_CHANNELS),
        description="The cells to change; the others keep their value.",
    )

    @field_validator("rules")
    @classmethod
    def _once_each(cls, rules: list[RuleIn]) -> list[RuleIn]:
        cells = [(rule.event_key, rule.channel) for rule in rules]
        if len(set(cells)) != len(cells):
            raise ValueError("must list each event and channel once")
        return rules


class SettingsPatchIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_patch_schema(
            [
                {
                    "logo_url": "https://maison-lumiere.example/logo.png",
                    "sms_sender": "MaisonLum",
                    "burst_window_seconds": 600,
                    "quiet_start": "21:00",
                    "quiet_end": "08:00",
                }
            ],
        ),
    )

    logo_url: Annotated[str, StringConstraints(max_length=services.MAX_LOGO_URL)] | None = Field(
        None, description="http(s) URL of the logo shown in emails; empty for none."
    )
    reply_to: Annotated[str, StringConstraints(max_length=254)] | None = Field(
        None, description="Reply-To of emails; empty: none."
    )
    sms_sender: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        None, description="1 to 11 letters, digits or spaces with a letter, or a phone number."
    )
    marketing_html: MarketingText | None = Field(
        None, description="Marketing block of emails (HTML)."
    )
    marketing_text: MarketingText | None = Field(None, description="The same block in plain text.")
    burst_window_seconds: int | None = Field(
        None,
        ge=0,
        le=services.MAX_BURST_WINDOW_SECONDS,
        description="Events of one order within this window are told in one message.",
    )
    quiet_start: LocalTimeIn | None = Field(
        None, description="Local time SMS and push stop (not urgent)."
    )
    quiet_end: LocalTimeIn | None = Field(
        None, description="Local time they resume; equal ends: none."
    )

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        return _refuse_null(value)


class TemplateIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": "{{ shop.name }} : votre commande {{ order.reference }} est partie",
                    "body_text": "Bonjour {{ customer.first_name }},\n\nVotre colis est en route.",
                    "body_html": "<p>Bonjour {{ customer.first_name }},</p>"
                    "<p>Votre colis est en route.</p>",
                }
            ]
        },
    )

    subject: TemplateSource = Field("", description="Email subject or push title (Jinja).")
    body_text: TemplateSource = Field("", description="Plain-text email, SMS or push body.")
    body_html: TemplateSource = Field("", description="HTML email body (inside the layout).")


class PreviewIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"event_key": "shipped", "channel": "email", "locale": "fr"},
                {
                    "event_key": "ready_for_pickup",
                    "channel": "sms",
                    "locale": "fr",
                    "body_text": "{{ shop.name }} : votre commande vous attend.",
                },
            ]
        },
    )

    event_key: EventKey
    channel: Channel
    locale: Locale = Field(Locale("fr"), description="Language of the message.")
    order_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Render with this order; null: sample data."
    )
    subject: TemplateSource | None = Field(
        None, description="Unsaved source; null: the saved one; empty: the default."
    )
    body_text: TemplateSource | None = None
    body_html: TemplateSource | None = None


class SendTestIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_key": "shipped",
                    "channel": "email",
                    "locale": "fr",
                    "to": "equipe@maison-lumiere.example",
                }
            ]
        },
    )

    event_key: EventKey
    channel: TestChannel
    locale: Locale = Field(Locale("fr"), description="Language of the message.")
    to: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254), _STORABLE
    ] = Field(description="Email address (email) or phone number (sms).")
    order_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="About this order; null: sample data."
    )


class PreferencesIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "channels": ["email", "push"],
                    "service_opt_out": False,
                    "marketing_opt_out": True,
                    "language": "fr",
                    "timezone": "Europe/Paris",
                    "quiet_start": "22:00",
                    "quiet_end": "07:30",
                }
            ]
        },
    )

    channels: list[Channel] | None = Field(
        None, min_length=1, max_length=3, description="Accepted channels; null: the shop's."
    )
    service_opt_out: bool = Field(False, description="Only essential messages.")
    marketing_opt_out: bool = Field(False, description="No marketing block in emails.")
    language: Literal["", "fr", "en"] = Field("", description="Empty: the order's language.")
    timezone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), _STORABLE] = (
        Field("", description="IANA time zone of the quiet hours; empty: the shop's.")
    )
    quiet_start: LocalTimeIn | None = Field(None, description="Both or neither; null: the shop's.")
    quiet_end: LocalTimeIn | None = None


class PushKeysIn(In):
    p256dh: Annotated[str, StringConstraints(min_length=1, max_length=200), _STORABLE] = Field(
        description="The browser's P-256 public key, base64url (65 bytes decoded)."
    )
    auth: Annotated[str, StringConstraints(min_length=1, max_length=100), _STORABLE] = Field(
        description="The browser's auth secret, base64url (16 bytes decoded)."
    )


class PushSubscriptionIn(In):
    """What ``PushSubscription.toJSON()`` gives in the browser, plus its user agent."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "endpoint": "https://push.example.net/send/c1KrQ2v0",
                    "expirationTime": None,
                    "keys": {
                        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                        "auth": "tBHItJI5svbpez7KI4CCXg",
                    },
                    "user_agent": "Mozilla/5.0 (Android 14) Firefox/128.0",
                }
            ]
        },
    )

    endpoint: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=services.MAX_PUSH_ENDPOINT
        ),
        _STORABLE,
    ] = Field(description="The push service URL of the subscription.")
    expirationTime: float | None = Field(  # the browser's own name
        None, description="Sent by browsers; ignored."
    )
    keys: PushKeysIn
    user_agent: Annotated[str, StringConstraints(max_length=1000), _STORABLE] = Field(
        "", description="Kept (300 characters) to tell devices apart."
    )


class WebhookIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://erp.example.com/suivi/webhooks",
                    "event_types": ["order.shipped", "shipment."],
                    "description": "ERP",
                }
            ]
        },
    )

    url: WebhookUrl = Field(description="http(s) URL on a public address.")
    event_types: EventTypes = Field(default_factory=list, description="Empty: every event.")
    description: Description = ""


class WebhookPatchIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_patch_schema([{"enabled": True}, {"event_types": ["order."]}]),
    )

    url: WebhookUrl | None = Field(None, description="http(s) URL on a public address.")
    event_types: EventTypes | None = Field(None, description="Empty: every event.")
    description: Description | None = None
    enabled: bool | None = Field(
        None, description="true clears why it was disabled and its failure streak."
    )

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        return _refuse_null(value)


# --- responses --------------------------------------------------------------------------


class LabelsOut(Schema):
    fr: str
    en: str


class RuleOut(Schema):
    event_key: str = Field(examples=["shipped"])
    label: LabelsOut
    channel: str = Field(examples=["email"])
    enabled: bool
    delay_seconds: int
    is_default: bool = Field(description="The shop never set this cell: the default applies.")
    default_enabled: bool
    urgent: bool = Field(description="Sent even in quiet hours.")
    essential: bool = Field(description="Sent even to customers who opted out.")


class RulesOut(Schema):
    rules: list[RuleOut]


class SettingsOut(Schema):
    logo_url: str
    reply_to: str
    sms_sender: str
    marketing_html: str
    marketing_text: str
    burst_window_seconds: int
    quiet_start: LocalTime
    quiet_end: LocalTime
    updated_at: dt.datetime | None


class TemplateOut(Schema):
    event_key: str
    channel: str
    locale: str
    overridden: bool = Field(description="false: the default template is used.")
    subject: str
    body_text: str
    body_html: str
    updated_at: dt.datetime | None
    updated_by: str


class SegmentsOut(Schema):
    encoding: str = Field(examples=["GSM-7"])
    characters: int
    units: int
    segments: int
    per_segment: int
    remaining_in_segment: int


class PreviewOut(Schema):
    event_key: str
    channel: str
    locale: str
    order_id: int | None
    sample: bool = Field(description="Rendered with sample data rather than an order.")
    subject: str = Field(description="Email subject or push title; empty for SMS.")
    text: str
    html: str = Field(description="The complete email; empty for SMS and push.")
    url: str
    segments: SegmentsOut | None = Field(description="SMS cost; null for other channels.")
    used_override: bool
    problems: list[str] = Field(description="Parts of the override set aside, and why.")


class VapidKeyOut(Schema):
    public_key: str = Field(
        description="applicationServerKey for pushManager.subscribe(), base64url."
    )


class PreferencesOut(Schema):
    customer_id: int
    channels: list[str] | None
    service_opt_out: bool
    marketing_opt_out: bool
    language: str
    timezone: str
    quiet_start: LocalTime | None
    quiet_end: LocalTime | None
    email_invalid_at: dt.datetime | None
    email_invalid_reason: str
    phone_invalid_at: dt.datetime | None
    phone_invalid_reason: str
    updated_at: dt.datetime | None


class PushSubscriptionOut(Schema):
    id: int
    customer_id: int
    endpoint: str
    user_agent: str
    created_at: dt.datetime
    last_success_at: dt.datetime | None


class DeletedOut(Schema):
    id: int
    deleted: bool


class WebhookOut(Schema):
    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_at: dt.datetime | None
    disabled_reason: str
    failure_streak: int
    first_failure_at: dt.datetime | None
    created_at: dt.datetime


class WebhookSecretOut(WebhookOut):
    secret: str | None = Field(
        description=(
            "The signing secret (whsec_…), shown in this response only; null when the response"
            " is an idempotent replay. Rotate the secret if it was lost."
        )
    )


class WebhookListOut(Schema):
    items: list[WebhookOut]


class AttemptOut(Schema):
    started_at: dt.datetime
    duration_ms: int
    outcome: str = Field(examples=["ok", "temporary", "permanent"])
    status_code: int | None
    answer: str
    provider_message_id: str
    receipt_status: str
    receipt_at: dt.datetime | None


class MessageOut(Schema):
    id: int
    channel: str
    recipient: str
    locale: str
    event_key: str
    event_type: str
    events: list[dict[str, Any]]
    status: str = Field(examples=["pending", "sent", "dead"])
    is_test: bool
    order_id: int | None
    endpoint_id: int | None
    webhook_id: str | None = Field(description="The webhook-id header (webhooks only).")
    merged_into: int | None
    attempts: int
    last_error: str
    receipt_status: str
    not_before: dt.datetime
    created_at: dt.datetime
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None
    attempt_log: list[AttemptOut]


class MessageListOut(Schema):
    items: list[MessageOut]


class MessagePageOut(Schema):
    items: list[MessageOut]
    next_cursor: str | None


# --- rendering --------------------------------------------------------------------------


def _problems(*statuses: int) -> dict[int, type[Problem]]:
    return {status: Problem for status in statuses}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _hhmm(value: dt.time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


@cache
def _labels(text: Promise | str) -> dict[str, str]:
    labels = {}
    for language in ("fr", "en"):
        with translation.override(language):
            labels[language] = str(text)
    return labels


def _rules_data(rows: list[services.RuleRow]) -> dict[str, Any]:
    return {
        "rules": [
            {
                "event_key": row.event_key,
                "label": _labels(row.label),
                "channel": row.channel,
                "enabled": row.enabled,
                "delay_seconds": row.delay_seconds,
                "is_default": row.is_default,
                "default_enabled": row.default_enabled,
                "urgent": row.urgent,
                "essential": row.essential,
            }
            for row in rows
        ]
    }


def _settings_data(settings: NotificationSettings) -> dict[str, Any]:
    return {
        "logo_url": settings.logo_url,
        "reply_to": settings.reply_to,
        "sms_sender": settings.sms_sender,
        "marketing_html": settings.marketing_html,
        "marketing_text": settings.marketing_text,
        "burst_window_seconds": settings.burst_window_seconds,
        "quiet_start": _hhmm(settings.quiet_start),
        "quiet_end": _hhmm(settings.quiet_end),
        "updated_at": _iso(settings.updated_at),
    }


def _template_data(
    template: Template | None, event_key: str, channel: str, locale: str
) -> dict[str, Any]:
    return {
        "event_key": event_key,
        "channel": channel,
        "locale": locale,
        "overridden": template is not None,
        "subject": template.subject if template else "",
        "body_text": template.body_text if template else "",
        "body_html": template.body_html if template else "",
        "updated_at": _iso(template.updated_at) if template else None,
        "updated_by": template.updated_by if template else "",
    }


def _preferences_data(preference: CustomerPreference) -> dict[str, Any]:
    return {
        "customer_id": preference.customer_id,
        "channels": list(preference.channels) if preference.channels is not None else None,
        "service_opt_out": preference.service_opt_out,
        "marketing_opt_out": preference.marketing_opt_out,
        "language": preference.language,
        "timezone": preference.timezone,
        "quiet_start": _hhmm(preference.quiet_start),
        "quiet_end": _hhmm(preference.quiet_end),
        "email_invalid_at": _iso(preference.email_invalid_at),
        "email_invalid_reason": preference.email_invalid_reason,
        "phone_invalid_at": _iso(preference.phone_invalid_at),
        "phone_invalid_reason": preference.phone_invalid_reason,
        "updated_at": _iso(preference.updated_at) if preference.pk else None,
    }


def _subscription_data(subscription: PushSubscription) -> dict[str, Any]:
    return {
        "id": subscription.pk,
        "customer_id": subscription.customer_id,
        "endpoint": subscription.endpoint,
        "user_agent": subscription.user_agent,
        "created_at": _iso(subscription.created_at),
        "last_success_at": _iso(subscription.last_success_at),
    }


def _webhook_data(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types or []),
        "enabled": endpoint.enabled,
        "disabled_at": _iso(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
        "failure_streak": endpoint.failure_streak,
        "first_failure_at": _iso(endpoint.first_failure_at),
        "created_at": _iso(endpoint.created_at),
    }


def message_data(message: OutboxMessage) -> dict[str, Any]:
    """Return the API representation of an outbox message with its attempts."""
    attempts = getattr(message, "attempt_list", None)
    if attempts is None:
        attempts = list(message.attempts_log.order_by("started_at", "id"))
    return {
        "id": message.pk,
        "channel": message.channel,
        "recipient": message.recipient,
        "locale": message.locale,
        "event_key": message.event_key,
        "event_type": message.event_type,
        "events": [e for e in (message.events or []) if isinstance(e, dict)],
        "status": message.status,
        "is_test": message.is_test,
        "order_id": message.order_id,
        "endpoint_id": message.endpoint_id,
        "webhook_id": (webhook_id(message.idempotency_key) if message.channel == WEBHOOK else None),
        "merged_into": message.merged_into_id,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "receipt_status": message.receipt_status,
        "not_before": _iso(message.not_before),
        "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "attempt_log": [
            {
                "started_at": _iso(attempt.started_at),
                "duration_ms": attempt.duration_ms,
                "outcome": attempt.outcome,
                "status_code": attempt.status_code,
                "answer": attempt.answer,
                "provider_message_id": attempt.provider_message_id,
                "receipt_status": attempt.receipt_status,
                "receipt_at": _iso(attempt.receipt_at),
            }
            for attempt in attempts
        ],
    }


def _secret_once(
    request: HttpRequest,
    *,
    shop: Shop,
    key: str | None,
    status: int,
    make: Any,
) -> HttpResponse:
    """Run *make* (returning an endpoint and its secret) at most once per idempotency key.

    The stored response (replayed for a repeated key) carries ``"secret": null``: the
    plaintext secret exists only in the response of the request that created it.
    """
    issued: list[str] = []

    def handler() -> HttpResponse:
        endpoint, secret = make()
        issued.append(secret)
        return json_response({**_webhook_data(endpoint), "secret": None}, status=status)

    response = idempotent(request, shop=shop, key=key, handler=handler)
    if issued and response.status_code == status and not response.has_header(REPLAYED_HEADER):
        body = json.loads(response.content)
        body["secret"] = issued[0]
        return json_response(body, status=status)
    return response


# --- rules and settings -----------------------------------------------------------------


@router.get(
    "/notifications/rules",
    response={200: RulesOut, 401: Problem},
    summary="Which events notify on which channel",
    operation_id="notification_rules_get",
)
def get_rules(request: HttpRequest) -> HttpResponse:
    """Return every notification event × customer channel: on or off, and the delay."""
    return json_response(_rules_data(services.rules_matrix(shop=request_shop(request))))


@router.put(
    "/notifications/rules",
    response={200: RulesOut, **_problems(400, 401, 422)},
    summary="Switch events on or off per channel",
    operation_id="notification_rules_update",
)
def update_rules(request: HttpRequest, payload: RulesIn) -> HttpResponse:
    """Set the listed cells (the others keep their value) and return the whole matrix.

    Webhooks have no rules: each endpoint chooses its event types.
    """
    rows = services.rules_update(
        shop=request_shop(request),
        changes=[
            services.RuleChange(
                event_key=rule.event_key.value,
                channel=rule.channel.value,
                enabled=rule.enabled,
                delay_seconds=rule.delay_seconds,
            )
            for rule in payload.rules
        ],
        actor=request_actor(request),
    )
    return json_response(_rules_data(rows))


@router.get(
    "/notifications/settings",
    response={200: SettingsOut, 401: Problem},
    summary="Branding and timing of notifications",
    operation_id="notification_settings_get",
)
def get_settings(request: HttpRequest) -> HttpResponse:
    """Return the shop's notification settings (the defaults until changed)."""
    return json_response(_settings_data(services.settings_get(shop=request_shop(request))))


@router.patch(
    "/notifications/settings",
    response={200: SettingsOut, **_problems(400, 401, 422)},
    summary="Change notification settings",
    operation_id="notification_settings_update",
)
def update_settings(request: HttpRequest, payload: SettingsPatchIn) -> HttpResponse:
    """Change the fields sent; the others keep their value."""
    settings = services.settings_update(
        shop=request_shop(request),
        actor=request_actor(request),
        **payload.model_dump(exclude_unset=True),
    )
    return json_response(_settings_data(settings))


# --- templates --------------------------------------------------------------------------

_TEMPLATE_PATH = "/notifications/templates/{event_key}/{channel}/{locale}"


@router.get(
    _TEMPLATE_PATH,
    response={200: TemplateOut, **_problems(401, 422)},
    summary="Get a template override",
    operation_id="notification_template_get",
)
def get_template(
    request: HttpRequest, event_key: EventKey, channel: Channel, locale: Locale
) -> HttpResponse:
    """Return the shop's override of a message, or ``overridden: false`` (the default)."""
    template = services.template_get(
        shop=request_shop(request),
        event_key=event_key.value,
        channel=channel.value,
        locale=locale.value,
    )
    return json_response(_template_data(template, event_key.value, channel.value, locale.value))


@router.put(
    _TEMPLATE_PATH,
    response={200: TemplateOut, **_problems(400, 401, 422)},
    summary="Save a template override",
    operation_id="notification_template_save",
)
def save_template(
    request: HttpRequest,
    payload: TemplateIn,
    event_key: EventKey,
    channel: Channel,
    locale: Locale,
) -> HttpResponse:
    """Save sandboxed Jinja sources; an empty part keeps the default for that part.

    The sources are rendered with sample data first: a syntax error, a sandbox violation,
    an unknown variable or a part the channel does not have is refused with 422
    ``template-invalid``, one error per problem. SMS: ``body_text`` only; push: title in
    ``subject``, body in ``body_text``. Variables: see the template reference.
    """
    try:
        template = services.template_save(
            shop=request_shop(request),
            event_key=event_key.value,
            channel=channel.value,
            locale=locale.value,
            subject=payload.subject,
            body_text=payload.body_text,
            body_html=payload.body_html,
            actor=request_actor(request),
        )
    except services.TemplateInvalid as exc:
        return problem_response(
            code=exc.code,
            status=exc.status,
            detail="The template was not saved: it does not render.",
            errors=[{"field": field, "message": message} for field, message in exc.errors],
        )
    return json_response(_template_data(template, event_key.value, channel.value, locale.value))


@router.delete(
    _TEMPLATE_PATH,
    response={200: TemplateOut, **_problems(401, 422)},
    summary="Go back to the default template",
    operation_id="notification_template_reset",
)
def reset_template(
    request: HttpRequest, event_key: EventKey, channel: Channel, locale: Locale
) -> HttpResponse:
    """Delete the override (if any) and return the template as it now is: the default."""
    services.template_reset(
        shop=request_shop(request),
        event_key=event_key.value,
        channel=channel.value,
        locale=locale.value,
        actor=request_actor(request),
    )
    return json_response(_template_data(None, event_key.value, channel.value, locale.value))


@router.post(
    "/notifications/preview",
    response={200: PreviewOut, **_problems(400, 401, 404, 409, 422)},
    summary="Render a message without sending it",
    operation_id="notification_preview",
)
def preview(
    request: HttpRequest, payload: PreviewIn, idempotency_key: str | None = IdempotencyKey
) -> HttpResponse:
    """Render with an order of the shop (``order_id``) or sample data, and the saved
    override or unsaved sources given here; nothing is saved or sent. SMS previews give
    their segment count."""
    shop = request_shop(request)

    def handler() -> HttpResponse:
        return json_response(
            services.preview(
                shop=shop,
                event_key=payload.event_key.value,
                channel=payload.channel.value,
                locale=payload.locale.value,
                order_id=payload.order_id,
                subject=payload.subject,
                body_text=payload.body_text,
                body_html=payload.body_html,
            )
        )

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


@router.post(
    "/notifications/test",
    response={202: MessageOut, **_problems(400, 401, 404, 409, 422, 429)},
    summary="Send a test message",
    operation_id="notification_test_send",
)
def send_test(
    request: HttpRequest, payload: SendTestIn, idempotency_key: str | None = IdempotencyKey
) -> HttpResponse:
    """Queue one message marked as a test to the given address or phone, about an order
    of the shop or sample data. Rules and customer preferences do not apply; the saved
    override does. 30 an hour at most (429)."""
    shop = request_shop(request)

    def handler() -> HttpResponse:
        message = services.test_send(
            shop=shop,
            event_key=payload.event_key.value,
            channel=payload.channel.value,
            locale=payload.locale.value,
            to=payload.to,
            order_id=payload.order_id,
            actor=request_actor(request),
        )
        return json_response(message_data(message), status=202)

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


@router.get(
    "/notifications/vapid-public-key",
    response={200: VapidKeyOut, 401: Problem},
    summary="The web push application server key",
    operation_id="notification_vapid_key",
)
def vapid_public_key(request: HttpRequest) -> HttpResponse:
    """Return the key browsers subscribe with (``applicationServerKey``)."""
    from suivi.notifications.vapid import application_server_key

    return json_response({"public_key": application_server_key()})


# --- customers ------------------------------------------------------------------------


@router.get(
    "/customers/{customer_id}/notification-preferences",
    response={200: PreferencesOut, **_problems(401, 404, 422)},
    summary="A customer's notification choices",
    operation_id="customer_preferences_get",
)
def get_preferences(request: HttpRequest, customer_id: int = CustomerId) -> HttpResponse:
    """Return the customer's choices (the defaults when they never chose)."""
    preference = services.preferences_get(shop=request_shop(request), customer_id=customer_id)
    return json_response(_preferences_data(preference))


@router.put(
    "/customers/{customer_id}/notification-preferences",
    response={200: PreferencesOut, **_problems(400, 401, 404, 422)},
    summary="Replace a customer's notification choices",
    operation_id="customer_preferences_update",
)
def update_preferences(
    request: HttpRequest, payload: PreferencesIn, customer_id: int = CustomerId
) -> HttpResponse:
    """Replace the customer's choices (fields left out take their default)."""
    preference = services.preferences_update(
        shop=request_shop(request),
        customer_id=customer_id,
        channels=[c.value for c in payload.channels] if payload.channels is not None else None,
        service_opt_out=payload.service_opt_out,
        marketing_opt_out=payload.marketing_opt_out,
        language=payload.language,
        timezone=payload.timezone,
        quiet_start=payload.quiet_start,
        quiet_end=payload.quiet_end,
        actor=request_actor(request),
    )
    return json_response(_preferences_data(preference))


@router.post(
    "/customers/{customer_id}/push-subscriptions",
    response={
        200: PushSubscriptionOut,
        201: PushSubscriptionOut,
        **_problems(400, 401, 404, 409, 422),
    },
    summary="Subscribe a customer's browser to web push",
    operation_id="customer_push_subscribe",
)
def push_subscribe(
    request: HttpRequest,
    payload: PushSubscriptionIn,
    customer_id: int = CustomerId,
    idempotency_key: str | None = IdempotencyKey,
) -> HttpResponse:
    """Record a subscription (201), or update it when the endpoint is known (200)."""
    shop = request_shop(request)

    def handler() -> HttpResponse:
        subscription, created = services.push_subscribe(
            shop=shop,
            customer_id=customer_id,
            endpoint=payload.endpoint,
            p256dh=payload.keys.p256dh,
            auth=payload.keys.auth,
            user_agent=payload.user_agent,
        )
        return json_response(_subscription_data(subscription), status=201 if created else 200)

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


@router.delete(
    "/push-subscriptions/{subscription_id}",
    response={200: DeletedOut, **_problems(401, 404, 422)},
    summary="Remove a push subscription",
    operation_id="push_subscription_delete",
)
def push_unsubscribe(request: HttpRequest, subscription_id: int = SubscriptionId) -> HttpResponse:
    """Delete the subscription; messages still queued for it are skipped."""
    services.push_unsubscribe(shop=request_shop(request), subscription_id=subscription_id)
    return json_response({"id": subscription_id, "deleted": True})


# --- webhooks ---------------------------------------------------------------------------


@router.get(
    "/webhooks",
    response={200: WebhookListOut, 401: Problem},
    summary="List webhook endpoints",
    operation_id="webhook_list",
)
def list_webhooks(request: HttpRequest) -> HttpResponse:
    """Return the shop's webhook endpoints, oldest first (secrets are never shown again)."""
    endpoints = services.endpoint_list(shop=request_shop(request))
    return json_response({"items": [_webhook_data(e) for e in endpoints]})


@router.post(
    "/webhooks",
    response={201: WebhookSecretOut, **_problems(400, 401, 409, 422)},
    summary="Add a webhook endpoint",
    operation_id="webhook_create",
)
def create_webhook(
    request: HttpRequest, payload: WebhookIn, idempotency_key: str | None = IdempotencyKey
) -> HttpResponse:
    """Add an endpoint; the answer holds its signing secret, shown this once.

    Deliveries are signed the Standard Webhooks way (``webhook-id``, ``webhook-timestamp``,
    ``webhook-signature``). A URL on a private, loopback or reserved address, or whose host
    does not resolve, is refused with 422 ``url-not-allowed``.
    """
    shop = request_shop(request)
    return _secret_once(
        request,
        shop=shop,
        key=idempotency_key,
        status=201,
        make=lambda: services.endpoint_create(
            shop=shop,
            url=payload.url,
            event_types=payload.event_types,
            description=payload.description,
            actor=request_actor(request),
        ),
    )


@router.get(
    "/webhooks/{endpoint_id}",
    response={200: WebhookOut, **_problems(401, 404, 422)},
    summary="Get a webhook endpoint",
    operation_id="webhook_get",
)
def get_webhook(request: HttpRequest, endpoint_id: int = EndpointId) -> HttpResponse:
    """Return one endpoint, with why it was disabled if it was."""
    endpoint = services.endpoint_get(shop=request_shop(request), endpoint_id=endpoint_id)
    return json_response(_webhook_data(endpoint))


@router.patch(
    "/webhooks/{endpoint_id}",
    response={200: WebhookOut, **_problems(400, 401, 404, 422)},
    summary="Change a webhook endpoint",
    operation_id="webhook_update",
)
def update_webhook(
    request: HttpRequest, payload: WebhookPatchIn, endpoint_id: int = EndpointId
) -> HttpResponse:
    """Change the fields sent. ``enabled: true`` re-enables an endpoint disabled after
    failing for days, clearing its failure streak."""
    fields = payload.model_dump(exclude_unset=True)
    endpoint = services.endpoint_update(
        shop=request_shop(request),
        endpoint_id=endpoint_id,
        actor=request_actor(request),
        **fields,
    )
    return json_response(_webhook_data(endpoint))


@router.delete(
    "/webhooks/{endpoint_id}",
    response={200: DeletedOut, **_problems(401, 404, 422)},
    summary="Delete a webhook endpoint",
    operation_id="webhook_delete",
)
def delete_webhook(request: HttpRequest, endpoint_id: int = EndpointId) -> HttpResponse:
    """Delete the endpoint and its delivery log."""
    services.endpoint_delete(
        shop=request_shop(request), endpoint_id=endpoint_id, actor=request_actor(request)
    )
    return json_response({"id": endpoint_id, "deleted": True})


@router.post(
    "/webhooks/{endpoint_id}/rotate-secret",
    response={200: WebhookSecretOut, **_problems(400, 401, 404, 409, 422)},
    summary="Replace a webhook endpoint's secret",
    operation_id="webhook_rotate_secret",
)
def rotate_webhook_secret(
    request: HttpRequest,
    endpoint_id: int = EndpointId,
    idempotency_key: str | None = IdempotencyKey,
) -> HttpResponse:
    """Issue a new signing secret, shown this once; every delivery from now on, retries
    included, is signed with it only."""
    shop = request_shop(request)
    return _secret_once(
        request,
        shop=shop,
        key=idempotency_key,
        status=200,
        make=lambda: services.endpoint_rotate_secret(
            shop=shop, endpoint_id=endpoint_id, actor=request_actor(request)
        ),
    )


@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    response={200: MessagePageOut, **_problems(400, 401, 404, 422)},
    summary="List a webhook endpoint's deliveries, newest first",
    operation_id="webhook_deliveries",
)
def list_deliveries(
    request: HttpRequest,
    endpoint_id: int = EndpointId,
    limit: int = Limit,
    cursor: str | None = Cursor,
) -> HttpResponse:
    """Return the endpoint's messages with every attempt: time, duration, outcome, HTTP
    status and the start of the receiver's answer."""
    page = services.endpoint_deliveries(
        shop=request_shop(request),
        endpoint_id=endpoint_id,
        before_id=cursor_decode(DELIVERY_CURSOR, cursor) if cursor else None,
        limit=limit,
    )
    next_cursor = (
        cursor_encode(DELIVERY_CURSOR, page.last_id)
        if page.has_more and page.last_id is not None
        else None
    )
    return json_response(
        {"items": [message_data(m) for m in page.items], "next_cursor": next_cursor}
    )


@router.post(
    "/webhooks/{endpoint_id}/deliveries/{message_id}/replay",
    response={200: MessageOut, **_problems(400, 401, 404, 409, 422)},
    summary="Send a webhook delivery again",
    operation_id="webhook_replay",
)
def replay_delivery(
    request: HttpRequest,
    endpoint_id: int = EndpointId,
    message_id: int = MessageId,
    idempotency_key: str | None = IdempotencyKey,
) -> HttpResponse:
    """Queue a sent or failed delivery again, now, with the same ``webhook-id`` (so the
    receiver can tell it already has it). Refused (409) while the endpoint is disabled or
    the delivery is still queued."""
    shop = request_shop(request)

    def handler() -> HttpResponse:
        message = services.endpoint_replay(
            shop=shop,
            endpoint_id=endpoint_id,
            message_id=message_id,
            actor=request_actor(request),
        )
        return json_response(message_data(message))

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


# --- messages ---------------------------------------------------------------------------


@router.get(
    "/orders/{order_id}/messages",
    response={200: MessageListOut, **_problems(401, 404, 422)},
    summary="List the messages about an order",
    operation_id="order_messages",
)
def list_order_messages(request: HttpRequest, order_id: int = OrderId) -> HttpResponse:
    """Return every message about the order, oldest first: channel, recipient, status,
    each attempt, what it was merged into and the last error."""
    messages = services.order_messages(shop=request_shop(request), order_id=order_id)
    return json_response({"items": [message_data(m) for m in messages]})


@router.post(
    "/notifications/messages/{message_id}/retry",
    response={200: MessageOut, **_problems(400, 401, 404, 409, 422)},
    summary="Retry a failed message",
    operation_id="notification_message_retry",
)
def retry_message(
    request: HttpRequest,
    message_id: int = MessageId,
    idempotency_key: str | None = IdempotencyKey,
) -> HttpResponse:
    """Queue a dead message again, now, with a fresh retry schedule; any other status is
    refused with 409 ``message-not-retryable``."""
    shop = request_shop(request)

    def handler() -> HttpResponse:
        message = services.message_retry(
            shop=shop, message_id=message_id, actor=request_actor(request)
        )
        return json_response(message_data(message))

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)
