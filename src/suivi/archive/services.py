"""Writes on the archive: append a document to its shop's chain, purge, clean up.

Appends are serialised per shop by locking the shop's :class:`ArchiveChain` row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transactions queue writers), so
sequence numbers are gapless and each row links to the one before it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from functools import partial
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from suivi.core.errors import InvalidInput
from suivi.orders.models import Order
from suivi.shops.models import Shop

from . import storage
from .chain import canonical_metadata, chain_hash
from .models import ArchiveChain, ArchivedDocument

logger = logging.getLogger("suivi.archive")

Kind = ArchivedDocument.Kind

EXTENSIONS = {
    "application/pdf": ".pdf",
    "message/rfc822": ".eml",
    "application/json": ".json",
    "text/plain": ".txt",
    "text/html": ".html",
}
PURGE_BATCH = 500
ORPHAN_AGE = dt.timedelta(days=1)


def _extension(content_type: str) -> str:
    return EXTENSIONS.get(content_type.split(";")[0].strip().lower(), ".bin")


def _lock_chain(shop: Shop) -> ArchiveChain:
    """Lock (creating it the first time) the head of *shop*'s chain until our commit."""
    chain = ArchiveChain.objects.select_for_update().filter(shop=shop).first()
    if chain is not None:
        return chain
    try:
        with transaction.atomic():
            ArchiveChain.objects.create(shop=shop)
    except IntegrityError:  # created meanwhile by another append: wait for its lock
        pass
    return ArchiveChain.objects.select_for_update().get(shop=shop)


def _find(shop_id: int, kind: str, source_key: str) -> ArchivedDocument | None:
    return ArchivedDocument.objects.filter(
        shop_id=shop_id, kind=kind, source_key=source_key
    ).first()


def _check(kind: str, source_key: str, title: str, content_type: str) -> str:
    try:
        kind = Kind(kind).value
    except ValueError:
        raise InvalidInput(f"Unknown document kind {kind!r}.", field="kind") from None
    if not source_key or len(source_key) > 200:
        raise InvalidInput("A source key has 1 to 200 characters.", field="source_key")
    if not title.strip() or len(title) > 300:
        raise InvalidInput("A title has 1 to 300 characters.", field="title")
    if not content_type or len(content_type) > 100 or "/" not in content_type:
        raise InvalidInput("Give the content's media type.", field="content_type")
    return kind


def archive_document(
    *,
    order: Order,
    kind: str,
    source_key: str,
    title: str,
    content: bytes,
    content_type: str,
) -> ArchivedDocument:
    """Archive *content* as the order's document *kind*/*source_key*, once.

    Archiving the same (kind, source_key) again returns the existing row and writes
    nothing: the first archived bytes are the proof. The file is written before the row is
    committed and removed if this transaction fails; a file left by a caller's outer
    transaction that rolled back later is removed by :func:`sweep_orphans`.
    """
    kind = _check(kind, source_key, title, content_type)
    shop = order.shop
    found = _find(shop.pk, kind, source_key)
    if found is not None:
        return found
    sha256 = hashlib.sha256(content).hexdigest()
    written: str | None = None
    try:
        with transaction.atomic():
            chain = _lock_chain(shop)
            found = _find(shop.pk, kind, source_key)  # archived while we waited for the lock
            if found is not None:
                return found
            seq = chain.last_seq + 1
            archived_at = timezone.now()
            retention_until = archived_at + dt.timedelta(days=shop.archive_retention_days)
            metadata = canonical_metadata(
                shop_id=shop.pk,
                order_id=order.pk,
                kind=kind,
                source_key=source_key,
                title=title,
                content_type=content_type,
                seq=seq,
                archived_at=archived_at,
                retention_until=retention_until,
            )
            link = chain_hash(chain.last_hash, sha256, metadata)
            relative = (
                f"{shop.pk}/{order.pk}/{seq:08d}-{kind}-{sha256[:12]}{_extension(content_type)}"
            )
            storage.write(relative, content)
            written = relative
            document = ArchivedDocument.objects.create(
                shop=shop,
                order=order,
                kind=kind,
                source_key=source_key,
                title=title,
                content_type=content_type,
                path=relative,
                size=len(content),
                sha256=sha256,
                seq=seq,
                prev_hash=chain.last_hash,
                chain_hash=link,
                archived_at=archived_at,
                retention_until=retention_until,
            )
            ArchiveChain.objects.filter(pk=chain.pk).update(last_seq=seq, last_hash=link)
    except BaseException:
        if written is not None:
            storage.remove(written)
        raise
    logger.info("archived %s %s of order %s as #%s", kind, source_key, order.pk, seq)
    return document


def read_document(document: ArchivedDocument) -> bytes | None:
    """The archived bytes, or None if purged, missing or not matching their hash."""
    if document.purged_at is not None:
        return None
    data = storage.read(document.path)
    if data is None:
        logger.error("archived document %s (#%s): file missing", document.pk, document.seq)
        return None
    if hashlib.sha256(data).hexdigest() != document.sha256:
        logger.error("archived document %s (#%s): file modified", document.pk, document.seq)
        return None
    return data


def purge_expired(now: dt.datetime | None = None, *, limit: int = PURGE_BATCH) -> int:
    """Delete the files of documents past their retention; keep their rows (and the chain).

    ``purged_at`` is outside the chain, so the chain still verifies; the file is removed
    after the row's commit, so a failed transaction never loses a file.
    """
    now = now or timezone.now()
    due = list(
        ArchivedDocument.objects.filter(purged_at__isnull=True, retention_until__lte=now)
        .order_by("retention_until", "pk")
        .values_list("pk", "path")[:limit]
    )
    purged = 0
    for pk, path in due:
        with transaction.atomic():
            updated = ArchivedDocument.objects.filter(pk=pk, purged_at__isnull=True).update(
                purged_at=now
            )
            if updated:
                transaction.on_commit(partial(storage.remove, path))
        purged += updated
    if purged:
        logger.info("purged %s archived documents past their retention", purged)
    return purged


def sweep_orphans(*, older_than: dt.timedelta = ORPHAN_AGE) -> int:
    """Remove files no row names (left by a rolled-back transaction), older than *older_than*.

    Walks one order folder at a time and asks the database for that order's paths.
    """
    base = storage.root()
    if not base.is_dir():
        return 0
    limit = time.time() - older_than.total_seconds()
    removed = 0
    for shop_dir in sorted(p for p in base.iterdir() if p.is_dir() and p.name.isdigit()):
        for order_dir in sorted(p for p in shop_dir.iterdir() if p.is_dir()):
            files = [p for p in order_dir.iterdir() if p.is_file() and p.stat().st_mtime < limit]
            if not files:
                continue
            known = set(
                ArchivedDocument.objects.filter(
                    shop_id=int(shop_dir.name),
                    path__startswith=f"{shop_dir.name}/{order_dir.name}/",
                ).values_list("path", flat=True)
            )
            for path in files:
                relative = Path(path).relative_to(base).as_posix()
                if relative not in known:
                    path.unlink(missing_ok=True)
                    removed += 1
    if removed:
        logger.warning("removed %s orphan archive files", removed)
    return removed
