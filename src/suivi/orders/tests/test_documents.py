"""Invoice and credit-note PDFs: what a reader (and pypdf) finds in them."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pypdf
import pytest
from pypdf.generic import ContentStream

from suivi.orders import documents
from suivi.orders.documents import (
    FRANCHISE_MENTION,
    Row,
    credit_note_pdf,
    invoice_pdf,
    vat_breakdown,
)
from suivi.orders.models import CreditNote, Invoice, Order
from suivi.orders.services import LineCancellation, order_apply_action, order_cancel_lines
from suivi.shops.models import Shop
from suivi.testing import make_order

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
LINES = [
    ("PULL-M", "Pull marin", "49.90", 2),
    ("BONNET", "Bonnet d’hiver", "15.00", 1),
    ("LAMPE", "Lampe Lumière", "1234.50", 1),
]


def _seller(shop: Shop, *, vat_number: str = "FR12345678901") -> Shop:
    shop.legal_name = "Maison Lumière SAS"
    shop.legal_address = "1 rue d’Alsace\n75010 Paris"
    shop.vat_number = vat_number
    shop.save()
    return shop


def _invoiced(shop: Shop, *, cancel_before: bool = True, lines: list | None = None) -> Invoice:
    """An order whose line 1 lost one unit and line 2 everything before it was invoiced."""
    order = make_order(shop, lines=lines or LINES)
    if cancel_before:
        order_cancel_lines(
            shop=shop,
            order_id=order.pk,
            cancellations=[LineCancellation(1, 1), LineCancellation(2, 1)],
            reason="out_of_stock",
        )
    order_apply_action(shop=shop, order_id=order.pk, action="confirm_payment")
    issued = dt.datetime(2026, 11, 22, 10, 30, tzinfo=PARIS)
    Invoice.objects.filter(order=order).update(issued_at=issued)
    Order.objects.filter(pk=order.pk).update(placed_at=issued - dt.timedelta(hours=1))
    return Invoice.objects.select_related("order", "shop").get(order=order)


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def _positions(page: pypdf.PageObject) -> list[tuple[str, float, float]]:
    found: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text.strip():
            found.append((text.strip(), tm[4], tm[5]))

    page.extract_text(visitor_text=visit)
    return found


def _segments(reader: pypdf.PdfReader, page: pypdf.PageObject) -> list[tuple[float, ...]]:
    """Straight lines drawn on the page (``x1 y1 m x2 y2 l``)."""
    out, start = [], None
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"m":
            start = (float(operands[0]), float(operands[1]))
        elif operator == b"l" and start is not None:
            out.append((*start, float(operands[0]), float(operands[1])))
            start = None
    return out


def _struck(pdf: bytes, text: str) -> bool:
    """Whether a horizontal line crosses the drawn *text* at mid-height of its letters."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    spots = [(x, y) for t, x, y in _positions(page) if t == text]
    assert spots, f"{text!r} is not drawn"
    x, y = spots[0]
    return any(
        abs(y1 - y2) < 0.01 and y + 1 < y1 < y + 6 and x1 <= x + 0.5 and x2 > x + 3
        for x1, y1, x2, y2 in _segments(reader, page)
    )


def test_an_invoice_shows_the_seller_buyer_lines_and_totals_in_french(shop_a: Shop) -> None:
    invoice = _invoiced(_seller(shop_a))

    text = _text(invoice_pdf(invoice, language="fr"))

    for expected in (
        "Maison Lumière SAS",
        "1 rue d’Alsace",
        "75010 Paris",
        "FR12345678901",
        invoice.number,
        "22 novembre 2026",
        invoice.order.reference,
        "Claire Martin",
        "claire.martin@example.fr",
        "3 place Bellecour",
        "69002 Lyon",
        "Pull marin",
        "Lampe Lumière",
        "1 234,50 €",  # the lamp, in French
        "49,90 €",  # one pull left
        "4,90 €",  # shipping
        "1 289,30 €",  # 49.90 + 1234.50 + 4.90
        "20 %",
    ):
        assert expected in text, expected
    assert str(invoice.total_amount) == "1289.30"
    # VAT of the whole (shipping at the goods' rate): 1289.30 × 20/120 = 214.88.
    assert "214,88 €" in text
    assert "1 074,42 €" in text  # excl. VAT
    assert FRANCHISE_MENTION not in text


def test_an_invoice_in_english_formats_dates_and_money_for_english(shop_a: Shop) -> None:
    invoice = _invoiced(_seller(shop_a))

    text = _text(invoice_pdf(invoice, language="en"))

    assert "22 November 2026" in text
    assert "€1,234.50" in text
    assert "€1,289.30" in text
    assert "Invoice" in text and "Total incl. VAT" in text


def test_quantities_cancelled_before_invoicing_are_struck_through(shop_a: Shop) -> None:
    invoice = _invoiced(_seller(shop_a))
    pdf = invoice_pdf(invoice, language="en")

    # The snapshot left the cancelled bonnet out; the PDF still shows it, crossed out.
    assert [line["sku"] for line in invoice.lines] == ["PULL-M", "LAMPE"]
    assert "Bonnet d’hiver" in _text(pdf)
    assert _struck(pdf, "Bonnet d’hiver")
    assert not _struck(pdf, "Pull marin")
    assert not _struck(pdf, "Lampe Lumière")
    # The pull: 2 ordered (struck), 1 invoiced.
    assert _struck(pdf, "2")
    assert not _struck(pdf, "1")
    assert "cancelled before this invoice was issued" in _text(pdf)


