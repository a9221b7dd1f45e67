"""Reads of the shops app that are not a shop's own (those start from the shop)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import Membership


def memberships_of(user: Any) -> QuerySet[Membership]:
    """Every shop membership of *user* (none for an anonymous visitor), by shop name."""
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return Membership.objects.select_related("shop").filter(user=user).order_by("shop__name")
