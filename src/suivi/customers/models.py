"""Customers of a shop and their contact points."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from suivi.shops.models import Shop


class Customer(models.Model):
    """A buyer known to one shop, identified by email within it."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="customers")
    email = models.EmailField()
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=8, default="fr")
    # The customer's account, once they proved they own this email (allauth verification).
    # One account gathers the customer rows of every shop with that email.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "email"], name="customer_email_unique_per_shop")
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
