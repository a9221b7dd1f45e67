"""``{% order_returns order %}``: the returns panel of an order page.

Shows whether the order can be returned (until when, or why not), a link to the return
form and the order's return requests. The caller has already checked that *order* is the
signed-in customer's (``customerweb.access.order_or_404``).
"""

from __future__ import annotations

from typing import Any

from django import template

from suivi.orders.models import Order
from suivi.returns import selectors
from suivi.returns.lifecycle import STATUS_LABELS, ReturnStatus

register = template.Library()


@register.inclusion_tag("returns/_order_panel.html")
def order_returns(order: Order) -> dict[str, Any]:
    """Render the returns panel of *order*."""
    eligibility = selectors.order_return_eligibility(order)
    return {
        "order": order,
        "eligibility": eligibility,
        "last_day": selectors.format_day(eligibility.last_day),
        "returns": [
            {"ret": ret, "label": STATUS_LABELS[ReturnStatus(ret.status)]}
            for ret in selectors.returns_of_order(order)
        ],
    }
