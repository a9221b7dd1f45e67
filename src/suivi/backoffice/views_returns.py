"""The returns area of the back office: the queue, one return and the shop's decisions
(approve with instructions and/or a label, refuse with a reason, mark received, refund).

Every return comes through ``returns.selectors.return_of_shop(shop=staff.shop, …)``
(another shop's id is a 404); every write goes through ``returns.services`` with
``user=staff.user``. Refusing and refunding have a confirmation step (a GET shows it, the
POST with ``confirmed=1`` does it). An action the return's status does not allow shows the
service's message and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from suivi.core.errors import DomainError, NotFound
from suivi.core.money import format_money, quantize
from suivi.orders.lifecycle import info as order_status_info
from suivi.orders.models import Invoice, OrderEvent
from suivi.returns import selectors, services, storage
from suivi.returns.lifecycle import (
    REASON_LABELS,
    STATUS_LABELS,
    ReturnReason,
    ReturnStatus,
    can_transition,
)
from suivi.returns.models import ReturnLine, ReturnRequest

from .access import Staff, staff_view
from .forms_returns import ApproveForm, FilterForm, RefuseForm

PAGE_SIZE = 50
S = ReturnStatus

# The queue: what waits for the shop first, then what is on its way, then what is done.
QUEUE_ORDER = [S.REQUESTED, S.APPROVED, S.RECEIVED, S.REFUNDED, S.REFUSED, S.CANCELLED]


# --- helpers ----------------------------------------------------------------------------


def _return_or_404(staff: Staff, return_id: int) -> ReturnRequest:
    try:
        return selectors.return_of_shop(shop=staff.shop, return_id=return_id)
    except NotFound:
        raise Http404 from None


def _detail_url(staff: Staff, ret: ReturnRequest) -> str:
    return reverse("backoffice:returns-detail", args=[staff.shop.slug, ret.pk])


def _locale(request: HttpRequest) -> str:
    return (getattr(request, "LANGUAGE_CODE", None) or "fr").split("-")[0]


def _lines(ret: ReturnRequest, locale: str) -> list[dict[str, Any]]:
    currency = ret.order.currency
    rows = []
    for line in selectors.return_lines(ret):
        amount = quantize(line.order_line.unit_price * line.quantity, currency)
        rows.append(
            {
                "line": line,
                "reason": REASON_LABELS[ReturnReason(line.reason)],
                "unit_price": format_money(line.order_line.unit_price, currency, locale),
                "amount": format_money(amount, currency, locale),
                "raw_amount": amount,
            }
        )
    return rows


def _history(staff: Staff, ret: ReturnRequest) -> list[dict[str, Any]]:
    events = list(
        OrderEvent.objects.filter(
            shop=staff.shop,
            order_id=ret.order_id,
            type__startswith="return.",
            payload__return_id=ret.pk,
        ).order_by("occurred_at", "pk")
    )
    staff_ids = {
        int(e.actor.split(":", 1)[1])
        for e in events
        if e.actor.startswith("staff:") and e.actor.split(":", 1)[1].isdigit()
    }
    names = {
        user.pk: user.get_full_name() or user.email
        for user in get_user_model().objects.filter(pk__in=staff_ids)
    }
    rows = []
    for event in events:
        target = event.payload.get("to", "")
        label = STATUS_LABELS[S(target)] if target in {s.value for s in S} else event.type
        if event.actor.startswith("customer:"):
            who = _("Customer")
        elif event.actor.startswith("staff:"):
            tail = event.actor.split(":", 1)[1]
            who = names.get(int(tail), _("Staff")) if tail.isdigit() else _("Staff")
        else:
            who = event.actor
        rows.append({"event": event, "label": label, "who": who})
    return rows


def _allowed(staff: Staff, ret: ReturnRequest, target: ReturnStatus, right: str) -> bool:
    return staff.can(right) and can_transition(ret.status, target)


def _render_detail(
    request: HttpRequest,
    staff: Staff,
    ret: ReturnRequest,
    *,
    status: int = 200,
    approve_form: ApproveForm | None = None,
    refuse_form: RefuseForm | None = None,
) -> HttpResponse:
    locale = _locale(request)
    order = ret.order
    context: dict[str, Any] = {
        "nav": "returns",
        "ret": ret,
        "order": order,
        "order_status": order_status_info(order.status).label,
        "status_label": STATUS_LABELS[S(ret.status)],
        "lines": _lines(ret, locale),
        "history": _history(staff, ret),
        "refund_amount": (
            format_money(ret.refund_amount, order.currency, locale)
            if ret.refund_amount is not None
            else ""
        ),
        "can_approve": _allowed(staff, ret, S.APPROVED, "returns.decide"),
        "can_refuse": _allowed(staff, ret, S.REFUSED, "returns.decide"),
        "can_receive": _allowed(staff, ret, S.RECEIVED, "returns.receive"),
        "can_refund": _allowed(staff, ret, S.REFUNDED, "returns.refund"),
        "approve_form": approve_form or ApproveForm(),
        "refuse_form": refuse_form or RefuseForm(),
    }
    return render(request, "backoffice/returns/detail.html", context, status=status)


def _refused(
    request: HttpRequest, staff: Staff, ret: ReturnRequest, exc: DomainError
) -> HttpResponse:
    messages.error(request, exc.message)
    return redirect(_detail_url(staff, ret))


# --- the queue --------------------------------------------------------------------------


@require_GET
@staff_view("returns.view")
def returns_list(request: HttpRequest, staff: Staff) -> HttpResponse:
    """The shop's returns, those waiting for an answer first, then the newest."""
    form = FilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    rows = selectors.returns_of_shop(shop=staff.shop, status=status or None)
    rank = Case(
        *[When(status=s.value, then=Value(i)) for i, s in enumerate(QUEUE_ORDER)],
        default=Value(len(QUEUE_ORDER)),
        output_field=IntegerField(),
    )
    rows = rows.annotate(queue_rank=rank).order_by("queue_rank", "-pk")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    locale = _locale(request)
    returns = list(page.object_list)
    counts = _item_counts(returns)
    items = [
        {
            "ret": ret,
            "label": STATUS_LABELS[S(ret.status)],
            "refund": (
                format_money(ret.refund_amount, ret.order.currency, locale)
                if ret.refund_amount is not None
                else ""
            ),
            "lines": counts.get(ret.pk, 0),
        }
        for ret in returns
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "backoffice/returns/list.html",
        {
            "nav": "returns",
            "form": form,
            "items": items,
            "page": page,
            "query": query.urlencode(),
            "filtered": bool(status),
        },
        status=200 if form.is_valid() or not request.GET else 400,
    )


