"""Configuration of the notification engine: every write the API and the back office make.

Rules (which event notifies on which channel, after which delay), the shop's branding and
timing settings, template overrides (with previews and test sends), customer preferences,
web push subscriptions, webhook endpoints, and the merchant's view of the outbox (an
order's messages, a webhook endpoint's deliveries, retry and replay).

Conventions of the services: keyword-only arguments, the shop first; every id is looked up
inside that shop, and an object of another shop is a :class:`~suivi.core.errors.NotFound`
worded exactly like a missing one; invalid input is an :class:`~suivi.core.errors.InvalidInput`
naming the argument (``changes.2.delay_seconds``) and nothing is written. Writes run in one
transaction and drop the shop's cached configuration (:mod:`.config`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final
from zoneinfo import available_timezones

from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils import timezone as djtz

from suivi.core import crypto
from suivi.core.errors import DomainError, InvalidInput, NotFound
from suivi.core.http import check_public_url
from suivi.core.phones import normalize_phone
from suivi.customers.models import Customer
from suivi.orders.models import Order, OrderEvent
from suivi.orders.selectors import Page
from suivi.shops.models import Shop

from . import config, links
from .catalog import (
    CUSTOMER_CHANNELS,
    DOMAIN_EVENTS,
    EMAIL,
    EVENTS,
    PUSH,
    SMS,
    WEBHOOK,
    StrOrPromise,
    default_enabled,
    event_key_for,
)
from .models import (
    CustomerPreference,
    DeliveryAttempt,
    NotificationRule,
    NotificationSettings,
    OutboxMessage,
    PushSubscription,
    Template,
    WebhookEndpoint,
)

logger = logging.getLogger("suivi.notifications")
Status = OutboxMessage.Status

SYSTEM: Final = "system"
LOCALES: Final = ("fr", "en")
TEMPLATED_CHANNELS: Final = (EMAIL, SMS, PUSH)
TEST_CHANNELS: Final = (EMAIL, SMS)
MAX_DELAY_SECONDS: Final = 7 * 24 * 3600
MAX_BURST_WINDOW_SECONDS: Final = 3600
MAX_TEMPLATE_CHARS: Final = 50_000
MAX_MARKETING_CHARS: Final = 20_000
MAX_LOGO_URL: Final = 200  # NotificationSettings.logo_url
MAX_WEBHOOK_URL: Final = 1000  # WebhookEndpoint.url
MAX_DESCRIPTION: Final = 200
MAX_WEBHOOK_ENDPOINTS: Final = 20
MAX_EVENT_TYPES: Final = 50
MAX_EVENT_TYPE_CHARS: Final = 64
MAX_PUSH_ENDPOINT: Final = 1000  # PushSubscription.endpoint
MAX_USER_AGENT: Final = 300
# Test sends go wherever the merchant says (and SMS cost money): a few per hour is plenty.
MAX_TEST_MESSAGES_PER_HOUR: Final = 30
MAX_PAGE: Final = 200
# Alphanumeric SMS sender ID: 1 to 11 letters, digits or spaces, at least one letter.
_ALPHANUMERIC_SENDER: Final = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_PHONE_LIKE: Final = re.compile(r"^\+?[0-9 ().-]{4,24}$")
# A domain event type (``order.shipped``), a prefix (``order.``) or ``*``.
_EVENT_TYPE: Final = re.compile(r"^(?:\*|[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*\.?)$")
# Statuses whose message is finished; replay and retry put one back in the queue.
REPLAYABLE: Final = frozenset({Status.SENT, Status.DELIVERED, Status.DEAD})
P256DH_BYTES: Final = 65
AUTH_BYTES: Final = 16

_NO_ORDER = "No such order."
_NO_CUSTOMER = "No such customer."
_NO_ENDPOINT = "No such webhook endpoint."
_NO_MESSAGE = "No such message."
_NO_SUBSCRIPTION = "No such push subscription."


# --- errors -----------------------------------------------------------------------------


class TemplateInvalid(InvalidInput):
    """A template override that does not compile, escapes the sandbox or renders nothing.

    ``errors`` pairs each problem with the source it is about (``subject``, ``body_text``,
    ``body_html``; None when it is about the whole template).
    """

    code = "template-invalid"
    status = 422

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        self.errors = [(problem_field(p), p) for p in self.problems]
        super().__init__(
            "The template was not saved: " + " ".join(self.problems),
            field=self.errors[0][0] if self.errors else None,
        )


class UrlNotAllowed(InvalidInput):
    """A URL we refuse to call: not http(s), private or reserved address, unresolvable."""

    code = "url-not-allowed"
    status = 422


class EndpointDisabled(DomainError):
    """The webhook endpoint is disabled: enable it before replaying or retrying."""

    code = "endpoint-disabled"
    status = 409


class NotRetryable(DomainError):
    """The message is not in a state that can be sent again."""

    code = "message-not-retryable"
    status = 409


class TooManyTestMessages(DomainError):
    """The shop sent too many test messages in the last hour."""

    code = "too-many-test-messages"
    status = 429


_PART_FIELDS: Final = {
    "Subject": "subject",
    "Title": "subject",
    "Text": "body_text",
    "Body": "body_text",
    "HTML body": "body_html",
}


def problem_field(problem: str) -> str | None:
    """Return the source a rendering problem is about (``"Subject: …"`` → ``subject``)."""
    label = problem.split(":", 1)[0] if ":" in problem else ""
    if label in _PART_FIELDS:
        return _PART_FIELDS[label]
    lowered = problem.lower()
    if "subject" in lowered:
        return "subject"
    if "html" in lowered:
        return "body_html"
    return None


# --- shared checks ----------------------------------------------------------------------


def _lock_shop(shop: Shop) -> None:
    """Serialise configuration writes of *shop* (``FOR NO KEY UPDATE``: orders still insert)."""
    Shop.objects.select_for_update(no_key=True).filter(pk=shop.pk).values_list("pk").first()


def _check_event(event_key: object, field: str = "event_key") -> str:
    if not isinstance(event_key, str) or event_key not in EVENTS:
        raise InvalidInput(f"Unknown notification event {event_key!r}.", field=field)
    return event_key


def _check_channel(channel: object, allowed: Sequence[str], field: str = "channel") -> str:
    if not isinstance(channel, str) or channel not in allowed:
        raise InvalidInput(
            f"The channel must be one of {', '.join(allowed)}, not {channel!r}.", field=field
        )
    return channel


def _check_locale(locale: object, field: str = "locale") -> str:
    if not isinstance(locale, str) or locale not in LOCALES:
        raise InvalidInput(
            f"The locale must be one of {', '.join(LOCALES)}, not {locale!r}.", field=field
        )
    return locale


def _check_text(value: object, *, field: str, max_length: int, strip: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInput("This must be text.", field=field)
    if "\x00" in value:
        raise InvalidInput("This must not contain NUL characters.", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("This must be valid Unicode text.", field=field) from None
    if strip:
        value = value.strip()
    if len(value) > max_length:
        raise InvalidInput(f"This must be {max_length} characters at most.", field=field)
    return value


def _check_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput("This must be true or false.", field=field)
    return value


def _check_int(value: object, *, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"This must be a whole number from {low} to {high}.", field=field)
    return value


def _check_time(value: object, field: str) -> dt.time:
    if not isinstance(value, dt.time):
        raise InvalidInput("This must be a time of day (HH:MM).", field=field)
    if value.tzinfo is not None:
        raise InvalidInput(
            "Give a local time of day without a UTC offset (the time zone applies).",
            field=field,
        )
    return value.replace(second=0, microsecond=0)  # quiet hours are to the minute


def _public_url(url: str, field: str) -> str:
    """Refuse *url* unless :func:`check_public_url` accepts it: http(s), no credentials, a
    host that resolves to allowed addresses only (parsed by httpx, which will send to it)."""
    if not url:
        raise UrlNotAllowed("A URL is required.", field=field)
    try:
        check_public_url(url)
    except ValueError as exc:  # UnsafeURL, and whatever a hostile URL makes the parser say
        raise UrlNotAllowed(f"This URL is not allowed: {exc}", field=field) from None
    return url


def _http_url(value: object, *, field: str, max_length: int) -> str:
    url = _check_text(value, field=field, max_length=max_length, strip=True)
    try:
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError:
        raise InvalidInput("This must be an http:// or https:// URL.", field=field) from None
    return url


def _customer(shop: Shop, customer_id: int) -> Customer:
    customer = Customer.objects.filter(shop=shop, pk=customer_id).first()
    if customer is None:
        raise NotFound(_NO_CUSTOMER)
    return customer


def _order(shop: Shop, order_id: int) -> Order:
    order = (
        Order.objects.filter(shop=shop, pk=order_id)
        .select_related("shop", "customer", "pickup_location")
        .prefetch_related("lines")
        .first()
    )
    if order is None:
        raise NotFound(_NO_ORDER)
    return order


def _endpoint(shop: Shop, endpoint_id: int, *, lock: bool = False) -> WebhookEndpoint:
    queryset = WebhookEndpoint.objects.filter(shop=shop, pk=endpoint_id)
    if lock:
        queryset = queryset.select_for_update()
    endpoint = queryset.first()
    if endpoint is None:
        raise NotFound(_NO_ENDPOINT)
    return endpoint


def _attempts_prefetch() -> Prefetch[Any]:
    return Prefetch(
        "attempts_log",
        queryset=DeliveryAttempt.objects.order_by("started_at", "id"),
        to_attr="attempt_list",
    )


def _messages(shop: Shop) -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(shop=shop).prefetch_related(_attempts_prefetch())


# --- rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRow:
    """One cell of the rules matrix: an event on a customer channel.

    ``is_default`` is true while the shop has no rule of its own for the cell (the catalog's
    ``default_enabled`` applies, with no delay).
    """

    event_key: str
    label: StrOrPromise
    channel: str
    enabled: bool
    delay_seconds: int
    is_default: bool
    default_enabled: bool
    urgent: bool
    essential: bool


@dataclass(frozen=True)
class RuleChange:
    """One cell to set; ``delay_seconds`` None keeps the current delay (0 for a new rule)."""

    event_key: str
    channel: str
    enabled: bool
    delay_seconds: int | None = None


def rules_matrix(*, shop: Shop) -> list[RuleRow]:
    """Return every event × customer channel, in catalog order, as the shop has it now."""
    stored = {
        (rule.event_key, rule.channel): rule
        for rule in NotificationRule.objects.filter(shop=shop, channel__in=CUSTOMER_CHANNELS)
    }
    rows = []
    for key, event in EVENTS.items():
        for channel in CUSTOMER_CHANNELS:
            rule = stored.get((key, channel))
            default = default_enabled(key, channel)
            rows.append(
                RuleRow(
                    event_key=key,
                    label=event.label,
                    channel=channel,
                    enabled=rule.enabled if rule is not None else default,
                    delay_seconds=rule.delay_seconds if rule is not None else 0,
                    is_default=rule is None,
                    default_enabled=default,
                    urgent=event.urgent,
                    essential=event.essential,
                )
            )
    return rows


def _rule_change(raw: RuleChange | Mapping[str, Any], index: int) -> RuleChange:
    prefix = f"changes.{index}."
    if isinstance(raw, RuleChange):
        data: Mapping[str, Any] = dataclasses.asdict(raw)
    elif isinstance(raw, Mapping):
        data = raw
        unknown = sorted(set(data) - {"event_key", "channel", "enabled", "delay_seconds"})
        if unknown:
            raise InvalidInput(f"Unknown field {unknown[0]!r}.", field=prefix + str(unknown[0]))
    else:
        raise InvalidInput("Each change is an object.", field=f"changes.{index}")
    for name in ("event_key", "channel", "enabled"):
        if name not in data:
            raise InvalidInput("This field is required.", field=prefix + name)
    delay = data.get("delay_seconds")
    return RuleChange(
        event_key=_check_event(data["event_key"], prefix + "event_key"),
        channel=_check_channel(data["channel"], CUSTOMER_CHANNELS, prefix + "channel"),
        enabled=_check_bool(data["enabled"], prefix + "enabled"),
        delay_seconds=(
            None
            if delay is None
            else _check_int(delay, field=prefix + "delay_seconds", low=0, high=MAX_DELAY_SECONDS)
        ),
    )


def rules_update(
    *,
    shop: Shop,
    changes: Sequence[RuleChange | Mapping[str, Any]],
    actor: str = SYSTEM,
) -> list[RuleRow]:
    """Set the cells in *changes* (others keep their value); return the whole matrix.

    Webhooks have no rules (each endpoint subscribes to event types). A cell listed twice
    is refused rather than guessed.
    """
    if isinstance(changes, str | bytes) or not isinstance(changes, Sequence):
        raise InvalidInput("Give a list of changes.", field="changes")
    cleaned: list[RuleChange] = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(changes):
        change = _rule_change(raw, index)
        cell = (change.event_key, change.channel)
        if cell in seen:
            raise InvalidInput(
                f"{change.event_key}/{change.channel} is listed twice.", field=f"changes.{index}"
            )
        seen.add(cell)
        cleaned.append(change)
    with transaction.atomic():
        _lock_shop(shop)
        existing = {
            (rule.event_key, rule.channel): rule
            for rule in NotificationRule.objects.filter(shop=shop)
        }
        for change in cleaned:
            rule = existing.get((change.event_key, change.channel))
            if rule is None:
                NotificationRule.objects.create(
                    shop=shop,
                    event_key=change.event_key,
                    channel=change.channel,
                    enabled=change.enabled,
                    delay_seconds=change.delay_seconds or 0,
                )
                continue
            rule.enabled = change.enabled
            if change.delay_seconds is not None:
                rule.delay_seconds = change.delay_seconds
            rule.save(update_fields=["enabled", "delay_seconds", "updated_at"])
    config.forget(shop.pk)
    logger.info(
        "notification rules of shop %s changed by %s: %d cells", shop.pk, actor, len(cleaned)
    )
    return rules_matrix(shop=shop)


# --- settings ---------------------------------------------------------------------------

SETTINGS_FIELDS: Final = (
    "logo_url",
    "reply_to",
    "sms_sender",
    "marketing_html",
    "marketing_text",
    "burst_window_seconds",
    "quiet_start",
    "quiet_end",
)


def settings_get(*, shop: Shop) -> NotificationSettings:
    """Return the shop's settings (defaults, unsaved, when it never changed them)."""
    return config.settings_for(shop.pk)


