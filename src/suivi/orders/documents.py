"""Invoice and credit-note PDFs, drawn with reportlab from the documents' snapshots.

The output depends only on the document, its order's lines and the shop, never on the
clock: the same input gives the same bytes (reportlab's *invariant* mode), so an archived
copy can be hashed and compared. Prices include VAT; quantities cancelled before an invoice
are struck through; the font is the Vera that reportlab ships (DejaVu Sans for what Vera
lacks). The choices are explained in ``docs/proofs-of-purchase.md``.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import reportlab
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from suivi.core.money import format_money, quantize
from suivi.shops.models import Shop

from .lifecycle import CANCELLATION_LABELS, CancellationReason
from .models import CreditNote, Invoice, Order, OrderLine

LANGUAGES = ("fr", "en")
FRANCHISE_MENTION = "TVA non applicable, art. 293 B du CGI"

_VERA_DIR = Path(reportlab.__file__).parent / "fonts"
_DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
# Spaces babel puts in French amounts that Vera lacks: a no-break space reads the same.
_SPACES = str.maketrans({"\u202f": "\u00a0", "\u2009": "\u00a0", "\u2007": "\u00a0"})

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 42.0
BOTTOM = 60.0
# Table columns: left edge of the item, right edges of the figures.
COL_ITEM = MARGIN
COL_QTY = 330.0
COL_UNIT = 410.0
COL_VAT = 460.0
COL_TOTAL = PAGE_WIDTH - MARGIN
ITEM_WIDTH = 250.0
GREY = (0.42, 0.42, 0.42)


# --- fonts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Face:
    regular: str
    bold: str
    glyphs: frozenset[int]


@cache
def _faces() -> tuple[_Face, ...]:
    """Register the fonts once: Vera (always), then DejaVu Sans if the system has it."""
    faces = []
    for name, folder, regular, bold in (
        ("SuiviVera", _VERA_DIR, "Vera.ttf", "VeraBd.ttf"),
        ("SuiviDejaVu", _DEJAVU_DIR, "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ):
        if not (folder / regular).is_file() or not (folder / bold).is_file():
            continue
        font = TTFont(name, str(folder / regular))
        pdfmetrics.registerFont(font)
        pdfmetrics.registerFont(TTFont(f"{name}-Bold", str(folder / bold)))
        glyphs = frozenset(c for c, g in font.face.charToGlyph.items() if g)
        faces.append(_Face(name, f"{name}-Bold", glyphs))
    return tuple(faces)


def _ascii_fallback(char: str) -> str:
    base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    return base or "?"


def _fitted(text: str) -> tuple[str, _Face]:
    """The face that draws every character of *text*, or Vera with replacements."""
    text = text.translate(_SPACES)
    faces = _faces()
    codes = {ord(c) for c in text}
    for face in faces:
        if codes <= face.glyphs:
            return text, face
    vera = faces[0]
    return "".join(c if ord(c) in vera.glyphs else _ascii_fallback(c) for c in text), vera


# --- formatting -------------------------------------------------------------------------


def _language(language: str) -> str:
    lang = (language or "").replace("_", "-").split("-")[0].lower()
    return lang if lang in LANGUAGES else LANGUAGES[0]


def _shop_day(moment: dt.datetime, shop: Shop) -> dt.date:
    try:
        zone = ZoneInfo(shop.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Europe/Paris")
    return moment.astimezone(zone).date() if moment.tzinfo else moment.date()


def format_day(day: dt.date, language: str) -> str:
    """``22 novembre 2026`` in French, ``22 November 2026`` in English."""
    return str(format_date(day, "d MMMM y", locale=_language(language)))


def _rate(rate: Decimal, language: str) -> str:
    number = format_decimal(rate, format="#,##0.##", locale=language)
    return f"{number}\u00a0%" if language == "fr" else f"{number}%"


# --- content ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table: what is invoiced (or credited), and what was struck."""

    name: str
    sku: str
    quantity: int
    unit_price: Decimal
    tax_rate: Decimal
    amount: Decimal
    original_quantity: int | None = None  # struck when it differs from *quantity*
    struck: bool = False  # cancelled whole: drawn crossed out, counts for nothing


@dataclass(frozen=True)
class VatLine:
    rate: Decimal
    base: Decimal  # excl. VAT
    vat: Decimal


