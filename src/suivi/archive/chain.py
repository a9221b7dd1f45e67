"""The chain format, as pure functions (no database, no files).

``chain_hash = SHA-256( prev_hash ‖ sha256 ‖ metadata )`` where ``prev_hash`` and
``sha256`` are 64 lowercase hexadecimal ASCII characters each and ``metadata`` is the
canonical JSON of the row (keys sorted, no spaces, UTF-8, times in UTC with microseconds):
``archived_at``, ``content_type``, ``kind``, ``order``, ``retention_until``, ``seq``,
``shop``, ``source_key``, ``title``. A shop's first row has ``prev_hash`` = 64 zeros.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from .models import GENESIS, ArchivedDocument

__all__ = ["GENESIS", "canonical_metadata", "chain_hash", "document_chain_hash", "iso"]


def iso(moment: dt.datetime) -> str:
    """The instant in UTC, ISO 8601 with microseconds (``2026-11-22T09:30:00.000000+00:00``)."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical_metadata(
    *,
    shop_id: int,
    order_id: int,
    kind: str,
    source_key: str,
    title: str,
    content_type: str,
    seq: int,
    archived_at: dt.datetime,
    retention_until: dt.datetime,
) -> bytes:
    """The row's metadata as canonical JSON bytes (the part of the chain that is not a hash)."""
    data: dict[str, Any] = {
        "archived_at": iso(archived_at),
        "content_type": content_type,
        "kind": kind,
        "order": order_id,
        "retention_until": iso(retention_until),
        "seq": seq,
        "shop": shop_id,
        "source_key": source_key,
        "title": title,
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, sha256: str, metadata: bytes) -> str:
    """SHA-256 of the previous link, the content's digest and the metadata, in hex."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(sha256.encode("ascii"))
    digest.update(metadata)
    return digest.hexdigest()


def document_chain_hash(doc: ArchivedDocument) -> str:
    """Recompute *doc*'s chain hash from what its row says now."""
    metadata = canonical_metadata(
        shop_id=doc.shop_id,
        order_id=doc.order_id,
        kind=doc.kind,
        source_key=doc.source_key,
        title=doc.title,
        content_type=doc.content_type,
        seq=doc.seq,
        archived_at=doc.archived_at,
        retention_until=doc.retention_until,
    )
    try:
        return chain_hash(doc.prev_hash, doc.sha256, metadata)
    except UnicodeEncodeError:  # a hash column edited to non-ASCII text
        return ""
