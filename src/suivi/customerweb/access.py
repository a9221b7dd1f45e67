"""Ownership checks of the customer pages, in one place: a view asks for an object through
these and gets a 404 for anything that is not the signed-in customer's own (whether it
exists or not)."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from suivi.core.errors import NotFound
from suivi.customers import selectors
from suivi.orders.models import Order


def order_or_404(request: HttpRequest, order_id: int) -> Order:
    """The signed-in customer's order *order_id*, or :class:`Http404`."""
    try:
        return selectors.order_of_user(request.user, order_id)
    except NotFound:
        raise Http404 from None
