"""Reads of the archive for an order the caller already checked (see customerweb.access)."""

from __future__ import annotations

from suivi.orders.models import CreditNote, Invoice, Order

from .models import ArchivedDocument


def order_document(order: Order, document_id: int) -> ArchivedDocument | None:
    """The order's archived document *document_id*, or None."""
    return ArchivedDocument.objects.filter(
        order=order, shop_id=order.shop_id, pk=document_id
    ).first()


def order_invoice(order: Order) -> Invoice | None:
    """The order's invoice, or None."""
    return (
        Invoice.objects.filter(order=order, shop_id=order.shop_id)
        .select_related("shop", "order__customer")
        .first()
    )


def order_credit_notes(order: Order) -> list[CreditNote]:
    """The order's credit notes, oldest first."""
    return list(
        CreditNote.objects.filter(order=order, shop_id=order.shop_id).order_by("sequence_number")
    )


def order_credit_note(order: Order, credit_note_id: int) -> CreditNote | None:
    """The order's credit note *credit_note_id*, or None."""
    return (
        CreditNote.objects.filter(order=order, shop_id=order.shop_id, pk=credit_note_id)
        .select_related("shop", "invoice", "order__customer")
        .first()
    )


def archived(order: Order, kind: str, source_key: str) -> ArchivedDocument | None:
    """The archived copy of a source, or None if it is not archived (yet)."""
    return ArchivedDocument.objects.filter(
        shop_id=order.shop_id, order=order, kind=kind, source_key=source_key
    ).first()
