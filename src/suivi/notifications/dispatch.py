"""Deliver a claim: load, render, send outside any transaction, record each result at once.

The same function runs in the embedded worker and in a Celery task (scale-out): both get
a :class:`~.outbox.Claim` (a token and ids) and re-read the rows that still carry the token.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from suivi.core import crypto
from suivi.orders.models import Order
from suivi.shops.models import Shop

from . import links, outbox
from .catalog import EMAIL, EVENTS, PUSH, SMS, WEBHOOK
from .channels import ChannelNotConfigured, get_channel
from .channels.base import Outcome, Outgoing
from .config import shop_config
from .models import CustomerPreference, OutboxMessage, PushSubscription, Template

logger = logging.getLogger("suivi.notifications")
Status = OutboxMessage.Status


@dataclass
class Report:
    """What one delivery round did (for logs, tests and the benchmark)."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    closed: int = 0
    by_channel: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, status: str) -> None:
        if status == Status.SENT:
            self.sent += 1
        elif status == Status.PENDING:
            self.retrying += 1
        elif status == Status.DEAD:
            self.dead += 1


def run_once(limit: int | None = None) -> Report:
    """Claim one batch of due messages and deliver it (the worker job)."""
    claim = outbox.claim(limit)
    if not claim.ids:
        return Report()
    return deliver(claim)


def deliver(claim: outbox.Claim) -> Report:
    """Send the messages of *claim* that are still ours."""
    report = Report()
    # Start a fresh lease: in scale-out mode the task may have waited in the broker's queue
    # for part of the claim's lease. Rows already swept and re-claimed elsewhere stay theirs.
    outbox.renew(claim.token, claim.ids)
    messages = list(
        OutboxMessage.objects.filter(
            id__in=claim.ids, claimed_by=claim.token, status=Status.SENDING
        )
        .select_related("endpoint", "push_subscription")
        .order_by("not_before", "id")
    )
    report.claimed = len(messages)
    if not messages:
        return report
    builder = _Builder(messages)
    by_channel: dict[str, list[tuple[OutboxMessage, Outgoing]]] = defaultdict(list)
    for message in messages:
        try:
            item = builder.outgoing(message)
        except _CannotSend as exc:
            outbox.finish_without_sending(
                message, token=claim.token, status=exc.status, reason=str(exc)
            )
            report.closed += 1
            continue
        except Exception as exc:
            logger.exception("message %s could not be prepared", message.pk)
            outbox.finish_without_sending(
                message,
                token=claim.token,
                status=Status.DEAD,
                reason=f"Could not be prepared: {type(exc).__name__}: {exc}",
            )
            report.dead += 1
            continue
        by_channel[message.channel].append((message, item))

    recorder = _Recorder(claim, report, _LeaseKeeper(claim, [m.pk for m in messages]))
    for channel_name, pairs in by_channel.items():
        recorder.start(channel_name, {item.message_id: message for message, item in pairs})
        try:
            channel = get_channel(channel_name)
        except ChannelNotConfigured as exc:
            for _message, item in pairs:
                recorder(item, Outcome.temporary(str(exc)))
            continue
        channel.send_batch([item for _m, item in pairs], on_result=recorder)
    return report


class _Recorder:
    """Record each provider answer as soon as it comes (the channel calls us per item)."""

    def __init__(self, claim: outbox.Claim, report: Report, lease: _LeaseKeeper) -> None:
        self.claim, self.report, self.lease = claim, report, lease
        self.channel = ""
        self.by_id: dict[int, OutboxMessage] = {}
        self._mark()

    def _mark(self) -> None:
        self.started_at, self.started = timezone.now(), time.perf_counter()

    def start(self, channel: str, by_id: dict[int, OutboxMessage]) -> None:
        self.channel, self.by_id = channel, by_id
        self._mark()

    def __call__(self, item: Outgoing, outcome: Outcome) -> None:
        duration_ms = int((time.perf_counter() - self.started) * 1000)
        status = outbox.record(
            self.by_id[item.message_id],
            outcome,
            token=self.claim.token,
            started_at=self.started_at,
            duration_ms=duration_ms,
        )
        self.report.add(status)
        self.report.by_channel[self.channel] += 1
        self.lease.done(item.message_id)
        self._mark()


