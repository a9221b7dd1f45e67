"""Writes for customers."""

from __future__ import annotations

from typing import Any

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


def customers_link_user(*, user: Any, email: str) -> int:
    """Link every shop's customer row with the verified *email* to *user*; return how many
    rows were newly linked. Call only once the email is verified (allauth confirmation):
    this is how a guest's past orders join their account."""
    email = email.strip().lower()
    return Customer.objects.filter(email=email, user__isnull=True).update(user=user)


def customers_unlink_user(*, user: Any) -> int:
    """Detach *user* from their customer rows (account deletion keeps the shops' orders,
    which the law makes them keep, but removes the account's access)."""
    return Customer.objects.filter(user=user).update(user=None)
