"""After-sales demo data: the demo customer's claims and return, so that the back office's
claims inbox and returns queue have something to show. Through the real services (the
customer opens them from their account), after :func:`suivi.demo.tracking.demo_tracking`."""

from __future__ import annotations

import io
from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw

from suivi.claims.models import Claim
from suivi.claims.services import claim_open
from suivi.orders.models import Order
from suivi.returns.models import ReturnRequest
from suivi.returns.services import ReturnItem, return_request
from suivi.shops.models import Shop

from .specs import CUSTOMER_EMAIL


def _photo() -> SimpleUploadedFile:
    """A picture of a torn parcel, drawn (the demo ships no image file)."""
    image = Image.new("RGB", (480, 320), (222, 196, 150))
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 60, 420, 260), outline=(120, 90, 50), width=8)
    draw.line((120, 60, 260, 200, 200, 260), fill=(60, 40, 20), width=10)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return SimpleUploadedFile("colis.jpg", out.getvalue(), content_type="image/jpeg")


def demo_aftersales(shops: Sequence[Shop]) -> int:
    """Open a claim on the demo customer's delivered order and on the one in transit, and
    ask to return one item of the delivered order, in each shop; return the claims opened.
    Nothing is done twice (a demo loaded before keeps its claims)."""
    user = get_user_model().objects.filter(username=CUSTOMER_EMAIL).first()
    if user is None:
        return 0
    opened = 0
    for shop in shops:
        mine = Order.objects.select_related("shop", "customer").filter(
            shop=shop, customer__user=user
        )
        if Claim.objects.filter(shop=shop, customer__user=user).exists():
            continue
        delivered = mine.filter(status="delivered").order_by("pk").first()
        travelling = mine.filter(status="in_transit").order_by("pk").first()
        if delivered is not None:
            claim_open(
                customer_user=user, order=delivered, kind="damaged",
                description="Le carton est arrivé déchiré et un article est abîmé.",
                photos=[_photo()],
            )  # fmt: skip
            opened += 1
            line = delivered.lines.order_by("position").first()
            if line is not None and not ReturnRequest.objects.filter(order=delivered).exists():
                return_request(
                    user=user, order=delivered, note="La taille ne convient pas.",
                    lines=[ReturnItem(line.pk, 1, "wrong_size")],
                )  # fmt: skip
        if travelling is not None:
            claim_open(
                customer_user=user, order=travelling, kind="delayed",
                description="Le colis devait arriver hier, le suivi n'avance plus.",
            )  # fmt: skip
            opened += 1
    return opened