def _item_counts(returns: Sequence[ReturnRequest]) -> dict[int, int]:
    """How many items each return sends back."""
    counts: dict[int, int] = {}
    for return_id, quantity in ReturnLine.objects.filter(
        return_request_id__in=[r.pk for r in returns]
    ).values_list("return_request_id", "quantity"):
        counts[return_id] = counts.get(return_id, 0) + quantity
    return counts


# --- one return -------------------------------------------------------------------------


@require_GET
@staff_view("returns.view")
def returns_detail(request: HttpRequest, staff: Staff, return_id: int) -> HttpResponse:
    """Lines and reasons, the customer's comment, the order, the history and the actions."""
    return _render_detail(request, staff, _return_or_404(staff, return_id))


@require_POST
@staff_view("returns.decide")
def returns_approve(request: HttpRequest, staff: Staff, return_id: int) -> HttpResponse:
    """Approve with instructions and/or a label document (the customer is told)."""
    ret = _return_or_404(staff, return_id)
    form = ApproveForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.return_approve(
                ret=ret,
                user=staff.user,
                instructions=form.cleaned_data["instructions"],
                label=form.cleaned_data["label"],
            )
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            field = getattr(exc, "field", None)
            if field in form.fields:
                form.add_error(field, exc.message)
            else:
                return _refused(request, staff, ret, exc)
        else:
            messages.success(request, _("The return is approved; the customer was told."))
            return redirect(_detail_url(staff, ret))
    return _render_detail(request, staff, ret, status=400, approve_form=form)


