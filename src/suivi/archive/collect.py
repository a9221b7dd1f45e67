"""Find the proofs of purchase not archived yet and archive them (a worker job).

What is archived, and when (see ``docs/proofs-of-purchase.md``):

- ``invoice``: each invoice, as the PDF of :func:`suivi.orders.documents.invoice_pdf`;
- ``credit_note``: each credit note, as its PDF;
- ``order_confirmation``: each order-confirmation email that was sent (outbox rows of the
  ``confirmed`` event on the email channel, sent or delivered), as an ``.eml`` file. The
  outbox does not keep rendered bodies: the message is rendered again from its row (the
  same events, templates, recipient and Message-ID, dated when it was sent) by the
  dispatcher's own builder, usually within a minute of sending;
- ``tracking``: each parcel, as a small JSON document: carrier, tracking number(s), dates.

Each source's id is the ``source_key``, so running twice archives nothing twice. The job
looks back :data:`LOOKBACK` (an anti-join over recent rows, cheap every 30 s); a daily
catch-up run looks at everything.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from django.db.models import CharField, Exists, Model, OuterRef, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from suivi.notifications.catalog import EMAIL
from suivi.notifications.models import OutboxMessage
from suivi.orders.documents import credit_note_pdf, invoice_pdf
from suivi.orders.models import CreditNote, Invoice, Order
from suivi.shipments.models import Parcel

from .models import ArchivedDocument
from .services import archive_document

logger = logging.getLogger("suivi.archive")

Kind = ArchivedDocument.Kind
LOOKBACK = dt.timedelta(days=3)
CONFIRMATION_EVENT = "confirmed"
SENT_STATUSES = (OutboxMessage.Status.SENT, OutboxMessage.Status.DELIVERED)


def order_language(order: Order) -> str:
    """The language of the order's documents: the order's, ``fr`` or ``en``."""
    lang = (order.language or "").replace("_", "-").split("-")[0].lower()
    if lang in ("fr", "en"):
        return lang
    default = (order.shop.default_locale or "fr").split("-")[0].lower()
    return default if default in ("fr", "en") else "fr"


@dataclass(frozen=True)
class Prepared:
    """What :func:`archive_document` needs, built from one source row."""

    order: Order
    kind: str
    source_key: str
    title: str
    content: bytes
    content_type: str


def _not_archived(kind: str) -> Exists:
    return Exists(
        ArchivedDocument.objects.filter(
            shop_id=OuterRef("shop_id"),
            kind=kind,
            source_key=Cast(OuterRef("pk"), output_field=CharField()),
        )
    )


# --- sources ----------------------------------------------------------------------------


def invoice_document(invoice: Invoice) -> Prepared:
    """The archived form of *invoice*: its PDF in the order's language."""
    order = invoice.order
    lang = order_language(order)
    with translation.override(lang):
        title = _("Invoice %(number)s") % {"number": invoice.number}
    return Prepared(
        order,
        Kind.INVOICE,
        str(invoice.pk),
        title,
        invoice_pdf(invoice, language=lang),
        "application/pdf",
    )


def credit_note_document(note: CreditNote) -> Prepared:
    """The archived form of a credit note: its PDF in the order's language."""
    order = note.order
    lang = order_language(order)
    with translation.override(lang):
        title = _("Credit note %(number)s") % {"number": note.number}
    pdf = credit_note_pdf(note, language=lang)
    return Prepared(order, Kind.CREDIT_NOTE, str(note.pk), title, pdf, "application/pdf")


def _dated(raw: bytes, moment: dt.datetime | None) -> bytes:
    """Set the message's ``Date:`` header to when it was sent."""
    if moment is None:
        return raw
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    date = format_datetime(moment.astimezone(dt.UTC), usegmt=True).encode("ascii")
    head, count = re.subn(rb"(?m)^Date: [^\r\n]*", lambda _m: b"Date: " + date, head, count=1)
    if not count:
        head = b"Date: " + date + (b"\r\n" if b"\r\n" in head else b"\n") + head
    return head + sep + body


def confirmation_email(message: OutboxMessage) -> tuple[str, bytes]:
    """The sent confirmation email rendered again as wire bytes; returns (subject, bytes)."""
    # The dispatcher's builder, so that the archived copy is what the channel was handed.
    from suivi.notifications.channels import email as email_channel
    from suivi.notifications.channels import mime
    from suivi.notifications.dispatch import _Builder

    item = _Builder([message]).outgoing(message)
    content = item.content
    raw = mime.build(
        from_email=content.get("from_email", ""),
        to=item.recipient,
        subject=content["subject"],
        text=content["text"],
        html=content.get("html", ""),
        message_id=email_channel.message_id(item),
        reply_to=content.get("reply_to", ""),
        headers=content.get("headers", {}),
    )
    if raw is None:  # non-ASCII addresses: the slow path, as the channel does
        raw = email_channel.build_message(item).message().as_bytes()
    return str(content["subject"]), _dated(raw, message.sent_at)


