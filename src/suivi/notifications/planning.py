"""Plan the messages an event causes, inside the transaction that records the event.

Called by the event bus for every published domain event (see :mod:`suivi.core.events`):
the outbox rows commit or roll back with the order change itself, so a crash can neither
lose nor invent a notification. No I/O here — only reads of configuration and one bulk
INSERT; the workers send later.

For each event:
1. Webhook endpoints of the shop that subscribe to the event type get one message each.
2. If the event maps to a notification event (:mod:`.catalog`), each customer channel whose
   rule is on gets a message, unless the customer refused the channel, opted out of
   service messages (essential messages still go), or the contact point is known invalid —
   those are written as ``skipped`` with the reason, so the merchant's log says why.
3. Timing: ``not_before`` = now + the rule's delay, pushed to the end of the customer's
   quiet hours for SMS and push unless the event is urgent.
4. Burst merging (window per shop, 10 minutes by default): if a message to the same
   recipient on the same channel about the same order is still waiting, the event joins it
   (the waiting message now tells both steps); if one was sent within the window and this
   event is a minor step (in preparation, in transit), it is recorded as merged into that
   message and not sent again.
5. Idempotency: one key per (event, channel, recipient), unique in the table; planning the
   same event twice inserts nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import Q, Value
from django.db.models.functions import Least
from django.utils import timezone

from suivi.core.events import DomainEvent
from suivi.orders.models import Order

from . import catalog
from .catalog import EMAIL, INTERRUPTIVE_CHANNELS, PUSH, SMS, WEBHOOK
from .config import ShopConfig, shop_config
from .models import CustomerPreference, OutboxMessage, PushSubscription, WebhookEndpoint

logger = logging.getLogger("suivi.notifications")
Status = OutboxMessage.Status


def idempotency_key(event: DomainEvent, channel: str, recipient: str) -> str:
    """One key per (event, channel, recipient); long recipients (URLs) are hashed."""
    source = (
        f"{event.event_id}"
        if event.event_id
        else f"{event.type}:{event.subject_id}:{event.occurred_at.isoformat()}"
    )
    who = (
        recipient if len(recipient) <= 120 else hashlib.sha256(recipient.encode()).hexdigest()[:40]
    )
    return f"{source}:{channel}:{who}"


def event_record(event: DomainEvent, key: str | None) -> dict[str, Any]:
    """The event as stored on the message (plain JSON, what templates and webhooks read)."""
    return {
        "id": event.event_id,
        "type": event.type,
        "key": key,
        "at": event.occurred_at.isoformat(),
        "actor": event.actor,
        "payload": event.payload,
    }


def on_event(event: DomainEvent) -> None:
    """Plan what one event causes (see :func:`on_events`)."""
    on_events([event])


def on_events(published: list[DomainEvent]) -> None:
    """Event bus subscriber: plan what *published* cause (no I/O, same transaction).

    A bulk writer publishes up to a hundred events at once: the orders, their recent
    messages and the push subscriptions are then read in one query each, and every row is
    inserted in one statement. (Burst merging sees the messages of earlier publications,
    not those planned in the same call.)
    """
    shops: dict[int, list[DomainEvent]] = {}
    for event in published:
        shops.setdefault(event.shop_id, []).append(event)
    rows: list[OutboxMessage] = []
    for shop_id, shop_events in shops.items():
        rows.extend(_plan_shop(shop_id, shop_events))
    if rows:
        OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)


def _order_id(event: DomainEvent) -> int | None:
    if event.type.startswith("order."):
        return event.subject_id
    value = event.payload.get("order_id")
    return int(value) if isinstance(value, int) else None


def _plan_shop(shop_id: int, shop_events: list[DomainEvent]) -> list[OutboxMessage]:
    config = shop_config(shop_id)
    work = []
    for event in shop_events:
        key = catalog.event_key_for(event.type, event.payload)
        endpoints = [e for e in config.endpoints if e.wants(event.type)]
        if key is not None or endpoints:
            work.append((event, key, endpoints))
    if not work:
        return []
    order_ids = {oid for event, _k, _e in work if (oid := _order_id(event)) is not None}
    orders = {
        order.pk: order
        for order in Order.objects.select_related(
            "customer", "customer__notification_preference"
        ).filter(pk__in=order_ids, shop_id=shop_id)
    }
    now = timezone.now()
    keyed = [(event, key) for event, key, _e in work if key is not None]
    window = dt.timedelta(seconds=config.settings.burst_window_seconds)
    recent: dict[int, list[OutboxMessage]] = {}
    if window and keyed:
        recent = _recent_messages(
            {oid for event, _k in keyed if (oid := _order_id(event)) in orders}, now - window
        )
    pushes: dict[int, list[int]] = {}
    if any(config.rule(key, PUSH).enabled for _event, key in keyed):
        customers = {
            orders[oid].customer_id for event, _k in keyed if (oid := _order_id(event)) in orders
        }
        for sub_id, customer_id in PushSubscription.objects.filter(
            customer_id__in=customers
        ).values_list("id", "customer_id"):
            pushes.setdefault(customer_id, []).append(sub_id)
    wanted_endpoints = {e.pk for _event, _key, endpoints in work for e in endpoints}
    if wanted_endpoints:
        # The cached configuration may be seconds old: an endpoint deleted meanwhile in
        # another process must not make this order's transaction fail on its foreign key.
        live = set(
            WebhookEndpoint.objects.filter(pk__in=wanted_endpoints, enabled=True).values_list(
                "pk", flat=True
            )
        )
        work = [(event, key, [e for e in eps if e.pk in live]) for event, key, eps in work]
    rows: list[OutboxMessage] = []
    for event, key, endpoints in work:
        oid = _order_id(event)
        order = orders.get(oid) if oid is not None else None
        record = event_record(event, key)
        for endpoint in endpoints:
            rows.append(
                OutboxMessage(
                    shop_id=shop_id,
                    order=order,
                    endpoint=endpoint,
                    channel=WEBHOOK,
                    recipient=endpoint.url,
                    locale="",
                    event_key=key or "",
                    event_type=event.type,
                    events=[record],
                    idempotency_key=idempotency_key(event, WEBHOOK, f"endpoint:{endpoint.pk}"),
                    not_before=now,
                    created_at=now,
                )
            )
        if key is not None and order is not None:
            rows.extend(
                _customer_rows(
                    event,
                    key,
                    record,
                    order,
                    config,
                    now,
                    recent=recent.get(order.pk, []),
                    push_ids=pushes.get(order.customer_id, []),
                )
            )
    return rows


def _preference(order: Order) -> CustomerPreference | None:
    try:
        return order.customer.notification_preference
    except CustomerPreference.DoesNotExist:
        return None


def _customer_rows(
    event: DomainEvent,
    key: str,
    record: dict[str, Any],
    order: Order,
    config: ShopConfig,
    now: dt.datetime,
    *,
    recent: list[OutboxMessage],
    push_ids: list[int],
) -> list[OutboxMessage]:
    info = catalog.EVENTS[key]
    pref = _preference(order)
    locale = (pref.language if pref and pref.language else "") or order.language or "fr"
    wanted = [c for c in catalog.CUSTOMER_CHANNELS if config.rule(key, c).enabled]
    if not wanted:
        return []
    recipients: list[tuple[str, str, int | None, str]] = []  # channel, recipient, push id, skip
    for channel in wanted:
        skip = ""
        if pref is not None and not pref.accepts(channel):
            skip = "The customer does not want this channel."
        elif pref is not None and pref.service_opt_out and not info.essential:
            skip = "The customer opted out of service messages."
        if channel == EMAIL:
            if pref is not None and pref.email_invalid_at and not skip:
                skip = f"The email address is invalid: {pref.email_invalid_reason}"
            recipients.append((EMAIL, order.email, None, skip))
        elif channel == SMS:
            if not order.phone:
                continue  # nothing to send to, nothing worth logging
            if pref is not None and pref.phone_invalid_at and not skip:
                skip = f"The phone number is invalid: {pref.phone_invalid_reason}"
            if not settings.SUIVI_SMS_PROVIDER and not skip:
                skip = "No SMS provider is configured on this installation."
            recipients.append((SMS, order.phone, None, skip))
        elif channel == PUSH:
            for sub_id in push_ids:
                recipients.append((PUSH, f"push:{sub_id}", sub_id, skip))
    if not recipients:
        return []
    window = dt.timedelta(seconds=config.settings.burst_window_seconds)
    rows = []
    for channel, recipient, push_id, skip in recipients:
        rule = config.rule(key, channel)
        not_before = now + dt.timedelta(seconds=rule.delay_seconds)
        if channel in INTERRUPTIVE_CHANNELS and not info.urgent:
            not_before = _after_quiet_hours(not_before, pref, config)
        status, merged_into = (Status.SKIPPED, None) if skip else (Status.PENDING, None)
        if not skip and window:
            merged_into = _merge(recent, channel, recipient, key, record, not_before)
            if merged_into is not None:
                status = Status.MERGED
        rows.append(
            OutboxMessage(
                shop_id=event.shop_id,
                order=order,
                customer_id=order.customer_id,
                push_subscription_id=push_id,
                channel=channel,
                recipient=recipient,
                locale=locale,
                event_key=key,
                event_type=event.type,
                events=[record],
                idempotency_key=idempotency_key(event, channel, recipient),
                status=status,
                merged_into_id=merged_into,
                last_error=skip,
                not_before=not_before,
                created_at=now,
            )
        )
    return rows


def _recent_messages(order_ids: set[int], since: dt.datetime) -> dict[int, list[OutboxMessage]]:
    """Messages of these orders that a new event may join or be merged into, newest first."""
    found: dict[int, list[OutboxMessage]] = {}
    if not order_ids:
        return found
    for message in (
        OutboxMessage.objects.filter(order_id__in=order_ids, created_at__gte=since)
        .filter(
            Q(status=Status.PENDING, claimed_by="")
            | Q(status__in=[Status.SENT, Status.DELIVERED, Status.SENDING])
        )
        .exclude(channel=WEBHOOK)
        .only(
            "id",
            "order_id",
            "channel",
            "recipient",
            "status",
            "events",
            "event_key",
            "event_type",
            "claimed_by",
        )
        .order_by("-id")
    ):
        found.setdefault(message.order_id or 0, []).append(message)
    return found


def _merge(
    recent: list[OutboxMessage],
    channel: str,
    recipient: str,
    key: str,
    record: dict[str, Any],
    not_before: dt.datetime,
) -> int | None:
    """Join the event to a recent message for the same recipient; return its id if merged.

    Essential messages (the payment confirmation, cancellations, claim replies) are never
    merged, in either direction: each is a record the customer keeps.
    """
    info = catalog.EVENTS[key]
    if info.essential:
        return None
    for message in recent:
        if message.channel != channel or message.recipient != recipient:
            continue
        current = catalog.EVENTS.get(message.event_key)
        if current is None or current.essential:
            continue
        if message.status == Status.PENDING:
            # Compare-and-set: only while no worker has claimed it. The message now tells the
            # latest step (a minor one does not take the lead) and goes at the earliest time.
            events = [*message.events, record]
            new_key = message.event_key if info.minor else key
            updated = OutboxMessage.objects.filter(
                pk=message.pk, status=Status.PENDING, claimed_by=""
            ).update(
                events=events,
                event_key=new_key,
                event_type=message.event_type if info.minor else record["type"],
                not_before=Least("not_before", Value(not_before)),
            )
            if updated:
                message.events, message.event_key = events, new_key
                return message.pk
            continue
        if info.minor:
            return message.pk  # told recently; a minor step adds nothing worth a message
        return None
    return None


def _after_quiet_hours(
    when: dt.datetime, pref: CustomerPreference | None, config: ShopConfig
) -> dt.datetime:
    """Move *when* to the end of the customer's quiet hours if it falls inside them."""
    start = (pref.quiet_start if pref and pref.quiet_start else None) or config.settings.quiet_start
    end = (pref.quiet_end if pref and pref.quiet_end else None) or config.settings.quiet_end
    if start is None or end is None or start == end:
        return when
    tz_name = (pref.timezone if pref and pref.timezone else "") or config.timezone
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("Europe/Paris")
    local = when.astimezone(tz)
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return when
    morning = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if morning <= local:
        morning = morning + dt.timedelta(days=1)
        morning = morning.replace(tzinfo=None).replace(tzinfo=tz)  # keep wall-clock across DST
    return morning.astimezone(dt.UTC)
