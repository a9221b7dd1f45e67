"""The orders area: the list (search, filters, bulk actions) and the order page with its
actions (lifecycle buttons, shipping, cancellations, resending a message).

Every write goes through the domain services with ``actor=staff.actor``; every read starts
from ``staff.shop``, so another shop's order id is a 404 on every URL.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy, to_locale
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from suivi.claims.models import Claim
from suivi.core.errors import DomainError, NotFound
from suivi.core.money import format_money
from suivi.notifications.catalog import CHANNEL_LABELS, CUSTOMER_CHANNELS, EVENTS
from suivi.notifications.models import OutboxMessage
from suivi.notifications.resend import is_resend, message_resend
from suivi.notifications.services import order_messages
from suivi.orders import lifecycle
from suivi.orders.batch import MAX_BATCH, ActionItem, order_apply_actions
from suivi.orders.errors import ConcurrentChange
from suivi.orders.lifecycle import Action, CancellationReason, Mode, Status
from suivi.orders.models import Order, OrderEvent, OrderLine
from suivi.orders.selectors import OrderDetail, order_detail, order_events
from suivi.orders.services import (
    LineCancellation,
    cancellation_outcome,
    order_apply_action,
    order_cancel,
    order_cancel_lines,
)
from suivi.returns.lifecycle import STATUS_LABELS as RETURN_STATUS_LABELS
from suivi.returns.lifecycle import ReturnStatus
from suivi.returns.selectors import returns_of_order
from suivi.shipments.errors import CarrierNotDetected
from suivi.shipments.selectors import parcels_of_order, timeline
from suivi.shipments.services import parcels_create
from suivi.shops.models import Location

from . import orders_query
from .access import Staff, staff_view
from .forms_orders import (
    BULK_ACTIONS,
    MODE_LABELS,
    REASON_LABELS,
    ActionForm,
    BulkActionForm,
    CancelForm,
    CancelLineForm,
    OrderFilterForm,
    ShipForm,
    action_label,
)

SHIPPED_STATUSES = frozenset(
    {Status.SHIPPED, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, Status.AVAILABLE_FOR_PICKUP}
)
RESENDABLE = frozenset(
    {OutboxMessage.Status.SENT, OutboxMessage.Status.DELIVERED, OutboxMessage.Status.DEAD}
)
EVENT_LABELS = {
    "order.created": gettext_lazy("Order received"),
    "order.invoiced": gettext_lazy("Invoice issued"),
    "order.credit_note_issued": gettext_lazy("Credit note issued"),
    "order.released": gettext_lazy("Released to the preparation queue"),
    "order.lines_cancelled": gettext_lazy("Lines cancelled"),
    "order.cancelled": gettext_lazy("Order cancelled"),
    "order.parcel_added": gettext_lazy("Parcel added"),
    "order.exception": gettext_lazy("Problem reported"),
    "order.exception_cleared": gettext_lazy("Problem cleared"),
}
STALE = gettext_lazy(
    "The order changed meanwhile: nothing was changed. Check its current state and try again."
)


# --- helpers ------------------------------------------------------------------------------


def _money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency, to_locale(get_language() or "fr"))


def _order_or_404(staff: Staff, order_id: int) -> Order:
    order = Order.objects.filter(shop=staff.shop, pk=order_id).first()
    if order is None:
        raise Http404
    return order


def _detail_or_404(staff: Staff, order_id: int) -> OrderDetail:
    try:
        return order_detail(shop=staff.shop, order_id=order_id)
    except NotFound:
        raise Http404 from None


def _detail_url(staff: Staff, order_id: int) -> str:
    return reverse("backoffice:orders-detail", args=[staff.shop.slug, order_id])


def _status_view(status: str) -> dict[str, Any]:
    info = lifecycle.info(status)
    return {"code": status, "label": info.label, "internal": info.internal}


def _error(request: HttpRequest, exc: DomainError) -> None:
    messages.error(request, str(exc))


# --- the list -----------------------------------------------------------------------------


def _filters(form: OrderFilterForm) -> orders_query.OrderFilters:
    data = form.cleaned_data
    return orders_query.OrderFilters(
        q=(data.get("q") or "").strip(),
        statuses=tuple(data.get("status") or ()),
        mode=data.get("mode") or "",
        carrier=data.get("carrier") or "",
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
        exception=bool(data.get("exception")),
        stalled=bool(data.get("stalled")),
        partially_cancelled=bool(data.get("partial")),
        sort=data.get("sort") or orders_query.DEFAULT_SORT,
    )


def _query_with(request: HttpRequest, **changes: str | None) -> str:
    query = request.GET.copy()
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@require_GET
@staff_view("orders.view")
def order_list(request: HttpRequest, staff: Staff) -> HttpResponse:
    """The shop's orders: search, filters, sort, 50 a page, and bulk lifecycle actions."""
    form = OrderFilterForm(request.GET)
    rows: list[dict[str, Any]] = []
    page = None
    status = 200
    if form.is_valid():
        page = orders_query.order_page(
            shop=staff.shop, filters=_filters(form), cursor=request.GET.get("cursor") or None
        )
        rows = [
            {
                "order": row.order,
                "parcels": row.parcels,
                "stalled": row.stalled,
                "status": _status_view(row.order.status),
                "mode": MODE_LABELS[Mode(row.order.fulfilment_mode)],
                "total": _money(row.order.total_amount, row.order.currency),
            }
            for row in page.rows
        ]
    else:
        status = 400
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(
        request,
        "backoffice/orders/list.html",
        {
            "nav": "orders",
            "form": form,
            "rows": rows,
            "page": page,
            "next_url": _query_with(request, cursor=page.next_cursor)
            if page and page.next_cursor
            else None,
            "first_url": _query_with(request, cursor=None) if request.GET.get("cursor") else None,
            "query": query.urlencode(),
            "bulk_form": BulkActionForm(),
            "can_fulfil": staff.can("orders.fulfil"),
        },
        status=status,
    )


