"""A shop's branding: colours and sender name checked, logos sniffed, re-encoded, stored."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, PngImagePlugin

from suivi.core.errors import InvalidInput
from suivi.shops import branding
from suivi.shops.models import Shop

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings: Any) -> Any:
    """These tests read the English messages (French has its own catalogue test)."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def media_dir(settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    settings.MEDIA_ROOT = folder
    return folder


def png_bytes(size: tuple[int, int] = (40, 20), *, text: str = "secret note") -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    out = io.BytesIO()
    Image.new("RGBA", size, (200, 30, 30, 255)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def upload(name: str, data: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def update(shop: Shop, **kwargs: Any) -> Shop:
    values: dict[str, Any] = {
        "sender_name": "Maison L.",
        "primary_color": "#112233",
        "accent_color": "#aabbcc",
    }
    values.update(kwargs)
    return branding.branding_update(shop=shop, **values)


def test_colours_and_sender_name_are_saved_normalised(shop_a: Shop) -> None:
    update(shop_a, sender_name="  Maison L.  ")
    shop_a.refresh_from_db()
    assert shop_a.sender_name == "Maison L."
    assert (shop_a.primary_color, shop_a.accent_color) == ("#112233", "#AABBCC")
    assert not shop_a.logo


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("primary_color", "red"),
        ("primary_color", "#12345"),
        ("accent_color", "#GGGGGG"),
        ("accent_color", "#1122334"),
        ("accent_color", "javascript:alert(1)"),
    ],
)
def test_a_bad_colour_is_refused_and_nothing_changes(shop_a: Shop, field: str, value: str) -> None:
    before = (shop_a.sender_name, shop_a.primary_color, shop_a.accent_color)
    with pytest.raises(InvalidInput) as caught:
        update(shop_a, **{field: value, "logo_file": upload("logo.png", png_bytes())})
    assert caught.value.field == field
    shop_a.refresh_from_db()
    assert (shop_a.sender_name, shop_a.primary_color, shop_a.accent_color) == before
    assert not shop_a.logo


def test_a_too_long_or_multi_line_sender_name_is_refused(shop_a: Shop) -> None:
    for bad in ("x" * 101, "Maison\nBcc: x@example.com"):
        with pytest.raises(InvalidInput) as caught:
            update(shop_a, sender_name=bad)
        assert caught.value.field == "sender_name"
    shop_a.refresh_from_db()
    assert shop_a.sender_name == ""


def test_a_png_logo_is_re_encoded_without_its_metadata(shop_a: Shop, media_dir: Path) -> None:
    original = png_bytes()
    update(shop_a, logo_file=upload("../../evil name.png", original))
    shop_a.refresh_from_db()
    assert shop_a.logo.name.startswith("logos/") and shop_a.logo.name.endswith(".png")
    assert ".." not in shop_a.logo.name and "evil" not in shop_a.logo.name
    stored = (media_dir / shop_a.logo.name).read_bytes()
    assert stored != original
    assert b"secret note" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "PNG" and image.size == (40, 20)
    found = branding.logo_of(shop_a)
    assert found is not None and found == (stored, "image/png")


def test_large_pictures_are_scaled_down_and_jpeg_and_webp_are_accepted(shop_a: Shop) -> None:
    for fmt, ext in (("JPEG", "jpg"), ("WEBP", "webp")):
        out = io.BytesIO()
        Image.new("RGB", (2000, 500), (10, 120, 200)).save(out, format=fmt)
        update(shop_a, logo_file=upload(f"logo.{ext}", out.getvalue(), f"image/{fmt.lower()}"))
        shop_a.refresh_from_db()
        assert shop_a.logo.name.endswith(f".{ext}")
        with shop_a.logo.open("rb") as fh, Image.open(fh) as image:
            assert image.size == (branding.MAX_LOGO_SIDE, 256)


def test_a_new_logo_replaces_the_old_file(
    shop_a: Shop, media_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        update(shop_a, logo_file=upload("a.png", png_bytes()))
    first = shop_a.logo.name
    with django_capture_on_commit_callbacks(execute=True):
        update(shop_a, logo_file=upload("b.png", png_bytes((10, 10))))
    assert shop_a.logo.name != first
    assert not (media_dir / first).exists()
    assert (media_dir / shop_a.logo.name).exists()


def test_remove_logo_deletes_it(
    shop_a: Shop, media_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    update(shop_a, logo_file=upload("a.png", png_bytes()))
    name = shop_a.logo.name
    with django_capture_on_commit_callbacks(execute=True):
        update(shop_a, remove_logo=True)
    shop_a.refresh_from_db()
    assert not shop_a.logo
    assert not (media_dir / name).exists()
    assert branding.logo_of(shop_a) is None


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("logo.png", b"just some text, not a picture\n" * 10, "PNG, JPEG or WebP"),
        ("logo.png", b"", "empty"),
        ("logo.png", b"GIF89a" + b"\x00" * 40, "PNG, JPEG or WebP"),
        (
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "SVG",
        ),
        ("logo.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        ("logo.png", png_bytes((64, 64))[:-30], "damaged"),
    ],
)
def test_files_that_are_not_accepted_pictures_are_refused(
    shop_a: Shop, media_dir: Path, name: str, data: bytes, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        update(shop_a, logo_file=upload(name, data))
    assert caught.value.field == "logo"
    assert words in str(caught.value)
    shop_a.refresh_from_db()
    assert not shop_a.logo and shop_a.primary_color == "#1F4E79"
    assert not media_dir.exists() or not any(media_dir.rglob("*.*"))


def test_a_logo_over_one_megabyte_is_refused(shop_a: Shop, media_dir: Path) -> None:
    data = png_bytes() + b"\x00" * (branding.MAX_LOGO_BYTES + 1)
    with pytest.raises(InvalidInput) as caught:
        update(shop_a, logo_file=upload("big.png", data))
    assert "1 MB" in str(caught.value)
    shop_a.refresh_from_db()
    assert not shop_a.logo
