"""Notification rules, templates, preferences, subscriptions, endpoints and the outbox."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from suivi.customers.models import Customer
from suivi.orders.models import Order
from suivi.shops.models import Shop

from .catalog import CHANNELS, CUSTOMER_CHANNELS, EVENTS

CHANNEL_CHOICES = [(c, c) for c in CHANNELS]
EVENT_CHOICES = [(key, key) for key in EVENTS]


class NotificationSettings(models.Model):
    """A shop's notification branding and timing (one row per shop, created on demand)."""

    shop = models.OneToOneField(
        Shop, on_delete=models.CASCADE, related_name="notification_settings"
    )
    logo_url = models.URLField(blank=True)
    reply_to = models.EmailField(blank=True)
    sms_sender = models.CharField(
        max_length=11, blank=True, help_text=_("Alphanumeric SMS sender, 11 characters at most.")
    )
    marketing_html = models.TextField(blank=True, help_text=_("Optional marketing block (HTML)."))
    marketing_text = models.TextField(blank=True, help_text=_("Same block in plain text."))
    burst_window_seconds = models.PositiveIntegerField(
        default=600, help_text=_("Events of one order within this window become one message.")
    )
    quiet_start = models.TimeField(default=dt.time(21, 0))
    quiet_end = models.TimeField(default=dt.time(8, 0))
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notification settings of {self.shop_id}"


class NotificationRule(models.Model):
    """Whether an event notifies on a channel, and after which delay (overrides the default)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="notification_rules")
    event_key = models.CharField(max_length=40, choices=EVENT_CHOICES)
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    enabled = models.BooleanField(default=True)
    delay_seconds = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "event_key", "channel"], name="rule_unique_per_shop_event_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_key}/{self.channel}={'on' if self.enabled else 'off'}"


class Template(models.Model):
    """A merchant's override of a default template (sandboxed Jinja source)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="notification_templates")
    event_key = models.CharField(max_length=40, choices=EVENT_CHOICES)
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    locale = models.CharField(max_length=8)
    subject = models.TextField(blank=True, help_text=_("Email subject or push title."))
    body_text = models.TextField(blank=True, help_text=_("Plain-text email, SMS or push body."))
    body_html = models.TextField(blank=True, help_text=_("HTML email body (inside the layout)."))
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=120, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "event_key", "channel", "locale"],
                name="template_unique_per_shop_event_channel_locale",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_key}/{self.channel}/{self.locale}"


class CustomerPreference(models.Model):
    """How a customer wants to hear from the shop (absent row = the shop's defaults)."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="notification_preference"
    )
    channels = models.JSONField(
        null=True, blank=True, help_text=_("Channels the customer accepts; empty = the shop's.")
    )
    service_opt_out = models.BooleanField(default=False)
    marketing_opt_out = models.BooleanField(default=False)
    language = models.CharField(max_length=8, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    email_invalid_at = models.DateTimeField(null=True, blank=True)
    email_invalid_reason = models.CharField(max_length=200, blank=True)
    phone_invalid_at = models.DateTimeField(null=True, blank=True)
    phone_invalid_reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of customer {self.customer_id}"

    def accepts(self, channel: str) -> bool:
        return self.channels is None or len(self.channels) == 0 or channel in self.channels


class PushSubscription(models.Model):
    """One browser or device subscribed to web push for a customer."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # One row per shop and browser: a customer space signed in to several shops'
        # orders subscribes the same device for each of them.
        constraints = [
            models.UniqueConstraint(fields=["shop", "endpoint"], name="push_endpoint_per_shop")
        ]

    def __str__(self) -> str:
        return f"push subscription {self.pk} of customer {self.customer_id}"


class WebhookEndpoint(models.Model):
    """A merchant system that receives signed domain events."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=200, blank=True)
    secret_encrypted = models.TextField(help_text=_("Standard Webhooks secret, encrypted."))
    event_types = models.JSONField(
        default=list, blank=True, help_text=_("Domain event types or prefixes; empty = all.")
    )
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    failure_streak = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or any(
            event_type == t or (t.endswith(".") and event_type.startswith(t)) or t == "*"
            for t in self.event_types
        )


class OutboxMessage(models.Model):
    """One message to one recipient on one channel; the source of truth for delivery."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        DEAD = "dead", _("Failed for good")
        MERGED = "merged", _("Merged into another message")
        SKIPPED = "skipped", _("Skipped")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    push_subscription = models.ForeignKey(
        PushSubscription, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=CHANNEL_CHOICES)
    recipient = models.CharField(max_length=1000)
    locale = models.CharField(max_length=8, default="fr")
    event_key = models.CharField(max_length=64)
    event_type = models.CharField(max_length=64)
    events = models.JSONField(
        default=list, help_text=_("The domain events this message tells (several when merged).")
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    not_before = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_messages"
    )
    is_test = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    receipt_status = models.CharField(max_length=40, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["not_before", "id"],
                name="outbox_pending_due",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["claimed_until"], name="outbox_sending_lease", condition=Q(status="sending")
            ),
            models.Index(fields=["order", "channel", "recipient"], name="outbox_order_channel"),
            models.Index(fields=["channel", "provider_message_id"], name="outbox_provider_id"),
            models.Index(fields=["shop", "status", "created_at"], name="outbox_shop_status"),
            models.Index(fields=["endpoint", "created_at"], name="outbox_endpoint_log"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.event_key} → {self.recipient} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try to hand a message to its provider, and what the provider answered."""

    class Outcome(models.TextChoices):
        OK = "ok", _("Accepted")
        TEMPORARY = "temporary", _("Temporary failure")
        PERMANENT = "permanent", _("Permanent failure")

    message = models.ForeignKey(
        OutboxMessage, on_delete=models.CASCADE, related_name="attempts_log"
    )
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    status_code = models.IntegerField(null=True, blank=True)
    answer = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    receipt_status = models.CharField(max_length=40, blank=True)
    receipt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["message", "started_at"], name="attempt_message_time")]

    def __str__(self) -> str:
        return f"attempt on {self.message_id}: {self.outcome}"


__all__ = [
    "CUSTOMER_CHANNELS",
    "CustomerPreference",
    "DeliveryAttempt",
    "NotificationRule",
    "NotificationSettings",
    "OutboxMessage",
    "PushSubscription",
    "Template",
    "WebhookEndpoint",
]