def _sms_sender(value: object, shop: Shop) -> str:
    sender = _check_text(value, field="sms_sender", max_length=32, strip=True)
    if not sender or _ALPHANUMERIC_SENDER.match(sender):
        return sender
    if _PHONE_LIKE.match(sender):
        region = shop.country or "FR"
        e164 = None
        if sender.isdigit():  # as stored: international digits without '+' (round trip)
            try:
                e164 = normalize_phone("+" + sender, default_region=region, field="sms_sender")
            except InvalidInput:
                e164 = None
        if e164 is None:
            e164 = normalize_phone(sender, default_region=region, field="sms_sender")
        digits = e164.lstrip("+")
        if len(digits) > 11:
            raise InvalidInput(
                "A numeric sender is stored as at most 11 digits (international format without"
                " '+'); this number is longer. Use an alphanumeric sender.",
                field="sms_sender",
            )
        return digits
    raise InvalidInput(
        "The SMS sender is 1 to 11 letters, digits or spaces with at least one letter"
        " (e.g. 'MaisonLum'), or a phone number.",
        field="sms_sender",
    )


def _clean_setting(name: str, value: object, shop: Shop) -> object:
    if name == "logo_url":
        text = _check_text(value, field=name, max_length=MAX_LOGO_URL, strip=True)
        return _http_url(text, field=name, max_length=MAX_LOGO_URL) if text else ""
    if name == "reply_to":
        text = _check_text(value, field=name, max_length=254, strip=True)
        if text:
            try:
                validate_email(text)
            except DjangoValidationError:
                raise InvalidInput("This must be an email address.", field=name) from None
        return text
    if name == "sms_sender":
        return _sms_sender(value, shop)
    if name in ("marketing_html", "marketing_text"):
        return _check_text(value, field=name, max_length=MAX_MARKETING_CHARS)
    if name == "burst_window_seconds":
        return _check_int(value, field=name, low=0, high=MAX_BURST_WINDOW_SECONDS)
    return _check_time(value, name)  # quiet_start, quiet_end


