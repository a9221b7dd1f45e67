"""Builders for return tests: delivered orders through the real services, users, labels."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from suivi.customers.models import Customer
from suivi.orders.lifecycle import Action, Mode
from suivi.orders.models import Order, OrderEvent
from suivi.orders.services import order_apply_action
from suivi.shops.models import Membership, Shop
from suivi.testing import make_order

User = get_user_model()


def delivered_order(
    shop: Shop, *, mode: Mode = Mode.DELIVERY, days_ago: float = 0, **kwargs: Any
) -> Order:
    """A paid order walked to delivered (or collected) through the services, delivered
    *days_ago* days ago (the timeline event is back-dated)."""
    order = make_order(shop, mode=mode, paid=True, **kwargs)
    if mode is Mode.DELIVERY:
        steps = [Action.SHIP, Action.MARK_DELIVERED]
    else:
        steps = [Action.MARK_READY, Action.MARK_COLLECTED]
    for action in steps:
        order_apply_action(shop=shop, order_id=order.pk, action=action, actor="test")
    if days_ago:
        OrderEvent.objects.filter(
            order=order, type__in=["order.delivered", "order.collected"]
        ).update(occurred_at=timezone.now() - dt.timedelta(days=days_ago))
    return Order.objects.select_related("shop").get(pk=order.pk)


def customer_user(order: Order, email: str = "claire@example.fr") -> Any:
    """A signed-up user owning *order*'s customer row."""
    user = User.objects.filter(email=email).first() or User.objects.create_user(
        username=email, email=email
    )
    Customer.objects.filter(pk=order.customer_id).update(user=user)
    return user


def staff_user(shop: Shop, username: str = "staff-a") -> Any:
    """A member of *shop*'s staff (customer service)."""
    user = User.objects.create_user(username=username, email=f"{username}@example.fr")
    Membership.objects.create(shop=shop, user=user, role=Membership.Role.CUSTOMER_SERVICE)
    return user


def lines_of(order: Order) -> dict[str, Any]:
    """The order's lines by SKU."""
    return {line.sku: line for line in order.lines.all()}


def pdf_upload(name: str = "label.pdf", size: int = 0) -> SimpleUploadedFile:
    body = b"%PDF-1.4\n1 0 obj<<>>endobj\n" + b"0" * size + b"\ntrailer<<>>\n%%EOF\n"
    return SimpleUploadedFile(name, body, content_type="application/pdf")


def png_upload(name: str = "label.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), "white").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")
