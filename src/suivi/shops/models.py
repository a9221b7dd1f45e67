"""Tenancy: shops, their stores and warehouses, staff roles and API keys."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Shop(models.Model):
    """A tenant. Every tenant-owned row carries its shop."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    legal_name = models.CharField(max_length=200, blank=True)
    legal_address = models.TextField(blank=True)
    vat_number = models.CharField(max_length=40, blank=True)
    # Branding
    sender_name = models.CharField(max_length=100, blank=True)
    logo = models.FileField(upload_to="logos/", blank=True)
    primary_color = models.CharField(max_length=7, default="#1F4E79")
    accent_color = models.CharField(max_length=7, default="#F2A900")
    # Locale
    locales = models.JSONField(default=list, help_text=_("Languages offered, e.g. ['fr', 'en']."))
    default_locale = models.CharField(max_length=8, default="fr")
    timezone = models.CharField(max_length=64, default="Europe/Paris")
    country = models.CharField(max_length=2, default="FR")
    currency = models.CharField(max_length=3, default="EUR")
    # Invoicing
    invoicing_enabled = models.BooleanField(default=False)
    invoice_prefix = models.CharField(max_length=20, default="F-")
    credit_note_prefix = models.CharField(max_length=20, default="AV-")
    # Customer service and policies (shown to customers; edited in the back office)
    support_email = models.EmailField(blank=True)
    support_phone = models.CharField(max_length=20, blank=True, help_text=_("E.164"))
    return_window_days = models.PositiveSmallIntegerField(
        default=30, help_text=_("Days after delivery during which a return can be requested.")
    )
    archive_retention_days = models.PositiveIntegerField(
        default=3650,
        help_text=_("Days proofs of purchase are kept (French law: 10 years for invoices)."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @property
    def display_sender(self) -> str:
        return self.sender_name or self.name


class Location(models.Model):
    """A physical place of a shop: a store (Click & Collect pickup) or a warehouse."""

    class Kind(models.TextChoices):
        STORE = "store", _("Store")
        WAREHOUSE = "warehouse", _("Warehouse")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="locations")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, default="FR")
    phone = models.CharField(max_length=20, blank=True, help_text=_("E.164"))
    # {"mon": [["09:00", "19:00"]], "sun": []}
    opening_hours = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="location_code_unique_per_shop")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Membership(models.Model):
    """A staff user's role in one shop."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        LOGISTICS = "logistics", _("Logistics")
        CUSTOMER_SERVICE = "customer_service", _("Customer service")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "user"], name="membership_unique_per_shop")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.shop} ({self.role})"


class ApiKey(models.Model):
    """A shop's API key. Only a SHA-256 digest is stored; the key is shown once."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text=_("Public part, to recognise the key."))
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class DeliveryPromise(models.Model):
    """How many business days the shop promises for a carrier (and one of its services).

    An empty ``service`` is the carrier's promise for any service without its own row.
    Edited through :mod:`suivi.shops.policies`.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="delivery_promises")
    carrier = models.CharField(max_length=32)
    service = models.CharField(max_length=64, blank=True, help_text=_("Empty: any service."))
    business_days = models.PositiveSmallIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "carrier", "service"], name="delivery_promise_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(business_days__gte=1) & models.Q(business_days__lte=60),
                name="delivery_promise_days_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.service or '*'}: {self.business_days} business days"
