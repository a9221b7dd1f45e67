"""Builders for archive tests: orders, invoices, credit notes and parcels via the services."""

from __future__ import annotations

from django.utils import timezone

from suivi.archive.models import ArchivedDocument
from suivi.archive.services import archive_document
from suivi.notifications import dispatch
from suivi.notifications.models import OutboxMessage
from suivi.orders.models import Order


def archive_text(
    order: Order, key: str, text: str = "", *, kind: str = "other"
) -> ArchivedDocument:
    """Archive a small text document for *order* under *key*."""
    return archive_document(
        order=order,
        kind=kind,
        source_key=key,
        title=f"Document {key}",
        content=(text or f"content of {key}").encode(),
        content_type="text/plain",
    )


def send_due_messages() -> int:
    """Run the notification worker until the outbox has nothing due; return messages sent."""
    OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING).update(
        not_before=timezone.now()
    )
    sent = 0
    while True:
        report = dispatch.run_once()
        if not report.claimed:
            return sent
        sent += report.sent
