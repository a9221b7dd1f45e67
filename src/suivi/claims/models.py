"""Claims: a customer's incident about an order, its thread with the merchant, its photos.

Every row carries its shop. Writes go through :mod:`.services` only; the customer pages read
through :mod:`.selectors`, which never return internal notes (nor their photos).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from suivi.customers.models import Customer
from suivi.orders.models import Order
from suivi.shops.models import Shop


class Claim(models.Model):
    """One incident a customer reports about one of their orders."""

    class Kind(models.TextChoices):
        DELAYED = "delayed", _("Delivery is late")
        NOT_RECEIVED = "not_received", _("Parcel not received")
        DAMAGED = "damaged", _("Damaged item or parcel")
        WRONG_ITEM = "wrong_item", _("Wrong item received")
        MISSING_ITEM = "missing_item", _("Item missing from the parcel")
        OTHER = "other", _("Something else")

    class Status(models.TextChoices):
        # Codes shared with the notification texts (notifications.context.CLAIM_STATUS_LABELS).
        OPEN = "open", _("Received")  # nobody from the shop has answered yet
        IN_PROGRESS = "in_progress", _("In progress")  # the shop has the next move
        WAITING_CUSTOMER = "waiting_customer", _("Waiting for your reply")
        RESOLVED = "resolved", _("Resolved")  # a resolution was decided
        CLOSED = "closed", _("Closed")  # no more messages (staff may reopen)

    class Resolution(models.TextChoices):
        NONE = "none", _("Not decided yet")
        RESHIP = "reship", _("Reshipment")
        REFUND = "refund", _("Refund")
        EXPEDITED_DELIVERY = "expedited_delivery", _("Expedited delivery")
        COMPENSATION = "compensation", _("Compensation")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="claims")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="claims")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    # What the customer would like (optional), and what the shop decided.
    requested_resolution = models.CharField(
        max_length=20, choices=Resolution.choices, default=Resolution.NONE
    )
    resolution = models.CharField(
        max_length=20, choices=Resolution.choices, default=Resolution.NONE
    )
    resolution_note = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # When the shop owes its next answer (2 business days after the claim or the customer's
    # latest message; see sla.py); None while the customer has the next move or it is done.
    due_at = models.DateTimeField(null=True, blank=True)
    first_answered_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The customer space: a customer's claims, newest first.
            models.Index(fields=["customer", "-id"], name="claim_customer_id"),
            # The order page: the claims of one order.
            models.Index(fields=["order", "-id"], name="claim_order_id"),
            # The back office queue: a shop's claims by status, the most urgent first.
            models.Index(fields=["shop", "status", "due_at"], name="claim_shop_status_due"),
            models.Index(fields=["shop", "-id"], name="claim_shop_id"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.status})"

    @property
    def reference(self) -> str:
        """The number the customer and the shop quote (``C-42``)."""
        return f"C-{self.pk}"

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


class ClaimMessage(models.Model):
    """One message of a claim's thread; internal notes are for the shop's staff only."""

    class Author(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        STAFF = "staff", _("Customer service")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(max_length=10, choices=Author.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    body = models.TextField(blank=True)
    internal = models.BooleanField(
        default=False, help_text=_("A staff note never shown to the customer nor notified.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(author_kind="customer", internal=True),
                name="claim_message_internal_is_staff",
            )
        ]
        indexes = [models.Index(fields=["claim", "id"], name="claim_message_thread")]

    def __str__(self) -> str:
        return f"{self.author_kind} #{self.pk}"


class ClaimPhoto(models.Model):
    """A photo or screenshot, re-encoded without metadata, stored in the private directory.

    ``path`` is relative to ``settings.SUIVI_PRIVATE_DIR`` (``claims/<shop id>/<uuid>.<ext>``);
    the file is only ever served by a view that checked who asks.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="photos")
    # The message the photo came with; None for the photos of the opening form.
    message = models.ForeignKey(
        ClaimMessage, on_delete=models.CASCADE, null=True, blank=True, related_name="photos"
    )
    path = models.CharField(max_length=200, unique=True)
    content_type = models.CharField(max_length=20)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["claim", "id"], name="claim_photo_claim")]

    def __str__(self) -> str:
        return self.original_name or self.path