class _LeaseKeeper:
    """Renew the claim's lease while a long batch (slow providers) is still being sent."""

    def __init__(self, claim: outbox.Claim, ids: Iterable[int]) -> None:
        self.claim = claim
        self.remaining = set(ids)
        self.every = max(1.0, settings.SUIVI_OUTBOX_LEASE_SECONDS / 3)
        self.last = time.monotonic()

    def done(self, message_id: int) -> None:
        self.remaining.discard(message_id)
        if self.remaining and time.monotonic() - self.last > self.every:
            outbox.renew(self.claim.token, self.remaining)
            self.last = time.monotonic()


class _CannotSend(Exception):
    def __init__(self, reason: str, status: str = Status.DEAD) -> None:
        super().__init__(reason)
        self.status = status


class _Builder:
    """Turn outbox rows into channel items, loading what a batch needs in a few queries."""

    def __init__(self, messages: list[OutboxMessage]) -> None:
        order_ids = {m.order_id for m in messages if m.order_id}
        self.orders: dict[int, Order] = {
            o.pk: o
            for o in Order.objects.filter(id__in=order_ids)
            .select_related("shop", "pickup_location", "customer")
            .prefetch_related("lines")
        }
        customer_ids = {m.customer_id for m in messages if m.customer_id}
        self.preferences = {
            p.customer_id: p
            for p in CustomerPreference.objects.filter(customer_id__in=customer_ids)
        }
        self.push_counts: dict[int, int] = defaultdict(int)
        for customer_id in PushSubscription.objects.filter(
            customer_id__in=customer_ids
        ).values_list("customer_id", flat=True):
            self.push_counts[customer_id] += 1
        keys = {(m.shop_id, m.event_key, m.channel) for m in messages if m.channel != WEBHOOK}
        self.overrides: dict[tuple[int, str, str, str], Template] = {}
        if keys:
            shops = {k[0] for k in keys}
            for t in Template.objects.filter(shop_id__in=shops, event_key__in={k[1] for k in keys}):
                self.overrides[(t.shop_id, t.event_key, t.channel, t.locale)] = t
        self.contexts: dict[tuple[int, str, str], dict[str, Any]] = {}

    def outgoing(self, message: OutboxMessage) -> Outgoing:
        if message.channel == WEBHOOK:
            return self._webhook(message)
        order = self.orders.get(message.order_id or 0)
        if order is None and not message.is_test:
            raise _CannotSend("The order no longer exists.", Status.SKIPPED)
        from .rendering import render

        config = shop_config(message.shop_id)
        shop = order.shop if order is not None else Shop.objects.get(pk=message.shop_id)
        locale = message.locale if message.locale in ("fr", "en") else shop.default_locale
        override = self.overrides.get((message.shop_id, message.event_key, message.channel, locale))
        if order is None:  # a test message from the template editor: sample data
            from .context import sample_context

            context = sample_context(
                shop,
                event_key=message.event_key,
                locale=locale,
                links={
                    "tracking": links.base_url() + "/t/sample",
                    "preferences": links.base_url() + "/p/sample",
                },
                settings=config.settings,
            )
        else:
            context = self._context(message, order, locale)
        rendered = render(
            event_key=message.event_key,
            channel=message.channel,
            locale=locale,
            context=context,
            override=override,
        )
        if rendered.problems:
            logger.warning(
                "template override of shop %s for %s/%s/%s rejected: %s",
                message.shop_id,
                message.event_key,
                message.channel,
                locale,
                "; ".join(rendered.problems),
            )
        base = dict(
            message_id=message.pk,
            idempotency_key=message.idempotency_key,
            shop_id=message.shop_id,
            channel=message.channel,
            recipient=message.recipient,
            attempt=message.attempts + 1,
        )
        if message.channel == EMAIL:
            sender = (shop.sender_name or shop.name).replace('"', "")
            return Outgoing(
                **base,  # type: ignore[arg-type]
                content={
                    "subject": rendered.subject,
                    "text": rendered.text,
                    "html": rendered.html,
                    "from_email": f'"{sender}" <{settings.DEFAULT_FROM_EMAIL}>',
                    "reply_to": config.settings.reply_to,
                    "headers": {
                        "List-Unsubscribe": f"<{context['links']['preferences']}>",
                        "X-Suivi-Event": message.event_key,
                        "X-Suivi-Order": context["order"]["reference"],
                    },
                },
            )
        if message.channel == SMS:
            return Outgoing(
                **base,  # type: ignore[arg-type]
                content={"text": rendered.text, "sender": config.settings.sms_sender},
            )
        if message.channel == PUSH:
            sub = message.push_subscription
            if sub is None:
                raise _CannotSend("The push subscription was removed.", Status.SKIPPED)
            urgent = EVENTS[message.event_key].urgent if message.event_key in EVENTS else False
            return Outgoing(
                **base,  # type: ignore[arg-type]
                content={
                    "title": rendered.subject,
                    "body": rendered.text,
                    "url": rendered.url or context["links"]["tracking"],
                    "tag": f"order-{order.pk}" if order is not None else f"test-{message.pk}",
                    "urgency": "high" if urgent else "normal",
                    "ttl": 6 * 3600 if urgent else 48 * 3600,
                },
                target={"endpoint": sub.endpoint, "p256dh": sub.p256dh, "auth": sub.auth},
            )
        raise _CannotSend(f"Unknown channel {message.channel!r}.")

    def _context(self, message: OutboxMessage, order: Order, locale: str) -> dict[str, Any]:
        from .context import order_context

        pref = self.preferences.get(order.customer_id)
        config = shop_config(message.shop_id)
        marketing = None
        if (
            message.channel == EMAIL
            and (config.settings.marketing_html or config.settings.marketing_text)
            and not (pref is not None and pref.marketing_opt_out)
        ):
            marketing = {
                "html": config.settings.marketing_html,
                "text": config.settings.marketing_text,
            }
        return order_context(
            order,
            event_key=message.event_key,
            locale=locale,
            events=list(message.events),
            links={
                "tracking": links.tracking_url(order.pk),
                "preferences": links.preferences_url(order.customer_id),
            },
            marketing=marketing,
            informed_channels=self._informed_channels(order, pref, config),
            settings=config.settings,
        )

    def _informed_channels(
        self, order: Order, pref: CustomerPreference | None, config: Any
    ) -> list[str]:
        channels = []
        for channel in (EMAIL, SMS, PUSH):
            if not any(config.rule(key, channel).enabled for key in EVENTS):
                continue
            if pref is not None and not pref.accepts(channel):
                continue
            if channel == SMS and not order.phone:
                continue
            if channel == PUSH and not self.push_counts.get(order.customer_id):
                continue
            channels.append(channel)
        return channels

    def _webhook(self, message: OutboxMessage) -> Outgoing:
        endpoint = message.endpoint
        if endpoint is None:
            raise _CannotSend("The webhook endpoint was deleted.", Status.SKIPPED)
        if not endpoint.enabled:
            raise _CannotSend(
                f"The endpoint is disabled: {endpoint.disabled_reason or 'by the merchant'}."
            )
        return Outgoing(
            message_id=message.pk,
            idempotency_key=message.idempotency_key,
            shop_id=message.shop_id,
            channel=WEBHOOK,
            recipient=endpoint.url,
            attempt=message.attempts + 1,
            content={
                "body": webhook_body(message, self.orders.get(message.order_id or 0)),
                "event_type": message.event_type,
            },
            target={"url": endpoint.url, "secret": crypto.decrypt(endpoint.secret_encrypted)},
        )


def webhook_body(message: OutboxMessage, order: Order | None) -> str:
    """The Standard Webhooks payload: ``type``, ``timestamp`` and ``data``."""
    event = message.events[0] if message.events else {}
    data: dict[str, Any] = {"event": event}
    if order is not None:
        data["order"] = {
            "id": order.pk,
            "reference": order.reference,
            "status": order.status,
            "fulfilment_mode": order.fulfilment_mode,
            "total": str(order.total_amount),
            "currency": order.currency,
        }
    body = {
        "type": message.event_type,
        "timestamp": event.get("at") or _iso(message.created_at),
        "data": data,
    }
    return json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _iso(value: datetime) -> str:
    return value.isoformat()