@require_POST
@staff_view("orders.fulfil")
def order_bulk(request: HttpRequest, staff: Staff) -> HttpResponse:
    """Apply one lifecycle action to the ticked orders; report successes and refusals."""
    query = QueryDict(request.POST.get("query", "")).urlencode()
    back = reverse("backoffice:orders-list", args=[staff.shop.slug]) + (
        f"?{query}" if query else ""
    )
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose an action among the list."))
        return redirect(back)
    try:
        ids = list(dict.fromkeys(int(value) for value in request.POST.getlist("order")))
    except ValueError:
        messages.error(request, _("Tick orders of the list."))
        return redirect(back)
    if not ids:
        messages.error(request, _("Tick at least one order."))
        return redirect(back)
    if len(ids) > MAX_BATCH:
        messages.error(request, _("Tick at most %(max)s orders at once.") % {"max": MAX_BATCH})
        return redirect(back)
    action = Action(form.cleaned_data["action"])
    items = [ActionItem(order_id=pk, action=action) for pk in ids]
    try:
        results = order_apply_actions(shop=staff.shop, items=items, actor=staff.actor)
    except DomainError as exc:
        _error(request, exc)
        return redirect(back)
    references = dict(
        Order.objects.filter(shop=staff.shop, pk__in=ids).values_list("pk", "reference")
    )
    done = sum(1 for result in results if isinstance(result, Order))
    label = BULK_ACTIONS[action]
    if done:
        messages.success(
            request,
            _("%(action)s: %(count)s of %(total)s orders done.")
            % {"action": label, "count": done, "total": len(ids)},
        )
    for item, result in zip(items, results, strict=True):
        if isinstance(result, DomainError):
            messages.error(
                request,
                _("%(reference)s refused: %(reason)s")
                % {"reference": references.get(item.order_id, f"#{item.order_id}"),
                   "reason": str(result)},
            )  # fmt: skip
    return redirect(back)


# --- the order page -----------------------------------------------------------------------


def _all_events(staff: Staff, order_id: int) -> list[OrderEvent]:
    found: list[OrderEvent] = []
    after: int | None = None
    while True:
        page = order_events(shop=staff.shop, order_id=order_id, after_id=after, limit=200)
        found.extend(page.items)
        if not page.has_more:
            return found
        after = page.last_id


