"""Helpers for order tests: reach a status through the services, photograph an order."""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.forms.models import model_to_dict

from suivi.orders.lifecycle import Action, CancellationReason, Mode, Status
from suivi.orders.models import CreditNote, DocumentSequence, Invoice, Order, OrderEvent
from suivi.orders.services import order_apply_action, order_cancel
from suivi.shops.models import Shop
from suivi.testing import make_order

from . import expected


def act(shop: Shop, order_id: int, action: Action) -> Order:
    """Apply *action* through the public service (``order_cancel`` for ``cancel``)."""
    if action is Action.CANCEL:
        return order_cancel(
            shop=shop, order_id=order_id, reason=CancellationReason.SOLD_IN_STORE, actor="test"
        )
    return order_apply_action(shop=shop, order_id=order_id, action=action, actor="test")


def order_in_status(shop: Shop, mode: Mode, status: Status, **kwargs: Any) -> Order:
    """Create an order of *mode* in *shop* and walk it to *status* through the services."""
    order = make_order(shop, mode=mode, **kwargs)
    for action in expected.PATHS[mode][status]:
        order = act(shop, order.pk, action)
    assert order.status == status
    return Order.objects.get(pk=order.pk)


def snapshot(order_id: int) -> dict[str, Any]:
    """Return everything the services may write about an order, to compare before/after."""
    order = Order.objects.get(pk=order_id)
    return {
        "order": model_to_dict(order) | {"updated_at": order.updated_at},
        "lines": [model_to_dict(line) for line in order.lines.order_by("position")],
        "events": list(OrderEvent.objects.filter(order_id=order_id).values().order_by("id")),
        "invoices": list(Invoice.objects.filter(order_id=order_id).values()),
        "credit_notes": list(CreditNote.objects.filter(order_id=order_id).values().order_by("id")),
        "sequences": list(
            DocumentSequence.objects.filter(shop_id=order.shop_id).values().order_by("kind")
        ),
    }


def new_events(order_id: int, before: dict[str, Any]) -> list[str]:
    """Return the types of the events written since *before* was taken."""
    seen = {event["id"] for event in before["events"]}
    return [
        event.type
        for event in OrderEvent.objects.filter(order_id=order_id).order_by("id")
        if event.pk not in seen
    ]


def is_postgresql() -> bool:
    """Tell whether the tests run on PostgreSQL (else SQLite)."""
    return connections["default"].vendor == "postgresql"
