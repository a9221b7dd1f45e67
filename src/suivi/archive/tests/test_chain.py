"""The chain: appends, idempotency, and verification catching each kind of tampering."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from suivi.archive import storage, verification
from suivi.archive.models import GENESIS, ArchiveChain, ArchivedDocument
from suivi.archive.services import archive_document, purge_expired, read_document, sweep_orphans
from suivi.archive.verification import order_entries, verify_chain
from suivi.core.errors import InvalidInput
from suivi.orders.models import Order
from suivi.shops.models import Shop
from suivi.testing import make_order

from .support import archive_text

pytestmark = pytest.mark.django_db


def _three(shop: Shop) -> tuple[Order, Order, list[ArchivedDocument]]:
    first, second = make_order(shop), make_order(shop)
    docs = [archive_text(first, "a"), archive_text(second, "b"), archive_text(first, "c")]
    return first, second, docs


def _codes(report: verification.ChainReport) -> list[tuple[str, int | None]]:
    return [(p.code, p.seq) for p in report.problems]


def _expected_hash(doc: ArchivedDocument) -> str:
    """The documented format, written out independently of the code under test."""
    meta = {
        "archived_at": doc.archived_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "content_type": doc.content_type,
        "kind": doc.kind,
        "order": doc.order_id,
        "retention_until": doc.retention_until.astimezone(dt.UTC).isoformat(
            timespec="microseconds"
        ),
        "seq": doc.seq,
        "shop": doc.shop_id,
        "source_key": doc.source_key,
        "title": doc.title,
    }
    blob = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((doc.prev_hash + doc.sha256 + blob).encode()).hexdigest()


def test_documents_are_numbered_and_linked_in_the_order_they_are_archived(
    shop_a: Shop, private_dir: Path
) -> None:
    first, _second, docs = _three(shop_a)
    docs = list(ArchivedDocument.objects.filter(shop=shop_a).order_by("seq"))

    assert [d.seq for d in docs] == [1, 2, 3]
    assert docs[0].prev_hash == GENESIS
    assert docs[1].prev_hash == docs[0].chain_hash
    assert docs[2].prev_hash == docs[1].chain_hash
    assert [d.chain_hash for d in docs] == [_expected_hash(d) for d in docs]
    head = ArchiveChain.objects.get(shop=shop_a)
    assert (head.last_seq, head.last_hash) == (3, docs[2].chain_hash)
    path = private_dir / "archive" / docs[2].path
    assert path.read_bytes() == b"content of c"
    assert path.is_relative_to(private_dir / "archive" / str(shop_a.pk) / str(first.pk))
    assert docs[2].sha256 == hashlib.sha256(b"content of c").hexdigest()
    assert docs[2].size == len(b"content of c")
    retention = docs[0].retention_until - docs[0].archived_at
    assert retention == dt.timedelta(days=shop_a.archive_retention_days)
    report = verify_chain(shop_a)
    assert report.ok, report.lines()
    assert (report.documents, report.head_seq) == (3, 3)


def test_archiving_the_same_source_twice_keeps_the_first(shop_a: Shop, private_dir: Path) -> None:
    order = make_order(shop_a)
    first = archive_text(order, "inv-1", "first bytes")

    again = archive_text(order, "inv-1", "other bytes")

    assert again.pk == first.pk
    assert read_document(again) == b"first bytes"
    assert ArchivedDocument.objects.count() == 1
    assert ArchiveChain.objects.get(shop=shop_a).last_seq == 1
    assert len([p for p in private_dir.rglob("*") if p.is_file()]) == 1
    # The same key under another kind is another document.
    assert archive_text(order, "inv-1", kind="invoice").seq == 2


def test_each_shop_has_its_own_chain(shop_a: Shop, shop_b: Shop) -> None:
    _three(shop_a)
    b = archive_text(make_order(shop_b), "a")

    assert (b.seq, b.prev_hash) == (1, GENESIS)
    assert verify_chain(shop_a).ok and verify_chain(shop_b).ok


def test_a_modified_file_byte_is_detected(shop_a: Shop, private_dir: Path) -> None:
    _first, _second, docs = _three(shop_a)
    path = private_dir / "archive" / docs[1].path
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))

    report = verify_chain(shop_a)

    assert _codes(report) == [("file_modified", 2)]
    assert read_document(docs[1]) is None
    assert read_document(docs[0]) == b"content of a"


def test_a_missing_file_is_detected(shop_a: Shop, private_dir: Path) -> None:
    _first, _second, docs = _three(shop_a)
    (private_dir / "archive" / docs[0].path).unlink()

    assert _codes(verify_chain(shop_a)) == [("file_missing", 1)]


def test_a_title_edited_in_the_database_is_detected(shop_a: Shop) -> None:
    _first, _second, docs = _three(shop_a)
    ArchivedDocument.objects.filter(pk=docs[1].pk).update(title="Another title")

    report = verify_chain(shop_a)

    assert _codes(report) == [("metadata", 2)]
    assert not report.ok


def test_an_edit_with_its_own_hash_recomputed_breaks_the_next_link(shop_a: Shop) -> None:
    _first, _second, docs = _three(shop_a)
    forged = ArchivedDocument.objects.get(pk=docs[1].pk)
    forged.title = "Forged"
    forged.chain_hash = _expected_hash(forged)
    forged.save()

    assert _codes(verify_chain(shop_a)) == [("link", 3)]


def test_a_deleted_row_leaves_a_gap(shop_a: Shop) -> None:
    _first, _second, docs = _three(shop_a)
    ArchivedDocument.objects.filter(pk=docs[1].pk).delete()

    report = verify_chain(shop_a)

    assert report.missing_seqs == [2]
    assert ("link", 3) in _codes(report)


def test_a_deleted_last_row_disagrees_with_the_head(shop_a: Shop) -> None:
    _first, _second, docs = _three(shop_a)
    ArchivedDocument.objects.filter(pk=docs[2].pk).delete()

    report = verify_chain(shop_a)

    assert report.missing_seqs == [3]
    assert ("head", None) in _codes(report)


def test_rows_swapped_in_order_are_detected(shop_a: Shop) -> None:
    _first, _second, docs = _three(shop_a)
    with transaction.atomic():
        ArchivedDocument.objects.filter(pk=docs[1].pk).update(seq=99)
        ArchivedDocument.objects.filter(pk=docs[2].pk).update(seq=2)
        ArchivedDocument.objects.filter(pk=docs[1].pk).update(seq=3)

    codes = _codes(verify_chain(shop_a))

    assert ("link", 2) in codes and ("metadata", 2) in codes
    assert ("link", 3) in codes and ("metadata", 3) in codes


def test_purging_deletes_expired_files_and_the_chain_still_verifies(
    shop_a: Shop, private_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    shop_a.archive_retention_days = 30
    shop_a.save()
    order = make_order(shop_a)
    old = archive_text(order, "old")
    shop_a.archive_retention_days = 3650
    shop_a.save()
    order.shop = shop_a
    kept = archive_text(order, "kept")
    later = timezone.now() + dt.timedelta(days=31)

    with django_capture_on_commit_callbacks(execute=True) as removals:
        assert purge_expired(later) == 1
    assert len(removals) == 1  # the file goes only once the row is committed
    assert purge_expired(later) == 0

    old.refresh_from_db()
    assert old.purged_at == later
    assert not (private_dir / "archive" / old.path).exists()
    assert (private_dir / "archive" / kept.path).exists()
    assert read_document(old) is None
    report = verify_chain(shop_a)
    assert report.ok, report.lines()
    assert report.purged == 1
    assert all(entry.ok for entry in order_entries(order))


def test_a_document_marked_purged_before_its_time_is_detected(shop_a: Shop) -> None:
    _first, _second, docs = _three(shop_a)
    ArchivedDocument.objects.filter(pk=docs[0].pk).update(purged_at=timezone.now())

    assert _codes(verify_chain(shop_a)) == [("purged_early", 1)]


def test_order_entries_check_their_neighbours(shop_a: Shop) -> None:
    first, second, docs = _three(shop_a)
    assert [e.document.seq for e in order_entries(first)] == [1, 3]
    assert all(e.ok for e in order_entries(first))

    ArchivedDocument.objects.filter(pk=docs[1].pk).delete()  # the other order's document

    assert [e.ok for e in order_entries(first)] == [False, False]
    assert order_entries(second) == []


def test_a_failed_append_leaves_no_file_and_no_row(
    shop_a: Shop, private_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = make_order(shop_a)

    def refuse(**kwargs: object) -> None:
        raise IntegrityError("refused")

    monkeypatch.setattr(ArchivedDocument.objects, "create", refuse)
    with pytest.raises(IntegrityError):
        archive_text(order, "x")

    assert not [p for p in private_dir.rglob("*") if p.is_file()]
    assert not ArchivedDocument.objects.exists()


def test_a_file_left_by_an_outer_rollback_is_swept(shop_a: Shop, private_dir: Path) -> None:
    order = make_order(shop_a)
    kept = archive_text(order, "kept")
    with pytest.raises(RuntimeError), transaction.atomic():
        archive_text(order, "rolled-back")
        raise RuntimeError("the caller fails after archiving")
    files = [p for p in private_dir.rglob("*") if p.is_file()]
    assert len(files) == 2

    assert sweep_orphans(older_than=dt.timedelta(days=1)) == 0  # too recent to judge
    assert sweep_orphans(older_than=dt.timedelta(0)) == 1

    assert [p for p in private_dir.rglob("*") if p.is_file()] == [
        private_dir / "archive" / kept.path
    ]
    assert verify_chain(shop_a).ok


def test_a_stored_path_outside_the_archive_is_never_read(shop_a: Shop, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"content of a")
    _first, _second, docs = _three(shop_a)
    ArchivedDocument.objects.filter(pk=docs[0].pk).update(path="../../secret.txt")
    doc = ArchivedDocument.objects.get(pk=docs[0].pk)

    assert read_document(doc) is None
    with pytest.raises(storage.UnsafePath):
        storage.resolve(doc.path)
    assert ("file_missing", 1) in _codes(verify_chain(shop_a))


def test_bad_input_is_refused(shop_a: Shop) -> None:
    order = make_order(shop_a)
    with pytest.raises(InvalidInput):
        archive_document(
            order=order, kind="nope", source_key="k", title="t", content=b"", content_type="a/b"
        )
    with pytest.raises(InvalidInput):
        archive_document(
            order=order, kind="other", source_key="", title="t", content=b"", content_type="a/b"
        )
    assert not ArchivedDocument.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_stay_gapless_and_linked() -> None:
    from suivi.testing import make_shop

    shop = make_shop("Concurrence")
    orders = [make_order(shop), make_order(shop)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def append(index: int) -> None:
        try:
            start.wait()
            for n in range(6):
                archive_text(
                    Order.objects.select_related("shop").get(pk=orders[index].pk), f"{index}-{n}"
                )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert sorted(ArchivedDocument.objects.filter(shop=shop).values_list("seq", flat=True)) == list(
        range(1, 13)
    )
    report = verify_chain(shop)
    assert report.ok, report.lines()


def test_an_order_with_archived_documents_cannot_be_deleted(shop_a: Shop) -> None:
    from django.db.models import RestrictedError

    order = make_order(shop_a)
    archive_text(order, "a")

    with pytest.raises(RestrictedError):
        order.delete()
    assert verify_chain(shop_a).ok
