"""The public tracking pages, rendered once per change (a read model, not a source of truth).

A public page (no proof of ownership) is the same for every visitor: it is rendered once
after each change of its order and kept here, in both languages, with its JSON. A request
then costs one indexed query — which also reads the order's current version, so a page
older than its order is rebuilt there and then (never served stale).
"""

from __future__ import annotations

from django.db import models

from suivi.orders.models import Order


class PublicPage(models.Model):
    """The rendered public tracking page and JSON of one order, per language."""

    order = models.OneToOneField(
        Order, on_delete=models.CASCADE, primary_key=True, related_name="public_page"
    )
    version = models.CharField(max_length=40)
    language = models.CharField(max_length=8)  # the order's: the page of a visitor who chose none
    built_at = models.DateTimeField()
    html_fr = models.TextField()
    html_en = models.TextField()
    json_fr = models.TextField()
    json_en = models.TextField()

    def __str__(self) -> str:
        return f"public page of order {self.order_id} at {self.version}"