def test_an_invoice_without_cancellations_strikes_nothing(shop_a: Shop) -> None:
    invoice = _invoiced(_seller(shop_a), cancel_before=False)
    pdf = invoice_pdf(invoice, language="en")

    assert not _struck(pdf, "Bonnet d’hiver")
    assert "cancelled before" not in _text(pdf)


def test_the_same_invoice_gives_the_same_bytes_with_metadata(shop_a: Shop) -> None:
    invoice = _invoiced(_seller(shop_a))

    first = invoice_pdf(invoice, language="fr")
    again = invoice_pdf(Invoice.objects.get(pk=invoice.pk), language="fr")

    assert first == again
    assert first.startswith(b"%PDF-")
    meta = pypdf.PdfReader(io.BytesIO(first)).metadata
    assert meta is not None
    assert meta.author == "Maison Lumière SAS"
    assert invoice.number in (meta.title or "")


def test_the_franchise_mention_needs_no_vat_number_and_no_vat(shop_a: Shop) -> None:
    untaxed = [("LIVRE", "Livre", "20.00", 1)]
    _seller(shop_a, vat_number="")
    order = make_order(shop_a, lines=untaxed)
    order.lines.update(tax_rate=Decimal("0"))
    order_apply_action(shop=shop_a, order_id=order.pk, action="confirm_payment")
    exempt = Invoice.objects.get(order=order)
    taxed_without_number = _invoiced(shop_a, cancel_before=False)

    exempt_text = _text(invoice_pdf(exempt, language="fr"))
    assert FRANCHISE_MENTION in exempt_text
    assert "TVA" in exempt_text and "Total excl. VAT" not in exempt_text
    assert FRANCHISE_MENTION in _text(invoice_pdf(exempt, language="en"))
    assert FRANCHISE_MENTION not in _text(invoice_pdf(taxed_without_number, language="fr"))


def test_vat_is_taken_out_per_rate_with_shipping_shared_in_proportion() -> None:
    rows = [
        Row("A", "A", 1, Decimal("100.00"), Decimal("20.00"), Decimal("100.00")),
        Row("B", "B", 1, Decimal("50.00"), Decimal("5.50"), Decimal("50.00")),
        Row("C", "C", 0, Decimal("9.00"), Decimal("10.00"), Decimal("9.00"), 1, struck=True),
    ]

    lines = vat_breakdown(rows, Decimal("6.00"), "EUR")

    assert [(v.rate, v.base, v.vat) for v in lines] == [
        (Decimal("20.00"), Decimal("86.67"), Decimal("17.33")),  # 100 + 4 shipping
        (Decimal("5.50"), Decimal("49.29"), Decimal("2.71")),  # 50 + 2 shipping
    ]


def test_a_credit_note_names_its_invoice_reason_and_amount(shop_a: Shop) -> None:
    invoice = _invoiced(_seller(shop_a), cancel_before=False)
    order_cancel_lines(
        shop=shop_a,
        order_id=invoice.order_id,
        cancellations=[LineCancellation(3, 1)],
        reason="customer_request",
    )
    note = CreditNote.objects.get(order_id=invoice.order_id)

    pdf = credit_note_pdf(note, language="en")
    text = _text(pdf)

    assert note.number in text
    assert invoice.number in text and "22 November 2026" in text  # the invoice it corrects
    assert "Cancelled at your request" in text
    assert "Lampe Lumière" in text
    assert "€1,234.50" in text
    assert "FR12345678901" in text
    assert pdf == credit_note_pdf(CreditNote.objects.get(pk=note.pk), language="en")
    assert "1 234,50 €" in _text(credit_note_pdf(note, language="fr"))


def test_characters_beyond_the_font_never_break_the_pdf(shop_a: Shop) -> None:
    invoice = _invoiced(
        _seller(shop_a), cancel_before=False, lines=[("THE", "Thé vert 茶 « bio »", "7.50", 1)]
    )

    text = _text(invoice_pdf(invoice, language="fr"))

    assert "Thé vert" in text and "« bio »" in text


def test_the_bundled_font_draws_the_euro_sign() -> None:
    vera = documents._faces()[0]
    assert vera.regular == "SuiviVera"
    assert {ord("€"), ord("’"), ord("é")} <= vera.glyphs


def test_a_long_invoice_continues_on_further_pages(shop_a: Shop) -> None:
    many = [(f"SKU-{n:03d}", f"Article numéro {n}", "1.00", 1) for n in range(1, 81)]
    invoice = _invoiced(_seller(shop_a), cancel_before=False, lines=many)

    pdf = invoice_pdf(invoice, language="en")
    reader = pypdf.PdfReader(io.BytesIO(pdf))

    assert len(reader.pages) >= 2
    last = reader.pages[-1].extract_text().replace("\u00a0", " ")
    assert f"Page {len(reader.pages)}" in last
    assert "Article numéro 80" in last and "Total incl. VAT" in last and "€84.90" in last
    assert "Unit price" in last  # the table header is repeated