def _snapshot_row(data: Mapping[str, Any], original: int | None = None) -> Row:
    quantity = int(data["quantity"])
    return Row(
        name=str(data.get("name", "")),
        sku=str(data.get("sku", "")),
        quantity=quantity,
        unit_price=Decimal(str(data["unit_price"])),
        tax_rate=Decimal(str(data.get("tax_rate", "0"))),
        amount=Decimal(str(data["amount"])),
        original_quantity=original if original is not None and original != quantity else None,
    )


def invoice_rows(invoice: Invoice, order_lines: Sequence[OrderLine]) -> list[Row]:
    """The invoice's lines with what was cancelled before it was issued, struck.

    The snapshot holds the quantities invoiced; the ordered quantity (never changed after
    the order is created) tells what was cancelled before. Later cancellations are credit
    notes and do not change the invoice.
    """
    snapshot = [line for line in invoice.lines if isinstance(line, dict)]
    if not all("position" in line for line in snapshot):
        return [_snapshot_row(line) for line in snapshot]
    by_position = {int(line["position"]): line for line in snapshot}
    rows: list[Row] = []
    for line in order_lines:
        data = by_position.pop(line.position, None)
        if data is not None:
            rows.append(_snapshot_row(data, line.quantity_ordered))
            continue
        rows.append(
            Row(
                name=line.name,
                sku=line.sku,
                quantity=0,
                unit_price=line.unit_price,
                tax_rate=line.tax_rate,
                amount=quantize(line.unit_price * line.quantity_ordered, invoice.currency),
                original_quantity=line.quantity_ordered,
                struck=True,
            )
        )
    rows.extend(_snapshot_row(data) for _pos, data in sorted(by_position.items()))
    return rows


def _by_rate(rows: Iterable[Row]) -> dict[Decimal, Decimal]:
    amounts: dict[Decimal, Decimal] = defaultdict(Decimal)
    for row in rows:
        if not row.struck:
            amounts[row.tax_rate] += row.amount
    return amounts


def vat_breakdown(
    rows: Iterable[Row],
    shipping: Decimal,
    currency: str,
    *,
    shipping_weights: Iterable[Row] = (),
) -> list[VatLine]:
    """VAT per rate of VAT-inclusive *rows* and *shipping*, highest rate first.

    Shipping is shared across the rates in proportion to the goods' amounts (the rounding
    remainder goes to the largest share); *shipping_weights* stand in when there are no
    goods (a credit note of shipping only weighs with its invoice's lines).
    """
    gross = _by_rate(rows)
    if shipping:
        weights = _by_rate(shipping_weights)
        if any(gross.values()):
            base = dict(gross)
        else:
            base = weights if any(weights.values()) else {Decimal("0"): Decimal("1")}
        total = sum(base.values(), Decimal("0"))
        ordered = sorted(base.items(), key=lambda item: (-item[1], -item[0]))
        given = Decimal("0")
        for rate, weight in ordered[1:]:
            share = quantize(shipping * weight / total, currency) if total else Decimal("0")
            gross[rate] += share
            given += share
        gross[ordered[0][0]] += shipping - given
    lines = []
    for rate, amount in sorted(gross.items(), key=lambda item: -item[0]):
        vat = quantize(amount * rate / (Decimal("100") + rate), currency)
        lines.append(VatLine(rate=rate, base=amount - vat, vat=vat))
    return lines


def _buyer_lines(order: Order, language: str) -> list[str]:
    customer = order.customer
    name = customer.full_name if customer is not None else ""
    lines = [name or order.ship_name, order.email]
    if order.ship_line1:
        country = Locale(language).territories.get(order.ship_country, order.ship_country)
        lines += [
            order.ship_name if order.ship_name != lines[0] else "",
            order.ship_line1,
            order.ship_line2,
            f"{order.ship_postcode} {order.ship_city}".strip(),
            country if order.ship_country else "",
        ]
    return [line for line in lines if line]


def _seller_lines(shop: Shop) -> list[str]:
    lines = [line.strip() for line in (shop.legal_address or "").splitlines()]
    if shop.vat_number.strip():
        lines.append(_("VAT number: %(number)s") % {"number": shop.vat_number.strip()})
    return [line for line in lines if line]


def _reason_label(reason: str) -> str:
    try:
        return str(CANCELLATION_LABELS[CancellationReason(reason)])
    except ValueError:
        return reason


