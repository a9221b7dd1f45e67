"""URLs of ``bench/tracking_page.py``: all of Suivi's, plus the minimal view it is compared
with (one indexed query, a tiny answer, through the same middleware)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from suivi.orders.models import Order
from suivi.urls import urlpatterns as suivi_urlpatterns


def minimal(request: HttpRequest, order_id: int) -> HttpResponse:
    """Answer an order's status: one primary-key lookup, the floor a page is measured against."""
    status = Order.objects.filter(pk=order_id).values_list("status", flat=True).first()
    if status is None:
        return HttpResponse("unknown", status=404, content_type="text/plain")
    return HttpResponse(status, content_type="text/plain")


urlpatterns = [
    path("bench/minimal/<int:order_id>", minimal, name="bench-minimal"),
    *suivi_urlpatterns,
]
