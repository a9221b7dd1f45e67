"""Orders, their lines, the timeline, invoices and credit notes."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from suivi.customers.models import Customer
from suivi.shops.models import Location, Shop

from .lifecycle import Mode, Status

MODE_CHOICES = [(m.value, m.value) for m in Mode]
STATUS_CHOICES = [(s.value, s.value) for s in Status]


class Order(models.Model):
    """A customer's order in one shop. Status changes go through :mod:`.services` only."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="orders")
    reference = models.CharField(
        max_length=64,
        help_text=_("The sales channel's order reference, unique per shop; the order number."),
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    email = models.EmailField()
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    language = models.CharField(max_length=8, default="fr")
    fulfilment_mode = models.CharField(max_length=20, choices=MODE_CHOICES)
    status = models.CharField(max_length=24, choices=STATUS_CHOICES)
    # Incremented by every write: the compare-and-set token for concurrent changes.
    version = models.PositiveIntegerField(default=1)
    # Facts shown beside the status.
    is_partially_cancelled = models.BooleanField(default=False)
    exception_reason = models.CharField(max_length=40, blank=True)
    cancellation_reason = models.CharField(max_length=40, blank=True)
    cancellation_note = models.TextField(blank=True)
    # Delivery address (mode "delivery")
    ship_name = models.CharField(max_length=200, blank=True)
    ship_line1 = models.CharField(max_length=200, blank=True)
    ship_line2 = models.CharField(max_length=200, blank=True)
    ship_postcode = models.CharField(max_length=16, blank=True)
    ship_city = models.CharField(max_length=100, blank=True)
    ship_country = models.CharField(max_length=2, blank=True)
    # Pickup store (mode "click_and_collect")
    pickup_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    warehouse = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(max_length=3, default="EUR")
    shipping_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    lines_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    total_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    promised_delivery_date = models.DateField(null=True, blank=True)
    placed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "reference"], name="order_reference_unique"),
            models.CheckConstraint(
                condition=Q(total_amount__gte=0)
                & Q(lines_amount__gte=0)
                & Q(shipping_amount__gte=0),
                name="order_amounts_not_negative",
            ),
        ]
        indexes = [
            # The API's list: a shop's orders newest first, optionally by status.
            models.Index(fields=["shop", "-id"], name="order_shop_id_desc"),
            models.Index(fields=["shop", "status", "-id"], name="order_shop_status_id"),
            models.Index(fields=["shop", "placed_at"], name="order_shop_placed_at"),
            models.Index(fields=["shop", "email"], name="order_shop_email"),
            # The back office's list sorted by amount (keyset on total, id).
            models.Index(fields=["shop", "-total_amount", "-id"], name="order_shop_total"),
            # The list filtered by fulfilment mode (with statistics on (shop, mode) on
            # PostgreSQL, migration 0003: a shop selling one way only is then planned right).
            models.Index(fields=["shop", "fulfilment_mode", "-id"], name="order_shop_mode_id"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.status})"


class OrderLine(models.Model):
    """One article of an order with what happened to its quantity."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=300)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("20.00"))
    quantity_ordered = models.PositiveIntegerField()
    quantity_cancelled = models.PositiveIntegerField(default=0)
    quantity_shipped = models.PositiveIntegerField(default=0)
    quantity_collected = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="line_position_unique"),
            models.CheckConstraint(
                condition=Q(quantity_ordered__gte=1), name="line_ordered_positive"
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="line_price_not_negative"),
            models.CheckConstraint(
                condition=Q(
                    quantity_ordered__gte=models.F("quantity_cancelled")
                    + models.F("quantity_shipped")
                    + models.F("quantity_collected")
                ),
                name="line_quantities_within_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity_ordered} x {self.sku}"

    @property
    def quantity_remaining(self) -> int:
        """Quantity neither cancelled, shipped nor collected."""
        return (
            self.quantity_ordered
            - self.quantity_cancelled
            - self.quantity_shipped
            - self.quantity_collected
        )

    @property
    def quantity_active(self) -> int:
        """Quantity still sold (ordered minus cancelled)."""
        return self.quantity_ordered - self.quantity_cancelled


class OrderEvent(models.Model):
    """Append-only timeline of an order, written in the transaction of each change."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=64)
    actor = models.CharField(max_length=120)
    occurred_at = models.DateTimeField(default=timezone.now)
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["order", "id"], name="event_order_id"),
            models.Index(fields=["shop", "type", "occurred_at"], name="event_shop_type_time"),
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class DocumentSequence(models.Model):
    """Gap-free counter per shop and document kind, advanced inside the issuing transaction."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "kind"], name="sequence_unique_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.last_value}"


class Invoice(models.Model):
    """An invoice, never edited after issue: later cancellations make credit notes."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="invoices")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="invoice")
    sequence_number = models.PositiveIntegerField()
    number = models.CharField(max_length=40)
    issued_at = models.DateTimeField(default=timezone.now)
    currency = models.CharField(max_length=3)
    # Snapshot of what was invoiced: [{sku, name, unit_price, quantity, tax_rate, amount}]
    lines = models.JSONField()
    shipping_amount = models.DecimalField(max_digits=12, decimal_places=2)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "sequence_number"], name="invoice_seq_unique"),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNote(models.Model):
    """A credit note cancelling part or all of an invoice."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="credit_notes")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="credit_notes")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    sequence_number = models.PositiveIntegerField()
    number = models.CharField(max_length=40)
    issued_at = models.DateTimeField(default=timezone.now)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=200, blank=True)
    lines = models.JSONField()
    shipping_amount = models.DecimalField(max_digits=12, decimal_places=2)
    total_amount = models.DecimalField(
        max_digits=12, decimal_places=2, help_text=_("Positive amount credited to the customer.")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "sequence_number"], name="credit_note_seq_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.number