def _actors(events: Iterable[OrderEvent]) -> dict[str, str]:
    """Readable authors: a staff member's email in place of ``staff:<id>``."""
    ids = {
        int(e.actor.split(":", 1)[1])
        for e in events
        if e.actor.startswith("staff:") and e.actor.split(":", 1)[1].isdigit()
    }
    users = get_user_model().objects.filter(pk__in=ids).values_list("pk", "email")
    names = {f"staff:{pk}": email for pk, email in users}
    names["system"] = _("System")
    return names


def _event_view(event: OrderEvent, actors: dict[str, str], currency: str) -> dict[str, Any]:
    payload = event.payload if isinstance(event.payload, dict) else {}
    target = payload.get("to")
    status = None
    if isinstance(target, str) and target in lifecycle.STATUSES:
        status = _status_view(target)
    details: list[str] = []
    if event.type == "order.cancelled" or event.type == "order.lines_cancelled":
        reason = str(payload.get("reason") or "")
        if reason in {r.value for r in CancellationReason}:
            details.append(str(REASON_LABELS[CancellationReason(reason)]))
        for line in payload.get("lines") or []:
            if isinstance(line, dict):
                details.append(f"{line.get('quantity')} × {line.get('sku')}")
        if payload.get("note"):
            details.append(str(payload["note"]))
    for key in ("warehouse", "invoice_number", "credit_note_number", "reason"):
        value = payload.get(key)
        if value and event.type not in ("order.cancelled", "order.lines_cancelled"):
            details.append(str(value))
    for parcel in payload.get("parcels") or []:
        if isinstance(parcel, dict):
            details.append(f"{parcel.get('carrier')} {parcel.get('tracking_number')}")
    return {
        "event": event,
        "label": status["label"] if status else EVENT_LABELS.get(event.type, event.type),
        "status": status,
        "details": details,
        "actor": actors.get(event.actor, event.actor),
    }


def _message_view(message: OutboxMessage, can_resend: bool) -> dict[str, Any]:
    event = EVENTS.get(message.event_key)
    return {
        "message": message,
        "channel": CHANNEL_LABELS.get(message.channel, message.channel),
        "event": event.label if event else message.event_key or message.event_type,
        "status": message.get_status_display(),
        "resend": is_resend(message),
        "can_resend": can_resend
        and message.channel in CUSTOMER_CHANNELS
        and message.status in RESENDABLE,
    }


def _actions(staff: Staff, order: Order) -> list[dict[str, Any]]:
    if not staff.can("orders.fulfil"):
        return []
    return [
        {"action": action.value, "label": action_label(action, order.fulfilment_mode)}
        for action in lifecycle.available_actions(order.fulfilment_mode, order.status)
        if action not in (Action.CANCEL, Action.SHIP)
    ]


def _ship_mode(order: Order) -> str | None:
    """Say how the order may take parcels: "ship" (first ones), "add" (more) or None."""
    if order.fulfilment_mode != Mode.DELIVERY:
        return None
    if lifecycle.action_allowed(Action.SHIP, order.fulfilment_mode, order.status):
        return "ship"
    if Status(order.status) in SHIPPED_STATUSES:
        return "add"
    return None


def _lines_view(detail: OrderDetail) -> list[dict[str, Any]]:
    currency = detail.order.currency
    cancellable = Status(detail.order.status) in lifecycle.CANCELLABLE
    return [
        {
            "line": line,
            "unit_price": _money(line.unit_price, currency),
            "total": _money(line.unit_price * line.quantity_active, currency),
            "struck": line.quantity_active == 0,
            "cancellable": cancellable and line.quantity_remaining > 0,
        }
        for line in detail.lines
    ]


