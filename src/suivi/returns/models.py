"""Return requests and their lines.

Writes go through :mod:`.services` only: status changes are compare-and-set on the old
status and every change is recorded on the order's timeline.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from suivi.customers.models import Customer
from suivi.orders.models import CreditNote, Order, OrderLine
from suivi.shops.models import Shop

from .lifecycle import REASON_CHOICES, STATUS_CHOICES, ReturnStatus

# Content types a label document may have (checked by content, not by name).
LABEL_CONTENT_TYPES = ("application/pdf", "image/png", "image/jpeg")


class ReturnRequest(models.Model):
    """A customer's request to send back delivered items of one order."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="return_requests")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="return_requests")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="return_requests")
    status = models.CharField(
        max_length=20, choices=STATUS_CHOICES, default=ReturnStatus.REQUESTED.value
    )
    customer_note = models.TextField(blank=True)
    instructions = models.TextField(
        blank=True, help_text=_("How to send the items back, written by the shop.")
    )
    refusal_reason = models.TextField(blank=True)
    # Relative to settings.SUIVI_PRIVATE_DIR: returns/<shop id>/<uuid>.<ext>; served only by
    # the label view after an ownership check.
    label_path = models.CharField(max_length=255, blank=True)
    label_content_type = models.CharField(max_length=40, blank=True)
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(label_content_type="") | Q(label_content_type__in=LABEL_CONTENT_TYPES),
                name="return_label_type_allowed",
            ),
            models.CheckConstraint(
                condition=Q(refund_amount__isnull=True) | Q(refund_amount__gte=0),
                name="return_refund_not_negative",
            ),
        ]
        indexes = [
            # The back office's queue: a shop's returns by status, newest first.
            models.Index(fields=["shop", "status", "-id"], name="return_shop_status_id"),
            models.Index(fields=["order"], name="return_order"),
        ]

    def __str__(self) -> str:
        return f"return #{self.pk} ({self.status})"

    @property
    def has_label(self) -> bool:
        return bool(self.label_path)


class ReturnLine(models.Model):
    """How many of one order line are sent back, and why."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.CASCADE, related_name="lines"
    )
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.PositiveIntegerField()
    reason = models.CharField(max_length=20, choices=REASON_CHOICES)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["order_line__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["return_request", "order_line"], name="return_line_unique"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="return_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x line {self.order_line_id}"
