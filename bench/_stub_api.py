"""A minimal plain-Django API over the same services (``orders.py --api stub``).

It speaks the benchmark's part of the v1 contract with no API framework: JSON in, service
call, JSON out. Comparing it with the real API separates the framework's cost (schema
parsing, serialisation) from the services' and the database's.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from suivi.core.errors import DomainError
from suivi.orders.lifecycle import Mode
from suivi.orders.models import Order
from suivi.orders.services import (
    AddressInput,
    CustomerInput,
    LineInput,
    OrderInput,
    order_apply_action,
    order_create,
)
from suivi.shops.models import Shop
from suivi.shops.services import api_key_authenticate


def _shop(request: HttpRequest) -> Shop | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    api_key = api_key_authenticate(secret=secret) if scheme == "Bearer" else None
    return api_key.shop if api_key else None


def _out(order: Order, status: int) -> JsonResponse:
    data: dict[str, Any] = {
        "id": order.pk,
        "reference": order.reference,
        "status": order.status,
        "version": order.version,
        "total_amount": str(order.total_amount),
    }
    return JsonResponse(data, status=status)


def _problem(exc: DomainError) -> JsonResponse:
    return JsonResponse({"type": exc.code, "detail": exc.message}, status=exc.status)


@csrf_exempt
def orders(request: HttpRequest) -> JsonResponse:
    shop = _shop(request)
    if shop is None:
        return JsonResponse({"detail": "unauthorised"}, status=401)
    body = json.loads(request.body)
    c, a = body["customer"], body["shipping_address"]
    data = OrderInput(
        reference=body["reference"],
        customer=CustomerInput(
            email=c["email"],
            phone=c.get("phone", ""),
            first_name=c.get("first_name", ""),
            last_name=c.get("last_name", ""),
        ),
        fulfilment_mode=Mode(body["fulfilment_mode"]),
        lines=[
            LineInput(ln["sku"], ln["name"], Decimal(ln["unit_price"]), int(ln["quantity"]))
            for ln in body["lines"]
        ],
        currency=body.get("currency", "EUR"),
        shipping_amount=Decimal(body.get("shipping_amount", "0")),
        shipping_address=AddressInput(
            a["name"], a["line1"], a["postcode"], a["city"], a["country"]
        ),
        paid=bool(body.get("paid", False)),
    )
    try:
        return _out(order_create(shop=shop, data=data, actor="api"), 201)
    except DomainError as exc:
        return _problem(exc)


@csrf_exempt
def action(request: HttpRequest, order_id: int, name: str) -> JsonResponse:
    shop = _shop(request)
    if shop is None:
        return JsonResponse({"detail": "unauthorised"}, status=401)
    try:
        order = order_apply_action(shop=shop, order_id=order_id, action=name, actor="api")
    except (DomainError, ValueError) as exc:
        if isinstance(exc, DomainError):
            return _problem(exc)
        return JsonResponse({"detail": str(exc)}, status=422)
    return _out(order, 200)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("api/v1/orders", orders),
    path("api/v1/orders/<int:order_id>/actions/<str:name>", action),
    path("healthz", healthz),
]
