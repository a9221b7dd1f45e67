"""The public logo view: the shop's uploaded logo, sniffed, cached for a day, 404 otherwise;
and the customer pages' header showing it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from suivi.customerweb.tests.support import shipped_order
from suivi.notifications import links
from suivi.shops import branding
from suivi.shops.branding import logo_path
from suivi.shops.models import Shop

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_dir(settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    settings.MEDIA_ROOT = folder
    return folder


def picture(fmt: str, size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    mode = "RGB" if fmt in ("JPEG", "GIF") else "RGBA"
    Image.new(mode, size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def upload_logo(shop: Shop, fmt: str = "PNG", name: str = "logo.png") -> Shop:
    return branding.branding_update(
        shop=shop,
        sender_name="Lumière",
        primary_color="#112233",
        accent_color="#AABBCC",
        logo_file=SimpleUploadedFile(name, picture(fmt)),
    )


def url(shop: Shop) -> str:
    return f"/brand/{shop.slug}/logo"


@pytest.mark.parametrize(
    ("fmt", "name", "content_type"),
    [
        ("PNG", "logo.png", "image/png"),
        ("JPEG", "logo.jpg", "image/jpeg"),
        ("WEBP", "logo.webp", "image/webp"),
    ],
)
def test_the_logo_is_served_with_its_sniffed_type_and_cached_for_a_day(
    shop_a: Shop, fmt: str, name: str, content_type: str
) -> None:
    upload_logo(shop_a, fmt, name)
    shop_a.refresh_from_db()
    response = Client().get(url(shop_a))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "public, max-age=86400"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    with shop_a.logo.open("rb") as handle:
        assert response.content == handle.read()
    assert int(response["Content-Length"]) == len(response.content)
    assert Client().head(url(shop_a)).status_code == 200


def test_the_etag_answers_304_and_changes_with_every_upload(shop_a: Shop) -> None:
    upload_logo(shop_a)
    first = Client().get(url(shop_a))
    etag = first["ETag"]
    again = Client().get(url(shop_a), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and not again.content
    assert again["ETag"] == etag and again["Cache-Control"] == "public, max-age=86400"
    path = logo_path(Shop.objects.get(pk=shop_a.pk))
    upload_logo(shop_a)  # the same picture again: a new file name, so a new ETag
    fresh = Client().get(url(shop_a), HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200 and fresh["ETag"] != etag
    new_path = logo_path(Shop.objects.get(pk=shop_a.pk))
    assert new_path.startswith(url(shop_a) + "?v=") and new_path != path


def test_no_logo_or_no_such_shop_is_a_404(shop_a: Shop) -> None:
    assert logo_path(shop_a) == ""
    assert Client().get(url(shop_a)).status_code == 404
    assert Client().get("/brand/no-such-shop/logo").status_code == 404
    upload_logo(shop_a)
    branding.branding_update(
        shop=shop_a,
        sender_name="",
        primary_color="#112233",
        accent_color="#AABBCC",
        remove_logo=True,
    )
    assert Client().get(url(shop_a)).status_code == 404


def test_only_get_and_head(shop_a: Shop) -> None:
    upload_logo(shop_a)
    assert Client().post(url(shop_a)).status_code == 405


@pytest.mark.parametrize(
    "data",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        b"<html><script>alert(1)</script></html>",
        picture("GIF"),  # an image, but not one branding writes
        b"",
    ],
)
def test_a_stored_file_that_is_not_a_png_jpeg_or_webp_is_a_404(shop_a: Shop, data: bytes) -> None:
    """The type comes from the bytes, never from the name: a file put there by other means
    is not served as an image, nor as anything else."""
    shop_a.logo.save("logos/planted.png", ContentFile(data), save=True)
    assert Client().get(url(shop_a)).status_code == 404


def test_a_missing_file_is_a_404(shop_a: Shop) -> None:
    upload_logo(shop_a)
    shop_a.refresh_from_db()
    shop_a.logo.storage.delete(shop_a.logo.name)
    assert Client().get(url(shop_a)).status_code == 404


def test_the_customer_pages_show_the_logo_with_the_shops_name(shop_a: Shop) -> None:
    order = shipped_order(shop_a)
    page = Client().get(f"/t/{links.tracking_token(order.pk)}").content.decode()
    header = page.split("<main")[0]
    assert "<img" not in header and "Maison Lumière" in header
    upload_logo(shop_a)
    page = Client().get("/track/", {"shop": shop_a.slug}).content.decode()
    header = page.split("<main")[0]
    shop_a.refresh_from_db()
    # Versioned by the file, like the emails' link: a new logo is a new address.
    assert f'<img src="{logo_path(shop_a)}" alt="Lumière"' in header
    assert logo_path(shop_a).startswith(f"{url(shop_a)}?v=")
