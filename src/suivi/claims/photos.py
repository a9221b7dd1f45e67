"""Claim photos: check, clean and store the files customers send.

A photo is accepted only if Pillow, restricted to the JPEG, PNG and WebP decoders, reads it
whole — the name and the announced type are never trusted, so a renamed program, a GIF or a
PDF is refused. Then it is re-encoded from its pixels: the EXIF orientation is applied first,
then nothing of the original file's metadata is kept (no EXIF and so no GPS position, no
XMP, no ICC profile, no text chunks). Very large pictures are scaled down to
:data:`MAX_SIDE` pixels on their long side.

Nothing is written while checking: :func:`prepare` returns the cleaned bytes, and the
services write them (:func:`store`) inside their transaction, deleting what they wrote if it
fails (:func:`discard`). Files live under ``settings.SUIVI_PRIVATE_DIR / "claims" / <shop id>``
with a random name, never under the public static or media roots.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.http import FileResponse
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from suivi.core.errors import InvalidInput
from suivi.core.private_files import private_file_response

if TYPE_CHECKING:
    from .models import ClaimPhoto

MAX_PHOTOS = 5  # per message (the opening form or a reply)
MAX_PHOTOS_PER_CLAIM = 20
MAX_BYTES = 8 * 1024 * 1024
# Pixels we agree to decode (about 150 MB of RGB in memory); Pillow's own bomb limit is
# higher (89 M, an error at twice that). A 50-megapixel phone picture still passes.
MAX_PIXELS = 50_000_000
MAX_SIDE = 4096  # long side kept; enough to read a label or see a dent
# The only decoders tried. Pillow's JPEG decoder also opens MPO, the JPEG variant with a
# second picture that many phones write (we keep the first).
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
# Pillow format → (stored format, content type, extension)
OUTPUT: dict[str, tuple[str, str, str]] = {
    "JPEG": ("JPEG", "image/jpeg", "jpg"),
    "MPO": ("JPEG", "image/jpeg", "jpg"),
    "PNG": ("PNG", "image/png", "png"),
    "WEBP": ("WEBP", "image/webp", "webp"),
}
STORE_DIR = "claims"
_UNSAFE = re.compile(r"[^\w.\- ]+")


class Upload(Protocol):
    """What the services need of an uploaded file (a Django ``UploadedFile`` fits)."""

    name: str | None

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class CleanPhoto:
    """A checked photo, re-encoded, ready to be written."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str
    original_name: str


