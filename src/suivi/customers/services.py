"""Writes for customers."""

from __future__ import annotations

from suivi.shops.models import Shop

from .models import Customer


def customer_upsert(
    *,
    shop: Shop,
    email: str,
    phone: str = "",
    first_name: str = "",
    last_name: str = "",
    language: str = "fr",
) -> Customer:
    """Return the shop's customer with *email*, updating contact details that were given.

    *phone* must already be in E.164 form (see :func:`suivi.core.phones.normalize_phone`).
    """
    email = email.strip().lower()
    customer, created = Customer.objects.get_or_create(
        shop=shop,
        email=email,
        defaults={
            "phone": phone,
            "first_name": first_name,
            "last_name": last_name,
            "language": language,
        },
    )
    if not created:
        changed = {
            name: value
            for name, value in {
                "phone": phone,
                "first_name": first_name,
                "last_name": last_name,
                "language": language,
            }.items()
            if value and getattr(customer, name) != value
        }
        if changed:
            for name, value in changed.items():
                setattr(customer, name, value)
            customer.save(update_fields=list(changed))
    return customer