@require_GET
@staff_view("orders.view")
def order_page(request: HttpRequest, staff: Staff, order_id: int) -> HttpResponse:
    """Everything about one order, with the actions the member may take now."""
    detail = _detail_or_404(staff, order_id)
    order = detail.order
    events = _all_events(staff, order.pk)
    actors = _actors(events)
    locations = {
        loc.pk: loc
        for loc in Location.objects.filter(
            shop=staff.shop, pk__in=[order.pickup_location_id, order.warehouse_id]
        )
    }
    parcels = parcels_of_order(shop=staff.shop, order_id=order.pk)
    can_resend = staff.can("orders.resend_message")
    currency = order.currency
    ship_mode = _ship_mode(order) if staff.can("orders.fulfil") else None
    context = {
        "nav": "orders",
        "detail": detail,
        "order": order,
        "status": _status_view(order.status),
        "mode": MODE_LABELS[Mode(order.fulfilment_mode)],
        "pickup_location": locations.get(order.pickup_location_id or 0),
        "warehouse": locations.get(order.warehouse_id or 0),
        "lines": _lines_view(detail),
        "totals": {
            "lines": _money(order.lines_amount, currency),
            "shipping": _money(order.shipping_amount, currency),
            "total": _money(order.total_amount, currency),
        },
        "credit_notes": [
            {"number": note.number, "total": _money(note.total_amount, currency)}
            for note in detail.credit_notes
        ],
        "invoice": (
            {
                "number": detail.invoice.number,
                "total": _money(detail.invoice.total_amount, currency),
            }
            if detail.invoice
            else None
        ),
        "events": [_event_view(e, actors, currency) for e in events],
        "parcels": [{"parcel": p, "timeline": timeline(p)} for p in parcels],
        "messages_log": [
            _message_view(m, can_resend) for m in order_messages(shop=staff.shop, order_id=order.pk)
        ],
        "claims": list(Claim.objects.filter(shop=staff.shop, order_id=order.pk).order_by("-pk")),
        "returns": [
            {"ret": ret, "label": RETURN_STATUS_LABELS[ReturnStatus(ret.status)]}
            for ret in returns_of_order(order).order_by("-pk")
        ],
        "actions": _actions(staff, order),
        "warehouses": list(
            Location.objects.filter(
                shop=staff.shop, kind=Location.Kind.WAREHOUSE, is_active=True
            ).order_by("name")
        ),
        "ship_mode": ship_mode,
        "ship_form": ShipForm(lines=detail.lines) if ship_mode else None,
        "can_cancel": staff.can("orders.cancel") and Status(order.status) in lifecycle.CANCELLABLE,
    }
    return render(request, "backoffice/orders/detail.html", context)


# --- lifecycle buttons --------------------------------------------------------------------


@require_POST
@staff_view("orders.fulfil")
def order_action(request: HttpRequest, staff: Staff, order_id: int) -> HttpResponse:
    """Apply one lifecycle action at the version the page showed."""
    order = _order_or_404(staff, order_id)
    back = _detail_url(staff, order.pk)
    form = ActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("This action is not available here."))
        return redirect(back)
    action = Action(form.cleaned_data["action"])
    payload: dict[str, Any] = {}
    warehouse = (form.cleaned_data.get("warehouse") or "").strip()
    if action is Action.ROUTE and warehouse:
        payload["warehouse"] = warehouse
    try:
        order_apply_action(
            shop=staff.shop,
            order_id=order.pk,
            action=action,
            actor=staff.actor,
            expected_version=form.cleaned_data["expected_version"],
            payload=payload,
        )
    except ConcurrentChange:
        messages.error(request, STALE)
        return redirect(back)
    except DomainError as exc:
        _error(request, exc)
        return redirect(back)
    updated = Order.objects.get(pk=order.pk)
    messages.success(
        request,
        _("%(reference)s is now: %(status)s.")
        % {"reference": order.reference, "status": lifecycle.info(updated.status).label},
    )
    return redirect(back)


# --- shipping -----------------------------------------------------------------------------


