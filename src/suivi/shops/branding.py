"""A shop's branding: sender name, colours and logo, as customers see them in messages.

The logo is checked the way claim photos are (:mod:`suivi.claims.photos`): Pillow,
restricted to the PNG, JPEG and WebP decoders, must read the file whole — its name and
announced type are never trusted, so a renamed text file is refused. SVG is refused on
purpose: an SVG file is a document that can carry scripts and external references. The
picture is then re-encoded from its pixels (no metadata kept) and scaled down to
:data:`MAX_LOGO_SIDE` pixels, and stored through ``Shop.logo`` under a fresh name.

Everything is checked before anything is written; a refusal changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Final, Protocol

from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from suivi.core.errors import InvalidInput

from .models import Shop

logger = logging.getLogger("suivi.shops")

SYSTEM: Final = "system"
MAX_LOGO_BYTES: Final = 1024 * 1024
MAX_LOGO_PIXELS: Final = 25_000_000
MAX_LOGO_SIDE: Final = 1024
MAX_SENDER_NAME: Final = 100  # Shop.sender_name
ALLOWED_FORMATS: Final = ("PNG", "JPEG", "WEBP")
# Pillow format → (stored format, content type, extension)
OUTPUT: Final[dict[str, tuple[str, str, str]]] = {
    "PNG": ("PNG", "image/png", "png"),
    "JPEG": ("JPEG", "image/jpeg", "jpg"),
    "MPO": ("JPEG", "image/jpeg", "jpg"),
    "WEBP": ("WEBP", "image/webp", "webp"),
}
CONTENT_TYPES: Final = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
_COLOR: Final = re.compile(r"^#[0-9A-Fa-f]{6}$")
_SVG_SNIFF: Final = re.compile(rb"<svg[\s>]|<!doctype\s+svg", re.IGNORECASE)


class Upload(Protocol):
    """What the service needs of an uploaded file (a Django ``UploadedFile`` fits)."""

    name: str | None

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class CleanLogo:
    """A checked logo, re-encoded, ready to be stored."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def check_color(value: object, *, field: str) -> str:
    """Return *value* as ``#RRGGBB`` (upper case), or raise :class:`InvalidInput`."""
    text = value.strip() if isinstance(value, str) else ""
    if not _COLOR.match(text):
        raise InvalidInput(
            _("A colour is written #RRGGBB, e.g. #1F4E79."), field=field, value=str(value)[:20]
        )
    return text.upper()


def check_sender_name(value: object) -> str:
    """Return the sender name, stripped, or raise :class:`InvalidInput`."""
    if not isinstance(value, str):
        raise InvalidInput(_("The sender name must be text."), field="sender_name")
    text = value.strip()
    if any(ch in text for ch in "\x00\r\n"):
        raise InvalidInput(_("The sender name must fit on one line."), field="sender_name")
    if len(text) > MAX_SENDER_NAME:
        raise InvalidInput(
            _("The sender name must be %(max)d characters at most.") % {"max": MAX_SENDER_NAME},
            field="sender_name",
        )
    return text


def _looks_like_svg(name: str, data: bytes) -> bool:
    if name.lower().endswith((".svg", ".svgz")):
        return True
    head = data[:2048].lstrip()
    return head.startswith(b"<?xml") or bool(_SVG_SNIFF.search(head))


def prepare_logo(upload: Upload) -> CleanLogo:
    """Check and re-encode an uploaded logo; raise :class:`InvalidInput` (field ``logo``)."""
    name = upload.name or ""
    size = getattr(upload, "size", None)
    too_large = _("The logo is larger than 1 MB; please upload a smaller picture.")
    if isinstance(size, int) and size > MAX_LOGO_BYTES:
        raise InvalidInput(too_large, field="logo")
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(MAX_LOGO_BYTES + 1)
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidInput(too_large, field="logo")
    if not data:
        raise InvalidInput(_("The logo file is empty."), field="logo")
    if _looks_like_svg(name, data):
        raise InvalidInput(
            _(
                "SVG logos are not accepted: an SVG file can carry scripts. Upload a PNG,"
                " JPEG or WebP picture."
            ),
            field="logo",
        )
    not_an_image = _("The logo must be a PNG, JPEG or WebP picture.")
    try:
        with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
            if image.format not in OUTPUT:
                raise InvalidInput(not_an_image, field="logo")
            width, height = image.size
            if width * height > MAX_LOGO_PIXELS:
                raise InvalidInput(_("The logo has too many pixels."), field="logo")
            stored_format, content_type, extension = OUTPUT[image.format]
            image.load()
            encoded, (out_w, out_h) = _reencode(image, stored_format)
    except Image.DecompressionBombError:
        raise InvalidInput(_("The logo has too many pixels."), field="logo") from None
    except (UnidentifiedImageError, SyntaxError):
        raise InvalidInput(not_an_image, field="logo") from None
    except (OSError, ValueError, EOFError):
        raise InvalidInput(
            _("The logo file is damaged or incomplete and cannot be read."), field="logo"
        ) from None
    return CleanLogo(encoded, content_type, extension, out_w, out_h)


