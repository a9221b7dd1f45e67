"""Proofs of purchase: documents archived per order, hashed and chained per shop.

Each row names a file under ``SUIVI_PRIVATE_DIR/archive/`` and carries the SHA-256 of its
bytes and a chain hash over the previous row's chain hash, that digest and the row's
metadata (see :func:`suivi.archive.chain.chain_hash` and ``docs/proofs-of-purchase.md``).
Rows are written by :func:`suivi.archive.services.archive_document` only, never edited
afterwards except ``purged_at`` (which is outside the chain).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from suivi.orders.models import Order
from suivi.shops.models import Shop

GENESIS = "0" * 64  # the prev_hash of a shop's first document


class ArchiveChain(models.Model):
    """The head of a shop's chain, locked while a document is appended (serialises appends)."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="+")
    last_seq = models.PositiveIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS)

    def __str__(self) -> str:
        return f"archive chain of shop {self.shop_id} at #{self.last_seq}"


class ArchivedDocument(models.Model):
    """One archived proof of purchase of an order."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        CREDIT_NOTE = "credit_note", _("Credit note")
        ORDER_CONFIRMATION = "order_confirmation", _("Order confirmation")
        TRACKING = "tracking", _("Tracking numbers")
        OTHER = "other", _("Other document")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    # RESTRICT: a proof of purchase outlives any attempt to delete its order (deleting the
    # whole shop still deletes everything).
    order = models.ForeignKey(Order, on_delete=models.RESTRICT, related_name="archived_documents")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    source_key = models.CharField(
        max_length=200, help_text=_("What was archived (e.g. the invoice id): unique per kind.")
    )
    title = models.CharField(max_length=300)
    content_type = models.CharField(max_length=100)
    path = models.CharField(
        max_length=500, help_text=_("The file, relative to the private archive folder.")
    )
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    seq = models.PositiveIntegerField(help_text=_("Position in the shop's chain, from 1."))
    prev_hash = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)
    archived_at = models.DateTimeField()
    retention_until = models.DateTimeField()
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "kind", "source_key"], name="archive_source_unique"
            ),
            models.UniqueConstraint(fields=["shop", "seq"], name="archive_seq_unique"),
        ]
        indexes = [
            models.Index(fields=["order", "seq"], name="archive_order_seq"),
            models.Index(
                fields=["retention_until"],
                name="archive_retention_due",
                condition=models.Q(purged_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.title}"
