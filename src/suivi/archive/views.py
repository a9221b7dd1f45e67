"""Customer pages of the proofs of purchase: the list, downloads, the invoice and credit notes.

Every view asks for the order through :func:`order_or_404`: another customer's order (or
one that does not exist) is a 404. Files are sent as attachments, never cached.
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header

from suivi.customerweb.access import order_or_404
from suivi.orders.documents import credit_note_pdf, invoice_pdf

from . import selectors
from .collect import order_language
from .models import ArchivedDocument
from .services import EXTENSIONS, read_document
from .verification import all_ok, order_entries

Kind = ArchivedDocument.Kind


def _filename(stem: str, extension: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "document"
    return f"{safe}{extension}"


def _attachment(data: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
def document_list(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order's archived documents, their digests and places in the chain."""
    order = order_or_404(request, order_id)
    entries = order_entries(order)
    context = {
        "shop": order.shop,
        "order": order,
        "entries": entries,
        "chain_ok": all_ok(entries),
        "invoice": selectors.order_invoice(order),
        "credit_notes": selectors.order_credit_notes(order),
    }
    return render(request, "archive/list.html", context)


@login_required
def download(request: HttpRequest, order_id: int, document_id: int) -> HttpResponse:
    """One archived document, exactly as archived (404 once purged or if it was altered)."""
    order = order_or_404(request, order_id)
    document = selectors.order_document(order, document_id)
    if document is None:
        raise Http404
    data = read_document(document)
    if data is None:
        raise Http404
    extension = EXTENSIONS.get(document.content_type, ".bin")
    name = _filename(f"{order.reference}-{document.kind}-{document.seq}", extension)
    return _attachment(data, document.content_type, name)


def _archived_bytes(document: ArchivedDocument | None) -> bytes | None:
    return read_document(document) if document is not None else None


@login_required
def invoice(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order's invoice PDF: the archived copy when there is one, else rendered now."""
    order = order_or_404(request, order_id)
    found = selectors.order_invoice(order)
    if found is None:
        raise Http404
    data = _archived_bytes(selectors.archived(order, Kind.INVOICE, str(found.pk)))
    if data is None:
        data = invoice_pdf(found, language=order_language(order))
    return _attachment(data, "application/pdf", _filename(found.number, ".pdf"))


@login_required
def credit_note(request: HttpRequest, order_id: int, credit_note_id: int) -> HttpResponse:
    """One credit note PDF of the order: the archived copy when there is one."""
    order = order_or_404(request, order_id)
    found = selectors.order_credit_note(order, credit_note_id)
    if found is None:
        raise Http404
    data = _archived_bytes(selectors.archived(order, Kind.CREDIT_NOTE, str(found.pk)))
    if data is None:
        data = credit_note_pdf(found, language=order_language(order))
    return _attachment(data, "application/pdf", _filename(found.number, ".pdf"))