# --- drawing ----------------------------------------------------------------------------


class _Page:
    """A canvas with text helpers that pick the font per string and break pages."""

    def __init__(self, *, title: str, author: str, subject: str, footer: str) -> None:
        self.buffer = io.BytesIO()
        self.canvas = Canvas(self.buffer, pagesize=A4, invariant=1, pageCompression=1)
        self.canvas.setTitle(title)
        self.canvas.setAuthor(author)
        self.canvas.setSubject(subject)
        self.canvas.setCreator("Suivi")
        self.footer = footer
        self.page = 1
        self.y = PAGE_HEIGHT - MARGIN

    def text(
        self,
        x: float,
        y: float,
        value: str,
        *,
        size: float = 9.5,
        bold: bool = False,
        align: str = "left",
        grey: bool = False,
    ) -> float:
        """Draw *value*; return its width."""
        value, face = _fitted(value)
        font = face.bold if bold else face.regular
        width = float(pdfmetrics.stringWidth(value, font, size))
        self.canvas.setFont(font, size)
        self.canvas.setFillColorRGB(*(GREY if grey else (0, 0, 0)))
        left = x - width if align == "right" else x
        self.canvas.drawString(left, y, value)
        return width

    def width(self, value: str, size: float, bold: bool = False) -> float:
        value, face = _fitted(value)
        return float(pdfmetrics.stringWidth(value, face.bold if bold else face.regular, size))

    def strike(self, x1: float, x2: float, y: float, size: float) -> None:
        """Draw a line through text of *size* whose baseline is *y*."""
        self.canvas.setStrokeColorRGB(0, 0, 0)
        self.canvas.setLineWidth(0.8)
        middle = y + size * 0.3
        self.canvas.line(x1, middle, x2, middle)

    def wrap(self, value: str, width: float, size: float, bold: bool = False) -> list[str]:
        value, face = _fitted(value)
        font = face.bold if bold else face.regular
        words, lines, current = value.split(), [], ""
        for word in words:
            candidate = f"{current} {word}".strip()
            if current and pdfmetrics.stringWidth(candidate, font, size) > width:
                lines.append(current)
                current = word
            else:
                current = candidate
        return [*lines, current] if current else lines or [""]

    def need(self, height: float, on_new_page: Any = None) -> None:
        """Start a new page when *height* does not fit above the footer."""
        if self.y - height >= BOTTOM:
            return
        self._footer()
        self.canvas.showPage()
        self.page += 1
        self.y = PAGE_HEIGHT - MARGIN
        if on_new_page is not None:
            on_new_page()

    def rule(self, y: float, width: float = 0.5) -> None:
        self.canvas.setStrokeColorRGB(*GREY)
        self.canvas.setLineWidth(width)
        self.canvas.line(MARGIN, y, PAGE_WIDTH - MARGIN, y)

    def _footer(self) -> None:
        self.text(MARGIN, 30, self.footer, size=7.5, grey=True)
        self.text(
            PAGE_WIDTH - MARGIN,
            30,
            _("Page %(page)s") % {"page": self.page},
            size=7.5,
            grey=True,
            align="right",
        )

    def finish(self) -> bytes:
        self._footer()
        self.canvas.showPage()
        self.canvas.save()
        return self.buffer.getvalue()


@dataclass(frozen=True)
class _Document:
    """Everything a PDF shows, already in the reader's language."""

    shop: Shop
    order: Order
    title: str
    number: str
    facts: list[tuple[str, str]]  # label, value under the number
    rows: list[Row]
    shipping: Decimal
    total: Decimal
    currency: str
    vat: list[VatLine]
    franchise: bool
    notes: list[str]
    language: str