@require_http_methods(["GET", "POST"])
@staff_view("returns.decide")
def returns_refuse(request: HttpRequest, staff: Staff, return_id: int) -> HttpResponse:
    """GET: confirm the refusal with its reason; POST (``confirmed=1``): refuse."""
    ret = _return_or_404(staff, return_id)
    source = request.POST if request.method == "POST" else request.GET
    form = RefuseForm(source)
    if not form.is_valid():
        return _render_detail(request, staff, ret, status=400, refuse_form=form)
    if not can_transition(ret.status, S.REFUSED):
        messages.error(request, _("Only a return waiting for an answer can be refused."))
        return redirect(_detail_url(staff, ret))
    reason = form.cleaned_data["reason"]
    if request.method == "GET" or source.get("confirmed") != "1":
        return render(
            request,
            "backoffice/confirm.html",
            {
                "nav": "returns",
                "title": _("Refuse return #%(id)s") % {"id": ret.pk},
                "question": _("Refuse this return? The customer will read the reason:"),
                "details": [reason],
                "action_url": reverse("backoffice:returns-refuse", args=[staff.shop.slug, ret.pk]),
                "confirm_label": _("Refuse the return"),
                "cancel_url": _detail_url(staff, ret),
                "fields": [("reason", reason)],
                "danger": True,
            },
            status=200 if request.method == "GET" else 400,
        )
    try:
        services.return_refuse(ret=ret, user=staff.user, reason=reason)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        return _refused(request, staff, ret, exc)
    messages.success(request, _("The return is refused; the customer was told why."))
    return redirect(_detail_url(staff, ret))


@require_POST
@staff_view("returns.receive")
def returns_receive(request: HttpRequest, staff: Staff, return_id: int) -> HttpResponse:
    """Record that the returned items arrived."""
    ret = _return_or_404(staff, return_id)
    try:
        services.return_mark_received(ret=ret, user=staff.user)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        return _refused(request, staff, ret, exc)
    messages.success(request, _("The return is marked as received."))
    return redirect(_detail_url(staff, ret))


@require_http_methods(["GET", "POST"])
@staff_view("returns.refund")
def returns_refund(request: HttpRequest, staff: Staff, return_id: int) -> HttpResponse:
    """GET: confirm the refund (amount, credit note lines); POST (``confirmed=1``): refund."""
    ret = _return_or_404(staff, return_id)
    if not can_transition(ret.status, S.REFUNDED):
        messages.error(request, _("Only an approved or received return can be refunded."))
        return redirect(_detail_url(staff, ret))
    if request.method == "GET" or request.POST.get("confirmed") != "1":
        locale = _locale(request)
        lines = list(selectors.return_lines(ret))
        currency = ret.order.currency
        total = format_money(services.refund_amount(lines, currency), currency, locale)
        invoiced = (
            staff.shop.invoicing_enabled and Invoice.objects.filter(order_id=ret.order_id).exists()
        )
        details = [
            _("%(quantity)d × %(name)s (%(sku)s): %(amount)s")
            % {
                "quantity": ln.quantity,
                "name": ln.order_line.name,
                "sku": ln.order_line.sku,
                "amount": format_money(
                    quantize(ln.order_line.unit_price * ln.quantity, currency), currency, locale
                ),
            }
            for ln in lines
        ]
        details.append(_("Total refunded: %(amount)s (shipping not included)") % {"amount": total})
        details.append(
            _("A credit note will be issued for these lines.")
            if invoiced
            else _("No credit note: the order has no invoice.")
        )
        return render(
            request,
            "backoffice/confirm.html",
            {
                "nav": "returns",
                "title": _("Refund return #%(id)s") % {"id": ret.pk},
                "question": _("Refund %(amount)s to the customer?") % {"amount": total},
                "details": details,
                "action_url": reverse("backoffice:returns-refund", args=[staff.shop.slug, ret.pk]),
                "confirm_label": _("Confirm the refund"),
                "cancel_url": _detail_url(staff, ret),
                "fields": [],
                "danger": True,
            },
            status=200 if request.method == "GET" else 400,
        )
    try:
        refunded = services.return_refund(ret=ret, user=staff.user)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        return _refused(request, staff, ret, exc)
    if refunded.credit_note is not None:
        messages.success(
            request,
            _("The return is refunded; credit note %(number)s was issued.")
            % {"number": refunded.credit_note.number},
        )
    else:
        messages.success(request, _("The return is refunded."))
    return redirect(_detail_url(staff, ret))


@require_GET
@staff_view("returns.view")
def returns_label(request: HttpRequest, staff: Staff, return_id: int) -> HttpResponse:
    """The label document the shop attached, as an attachment, never cached nor sniffed."""
    # A streamed file; the decorator passes it through.
    return cast(HttpResponse, storage.label_response(_return_or_404(staff, return_id)))