def _ship_page(
    request: HttpRequest, staff: Staff, detail: OrderDetail, form: ShipForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "backoffice/orders/ship.html",
        {
            "nav": "orders",
            "order": detail.order,
            "form": form,
            "rows": form.rows(),
            "ship_mode": _ship_mode(detail.order),
            "lines": [line for line in detail.lines if line.quantity_active],
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@staff_view("orders.fulfil")
def order_ship(request: HttpRequest, staff: Staff, order_id: int) -> HttpResponse:
    """Ship the order in one or several parcels (or add parcels to a shipped order)."""
    detail = _detail_or_404(staff, order_id)
    order = detail.order
    back = _detail_url(staff, order.pk)
    if _ship_mode(order) is None:
        messages.error(
            request,
            _("An order that is %(status)s (%(mode)s) cannot be shipped.")
            % {
                "status": lifecycle.info(order.status).label,
                "mode": MODE_LABELS[Mode(order.fulfilment_mode)],
            },
        )
        return redirect(back)
    if request.method == "GET":
        return _ship_page(request, staff, detail, ShipForm(lines=detail.lines))
    form = ShipForm(request.POST, lines=detail.lines)
    if not form.is_valid():
        return _ship_page(request, staff, detail, form, status=400)
    expected = form.cleaned_data.get("expected_version")
    if expected is not None and expected != order.version:
        messages.error(request, STALE)
        return redirect(back)
    try:
        created = parcels_create(
            shop=staff.shop,
            order_id=order.pk,
            parcels=form.cleaned_data["parcels"],
            actor=staff.actor,
        )
    except CarrierNotDetected as exc:
        candidates = exc.details.get("candidates") or []
        text = str(exc)
        if candidates:
            text += " " + _("Candidates: %(list)s.") % {"list": ", ".join(candidates)}
        form.add_error(None, f"{exc.details.get('tracking_number', '')}: {text}")
        return _ship_page(request, staff, detail, form, status=400)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        form.add_error(None, str(exc))
        return _ship_page(request, staff, detail, form, status=400)
    messages.success(
        request,
        _("Shipped in %(count)s parcel(s): %(numbers)s.")
        % {
            "count": len(created),
            "numbers": ", ".join(f"{p.carrier} {p.tracking_number}" for p in created),
        },
    )
    return redirect(back)


# --- cancellations ------------------------------------------------------------------------


def _cancel_confirm(
    request: HttpRequest,
    staff: Staff,
    order: Order,
    form: CancelForm,
    *,
    title: str,
    question: str,
    details: list[str],
    action_url: str,
    confirm_label: str,
    fields: list[tuple[str, Any]],
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "backoffice/orders/confirm_cancel.html",
        {
            "nav": "orders",
            "order": order,
            "form": form,
            "title": title,
            "question": question,
            "details": details,
            "action_url": action_url,
            "confirm_label": confirm_label,
            "cancel_url": _detail_url(staff, order.pk),
            "fields": fields,
            "danger": True,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@staff_view("orders.cancel")
def order_cancel_view(request: HttpRequest, staff: Staff, order_id: int) -> HttpResponse:
    """Cancel the whole order after a confirmation page (the customer gets the apology)."""
    order = _order_or_404(staff, order_id)
    back = _detail_url(staff, order.pk)
    url = reverse("backoffice:orders-cancel", args=[staff.shop.slug, order.pk])
    if Status(order.status) not in lifecycle.CANCELLABLE:
        messages.error(
            request,
            _("An order that is %(status)s can no longer be cancelled.")
            % {"status": lifecycle.info(order.status).label},
        )
        return redirect(back)
    if request.method == "POST" and request.POST.get("confirmed") != "1":
        return redirect(url)
    form = CancelForm(request.POST if request.method == "POST" else None)

    def page(status: int = 200) -> HttpResponse:
        return _cancel_confirm(
            request,
            staff,
            order,
            form,
            title=_("Cancel order %(reference)s") % {"reference": order.reference},
            question=_("Cancel the whole order? The customer is told by email."),
            details=[
                _("Total refunded: %(total)s")
                % {"total": _money(order.total_amount, order.currency)},
            ],
            action_url=url,
            confirm_label=_("Cancel order"),
            fields=[],
            status=status,
        )

    if request.method == "GET":
        return page()
    if not form.is_valid():
        return page(400)
    try:
        order_cancel(
            shop=staff.shop,
            order_id=order.pk,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data.get("note") or "",
            actor=staff.actor,
        )
    except DomainError as exc:
        _error(request, exc)
        return redirect(back)
    messages.success(request, _("Order %(reference)s cancelled.") % {"reference": order.reference})
    return redirect(back)


def _line_or_404(order: Order, position: int) -> OrderLine:
    line = OrderLine.objects.filter(order=order, position=position).first()
    if line is None:
        raise Http404
    return line


@require_http_methods(["GET", "POST"])
@staff_view("orders.cancel")
def order_cancel_line(
    request: HttpRequest, staff: Staff, order_id: int, position: int
) -> HttpResponse:
    """Cancel some quantity of one line (the red cross), after a confirmation page."""
    order = _order_or_404(staff, order_id)
    line = _line_or_404(order, position)
    back = _detail_url(staff, order.pk)
    url = reverse("backoffice:orders-cancel-line", args=[staff.shop.slug, order.pk, position])
    if Status(order.status) not in lifecycle.CANCELLABLE:
        messages.error(
            request,
            _("An order that is %(status)s can no longer be cancelled.")
            % {"status": lifecycle.info(order.status).label},
        )
        return redirect(back)
    if request.method == "POST" and request.POST.get("confirmed") != "1":
        return redirect(f"{url}?quantity={request.POST.get('quantity', '1')}")
    data = request.POST if request.method == "POST" else request.GET
    form = CancelLineForm(data if request.method == "POST" else None)
    try:
        quantity = int(data.get("quantity", "1"))
    except ValueError:
        quantity = 0
    if not 1 <= quantity <= line.quantity_remaining:
        messages.error(
            request,
            _("Line %(position)s (%(sku)s) has %(left)s left to cancel.")
            % {"position": line.position, "sku": line.sku, "left": line.quantity_remaining},
        )
        return redirect(back)

    def page(status: int = 200) -> HttpResponse:
        new_total, everything = cancellation_outcome(
            order, [LineCancellation(position=line.position, quantity=quantity)]
        )
        details = [
            _("%(quantity)s × %(sku)s — %(name)s (%(price)s each)")
            % {
                "quantity": quantity,
                "sku": line.sku,
                "name": line.name,
                "price": _money(line.unit_price, order.currency),
            },
            _("New order total: %(total)s (was %(old)s)")
            % {
                "total": _money(new_total, order.currency),
                "old": _money(order.total_amount, order.currency),
            },
        ]
        if everything:
            details.append(_("Nothing would be left: the whole order will be cancelled."))
        return _cancel_confirm(
            request,
            staff,
            order,
            form,
            title=_("Cancel a line of order %(reference)s") % {"reference": order.reference},
            question=_("Cancel these items? The customer gets the updated summary by email."),
            details=details,
            action_url=url,
            confirm_label=_("Cancel line"),
            fields=[("quantity", quantity)],
            status=status,
        )

    if request.method == "GET":
        return page()
    if not form.is_valid():
        return page(400)
    try:
        order_cancel_lines(
            shop=staff.shop,
            order_id=order.pk,
            cancellations=[LineCancellation(position=line.position, quantity=quantity)],
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data.get("note") or "",
            actor=staff.actor,
        )
    except DomainError as exc:
        _error(request, exc)
        return redirect(back)
    messages.success(
        request,
        _("%(quantity)s × %(sku)s cancelled.") % {"quantity": quantity, "sku": line.sku},
    )
    return redirect(back)


# --- messages -----------------------------------------------------------------------------


@require_POST
@staff_view("orders.resend_message")
def order_resend(
    request: HttpRequest, staff: Staff, order_id: int, message_id: int
) -> HttpResponse:
    """Send one of the order's customer messages again."""
    order = _order_or_404(staff, order_id)
    if not OutboxMessage.objects.filter(shop=staff.shop, order=order, pk=message_id).exists():
        raise Http404
    try:
        message_resend(shop=staff.shop, message_id=message_id, actor=staff.actor)
    except DomainError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("The message will be sent again in a moment."))
    return redirect(_detail_url(staff, order.pk))