def _draw(doc: _Document) -> bytes:
    shop, lang = doc.shop, doc.language
    seller = shop.legal_name or shop.name
    c = _Page(
        title=f"{doc.title} {doc.number}",
        author=seller,
        subject=_("Order %(reference)s") % {"reference": doc.order.reference},
        footer=f"{seller} — {doc.title} {doc.number}",
    )
    # Seller (left) and the document (right).
    top = c.y
    c.text(MARGIN, top - 4, seller, size=13, bold=True)
    y = top - 20
    for line in _seller_lines(shop):
        c.text(MARGIN, y, line, size=9)
        y -= 12
    right = PAGE_WIDTH - MARGIN
    c.text(right, top - 6, doc.title.upper(), size=18, bold=True, align="right")
    ry = top - 24
    c.text(
        right, ry, _("No. %(number)s") % {"number": doc.number}, size=11, bold=True, align="right"
    )
    ry -= 14
    for label, value in doc.facts:
        c.text(right, ry, f"{label} {value}", size=9, align="right")
        ry -= 12
    y = min(y, ry) - 14
    # Buyer.
    c.text(MARGIN, y, _("Customer"), size=9, bold=True, grey=True)
    y -= 13
    for line in _buyer_lines(doc.order, lang):
        c.text(MARGIN, y, line, size=9.5)
        y -= 12
    c.y = y - 16

    def header() -> None:
        y = c.y
        c.text(COL_ITEM, y, _("Item"), size=8.5, bold=True, grey=True)
        c.text(COL_QTY, y, _("Qty"), size=8.5, bold=True, grey=True, align="right")
        c.text(COL_UNIT, y, _("Unit price"), size=8.5, bold=True, grey=True, align="right")
        c.text(COL_VAT, y, _("VAT"), size=8.5, bold=True, grey=True, align="right")
        c.text(COL_TOTAL, y, _("Amount"), size=8.5, bold=True, grey=True, align="right")
        c.rule(y - 5)
        c.y = y - 18

    header()
    for row in doc.rows:
        _draw_row(c, row, doc, header)
    c.rule(c.y + 8)
    c.y -= 6
    _draw_totals(c, doc)
    for note in doc.notes:
        for line in c.wrap(note, PAGE_WIDTH - 2 * MARGIN, 8.5):
            c.need(12)
            c.text(MARGIN, c.y, line, size=8.5)
            c.y -= 12
        c.y -= 4
    return c.finish()


def _draw_row(c: _Page, row: Row, doc: _Document, header: Any) -> None:
    lang, currency = doc.language, doc.currency
    names = c.wrap(row.name, ITEM_WIDTH, 9.5)
    height = 12 * len(names) + (11 if row.sku else 0) + 6
    c.need(height, header)
    y = c.y
    grey = row.struck
    for i, line in enumerate(names):
        width = c.text(COL_ITEM, y - 12 * i, line, grey=grey)
        if row.struck:
            c.strike(COL_ITEM, COL_ITEM + width, y - 12 * i, 9.5)
    if row.sku:
        c.text(COL_ITEM, y - 12 * len(names), row.sku, size=7.5, grey=True)
    # Quantity: the original struck, then what is left (or nothing when cancelled whole).
    if row.original_quantity is not None:
        kept = "" if row.struck else str(row.quantity)
        kept_width = c.width(kept, 9.5) + 5.0 if kept else 0.0
        struck_right = COL_QTY - kept_width
        width = c.text(struck_right, y, str(row.original_quantity), align="right", grey=True)
        c.strike(struck_right - width, struck_right, y, 9.5)
        if kept:
            c.text(COL_QTY, y, kept, align="right")
    else:
        c.text(COL_QTY, y, str(row.quantity), align="right")
    c.text(COL_UNIT, y, format_money(row.unit_price, currency, lang), align="right", grey=grey)
    vat = "—" if doc.franchise else _rate(row.tax_rate, lang)
    c.text(COL_VAT, y, vat, align="right", grey=grey)
    amount = format_money(row.amount, currency, lang)
    width = c.text(COL_TOTAL, y, amount, align="right", grey=grey)
    if row.struck:
        c.strike(COL_QTY + 4, COL_TOTAL, y, 9.5)  # across the figures too
        c.strike(COL_TOTAL - width, COL_TOTAL, y, 9.5)
    c.y = y - height


def _draw_totals(c: _Page, doc: _Document) -> None:
    lang, currency = doc.language, doc.currency
    goods = sum((r.amount for r in doc.rows if not r.struck), Decimal("0"))
    lines: list[tuple[str, Decimal, bool]] = [(_("Items"), goods, False)]
    if doc.shipping:
        lines.append((_("Shipping"), doc.shipping, False))
    if doc.franchise:
        lines.append((_("Total"), doc.total, True))
    else:
        vat_total = sum((v.vat for v in doc.vat), Decimal("0"))
        lines.append((_("Total excl. VAT"), doc.total - vat_total, False))
        for v in doc.vat:
            label = _("VAT %(rate)s on %(base)s") % {
                "rate": _rate(v.rate, lang),
                "base": format_money(v.base, currency, lang),
            }
            lines.append((label, v.vat, False))
        lines.append((_("Total incl. VAT"), doc.total, True))
    c.need(14 * len(lines) + 8)
    for label, amount, strong in lines:
        size = 11 if strong else 9.5
        c.text(COL_VAT + 20, c.y, label, size=size, bold=strong, align="right")
        c.text(
            COL_TOTAL,
            c.y,
            format_money(amount, currency, lang),
            size=size,
            bold=strong,
            align="right",
        )
        c.y -= 16 if strong else 13
    c.y -= 10


