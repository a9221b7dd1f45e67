"""Check a chain: every link, every row's metadata, every file's digest.

What each problem means is in ``docs/proofs-of-purchase.md``. Tampering by someone who can
rewrite the whole database (rows *and* head) is only detectable against a head hash kept
elsewhere: the report prints it so that it can be recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from suivi.orders.models import Order
from suivi.shops.models import Shop

from . import storage
from .chain import GENESIS, document_chain_hash
from .models import ArchiveChain, ArchivedDocument

# Problem codes.
GAP = "gap"  # sequence numbers missing: rows deleted
LINK = "link"  # prev_hash is not the previous row's chain hash: rows deleted, swapped or forged
METADATA = "metadata"  # the row's fields no longer give its chain hash: a field was edited
FILE_MODIFIED = "file_modified"
FILE_MISSING = "file_missing"
PURGED_EARLY = "purged_early"  # marked purged before its retention ended
HEAD = "head"  # the head row disagrees with the last row: rows deleted at the end


@dataclass(frozen=True)
class Problem:
    code: str
    seq: int | None
    document_id: int | None
    detail: str

    def __str__(self) -> str:
        where = f"#{self.seq}" if self.seq is not None else "chain"
        return f"{where}: {self.code}: {self.detail}"


@dataclass
class ChainReport:
    """The result of :func:`verify_chain` for one shop."""

    shop_id: int
    shop_slug: str
    documents: int = 0
    purged: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def missing_seqs(self) -> list[int]:
        return [p.seq for p in self.problems if p.code == GAP and p.seq is not None]

    def lines(self) -> list[str]:
        """The report as text lines (the management command prints them)."""
        status = "OK" if self.ok else f"TAMPERED ({len(self.problems)} problems)"
        out = [
            f"shop {self.shop_slug} (id {self.shop_id}): {self.documents} documents,"
            f" {self.purged} purged, head #{self.head_seq} {self.head_hash}: {status}"
        ]
        out += [f"  {problem}" for problem in self.problems]
        return out


def _file_problems(doc: ArchivedDocument) -> list[Problem]:
    if doc.purged_at is not None:
        if doc.purged_at < doc.retention_until:
            return [Problem(PURGED_EARLY, doc.seq, doc.pk, "purged before its retention ended")]
        return []
    found = storage.digest(doc.path)
    if found is None:
        return [Problem(FILE_MISSING, doc.seq, doc.pk, f"file {doc.path} is missing")]
    if found != doc.sha256:
        return [Problem(FILE_MODIFIED, doc.seq, doc.pk, f"file {doc.path} does not match")]
    return []


def _row_problems(doc: ArchivedDocument) -> list[Problem]:
    if document_chain_hash(doc) != doc.chain_hash:
        return [Problem(METADATA, doc.seq, doc.pk, "the row's fields do not give its hash")]
    return []


def verify_chain(shop: Shop, *, check_files: bool = True) -> ChainReport:
    """Recompute every link of *shop*'s chain in order, and every file's digest.

    Takes no lock: documents appended while it runs are checked too (the head is read
    again until it stops moving, a few times at most).
    """
    report = ChainReport(shop_id=shop.pk, shop_slug=shop.slug)
    expected_seq, expected_prev = 1, GENESIS

    def visit(doc: ArchivedDocument) -> None:
        nonlocal expected_seq, expected_prev
        report.documents += 1
        report.purged += doc.purged_at is not None
        if doc.seq > expected_seq:
            for missing in range(expected_seq, doc.seq):
                report.problems.append(Problem(GAP, missing, None, "no document with this number"))
        elif doc.seq < expected_seq:  # only reachable with seq = 0
            report.problems.append(Problem(GAP, doc.seq, doc.pk, "invalid sequence number"))
        if doc.prev_hash != expected_prev:
            report.problems.append(
                Problem(LINK, doc.seq, doc.pk, "does not follow the previous document")
            )
        report.problems.extend(_row_problems(doc))
        if check_files:
            report.problems.extend(_file_problems(doc))
        expected_seq, expected_prev = doc.seq + 1, doc.chain_hash

    documents = ArchivedDocument.objects.filter(shop=shop).order_by("seq")
    for doc in documents.iterator(chunk_size=1000):
        visit(doc)
    head = ArchiveChain.objects.filter(shop=shop).first()
    for _round in range(3):
        if head is None or head.last_seq < expected_seq:
            break
        for doc in documents.filter(seq__gte=expected_seq):  # appended meanwhile
            visit(doc)
        head = ArchiveChain.objects.filter(shop=shop).first()
    report.head_seq = head.last_seq if head is not None else 0
    report.head_hash = head.last_hash if head is not None else GENESIS
    last_seq = expected_seq - 1 if report.documents else 0
    if report.head_seq > last_seq:
        for missing in range(last_seq + 1, report.head_seq + 1):
            report.problems.append(Problem(GAP, missing, None, "no document with this number"))
    if (report.head_seq, report.head_hash) != (last_seq, expected_prev):
        report.problems.append(
            Problem(HEAD, None, None, f"the head says #{report.head_seq}, the last row #{last_seq}")
        )
    return report


@dataclass(frozen=True)
class Entry:
    """One archived document of an order and whether its place in the chain holds."""

    document: ArchivedDocument
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def order_entries(order: Order) -> list[Entry]:
    """The order's documents in chain order, each checked with its neighbours and its file."""
    docs = list(ArchivedDocument.objects.filter(order=order, shop_id=order.shop_id).order_by("seq"))
    if not docs:
        return []
    head = ArchiveChain.objects.filter(shop_id=order.shop_id).first()  # before the neighbours
    neighbours = {
        d.seq: d
        for d in ArchivedDocument.objects.filter(
            shop_id=order.shop_id,
            seq__in={s for doc in docs for s in (doc.seq - 1, doc.seq + 1)},
        ).only("seq", "prev_hash", "chain_hash")
    }
    return [Entry(doc, _entry_problems(doc, neighbours, head)) for doc in docs]


def _entry_problems(
    doc: ArchivedDocument, neighbours: dict[int, ArchivedDocument], head: ArchiveChain | None
) -> list[Problem]:
    problems = _row_problems(doc) + _file_problems(doc)
    before = neighbours.get(doc.seq - 1)
    if doc.seq == 1:
        expected_prev: str | None = GENESIS
    else:
        expected_prev = before.chain_hash if before is not None else None
    if expected_prev is None:
        problems.append(Problem(GAP, doc.seq - 1, None, "the previous document is missing"))
    elif doc.prev_hash != expected_prev:
        problems.append(Problem(LINK, doc.seq, doc.pk, "does not follow the previous document"))
    after = neighbours.get(doc.seq + 1)
    if after is not None:
        if after.prev_hash != doc.chain_hash:
            problems.append(Problem(LINK, doc.seq + 1, after.pk, "the next document disagrees"))
    elif head is None or head.last_seq != doc.seq or head.last_hash != doc.chain_hash:
        problems.append(Problem(GAP, doc.seq + 1, None, "the next document is missing"))
    return problems


def all_ok(entries: Iterable[Entry]) -> bool:
    return all(entry.ok for entry in entries)
