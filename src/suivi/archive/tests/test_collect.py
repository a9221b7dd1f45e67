"""The collect job: invoices, credit notes, sent confirmations and tracking numbers archived
once each, through the real order, notification and shipment services."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import json
from email.utils import parsedate_to_datetime

import pypdf
import pytest
from django.utils import timezone

from suivi.archive import collect as collect_module
from suivi.archive.collect import collect
from suivi.archive.models import ArchivedDocument
from suivi.archive.services import read_document
from suivi.archive.verification import verify_chain
from suivi.core.worker import registered_jobs
from suivi.notifications.models import OutboxMessage
from suivi.orders.documents import credit_note_pdf, invoice_pdf
from suivi.orders.models import CreditNote, Invoice, Order
from suivi.orders.services import LineCancellation, order_apply_action, order_cancel_lines
from suivi.shipments.models import Parcel
from suivi.shipments.services import ParcelInput, parcels_create
from suivi.shops.models import Shop
from suivi.testing import make_order

from .support import send_due_messages

pytestmark = pytest.mark.django_db
Kind = ArchivedDocument.Kind


def _pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages).replace("\u00a0", " ")


def _full_story(shop: Shop, number: str = "6A12345678901") -> Order:
    """Paid (invoice + confirmation email), one unit cancelled (credit note), shipped."""
    order = make_order(shop, paid=True)
    assert send_due_messages() >= 1
    order_cancel_lines(
        shop=shop, order_id=order.pk, cancellations=[LineCancellation(1, 1)], reason="out_of_stock"
    )
    for action in ("start_preparation", "mark_ready"):
        order_apply_action(shop=shop, order_id=order.pk, action=action)
    parcels_create(
        shop=shop,
        order_id=order.pk,
        parcels=[ParcelInput(tracking_number=number, carrier="laposte")],
    )
    return order


def _docs(order: Order) -> dict[str, ArchivedDocument]:
    return {d.kind: d for d in ArchivedDocument.objects.filter(order=order)}


def test_collect_archives_every_proof_of_an_order_once(shop_a: Shop) -> None:
    order = _full_story(shop_a)
    invoice = Invoice.objects.get(order=order)
    note = CreditNote.objects.get(order=order)
    message = OutboxMessage.objects.get(order=order, event_key="confirmed", channel="email")
    parcel = Parcel.objects.get(order=order)

    assert collect() == 4
    assert collect() == 0

    docs = _docs(order)
    assert set(docs) == {Kind.INVOICE, Kind.CREDIT_NOTE, Kind.ORDER_CONFIRMATION, Kind.TRACKING}
    # Invoice and credit note: the very PDFs the documents module renders.
    invoice_bytes = read_document(docs[Kind.INVOICE])
    assert invoice_bytes == invoice_pdf(invoice, language="fr")
    assert invoice.number in _pdf_text(invoice_bytes)
    assert docs[Kind.INVOICE].source_key == str(invoice.pk)
    assert invoice.number in docs[Kind.INVOICE].title
    note_bytes = read_document(docs[Kind.CREDIT_NOTE])
    assert note_bytes == credit_note_pdf(note, language="fr")
    assert note.number in _pdf_text(note_bytes)
    # The confirmation email as sent: recipient, subject, Message-ID and date of sending.
    eml = read_document(docs[Kind.ORDER_CONFIRMATION])
    assert eml is not None
    parsed = email.message_from_bytes(eml, policy=email.policy.default)
    assert parsed["To"] == "claire.martin@example.fr"
    assert parsed["Subject"] and docs[Kind.ORDER_CONFIRMATION].title.endswith(parsed["Subject"])
    assert parsed["Message-ID"] and message.provider_message_id == parsed["Message-ID"]
    assert message.sent_at is not None
    assert parsedate_to_datetime(parsed["Date"]) == message.sent_at.replace(microsecond=0)
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and order.reference in body.get_content()
    assert docs[Kind.ORDER_CONFIRMATION].content_type == "message/rfc822"
    # Tracking: the parcel's carrier and number.
    tracking = json.loads(read_document(docs[Kind.TRACKING]) or b"")
    assert tracking["parcel"]["tracking_number"] == parcel.tracking_number == "6A12345678901"
    assert tracking["parcel"]["carrier"] == "laposte"
    assert tracking["order"]["reference"] == order.reference
    assert tracking["parcel"]["legs"][0]["tracking_number"] == "6A12345678901"
    assert docs[Kind.TRACKING].source_key == str(parcel.pk)
    report = verify_chain(shop_a)
    assert report.ok and report.documents == 4


def test_unsent_confirmations_wait_and_shops_without_invoicing_archive_the_rest(
    shop_b: Shop,
) -> None:
    order = make_order(shop_b, paid=True)  # shop_b issues no invoices

    assert collect() == 0  # the confirmation is still in the outbox
    send_due_messages()
    assert collect() == 1

    assert set(_docs(order)) == {Kind.ORDER_CONFIRMATION}


def test_collect_looks_back_a_few_days_and_catches_up_in_full(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    Invoice.objects.filter(order=order).update(issued_at=timezone.now() - dt.timedelta(days=10))

    assert collect() == 0
    assert collect(full=True) == 1
    assert set(_docs(order)) == {Kind.INVOICE}


def test_collect_respects_its_limit(shop_a: Shop) -> None:
    for _ in range(3):
        make_order(shop_a, paid=True)

    assert collect(2) == 2
    assert collect(2) == 1
    assert ArchivedDocument.objects.count() == 3


def test_a_source_that_fails_does_not_stop_the_others(
    shop_a: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = make_order(shop_a, paid=True)
    send_due_messages()

    def broken(invoice: Invoice) -> None:
        raise RuntimeError("renderer down")

    original = collect_module.SOURCES
    monkeypatch.setattr(
        collect_module,
        "SOURCES",
        tuple(
            collect_module.Source(s.kind, s.rows, broken) if s.kind == Kind.INVOICE else s
            for s in original
        ),
    )
    assert collect() == 1
    assert set(_docs(order)) == {Kind.ORDER_CONFIRMATION}

    monkeypatch.setattr(collect_module, "SOURCES", original)
    assert collect() == 1  # tried again at the next run
    assert set(_docs(order)) == {Kind.ORDER_CONFIRMATION, Kind.INVOICE}


def test_documents_of_english_orders_are_in_english(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    Order.objects.filter(pk=order.pk).update(language="en")

    collect()

    doc = _docs(order)[Kind.INVOICE]
    assert doc.title.startswith("Invoice ")
    assert "Total incl. VAT" in _pdf_text(read_document(doc) or b"")


def test_the_jobs_are_registered_with_the_worker() -> None:
    jobs = {job.name: job.every_seconds for job in registered_jobs()}

    assert jobs["archive.collect"] == 30
    assert jobs["archive.purge"] == 3600
    assert jobs["archive.catch_up"] == 86400