def _reencode(image: Image.Image, stored_format: str) -> tuple[bytes, tuple[int, int]]:
    """Write *image*'s pixels again, upright and at most :data:`MAX_LOGO_SIDE` wide or high,
    without any of the original file's metadata (EXIF, XMP, ICC, text chunks)."""
    upright = ImageOps.exif_transpose(image)
    upright.thumbnail((MAX_LOGO_SIDE, MAX_LOGO_SIDE))
    transparency = upright.info.get("transparency")
    upright.info = {}
    options: dict[str, object] = {}
    if stored_format == "JPEG":
        if upright.mode not in ("L", "RGB"):
            upright = upright.convert("RGB")
        options = {"quality": 90, "optimize": True}
    elif stored_format == "WEBP":
        if upright.mode not in ("RGB", "RGBA"):
            has_alpha = "A" in upright.getbands() or transparency is not None
            upright = upright.convert("RGBA" if has_alpha else "RGB")
        options = {"quality": 90}
    else:
        if upright.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            upright = upright.convert("RGBA")
        if transparency is not None and upright.mode in ("L", "P", "RGB"):
            upright.info["transparency"] = transparency
        options = {"optimize": True}
    out = io.BytesIO()
    upright.save(out, format=stored_format, **options)
    return out.getvalue(), upright.size


def _delete_file(shop: Shop, name: str) -> None:
    if not name:
        return
    try:
        shop.logo.storage.delete(name)
    except OSError:
        logger.warning("could not delete the old logo %s of shop %s", name, shop.pk)


def branding_update(
    *,
    shop: Shop,
    sender_name: str,
    primary_color: str,
    accent_color: str,
    logo_file: Upload | None = None,
    remove_logo: bool = False,
    actor: str = SYSTEM,
) -> Shop:
    """Set the shop's sender name and colours, and replace or remove its logo.

    A new *logo_file* wins over *remove_logo*. Every value is checked before anything is
    written (:class:`InvalidInput` naming the field); the previous logo file is deleted once
    the change is committed.
    """
    name = check_sender_name(sender_name)
    primary = check_color(primary_color, field="primary_color")
    accent = check_color(accent_color, field="accent_color")
    logo = prepare_logo(logo_file) if logo_file is not None else None
    old_name = shop.logo.name or ""
    new_name = ""
    fields = ["sender_name", "primary_color", "accent_color"]
    try:
        with transaction.atomic():
            locked = Shop.objects.select_for_update().get(pk=shop.pk)
            old_name = locked.logo.name or ""
            locked.sender_name = name
            locked.primary_color = primary
            locked.accent_color = accent
            if logo is not None:
                locked.logo.save(
                    f"{shop.pk}-{uuid.uuid4().hex[:12]}.{logo.extension}",
                    ContentFile(logo.data),
                    save=False,
                )
                new_name = locked.logo.name or ""
                fields.append("logo")
            elif remove_logo and old_name:
                locked.logo.name = ""
                fields.append("logo")
            locked.save(update_fields=fields)
    except BaseException:
        if new_name:
            _delete_file(shop, new_name)
        raise
    if "logo" in fields and old_name and old_name != new_name:
        transaction.on_commit(lambda: _delete_file(locked, old_name))
    shop.sender_name, shop.primary_color, shop.accent_color = name, primary, accent
    shop.logo.name = locked.logo.name
    logger.info("branding of shop %s changed by %s", shop.pk, actor)
    return shop


def logo_of(shop: Shop) -> tuple[bytes, str] | None:
    """Return the stored logo of *shop* and its content type, or None."""
    name = shop.logo.name or ""
    if not name:
        return None
    extension = name.rsplit(".", 1)[-1].lower()
    content_type = CONTENT_TYPES.get(extension)
    if content_type is None:
        return None
    try:
        with shop.logo.storage.open(name, "rb") as fh:
            return fh.read(MAX_LOGO_BYTES * 4), content_type
    except (OSError, ValueError):
        return None


def logo_fingerprint(name: str) -> str:
    """A short digest of the stored logo's file name (new for every upload)."""
    return hashlib.sha256(name.encode()).hexdigest()[:20]


def logo_path(shop: Shop) -> str:
    """Where *shop*'s logo is published (``shops.views.logo``), with a version that changes
    with the file; "" when the shop has none."""
    name = shop.logo.name or ""
    if not name or not shop.slug:
        return ""
    path = reverse("shop-logo", kwargs={"slug": shop.slug})
    return f"{path}?v={logo_fingerprint(name)[:12]}"
