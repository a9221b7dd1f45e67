"""Opaque cursors for keyset pagination.

A cursor names the last row of the previous page (an id) and the list it belongs to, in
URL-safe base64 so clients treat it as opaque and we may change its content later. It is
not signed: it only selects rows inside the caller's own shop, so forging one reveals
nothing a normal walk would not.
"""

from __future__ import annotations

import base64
import binascii

from suivi.core.errors import DomainError

from .fields import MAX_ID

VERSION = "1"


class InvalidCursor(DomainError):
    """The cursor was not produced by this API (or by another list)."""

    code = "invalid-cursor"
    status = 400


def cursor_encode(kind: str, position: int) -> str:
    """Return the opaque cursor that continues list *kind* after row id *position*."""
    raw = f"{VERSION}:{kind}:{position}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def cursor_decode(kind: str, cursor: str) -> int:
    """Return the row id a cursor of list *kind* points after; raise :class:`InvalidCursor`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        version, cursor_kind, position_text = raw.split(":")
        position = int(position_text)
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidCursor("This cursor is not valid; start again without one.") from None
    if version != VERSION or cursor_kind != kind or not position_text.isdigit():
        raise InvalidCursor("This cursor is not valid; start again without one.")
    if not 0 < position <= MAX_ID:
        raise InvalidCursor("This cursor is not valid; start again without one.")
    return position
