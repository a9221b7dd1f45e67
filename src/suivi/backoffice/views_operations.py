"""Operations: every problem of the shop on one page — stalled parcels, parcels in exception
or after a failed attempt, orders in exception, dead and failing notifications (with a
"Retry" button each), disabled webhook endpoints. Each section shows at most
:data:`CAP` rows with the total count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from suivi.carriers.vocabulary import Status as ParcelStatus
from suivi.core.errors import DomainError, NotFound
from suivi.notifications import services as notifications
from suivi.notifications.catalog import EMAIL, PUSH, SMS, WEBHOOK
from suivi.notifications.models import OutboxMessage, WebhookEndpoint
from suivi.orders.models import Order
from suivi.shipments.models import Parcel
from suivi.shipments.selectors import parcel_page

from .access import Staff, staff_view

CAP = 50
MessageStatus = OutboxMessage.Status


@dataclass(frozen=True)
class Section:
    rows: list[Any]
    count: int

    @property
    def truncated(self) -> bool:
        return self.count > len(self.rows)


def _section(queryset: QuerySet[Any]) -> Section:
    return Section(rows=list(queryset[:CAP]), count=queryset.count())


def order_url(slug: str, order: Order | None) -> str:
    """The order's back-office page (the orders list searched by reference as a fallback)."""
    if order is None:
        return ""
    try:
        return reverse("backoffice:orders-detail", kwargs={"slug": slug, "order_id": order.pk})
    except NoReverseMatch:
        base = reverse("backoffice:orders-list", kwargs={"slug": slug})
        return f"{base}?{urlencode({'q': order.reference})}"


def mask_recipient(channel: str, recipient: str) -> str:
    """A recipient as staff may glance at it: enough to recognise, not to copy."""
    if channel == EMAIL and "@" in recipient:
        local, _at, domain = recipient.partition("@")
        return f"{local[:1]}•••@{domain}"
    if channel == SMS:
        return f"{recipient[:3]}•••{recipient[-2:]}" if len(recipient) > 6 else "•••"
    if channel == WEBHOOK:
        return urlsplit(recipient).hostname or "•••"
    if channel == PUSH:
        return _("browser subscription")
    return "•••"


@dataclass(frozen=True)
class ParcelRow:
    parcel: Parcel
    order_url: str


@dataclass(frozen=True)
class MessageRow:
    message: OutboxMessage
    recipient: str
    order_url: str


def _parcel_rows(slug: str, parcels: list[Parcel]) -> list[ParcelRow]:
    return [ParcelRow(parcel=p, order_url=order_url(slug, p.order)) for p in parcels]


def _message_rows(slug: str, rows: list[OutboxMessage]) -> list[MessageRow]:
    return [
        MessageRow(
            message=m,
            recipient=mask_recipient(m.channel, m.recipient),
            order_url=order_url(slug, m.order),
        )
        for m in rows
    ]


@require_GET
@staff_view("operations.view")
def overview(request: HttpRequest, staff: Staff) -> HttpResponse:
    shop, slug = staff.shop, staff.shop.slug
    stalled_rows, _next = parcel_page(shop=shop, stalled=True, limit=CAP)
    # parcel_page gives parcels without their orders: fetch those in one query.
    orders = {
        o.pk: o for o in Order.objects.filter(shop=shop, pk__in={p.order_id for p in stalled_rows})
    }
    for parcel in stalled_rows:
        parcel.order = orders[parcel.order_id]
    stalled = Section(
        rows=_parcel_rows(slug, stalled_rows),
        count=Parcel.objects.filter(shop=shop, stalled_at__isnull=False).count(),
    )
    troubled = _section(
        Parcel.objects.filter(
            shop=shop, status__in=[ParcelStatus.EXCEPTION, ParcelStatus.FAILED_ATTEMPT]
        )
        .select_related("order")
        .order_by("-status_at", "-pk")
    )
    troubled = Section(rows=_parcel_rows(slug, troubled.rows), count=troubled.count)
    exceptions = _section(
        Order.objects.filter(shop=shop).exclude(exception_reason="").order_by("-updated_at", "-pk")
    )
    order_rows = [{"order": o, "url": order_url(slug, o)} for o in exceptions.rows]
    messages_qs = OutboxMessage.objects.filter(shop=shop).select_related("order")
    dead = _section(messages_qs.filter(status=MessageStatus.DEAD).order_by("-created_at", "-pk"))
    failing = _section(
        messages_qs.filter(
            status__in=[MessageStatus.PENDING, MessageStatus.SENDING], attempts__gt=0
        ).order_by("-created_at", "-pk")
    )
    disabled = _section(
        WebhookEndpoint.objects.filter(shop=shop, enabled=False).order_by("-disabled_at", "-pk")
    )
    context = {
        "nav": "operations",
        "cap": CAP,
        "stalled": stalled,
        "troubled": troubled,
        "exceptions": Section(rows=order_rows, count=exceptions.count),
        "dead": Section(rows=_message_rows(slug, dead.rows), count=dead.count),
        "failing": Section(rows=_message_rows(slug, failing.rows), count=failing.count),
        "disabled": disabled,
        "can_retry": staff.can("operations.retry"),
        "can_webhooks": staff.can("settings.webhooks"),
    }
    return render(request, "backoffice/operations/overview.html", context)


@require_POST
@staff_view("operations.retry")
def retry(request: HttpRequest, staff: Staff, message_id: int) -> HttpResponse:
    """Put a dead message back in the queue (its status becomes pending, due now)."""
    try:
        notifications.message_retry(shop=staff.shop, message_id=message_id, actor=staff.actor)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The message is queued to be sent again."))
    return redirect(reverse("backoffice:operations", kwargs={"slug": staff.shop.slug}))