def settings_update(*, shop: Shop, actor: str = SYSTEM, **fields: Any) -> NotificationSettings:
    """Change the given settings (see :data:`SETTINGS_FIELDS`); others keep their value.

    Quiet hours are a local time range (``21:00`` to ``08:00`` crosses midnight; equal ends
    mean no quiet hours) in the customer's time zone, else the shop's.
    """
    unknown = sorted(set(fields) - set(SETTINGS_FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown setting {unknown[0]!r}.", field=unknown[0])
    cleaned = {name: _clean_setting(name, value, shop) for name, value in fields.items()}
    with transaction.atomic():
        _lock_shop(shop)
        settings, _created = NotificationSettings.objects.get_or_create(shop=shop)
        for name, value in cleaned.items():
            setattr(settings, name, value)
        if cleaned:
            settings.save(update_fields=[*cleaned, "updated_at"])
    config.forget(shop.pk)
    logger.info(
        "notification settings of shop %s changed by %s: %s", shop.pk, actor, sorted(cleaned)
    )
    return settings


# --- templates --------------------------------------------------------------------------


def preview_links() -> dict[str, str]:
    """Links for sample messages: shaped like real ones (same length in an SMS) but opening
    nothing, so that a preview never hands out a working link to someone's order."""
    base = links.base_url()
    return {
        "tracking": base + reverse("customer:track", args=["demo.0000000000000000"]),
        "preferences": base + reverse("notifications:preferences", args=["demo.0000000000000000"]),
    }


def _check_target(event_key: object, channel: object, locale: object) -> tuple[str, str, str]:
    return (
        _check_event(event_key),
        _check_channel(channel, TEMPLATED_CHANNELS),
        _check_locale(locale),
    )


def template_get(*, shop: Shop, event_key: str, channel: str, locale: str) -> Template | None:
    """Return the shop's override of a template, or None when the default applies."""
    event_key, channel, locale = _check_target(event_key, channel, locale)
    return Template.objects.filter(
        shop=shop, event_key=event_key, channel=channel, locale=locale
    ).first()


def _sources(subject: object, body_text: object, body_html: object) -> tuple[str, str, str]:
    return (
        _check_text(subject, field="subject", max_length=MAX_TEMPLATE_CHARS),
        _check_text(body_text, field="body_text", max_length=MAX_TEMPLATE_CHARS),
        _check_text(body_html, field="body_html", max_length=MAX_TEMPLATE_CHARS),
    )


def template_save(
    *,
    shop: Shop,
    event_key: str,
    channel: str,
    locale: str,
    subject: str,
    body_text: str,
    body_html: str,
    actor: str = SYSTEM,
) -> Template:
    """Save an override after rendering it with sample data; refuse it if anything fails.

    An empty part keeps the default for that part (email: subject, text, HTML; SMS: text;
    push: title in *subject*, body in *body_text*). Raises :class:`TemplateInvalid` listing
    every problem (syntax, sandbox violation, unknown variable, a part the channel lacks).
    """
    from .context import sample_context
    from .rendering import check_override

    event_key, channel, locale = _check_target(event_key, channel, locale)
    subject, body_text, body_html = _sources(subject, body_text, body_html)
    if not (subject.strip() or body_text.strip() or body_html.strip()):
        raise InvalidInput(
            "Every part is empty: reset the template to go back to the default.", field=None
        )
    context = sample_context(shop, event_key=event_key, locale=locale, links=preview_links())
    problems = check_override(
        event_key=event_key,
        channel=channel,
        locale=locale,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        context=context,
    )
    if problems:
        raise TemplateInvalid(problems)
    with transaction.atomic():
        _lock_shop(shop)
        template, _created = Template.objects.update_or_create(
            shop=shop,
            event_key=event_key,
            channel=channel,
            locale=locale,
            defaults={
                "subject": subject,
                "body_text": body_text,
                "body_html": body_html,
                "updated_by": actor[:120],
            },
        )
    logger.info(
        "template %s/%s/%s of shop %s saved by %s", event_key, channel, locale, shop.pk, actor
    )
    return template


def template_reset(
    *, shop: Shop, event_key: str, channel: str, locale: str, actor: str = SYSTEM
) -> bool:
    """Delete the override (the default applies again); return whether there was one."""
    event_key, channel, locale = _check_target(event_key, channel, locale)
    deleted, _ = Template.objects.filter(
        shop=shop, event_key=event_key, channel=channel, locale=locale
    ).delete()
    if deleted:
        logger.info(
            "template %s/%s/%s of shop %s reset by %s", event_key, channel, locale, shop.pk, actor
        )
    return bool(deleted)


def _domain_type(event_key: str) -> str:
    """A domain event type that maps to *event_key* (``shipped`` → ``order.shipped``)."""
    return next((t for t, k in DOMAIN_EVENTS.items() if k == event_key), f"order.{event_key}")


def _event_records(order: Order | None, event_key: str, actor: str) -> list[dict[str, Any]]:
    """The message's events: the order's latest event of that kind, else a made-up one."""
    if order is not None:
        found = None
        for event in OrderEvent.objects.filter(order=order).order_by("-id")[:500]:
            payload = event.payload if isinstance(event.payload, dict) else {}
            if event_key_for(event.type, payload) == event_key:
                found = event
                break
        if found is not None:
            return [
                {
                    "id": found.pk,
                    "type": found.type,
                    "key": event_key,
                    "at": found.occurred_at.isoformat(),
                    "actor": found.actor,
                    "payload": found.payload,
                }
            ]
    return [
        {
            "id": None,
            "type": _domain_type(event_key),
            "key": event_key,
            "at": djtz.now().isoformat(),
            "actor": actor,
            "payload": {},
        }
    ]


def _informed_channels(
    shop: Shop, order: Order, preference: CustomerPreference | None
) -> list[str]:
    shop_config = config.shop_config(shop.pk)
    channels = []
    for channel in CUSTOMER_CHANNELS:
        if not any(shop_config.rule(key, channel).enabled for key in EVENTS):
            continue
        if preference is not None and not preference.accepts(channel):
            continue
        if channel == SMS and not order.phone:
            continue
        if (
            channel == PUSH
            and not PushSubscription.objects.filter(customer_id=order.customer_id).exists()
        ):
            continue
        channels.append(channel)
    return channels


def _order_context(order: Order, *, event_key: str, channel: str, locale: str) -> dict[str, Any]:
    from .context import marketing_block, order_context

    settings = config.settings_for(order.shop_id)
    preference = CustomerPreference.objects.filter(customer_id=order.customer_id).first()
    opted_out = preference is not None and preference.marketing_opt_out
    return order_context(
        order,
        locale=locale,
        events=_event_records(order, event_key, SYSTEM),
        links={
            "tracking": links.tracking_url(order.pk),
            "preferences": links.preferences_url(order.customer_id),
        },
        marketing=marketing_block(settings, opted_out=opted_out) if channel == EMAIL else None,
        informed_channels=_informed_channels(order.shop, order, preference),
        settings=settings,
        event_key=event_key,
    )


def preview(
    *,
    shop: Shop,
    event_key: str,
    channel: str,
    locale: str,
    order_id: int | None = None,
    subject: str | None = None,
    body_text: str | None = None,
    body_html: str | None = None,
) -> dict[str, Any]:
    """Render a message without sending or saving anything.

    With *order_id* (an order of this shop), with that order's data; otherwise with sample
    data. Sources given here replace the saved override's (None keeps the saved part, ``""``
    shows the default for that part), so an editor previews unsaved changes. A broken source
    falls back to the default and is listed in ``problems``.
    """
    from .context import sample_context
    from .rendering import check_override, render

    event_key, channel, locale = _check_target(event_key, channel, locale)
    saved = template_get(shop=shop, event_key=event_key, channel=channel, locale=locale)
    draft = None
    if subject is not None or body_text is not None or body_html is not None:
        parts = _sources(
            subject if subject is not None else (saved.subject if saved else ""),
            body_text if body_text is not None else (saved.body_text if saved else ""),
            body_html if body_html is not None else (saved.body_html if saved else ""),
        )
        draft = Template(
            shop=shop,
            event_key=event_key,
            channel=channel,
            locale=locale,
            subject=parts[0],
            body_text=parts[1],
            body_html=parts[2],
        )
    if order_id is not None:
        order = _order(shop, order_id)
        context = _order_context(order, event_key=event_key, channel=channel, locale=locale)
    else:
        context = sample_context(shop, event_key=event_key, locale=locale, links=preview_links())
    override = draft if draft is not None else saved
    rendered = render(
        event_key=event_key, channel=channel, locale=locale, context=context, override=override
    )
    problems = list(rendered.problems)
    if override is not None:
        for problem in check_override(
            event_key=event_key,
            channel=channel,
            locale=locale,
            subject=override.subject,
            body_text=override.body_text,
            body_html=override.body_html,
            context=context,
        ):
            if problem not in problems:
                problems.append(problem)
    return {
        "event_key": event_key,
        "channel": channel,
        "locale": locale,
        "order_id": order_id,
        "sample": order_id is None,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "url": rendered.url,
        "segments": (
            dataclasses.asdict(rendered.segments) if rendered.segments is not None else None
        ),
        "used_override": rendered.used_override,
        "problems": problems,
    }


def _test_recipient(shop: Shop, channel: str, to: object) -> str:
    address = _check_text(to, field="to", max_length=254, strip=True)
    if channel == EMAIL:
        try:
            validate_email(address)
        except DjangoValidationError:
            raise InvalidInput("This must be an email address.", field="to") from None
        return address
    return normalize_phone(address, default_region=shop.country or "FR", field="to")


def test_send(
    *,
    shop: Shop,
    event_key: str,
    channel: str,
    locale: str,
    to: str,
    order_id: int | None = None,
    actor: str = SYSTEM,
) -> OutboxMessage:
    """Queue one test message (``is_test``) of *event_key* to the address or phone *to*.

    With *order_id*, about that order (its latest event of that kind); without, about no
    order: the dispatcher renders sample data. The rules and the customer's preferences do
    not apply; the saved override does. At most :data:`MAX_TEST_MESSAGES_PER_HOUR` per shop.
    """
    event_key = _check_event(event_key)
    channel = _check_channel(channel, TEST_CHANNELS)
    locale = _check_locale(locale)
    recipient = _test_recipient(shop, channel, to)
    order = _order(shop, order_id) if order_id is not None else None
    now = djtz.now()
    events = _event_records(order, event_key, actor)
    with transaction.atomic():
        _lock_shop(shop)
        recent = OutboxMessage.objects.filter(
            shop=shop, is_test=True, created_at__gte=now - dt.timedelta(hours=1)
        ).count()
        if recent >= MAX_TEST_MESSAGES_PER_HOUR:
            raise TooManyTestMessages(
                f"At most {MAX_TEST_MESSAGES_PER_HOUR} test messages an hour; try again later."
            )
        message = OutboxMessage.objects.create(
            shop=shop,
            order=order,
            customer=None,  # a bounce of a test address says nothing about the customer
            channel=channel,
            recipient=recipient,
            locale=locale,
            event_key=event_key,
            event_type=str(events[0]["type"]),
            events=events,
            idempotency_key=f"test:{uuid.uuid4().hex}",
            status=Status.PENDING,
            not_before=now,
            is_test=True,
            created_at=now,
        )
    logger.info("test message %s of shop %s queued by %s", message.pk, shop.pk, actor)
    return message


# --- customer preferences and push subscriptions ----------------------------------------


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def preferences_get(*, shop: Shop, customer_id: int) -> CustomerPreference:
    """Return the customer's preferences (defaults, unsaved, when they never chose)."""
    customer = _customer(shop, customer_id)
    found = CustomerPreference.objects.filter(customer=customer).first()
    return found if found is not None else CustomerPreference(customer=customer)


def _channels(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput("Give a list of channels, or null.", field="channels")
    chosen = set()
    for index, channel in enumerate(value):
        chosen.add(_check_channel(channel, CUSTOMER_CHANNELS, field=f"channels.{index}"))
    if not chosen:
        raise InvalidInput(
            "Give at least one channel, or null for the shop's channels (to stop service"
            " messages, set service_opt_out).",
            field="channels",
        )
    return [c for c in CUSTOMER_CHANNELS if c in chosen]


def preferences_update(
    *,
    shop: Shop,
    customer_id: int,
    channels: Sequence[str] | None,
    service_opt_out: bool,
    marketing_opt_out: bool,
    language: str,
    timezone: str,
    quiet_start: dt.time | None,
    quiet_end: dt.time | None,
    actor: str = SYSTEM,
) -> CustomerPreference:
    """Replace the customer's choices (what the customer's own page also sets).

    *channels* None means every channel the shop uses; *language* and *timezone* ``""``
    mean the order's language and the shop's time zone; quiet hours are both given or
    both None (then the shop's apply).
    """
    customer = _customer(shop, customer_id)
    chosen = _channels(channels)
    service = _check_bool(service_opt_out, "service_opt_out")
    marketing = _check_bool(marketing_opt_out, "marketing_opt_out")
    language = _check_text(language, field="language", max_length=8, strip=True)
    if language and language not in LOCALES:
        raise InvalidInput(f"The language must be one of {', '.join(LOCALES)}.", field="language")
    zone = _check_text(timezone, field="timezone", max_length=64, strip=True)
    if zone and zone not in _time_zones():
        raise InvalidInput(f"{zone!r} is not an IANA time zone.", field="timezone")
    start = None if quiet_start is None else _check_time(quiet_start, "quiet_start")
    end = None if quiet_end is None else _check_time(quiet_end, "quiet_end")
    if (start is None) != (end is None):
        field = "quiet_end" if end is None else "quiet_start"
        raise InvalidInput("Give both ends of the quiet hours, or neither.", field=field)
    if start is not None and start == end:
        raise InvalidInput("The quiet hours must not start when they end.", field="quiet_end")
    with transaction.atomic():
        preference, _created = CustomerPreference.objects.get_or_create(customer=customer)
        preference.channels = chosen
        preference.service_opt_out = service
        preference.marketing_opt_out = marketing
        preference.language = language
        preference.timezone = zone
        preference.quiet_start = start
        preference.quiet_end = end
        preference.save()
    logger.info("preferences of customer %s changed by %s", customer.pk, actor)
    return preference


def _push_key(value: object, *, field: str, size: int) -> bytes:
    from .vapid import b64url_decode

    text = _check_text(value, field=field, max_length=200, strip=True)
    try:
        raw = b64url_decode(text)
    except ValueError:
        raise InvalidInput("This must be base64url.", field=field) from None
    if len(raw) != size:
        raise InvalidInput(
            f"This must decode to {size} bytes (it decodes to {len(raw)}).", field=field
        )
    return raw


def push_subscribe(
    *,
    shop: Shop,
    customer_id: int,
    endpoint: str,
    p256dh: str,
    auth: str,
    user_agent: str = "",
) -> tuple[PushSubscription, bool]:
    """Record a browser's push subscription for a customer; return it and whether it is new.

    *endpoint* must be a URL we may call; *p256dh* the browser's P-256 public key
    (uncompressed point, 65 bytes) and *auth* its 16-byte secret, both base64url. The same
    endpoint sent again updates the subscription (keys change when a browser renews it).
    """
    from .vapid import b64url

    customer = _customer(shop, customer_id)
    url = _check_text(endpoint, field="endpoint", max_length=MAX_PUSH_ENDPOINT, strip=True)
    point = _push_key(p256dh, field="p256dh", size=P256DH_BYTES)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise InvalidInput("This is not a P-256 public key.", field="p256dh") from None
    public_key = b64url(point)
    secret = b64url(_push_key(auth, field="auth", size=AUTH_BYTES))
    agent = _check_text(user_agent, field="user_agent", max_length=10_000, strip=True)
    agent = agent[:MAX_USER_AGENT]
    _public_url(url, "endpoint")
    with transaction.atomic():
        existing = (
            PushSubscription.objects.select_for_update().filter(shop=shop, endpoint=url).first()
        )
        if existing is None:
            subscription = PushSubscription.objects.create(
                shop=shop,
                customer=customer,
                endpoint=url,
                p256dh=public_key,
                auth=secret,
                user_agent=agent,
            )
            return subscription, True
        existing.customer = customer
        existing.p256dh = public_key
        existing.auth = secret
        existing.user_agent = agent
        existing.save(update_fields=["customer", "p256dh", "auth", "user_agent"])
        return existing, False


def push_unsubscribe(*, shop: Shop, subscription_id: int) -> None:
    """Delete a push subscription of the shop (its queued messages are then skipped)."""
    deleted, _ = PushSubscription.objects.filter(shop=shop, pk=subscription_id).delete()
    if not deleted:
        raise NotFound(_NO_SUBSCRIPTION)


# --- webhook endpoints ------------------------------------------------------------------


def _event_types(value: object) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput("Give a list of event types (empty: every event).", field="event_types")
    types: list[str] = []
    for index, item in enumerate(value):
        field = f"event_types.{index}"
        text = _check_text(item, field=field, max_length=MAX_EVENT_TYPE_CHARS, strip=True)
        if not _EVENT_TYPE.match(text):
            raise InvalidInput(
                "An event type is like 'order.shipped', a prefix like 'order.', or '*'.",
                field=field,
            )
        if text not in types:
            types.append(text)
    if len(types) > MAX_EVENT_TYPES:
        raise InvalidInput(f"At most {MAX_EVENT_TYPES} event types.", field="event_types")
    return types


def _webhook_url(value: object) -> str:
    url = _check_text(value, field="url", max_length=MAX_WEBHOOK_URL, strip=True)
    return _public_url(url, "url")


def endpoint_list(*, shop: Shop) -> list[WebhookEndpoint]:
    """Return the shop's webhook endpoints, oldest first."""
    return list(WebhookEndpoint.objects.filter(shop=shop).order_by("id"))


def endpoint_get(*, shop: Shop, endpoint_id: int) -> WebhookEndpoint:
    """Return one webhook endpoint of the shop."""
    return _endpoint(shop, endpoint_id)


def endpoint_create(
    *,
    shop: Shop,
    url: str,
    event_types: Sequence[str] = (),
    description: str = "",
    actor: str = SYSTEM,
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint; return it and its signing secret (``whsec_…``), shown only now.

    The URL must be one we may call (:func:`suivi.core.http.check_public_url`), else
    :class:`UrlNotAllowed`. The secret is stored encrypted.
    """
    from .webhook_signing import generate_secret

    checked_url = _webhook_url(url)
    types = _event_types(event_types)
    text = _check_text(description, field="description", max_length=MAX_DESCRIPTION, strip=True)
    secret = generate_secret()
    with transaction.atomic():
        _lock_shop(shop)
        if WebhookEndpoint.objects.filter(shop=shop).count() >= MAX_WEBHOOK_ENDPOINTS:
            raise InvalidInput(
                f"A shop has at most {MAX_WEBHOOK_ENDPOINTS} webhook endpoints.", field=None
            )
        endpoint = WebhookEndpoint.objects.create(
            shop=shop,
            url=checked_url,
            event_types=types,
            description=text,
            secret_encrypted=crypto.encrypt(secret),
        )
    config.forget(shop.pk)
    logger.info("webhook endpoint %s of shop %s created by %s", endpoint.pk, shop.pk, actor)
    return endpoint, secret


def endpoint_update(
    *,
    shop: Shop,
    endpoint_id: int,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    actor: str = SYSTEM,
) -> WebhookEndpoint:
    """Change what is given (None keeps it). Enabling a disabled endpoint clears why it was
    disabled and its failure streak; disabling one stops its deliveries."""
    checked_url = _webhook_url(url) if url is not None else None
    types = _event_types(event_types) if event_types is not None else None
    text = (
        _check_text(description, field="description", max_length=MAX_DESCRIPTION, strip=True)
        if description is not None
        else None
    )
    turn_on = _check_bool(enabled, "enabled") if enabled is not None else None
    with transaction.atomic():
        endpoint = _endpoint(shop, endpoint_id, lock=True)
        changed: list[str] = []
        if checked_url is not None:
            endpoint.url = checked_url
            changed.append("url")
        if types is not None:
            endpoint.event_types = types
            changed.append("event_types")
        if text is not None:
            endpoint.description = text
            changed.append("description")
        if turn_on is True and not endpoint.enabled:
            endpoint.enabled = True
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
            endpoint.failure_streak = 0
            endpoint.first_failure_at = None
            changed += ["enabled", "disabled_at", "disabled_reason"]
            changed += ["failure_streak", "first_failure_at"]
        elif turn_on is False and endpoint.enabled:
            endpoint.enabled = False
            endpoint.disabled_at = djtz.now()
            endpoint.disabled_reason = "Disabled by the merchant."
            changed += ["enabled", "disabled_at", "disabled_reason"]
        if changed:
            endpoint.save(update_fields=changed)
    config.forget(shop.pk)
    logger.info("webhook endpoint %s of shop %s changed by %s", endpoint.pk, shop.pk, actor)
    return endpoint


def endpoint_rotate_secret(
    *, shop: Shop, endpoint_id: int, actor: str = SYSTEM
) -> tuple[WebhookEndpoint, str]:
    """Replace the endpoint's secret at once; return it and the new secret (shown only now).

    Every delivery from now on, retries included, is signed with the new secret only.
    """
    from .webhook_signing import generate_secret

    secret = generate_secret()
    with transaction.atomic():
        endpoint = _endpoint(shop, endpoint_id, lock=True)
        endpoint.secret_encrypted = crypto.encrypt(secret)
        endpoint.save(update_fields=["secret_encrypted"])
    config.forget(shop.pk)
    logger.info(
        "secret of webhook endpoint %s of shop %s rotated by %s", endpoint.pk, shop.pk, actor
    )
    return endpoint, secret


def endpoint_delete(*, shop: Shop, endpoint_id: int, actor: str = SYSTEM) -> None:
    """Delete the endpoint with its delivery log."""
    deleted, _ = WebhookEndpoint.objects.filter(shop=shop, pk=endpoint_id).delete()
    if not deleted:
        raise NotFound(_NO_ENDPOINT)
    config.forget(shop.pk)
    logger.info("webhook endpoint %s of shop %s deleted by %s", endpoint_id, shop.pk, actor)


def endpoint_deliveries(
    *, shop: Shop, endpoint_id: int, before_id: int | None = None, limit: int = 50
) -> Page[OutboxMessage]:
    """Return the endpoint's messages, newest first, each with its attempts (``attempt_list``)."""
    endpoint = _endpoint(shop, endpoint_id)
    limit = _check_int(limit, field="limit", low=1, high=MAX_PAGE)
    queryset = _messages(shop).filter(endpoint=endpoint).order_by("-id")
    if before_id is not None:
        queryset = queryset.filter(id__lt=before_id)
    items = list(queryset[: limit + 1])
    has_more = len(items) > limit
    items = items[:limit]
    return Page(items=items, has_more=has_more, last_id=items[-1].pk if items else None)


def _requeue(message: OutboxMessage, allowed: Iterable[str], now: dt.datetime) -> bool:
    """Compare-and-set a finished message back to pending, due now, with a fresh schedule.

    The idempotency key is kept: a webhook goes out with the same ``webhook-id``.
    """
    updated = OutboxMessage.objects.filter(pk=message.pk, status__in=list(allowed)).update(
        status=Status.PENDING,
        not_before=now,
        attempts=0,
        claimed_by="",
        claimed_until=None,
        last_error="",
    )
    return bool(updated)


def _refuse_requeue(message: OutboxMessage, verb: str) -> NotRetryable:
    reasons = {
        Status.SENT: "it was sent; only a dead message is retried",
        Status.DELIVERED: "it was delivered; only a dead message is retried",
        Status.PENDING: "it is already waiting to be sent",
        Status.SENDING: "it is being sent right now",
        Status.MERGED: "it was merged into another message",
        Status.SKIPPED: f"it was skipped on purpose ({message.last_error or 'no reason given'})",
    }
    why = reasons.get(Status(message.status), f"its status is {message.status}")
    return NotRetryable(f"This message cannot be {verb}: {why}.", status_now=message.status)


def endpoint_replay(
    *, shop: Shop, endpoint_id: int, message_id: int, actor: str = SYSTEM
) -> OutboxMessage:
    """Send a finished webhook message again (same ``webhook-id``, so receivers can dedupe)."""
    with transaction.atomic():
        endpoint = _endpoint(shop, endpoint_id, lock=True)
        message = OutboxMessage.objects.filter(
            shop=shop, endpoint=endpoint, pk=message_id, channel=WEBHOOK
        ).first()
        if message is None:
            raise NotFound(_NO_MESSAGE)
        if not endpoint.enabled:
            raise EndpointDisabled(
                "This endpoint is disabled"
                + (f" ({endpoint.disabled_reason})" if endpoint.disabled_reason else "")
                + ": enable it before replaying its deliveries."
            )
        if message.status not in REPLAYABLE or not _requeue(message, REPLAYABLE, djtz.now()):
            message.refresh_from_db(fields=["status", "last_error"])
            raise _refuse_requeue(message, "replayed")
    logger.info("webhook message %s of shop %s replayed by %s", message.pk, shop.pk, actor)
    return _messages(shop).get(pk=message.pk)


# --- the outbox as the merchant sees it -------------------------------------------------


def order_messages(*, shop: Shop, order_id: int) -> list[OutboxMessage]:
    """Return every message about an order of the shop, oldest first, with attempts."""
    if not Order.objects.filter(shop=shop, pk=order_id).exists():
        raise NotFound(_NO_ORDER)
    return list(_messages(shop).filter(order_id=order_id).order_by("id"))


def message_get(*, shop: Shop, message_id: int) -> OutboxMessage:
    """Return one message of the shop with its attempts."""
    message = _messages(shop).filter(pk=message_id).first()
    if message is None:
        raise NotFound(_NO_MESSAGE)
    return message


def message_retry(*, shop: Shop, message_id: int, actor: str = SYSTEM) -> OutboxMessage:
    """Put a dead message back in the queue, due now, with a fresh retry schedule."""
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_related("endpoint")
            .filter(shop=shop, pk=message_id)
            .first()
        )
        if message is None:
            raise NotFound(_NO_MESSAGE)
        if message.status != Status.DEAD:
            raise _refuse_requeue(message, "retried")
        endpoint = message.endpoint
        if message.channel == WEBHOOK and endpoint is not None and not endpoint.enabled:
            raise EndpointDisabled(
                "The webhook endpoint of this message is disabled: enable it first."
            )
        if not _requeue(message, [Status.DEAD], djtz.now()):
            message.refresh_from_db(fields=["status", "last_error"])
            raise _refuse_requeue(message, "retried")
    logger.info("message %s of shop %s retried by %s", message.pk, shop.pk, actor)
    return message_get(shop=shop, message_id=message.pk)
