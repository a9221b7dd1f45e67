"""Files of the archive under ``SUIVI_PRIVATE_DIR/archive/`` (never under media or static).

Paths stored in the database are relative to that folder; every access resolves them and
refuses anything that would leave it (a tampered row must not read ``/etc/passwd``).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from django.conf import settings

CHUNK = 1 << 16


class UnsafePath(ValueError):
    """A stored path that points outside the archive folder."""


def root() -> Path:
    """The archive folder (read from the settings at each call: tests move it)."""
    return (Path(settings.SUIVI_PRIVATE_DIR) / "archive").resolve()


def resolve(relative: str) -> Path:
    """The absolute path of *relative*, which must stay inside :func:`root`."""
    base = root()
    path = (base / relative).resolve()
    if not relative or Path(relative).is_absolute() or not path.is_relative_to(base):
        raise UnsafePath(relative)
    return path


def write(relative: str, content: bytes) -> None:
    """Write *content* to a temporary name, flush it to disk, then rename it into place."""
    path = resolve(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def remove(relative: str) -> bool:
    """Delete the file; return whether it was there."""
    try:
        path = resolve(relative)
    except UnsafePath:
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def read(relative: str) -> bytes | None:
    """The file's bytes, or None if it is missing (or its path is unsafe)."""
    try:
        return resolve(relative).read_bytes()
    except (UnsafePath, FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def digest(relative: str) -> str | None:
    """SHA-256 of the file in hex, read in chunks; None if it is missing."""
    try:
        path = resolve(relative)
        hasher = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                hasher.update(chunk)
    except (UnsafePath, FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    return hasher.hexdigest()
