"""The logo in the customer's emails: the notification settings' URL when the shop gave one,
else the logo uploaded in the back office, at the absolute address of the public view."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from suivi.notifications import dispatch, services
from suivi.notifications.catalog import EMAIL
from suivi.notifications.context import order_context, sample_context
from suivi.notifications.models import NotificationSettings, OutboxMessage
from suivi.notifications.rendering import render
from suivi.orders.models import Order
from suivi.shops import branding
from suivi.shops.models import Shop
from suivi.testing import make_order

pytestmark = pytest.mark.django_db

BASE = "https://suivi.maison-lumiere.fr"
LINKS = {"tracking": f"{BASE}/t/abc", "preferences": f"{BASE}/p/abc"}


@pytest.fixture(autouse=True)
def _media_and_base(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BASE_URL = BASE + "/"


def _upload(shop: Shop) -> Shop:
    out = io.BytesIO()
    Image.new("RGBA", (80, 40), (31, 78, 121, 255)).save(out, format="PNG")
    branding.branding_update(
        shop=shop,
        sender_name="Lumière",
        primary_color="#1F4E79",
        accent_color="#F2A900",
        logo_file=SimpleUploadedFile("logo.png", out.getvalue()),
    )
    return Shop.objects.get(pk=shop.pk)


def _context(order: Order, settings: NotificationSettings | None = None) -> dict[str, Any]:
    loaded = Order.objects.select_related("shop", "customer", "pickup_location").get(pk=order.pk)
    return order_context(
        loaded,
        locale="fr",
        events=[],
        links=LINKS,
        marketing=None,
        informed_channels=["email"],
        settings=settings,
    )


def _logo_prefix(shop: Shop) -> str:
    return f"{BASE}/brand/{shop.slug}/logo?v="


def test_the_uploaded_logo_is_the_emails_logo_when_no_url_is_set(shop_a: Shop) -> None:
    order = make_order(shop_a)
    assert _context(order)["shop"]["logo_url"] == ""
    shop = _upload(shop_a)
    url = _context(order)["shop"]["logo_url"]
    assert url.startswith(_logo_prefix(shop))
    # An empty URL in the settings is no URL: the uploaded logo still shows.
    empty = NotificationSettings.objects.create(shop=shop, logo_url="")
    assert _context(order, empty)["shop"]["logo_url"] == url
    html = render(event_key="shipped", channel=EMAIL, locale="fr", context=_context(order)).html
    assert f'<img src="{url}" alt="Lumière"' in html
    # The address answers with the picture.
    response = Client().get(url.removeprefix(BASE))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_the_settings_url_wins_over_the_uploaded_logo(shop_a: Shop) -> None:
    shop = _upload(shop_a)
    settings = NotificationSettings.objects.create(
        shop=shop, logo_url="https://cdn.example.fr/logo.png"
    )
    order = make_order(shop)
    assert _context(order, settings)["shop"]["logo_url"] == "https://cdn.example.fr/logo.png"
    preview = sample_context(shop, event_key="shipped", locale="fr", links=LINKS)
    assert preview["shop"]["logo_url"] == "https://cdn.example.fr/logo.png"


def test_previews_show_the_uploaded_logo_too(shop_a: Shop) -> None:
    shop = _upload(shop_a)
    preview = sample_context(shop, event_key="shipped", locale="fr", links=LINKS)
    assert preview["shop"]["logo_url"].startswith(_logo_prefix(shop))


def test_a_new_logo_gives_a_new_address(shop_a: Shop) -> None:
    order = make_order(shop_a)
    _upload(shop_a)
    first = _context(order)["shop"]["logo_url"]
    _upload(shop_a)
    second = _context(order)["shop"]["logo_url"]
    assert first != second and second.startswith(_logo_prefix(shop_a))


def test_a_sent_email_carries_the_uploaded_logo(shop_a: Shop) -> None:
    shop = _upload(shop_a)
    order = make_order(shop, paid=True)
    OutboxMessage.objects.filter(order=order).delete()  # only the test message to deliver
    services.test_send(
        shop=shop,
        event_key="confirmed",
        channel="email",
        locale="fr",
        to="equipe@maison.example",
        order_id=order.pk,
        actor="test",
    )
    dispatch.run_once()
    [sent] = mail.outbox
    html = next(body for body, kind in sent.alternatives if kind == "text/html")
    assert f'<img src="{_logo_prefix(shop)}' in html
