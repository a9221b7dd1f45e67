"""Return labels as private files: checked by content, stored outside MEDIA and STATIC.

A label lives at ``settings.SUIVI_PRIVATE_DIR / "returns" / <shop id> / <uuid>.<ext>``; the
database keeps the path relative to the private directory. Nothing serves that directory:
the label view streams a file after checking who asks. The settings are read at call time.
"""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404
from django.utils.translation import gettext
from PIL import Image, UnidentifiedImageError

from suivi.core.private_files import private_file_response

from .errors import InvalidLabel

if TYPE_CHECKING:
    from .models import ReturnRequest

MAX_LABEL_BYTES = 10 * 1024 * 1024

# Leading bytes -> (content type, extension, Pillow format or None for PDF).
_SIGNATURES: tuple[tuple[bytes, str, str, str | None], ...] = (
    (b"%PDF-", "application/pdf", "pdf", None),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png", "PNG"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg", "JPEG"),
)
EXTENSIONS = {content_type: ext for _sig, content_type, ext, _fmt in _SIGNATURES}


def private_root() -> Path:
    """The private directory (read from the settings on every call: tests point it away)."""
    return Path(settings.SUIVI_PRIVATE_DIR).resolve()


def _read_limited(upload: UploadedFile[bytes]) -> bytes:
    if upload.size is not None and upload.size > MAX_LABEL_BYTES:
        raise InvalidLabel(gettext("The label is larger than 10 MB."), field="label")
    upload.seek(0)
    data: bytes = upload.read(MAX_LABEL_BYTES + 1)
    if len(data) > MAX_LABEL_BYTES:
        raise InvalidLabel(gettext("The label is larger than 10 MB."), field="label")
    if not data:
        raise InvalidLabel(gettext("The label file is empty."), field="label")
    return data


def sniff_label(data: bytes) -> str:
    """Return the content type of *data* (PDF, PNG or JPEG) or raise :class:`InvalidLabel`."""
    for signature, content_type, _ext, image_format in _SIGNATURES:
        if not data.startswith(signature):
            continue
        if image_format is not None:
            # The signature could open anything: the image must also parse as what it says.
            try:
                with Image.open(io.BytesIO(data)) as image:
                    if image.format != image_format:
                        break
                    image.verify()
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
                break
        elif b"%%EOF" not in data[-2048:]:
            break  # a truncated or fake PDF
        return content_type
    raise InvalidLabel(gettext("The label must be a PDF, PNG or JPEG document."), field="label")


def label_store(*, shop_id: int, upload: UploadedFile[bytes]) -> tuple[str, str]:
    """Check *upload* and write it privately; return (relative path, content type)."""
    data = _read_limited(upload)
    content_type = sniff_label(data)
    relative = Path("returns") / str(shop_id) / f"{uuid.uuid4().hex}.{EXTENSIONS[content_type]}"
    target = private_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".part")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    return relative.as_posix(), content_type


def label_delete(relative: str) -> None:
    """Remove a stored label (after a failed write of its return); missing is fine."""
    path = label_file(relative)
    if path is not None:
        path.unlink(missing_ok=True)


def label_file(relative: str) -> Path | None:
    """The absolute path of a stored label, or None if empty, outside the private
    directory's returns folder, or missing."""
    if not relative:
        return None
    root = (private_root() / "returns").resolve()
    path = (private_root() / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def label_response(ret: ReturnRequest) -> FileResponse:
    """The HTTP answer of a return's label, for a viewer the caller has already checked
    (the return's customer, or staff of its shop): an attachment, never cached nor sniffed."""
    if ret.label_content_type not in EXTENSIONS:
        raise Http404
    return private_file_response(
        label_file(ret.label_path),
        content_type=ret.label_content_type,
        filename=f"return-label-{ret.pk}.{EXTENSIONS[ret.label_content_type]}",
        attachment=True,
    )
