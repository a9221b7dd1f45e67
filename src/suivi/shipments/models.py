"""Parcels, the legs that carry them, their carrier events, and carrier accounts.

Writes go through :mod:`.services` (parcels, accounts) and :mod:`.ingest` (events) only.
A **parcel** is what the customer waits for (some lines of an order); a **leg** is one
carrier's number for it — the first leg is the parcel's own carrier and number, a
cross-border hand-off adds a destination leg that is then followed too. Polling works on
legs; the parcel's status is the fold of all its legs' events (see :mod:`.timeline`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from suivi.carriers.vocabulary import Reason, Status
from suivi.orders.models import Order, OrderLine
from suivi.shops.models import Shop

STATUS_CHOICES = [(s.value, s.value) for s in Status]
REASON_CHOICES = [(r.value, r.value or "none") for r in Reason]


class CarrierAccount(models.Model):
    """A shop's credentials for one carrier (stored encrypted), its limits and push secret."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="carrier_accounts")
    carrier = models.CharField(max_length=32)
    label = models.CharField(max_length=100, blank=True)
    credentials_encrypted = models.TextField(blank=True)
    push_secret_encrypted = models.TextField(blank=True)
    # Empty: the connector's production URL. Set for a sandbox (and the tests' fake carrier).
    base_url = models.URLField(max_length=300, blank=True)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    requests_per_day = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # Rate limit windows (calls made this minute and this day), advanced by compare-and-set.
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_calls = models.PositiveIntegerField(default=0)
    day_started_at = models.DateTimeField(null=True, blank=True)
    day_calls = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "carrier", "label"], name="carrier_account_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.carrier} ({self.label or 'default'})"


class CarrierHealth(models.Model):
    """The circuit breaker of one carrier API (shared by every account and worker)."""

    carrier = models.CharField(max_length=32, unique=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    open_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.carrier} ({self.consecutive_failures} failures)"


class Parcel(models.Model):
    """One package of an order, followed across carriers until it reaches the customer.

    **Replacements** (goods sent again, see :mod:`.replacement`) are told apart by two
    fields rather than a table of their own or a many-to-many link, because the two rules
    that read them ask two different questions:

    - ``is_replacement`` — *does this parcel ship goods?* A replacement carries goods that
      left once already: its lines never count in the shipped quantities nor in what is left
      to ship (:func:`.services.shipped_quantities`, ``parcels_create``). It is a flag of its
      own because a replacement may supersede nothing (a damaged item of a delivered parcel).
    - ``superseded_by`` — *does this parcel still speak for the order?* Set on a parcel whose
      goods a replacement sends again (lost, stuck, back with the sender: never delivered);
      the order's carrier-driven status is then computed from the parcels that are still
      live (``superseded_by`` empty, see :mod:`.ingest`), so the replacement's delivery
      delivers the order. A foreign key on the superseded side (rather than a many-to-many
      ``replaces`` on the replacement) makes "live" a plain ``IS NULL`` filter with no join,
      says which replacement took over, and lets a replacement itself be superseded when it
      is lost too. Deleting the replacement makes the parcel live again.

    The superseded parcel is still followed and shown: only the order's status ignores it.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="parcels")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="parcels")
    carrier = models.CharField(max_length=32)
    service = models.CharField(max_length=64, blank=True)
    tracking_number = models.CharField(max_length=64)
    tracking_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=24, choices=STATUS_CHOICES, default=Status.PENDING)
    status_reason = models.CharField(max_length=24, choices=REASON_CHOICES, blank=True)
    # The time of the event that set the status (the fold's position).
    status_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)  # latest movement seen
    eta = models.DateTimeField(null=True, blank=True)
    pickup_deadline = models.DateTimeField(null=True, blank=True)
    relay_point = models.JSONField(default=dict, blank=True)
    customs = models.CharField(max_length=12, blank=True)  # entered / released / held
    stalled_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(default=timezone.now)
    # Goods sent again (a claim's reshipment): never counted as shipping them.
    is_replacement = models.BooleanField(default=False)
    # The replacement that sends this parcel's goods again: the order's status ignores it.
    superseded_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="supersedes"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "carrier", "tracking_number"], name="parcel_number_unique"
            )
        ]
        indexes = [
            models.Index(fields=["order"], name="parcel_order"),
            models.Index(fields=["shop", "status", "-id"], name="parcel_shop_status"),
            models.Index(fields=["shop", "tracking_number"], name="parcel_shop_number"),
            # Stalled detection: the still-moving parcels by their last movement.
            models.Index(
                Coalesce("last_event_at", "shipped_at"),
                name="parcel_still_moving",
                condition=Q(stalled_at__isnull=True)
                & ~Q(status__in=["delivered", "returned", "expired"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number} ({self.status})"


class ParcelLine(models.Model):
    """How many of an order line travel in a parcel (split shipments)."""

    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["parcel", "order_line"], name="parcel_line_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="parcel_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x line {self.order_line_id}"


class ParcelLeg(models.Model):
    """One carrier's tracking number for a parcel: what is polled or pushed."""

    class Role(models.TextChoices):
        ORIGIN = "origin"
        DESTINATION = "destination"  # the local carrier after a cross-border hand-off

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="legs")
    carrier = models.CharField(max_length=32)
    tracking_number = models.CharField(max_length=64)
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.ORIGIN)
    account = models.ForeignKey(
        CarrierAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="legs"
    )
    # Polling: NULL when not polled (push-only carrier, terminal, expired). The partial index
    # keeps the due-work query an index range scan however many legs are done.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_failures = models.PositiveIntegerField(default=0)
    # Registration with carriers that push only for registered numbers (UPS Track Alert,
    # AfterShip): due at register_at (NULL: nothing to do), done at registered_at.
    register_at = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "carrier", "tracking_number"], name="leg_number_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_poll_at"],
                name="leg_due_poll",
                condition=Q(next_poll_at__isnull=False),
            ),
            models.Index(fields=["parcel"], name="leg_parcel"),
            models.Index(
                fields=["register_at"],
                name="leg_due_registration",
                condition=Q(register_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number} ({self.role})"


class TrackingEvent(models.Model):
    """One carrier scan, normalised, with the carrier's own code, label and UTC offset."""

    class Source(models.TextChoices):
        POLL = "poll"
        PUSH = "push"
        API = "api"

    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="events")
    leg = models.ForeignKey(ParcelLeg, on_delete=models.CASCADE, related_name="events")
    # sha256 of (leg, raw code, instant, location): the same scan twice is one event.
    dedupe_key = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()  # the instant (stored in UTC)
    utc_offset_minutes = models.SmallIntegerField()  # the carrier's local offset then
    status = models.CharField(max_length=24, choices=STATUS_CHOICES)
    reason = models.CharField(max_length=24, choices=REASON_CHOICES, blank=True)
    raw_code = models.CharField(max_length=64)
    raw_label = models.CharField(max_length=500, blank=True)
    location = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=3, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    customs = models.CharField(max_length=12, blank=True)  # entered / released / held
    source = models.CharField(max_length=8, choices=Source.choices)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["parcel", "dedupe_key"], name="event_dedupe_unique")
        ]
        indexes = [models.Index(fields=["parcel", "occurred_at"], name="tevent_parcel_time")]

    def __str__(self) -> str:
        return f"{self.raw_code} {self.status} @ {self.local_time.isoformat()}"

    @property
    def local_time(self) -> datetime:
        """The time as the carrier reported it, with its own offset."""
        offset = dt_timezone(timedelta(minutes=self.utc_offset_minutes))
        return self.occurred_at.astimezone(offset)
