"""Reads scoped to a signed-in customer: every order, claim or document a customer page
shows goes through these, so that another customer's object is simply not found (404)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from suivi.core.errors import NotFound
from suivi.orders.models import Order

from .models import Customer


def customers_of_user(user: Any) -> QuerySet[Customer]:
    """The customer rows (one per shop) linked to *user*; none for an anonymous user."""
    if not getattr(user, "is_authenticated", False):
        return Customer.objects.none()
    return Customer.objects.filter(user=user)


def orders_of_user(user: Any) -> QuerySet[Order]:
    """Every order of every shop placed by one of *user*'s customer rows, newest first."""
    if not getattr(user, "is_authenticated", False):
        return Order.objects.none()
    return (
        Order.objects.filter(customer__user=user)
        .select_related("shop", "customer")
        .order_by("-placed_at", "-pk")
    )


def order_of_user(user: Any, order_id: int) -> Order:
    """The order *order_id* if *user* owns it; :class:`NotFound` otherwise (whether it
    exists or not, so that ids cannot be probed)."""
    order = orders_of_user(user).filter(pk=order_id).first()
    if order is None:
        raise NotFound("No such order.")
    return order
