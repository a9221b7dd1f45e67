"""Turn orders, invoices and events into the API's JSON (described by :mod:`.schemas`).

Rendering builds plain dicts and encodes them once, without a second validation pass:
order creation and transitions are the hot paths. The tests validate rendered bodies
against the response schemas so the two cannot drift apart.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.http import HttpResponse
from django.utils import translation
from django.utils.functional import Promise

from suivi.orders import lifecycle
from suivi.orders.models import Invoice, OrderEvent
from suivi.orders.selectors import OrderDetail, Page

from .pagination import cursor_encode

JSON_CONTENT_TYPE = "application/json"
ORDER_CURSOR = "orders"
EVENT_CURSOR = "events"


def json_response(data: Any, *, status: int = 200) -> HttpResponse:
    """Return *data* (already JSON-safe) as a JSON response."""
    return HttpResponse(
        json.dumps(data, ensure_ascii=False), status=status, content_type=JSON_CONTENT_TYPE
    )


def order_data(detail: OrderDetail) -> dict[str, Any]:
    """Return the API representation of an order read by an order selector."""
    order, invoice = detail.order, detail.invoice
    status = lifecycle.info(order.status)
    return {
        "id": order.pk,
        "reference": order.reference,
        "status": order.status,
        "status_label": str(status.label),
        "public_step": status.step.value,
        "fulfilment_mode": order.fulfilment_mode,
        "version": order.version,
        "facts": {
            "partially_cancelled": order.is_partially_cancelled,
            "exception": order.exception_reason or None,
            "invoiced": invoice is not None,
        },
        "customer": {
            "email": order.email,
            "phone": order.phone or None,
            "first_name": detail.customer_first_name,
            "last_name": detail.customer_last_name,
        },
        "lines": [
            {
                "position": line.position,
                "sku": line.sku,
                "name": line.name,
                "unit_price": str(line.unit_price),
                "tax_rate": str(line.tax_rate),
                "quantity_ordered": line.quantity_ordered,
                "quantity_cancelled": line.quantity_cancelled,
                "quantity_shipped": line.quantity_shipped,
                "quantity_collected": line.quantity_collected,
            }
            for line in detail.lines
        ],
        "currency": order.currency,
        "language": order.language,
        "lines_amount": str(order.lines_amount),
        "shipping_amount": str(order.shipping_amount),
        "total_amount": str(order.total_amount),
        "shipping_address": (
            {
                "name": order.ship_name,
                "line1": order.ship_line1,
                "line2": order.ship_line2,
                "postcode": order.ship_postcode,
                "city": order.ship_city,
                "country": order.ship_country,
            }
            if order.ship_line1
            else None
        ),
        "pickup_store": detail.pickup_store,
        "promised_delivery_date": (
            order.promised_delivery_date.isoformat() if order.promised_delivery_date else None
        ),
        "placed_at": order.placed_at.isoformat(),
        "cancellation_reason": order.cancellation_reason or None,
        "available_actions": [
            action.value
            for action in lifecycle.available_actions(order.fulfilment_mode, order.status)
        ],
        "invoice": (
            {"number": invoice.number, "total_amount": str(invoice.total_amount)}
            if invoice is not None
            else None
        ),
        "credit_notes": [
            {"number": note.number, "total_amount": str(note.total_amount)}
            for note in detail.credit_notes
        ],
    }


def order_page_data(page: Page[OrderDetail]) -> dict[str, Any]:
    """Return a page of orders with the cursor of the next one."""
    return {
        "items": [order_data(detail) for detail in page.items],
        "next_cursor": _next_cursor(ORDER_CURSOR, page),
    }


def invoice_data(invoice: Invoice) -> dict[str, Any]:
    """Return the API representation of an issued invoice."""
    return {
        "number": invoice.number,
        "issued_at": invoice.issued_at.isoformat(),
        "total_amount": str(invoice.total_amount),
        "currency": invoice.currency,
        "lines": invoice.lines,
        "shipping_amount": str(invoice.shipping_amount),
    }


def event_page_data(page: Page[OrderEvent]) -> dict[str, Any]:
    """Return a page of an order's timeline with the cursor of the next one."""
    return {
        "items": [
            {
                "id": event.pk,
                "type": event.type,
                "actor": event.actor,
                "occurred_at": event.occurred_at.isoformat(),
                "payload": event.payload,
            }
            for event in page.items
        ],
        "next_cursor": _next_cursor(EVENT_CURSOR, page),
    }


def _next_cursor(kind: str, page: Page[Any]) -> str | None:
    if not page.has_more or page.last_id is None:
        return None
    return cursor_encode(kind, page.last_id)


def _labels(text: Promise) -> dict[str, str]:
    labels = {}
    for language in ("fr", "en"):
        with translation.override(language):
            labels[language] = str(text)
    return labels


@cache
def lifecycle_data() -> dict[str, Any]:
    """Return the lifecycle tables of :mod:`suivi.orders.lifecycle` as JSON (computed once)."""
    modes = list(lifecycle.Mode)
    return {
        "modes": [mode.value for mode in modes],
        "statuses": [
            {
                "code": info.status.value,
                "label": _labels(info.label),
                "customer_label": _labels(info.customer_label),
                "public_step": info.step.value,
                "internal": info.internal,
                "terminal": info.terminal,
                "cancellable": info.status in lifecycle.CANCELLABLE,
            }
            for info in lifecycle.STATUSES.values()
        ],
        "steps": [
            {"code": step.value, "label": _labels(label)}
            for step, label in lifecycle.STEP_LABELS.items()
        ],
        "public_steps": {
            mode.value: [step.value for step in lifecycle.public_steps(mode)] for mode in modes
        },
        "actions": [
            {
                "code": action.value,
                "targets": {
                    mode.value: (
                        target.value if (target := lifecycle.action_target(action, mode)) else None
                    )
                    for mode in modes
                },
            }
            for action in lifecycle.Action
        ],
        "transitions": {
            mode.value: {
                status.value: sorted(target.value for target in targets)
                for status, targets in lifecycle.TRANSITIONS[mode].items()
            }
            for mode in modes
        },
        "cancellation_reasons": [
            {"code": reason.value, "label": _labels(label)}
            for reason, label in lifecycle.CANCELLATION_LABELS.items()
        ],
    }