def clean_name(name: str | None) -> str:
    """Return a harmless display name for an uploaded file (no path, no control characters)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    if len(base) > 120:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 119 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else base[:120]
    return base or "photo"


def _refuse(name: str, message: str) -> InvalidInput:
    return InvalidInput(message % {"name": name}, field="photos", file=name)


def prepare(uploads: Sequence[Upload], *, already: int = 0) -> list[CleanPhoto]:
    """Check and re-encode *uploads*; raise :class:`InvalidInput` naming the first bad file.

    *already* is the number of photos the claim has, for the per-claim limit.
    """
    if len(uploads) > MAX_PHOTOS:
        raise InvalidInput(
            _("You can send at most %(max)d photos at a time; you chose %(count)d.")
            % {"max": MAX_PHOTOS, "count": len(uploads)},
            field="photos",
        )
    if already + len(uploads) > MAX_PHOTOS_PER_CLAIM:
        raise InvalidInput(
            _("A claim can have at most %(max)d photos.") % {"max": MAX_PHOTOS_PER_CLAIM},
            field="photos",
        )
    # Sizes first: a too large file is refused before anything is decoded.
    for upload in uploads:
        size = getattr(upload, "size", None)
        if isinstance(size, int) and size > MAX_BYTES:
            raise _refuse(
                clean_name(upload.name),
                _("“%(name)s” is larger than 8 MB; please send a smaller picture."),
            )
    return [_clean(upload) for upload in uploads]


def _clean(upload: Upload) -> CleanPhoto:
    name = clean_name(upload.name)
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _refuse(name, _("“%(name)s” is larger than 8 MB; please send a smaller picture."))
    if not data:
        raise _refuse(name, _("“%(name)s” is empty."))
    not_an_image = _("“%(name)s” is not a JPEG, PNG or WebP picture.")
    try:
        with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
            if image.format not in OUTPUT:
                raise _refuse(name, not_an_image)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise _refuse(name, _("“%(name)s” has too many pixels to be processed."))
            stored_format, content_type, extension = OUTPUT[image.format]
            if image.format in ("JPEG", "MPO"):
                # Decode at a reduced scale when the picture is far larger than we keep.
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))
            image.load()
            encoded, size = _reencode(image, stored_format)
    except Image.DecompressionBombError:
        raise _refuse(name, _("“%(name)s” has too many pixels to be processed.")) from None
    except (UnidentifiedImageError, SyntaxError):
        raise _refuse(name, not_an_image) from None
    except (OSError, ValueError, EOFError):
        raise _refuse(name, _("“%(name)s” is damaged or incomplete and cannot be read.")) from None
    return CleanPhoto(
        data=encoded,
        content_type=content_type,
        extension=extension,
        width=size[0],
        height=size[1],
        sha256=hashlib.sha256(encoded).hexdigest(),
        original_name=name,
    )


def _reencode(image: Image.Image, stored_format: str) -> tuple[bytes, tuple[int, int]]:
    """Write *image*'s pixels again, upright, without any of the original metadata."""
    upright = ImageOps.exif_transpose(image)  # a copy, turned the way the camera was held
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    transparency = upright.info.get("transparency")
    upright.info = {}  # EXIF, GPS, XMP, ICC, text chunks, comments: all dropped
    if stored_format == "JPEG":
        if upright.mode not in ("L", "RGB"):
            upright = upright.convert("RGB")
        options: dict[str, object] = {"quality": 88, "optimize": True}
    elif stored_format == "WEBP":
        if upright.mode not in ("RGB", "RGBA"):
            has_alpha = "A" in upright.getbands() or transparency is not None
            upright = upright.convert("RGBA" if has_alpha else "RGB")
        options = {"quality": 85}
    else:  # PNG: screenshots, kept lossless
        if upright.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            upright = upright.convert("RGBA")
        if transparency is not None and upright.mode in ("L", "P", "RGB"):
            upright.info["transparency"] = transparency
        options = {}
    out = io.BytesIO()
    upright.save(out, format=stored_format, exif=b"", icc_profile=None, **options)
    return out.getvalue(), upright.size


# --- storage ----------------------------------------------------------------------------


def root() -> Path:
    """The private directory (read at call time so that tests can point it elsewhere)."""
    return Path(settings.SUIVI_PRIVATE_DIR)


def store(photo: CleanPhoto, *, shop_id: int) -> str:
    """Write *photo* under the private directory; return its path relative to it."""
    relative = f"{STORE_DIR}/{int(shop_id)}/{uuid.uuid4().hex}.{photo.extension}"
    target = root() / relative
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(photo.data)
    return relative


def absolute(relative: str) -> Path:
    """The file of a stored photo; refuses any path that would leave the claims directory."""
    base = (root() / STORE_DIR).resolve()
    target = (root() / relative).resolve()
    if not target.is_relative_to(base):
        raise ValueError(f"Photo path outside the claims directory: {relative!r}")
    return target


def discard(relatives: Iterable[str]) -> None:
    """Delete stored files (after a failed transaction); missing ones are fine."""
    for relative in relatives:
        try:
            absolute(relative).unlink(missing_ok=True)
        except (OSError, ValueError):
            continue


def stored_files(older_than_seconds: float) -> list[str]:
    """Relative paths of the stored photo files last modified before the given age."""
    base = root() / STORE_DIR
    if not base.is_dir():
        return []
    limit = time.time() - older_than_seconds
    found = []
    for shop_dir in base.iterdir():
        if not shop_dir.is_dir():
            continue
        for entry in shop_dir.iterdir():
            try:
                if entry.is_file() and entry.stat().st_mtime < limit:
                    found.append(f"{STORE_DIR}/{shop_dir.name}/{entry.name}")
            except OSError:
                continue
    return found


def photo_response(photo: ClaimPhoto, claim_id: int) -> FileResponse:
    """The HTTP answer of a stored photo, for a viewer the caller has already checked
    (the claim's customer, or staff of its shop): inline, never cached nor sniffed."""
    try:
        path: Path | None = absolute(photo.path)
    except ValueError:
        path = None
    extension = photo.path.rsplit(".", 1)[-1]
    return private_file_response(
        path,
        content_type=photo.content_type,
        filename=f"claim-{claim_id}-photo-{photo.pk}.{extension}",
        attachment=False,
    )