def confirmation_document(message: OutboxMessage) -> Prepared:
    """The archived form of a sent order-confirmation email."""
    order = message.order
    assert order is not None
    subject, raw = confirmation_email(message)
    lang = order_language(order)
    with translation.override(lang):
        title = _("Order confirmation email: %(subject)s") % {"subject": subject}
    return Prepared(
        order, Kind.ORDER_CONFIRMATION, str(message.pk), title[:300], raw, "message/rfc822"
    )


def _when(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment is not None else None


def tracking_document(parcel: Parcel) -> Prepared:
    """The archived form of a parcel: carrier, tracking numbers and dates, as JSON."""
    order = parcel.order
    data: dict[str, Any] = {
        "document": "tracking",
        "shop": {"id": parcel.shop_id, "name": order.shop.name},
        "order": {"id": order.pk, "reference": order.reference},
        "parcel": {
            "id": parcel.pk,
            "carrier": parcel.carrier,
            "service": parcel.service,
            "tracking_number": parcel.tracking_number,
            "tracking_url": parcel.tracking_url,
            "shipped_at": _when(parcel.shipped_at),
            "created_at": _when(parcel.created_at),
            "legs": [
                {
                    "carrier": leg.carrier,
                    "tracking_number": leg.tracking_number,
                    "role": leg.role,
                    "created_at": _when(leg.created_at),
                }
                for leg in sorted(parcel.legs.all(), key=lambda leg: leg.pk)
            ],
            "lines": [
                {
                    "sku": line.order_line.sku,
                    "name": line.order_line.name,
                    "quantity": line.quantity,
                }
                for line in sorted(parcel.lines.all(), key=lambda line: line.pk)
            ],
        },
    }
    content = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"
    with translation.override(order_language(order)):
        title = _("Tracking number %(number)s (%(carrier)s)") % {
            "number": parcel.tracking_number,
            "carrier": parcel.carrier,
        }
    return Prepared(order, Kind.TRACKING, str(parcel.pk), title, content, "application/json")


@dataclass(frozen=True)
class Source:
    kind: str
    rows: Callable[[dt.datetime | None], QuerySet[Any]]
    prepare: Callable[[Any], Prepared]


def _recent(queryset: QuerySet[Any], field: str, since: dt.datetime | None) -> QuerySet[Any]:
    return queryset.filter(**{f"{field}__gte": since}) if since is not None else queryset


SOURCES: tuple[Source, ...] = (
    Source(
        Kind.INVOICE,
        lambda since: _recent(
            Invoice.objects.filter(~_not_archived(Kind.INVOICE)), "issued_at", since
        ).select_related("shop", "order__shop", "order__customer"),
        invoice_document,
    ),
    Source(
        Kind.CREDIT_NOTE,
        lambda since: _recent(
            CreditNote.objects.filter(~_not_archived(Kind.CREDIT_NOTE)), "issued_at", since
        ).select_related("shop", "invoice", "order__shop", "order__customer"),
        credit_note_document,
    ),
    Source(
        Kind.ORDER_CONFIRMATION,
        lambda since: _recent(
            OutboxMessage.objects.filter(
                ~_not_archived(Kind.ORDER_CONFIRMATION),
                event_key=CONFIRMATION_EVENT,
                channel=EMAIL,
                status__in=SENT_STATUSES,
                order__isnull=False,
                is_test=False,
            ),
            "sent_at",
            since,
        ).select_related("order__shop"),
        confirmation_document,
    ),
    Source(
        Kind.TRACKING,
        lambda since: (
            _recent(Parcel.objects.filter(~_not_archived(Kind.TRACKING)), "created_at", since)
            .select_related("order__shop")
            .prefetch_related("legs", "lines__order_line")
        ),
        tracking_document,
    ),
)


def _pending(limit: int, since: dt.datetime | None) -> Iterator[tuple[Source, Model]]:
    left = limit
    for source in SOURCES:
        if left <= 0:
            return
        rows = list(source.rows(since).order_by("pk")[:left])
        left -= len(rows)
        for row in rows:
            yield source, row


def collect(limit: int = 50, *, full: bool = False, now: dt.datetime | None = None) -> int:
    """Archive up to *limit* proofs not archived yet; return how many were archived.

    Looks back :data:`LOOKBACK` from *now*, or at everything with *full*. A source that
    fails is logged and tried again at the next run; the others go on.
    """
    since = None if full else (now or timezone.now()) - LOOKBACK
    archived = 0
    for source, row in _pending(limit, since):
        try:
            prepared = source.prepare(row)
            archive_document(
                order=prepared.order,
                kind=prepared.kind,
                source_key=prepared.source_key,
                title=prepared.title,
                content=prepared.content,
                content_type=prepared.content_type,
            )
        except Exception:
            logger.exception("could not archive %s %s", source.kind, row.pk)
            continue
        archived += 1
    return archived