# --- public -----------------------------------------------------------------------------


def _is_franchise(shop: Shop, rows: Iterable[Row]) -> bool:
    return not shop.vat_number.strip() and all(r.tax_rate == 0 for r in rows)


def _franchise_notes(franchise: bool, lang: str) -> list[str]:
    """The French legal wording, glossed in English on English documents."""
    if not franchise:
        return []
    gloss = _("(VAT not applicable, article 293 B of the French tax code.)")
    return [FRANCHISE_MENTION] if lang == "fr" else [FRANCHISE_MENTION, gloss]


def _order_lines(order: Order) -> list[OrderLine]:
    return sorted(order.lines.all(), key=lambda line: line.position)


def invoice_pdf(invoice: Invoice, *, language: str) -> bytes:
    """Render *invoice* as a PDF in *language* (``fr`` or ``en``); same input, same bytes."""
    lang = _language(language)
    order, shop = invoice.order, invoice.shop
    with translation.override(lang):
        rows = invoice_rows(invoice, _order_lines(order))
        franchise = _is_franchise(shop, rows)
        notes = []
        if any(r.original_quantity is not None for r in rows):
            notes.append(
                _(
                    "Struck-through quantities were cancelled before this invoice was issued"
                    " and are not invoiced."
                )
            )
        notes += [_("Prices include VAT."), *_franchise_notes(franchise, lang)]
        doc = _Document(
            shop=shop,
            order=order,
            title=_("Invoice"),
            number=invoice.number,
            facts=[
                (_("Date:"), format_day(_shop_day(invoice.issued_at, shop), lang)),
                (_("Order:"), order.reference),
                (_("Order date:"), format_day(_shop_day(order.placed_at, shop), lang)),
            ],
            rows=rows,
            shipping=invoice.shipping_amount,
            total=invoice.total_amount,
            currency=invoice.currency,
            vat=vat_breakdown(rows, invoice.shipping_amount, invoice.currency),
            franchise=franchise,
            notes=notes,
            language=lang,
        )
        return _draw(doc)


def credit_note_pdf(credit_note: CreditNote, *, language: str) -> bytes:
    """Render *credit_note* as a PDF in *language*: what is credited, and on which invoice."""
    lang = _language(language)
    note = credit_note
    order, shop, invoice = note.order, note.shop, note.invoice
    with translation.override(lang):
        rows = [_snapshot_row(line) for line in note.lines if isinstance(line, dict)]
        invoiced = [_snapshot_row(line) for line in invoice.lines if isinstance(line, dict)]
        franchise = _is_franchise(shop, [*rows, *invoiced])
        notes = [
            _("This credit note corrects invoice %(number)s of %(date)s.")
            % {
                "number": invoice.number,
                "date": format_day(_shop_day(invoice.issued_at, shop), lang),
            },
            _("Amounts are credited to the customer. Prices include VAT."),
        ]
        if note.reason:
            notes.insert(1, _("Reason: %(reason)s") % {"reason": _reason_label(note.reason)})
        notes += _franchise_notes(franchise, lang)
        facts = [
            (_("Date:"), format_day(_shop_day(note.issued_at, shop), lang)),
            (_("Invoice:"), invoice.number),
            (_("Order:"), order.reference),
        ]
        doc = _Document(
            shop=shop,
            order=order,
            title=_("Credit note"),
            number=note.number,
            facts=facts,
            rows=rows,
            shipping=note.shipping_amount,
            total=note.total_amount,
            currency=note.currency,
            vat=vat_breakdown(rows, note.shipping_amount, note.currency, shipping_weights=invoiced),
            franchise=franchise,
            notes=notes,
            language=lang,
        )
        return _draw(doc)
