"""Customer pages of returns: list, request, detail, cancel and the label download.

Thin: every read goes through :mod:`.selectors` scoped to the signed-in user (404 for
anything else) and every write through :mod:`.services`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from suivi.core.errors import DomainError, NotFound
from suivi.core.money import format_money
from suivi.customerweb.access import order_or_404

from . import selectors, services, storage
from .forms import ReturnRequestForm
from .lifecycle import CUSTOMER_HINTS, REASON_LABELS, STATUS_LABELS, ReturnReason, ReturnStatus
from .models import ReturnRequest


def _locale() -> str:
    return translation.to_locale(translation.get_language() or "fr")


def money(amount: Decimal | None, currency: str) -> str:
    """Format *amount* in the active language (``""`` for None)."""
    if amount is None:
        return ""
    return format_money(amount, currency, _locale())


def _return_or_404(request: HttpRequest, return_id: int) -> ReturnRequest:
    try:
        return selectors.return_of_user(request.user, return_id)
    except NotFound:
        raise Http404 from None


def _status(ret: ReturnRequest) -> dict[str, Any]:
    status = ReturnStatus(ret.status)
    return {"code": status.value, "label": STATUS_LABELS[status], "hint": CUSTOMER_HINTS[status]}


@login_required
@require_GET
def return_list(request: HttpRequest) -> HttpResponse:
    rows = [
        {
            "ret": ret,
            "status": _status(ret),
            "created": selectors.format_day(ret.created_at, ret.shop),
        }
        for ret in selectors.returns_of_user(request.user)[:200]
    ]
    return render(request, "returns/list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def return_new(request: HttpRequest, order_id: int) -> HttpResponse:
    order = order_or_404(request, order_id)
    eligibility = selectors.order_return_eligibility(order)
    context: dict[str, Any] = {
        "order": order,
        "shop": order.shop,
        "eligibility": eligibility,
        "last_day": selectors.format_day(eligibility.last_day),
        "unavailable": [item for item in eligibility.lines if not item.eligible],
    }
    if not eligibility.is_open:
        status = 400 if request.method == "POST" else 200
        return render(request, "returns/new.html", context, status=status)
    form = ReturnRequestForm(
        request.POST if request.method == "POST" else None, eligible=eligibility.eligible_lines
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                ret = services.return_request(
                    user=request.user,
                    order=order,
                    lines=form.items,
                    note=form.cleaned_data["note"],
                )
            except NotFound:
                raise Http404 from None
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, gettext("Your return request was sent to the shop."))
                return redirect("returns:detail", ret.pk)
        status = 400
    context["form"] = form
    return render(request, "returns/new.html", context, status=status)


@login_required
@require_GET
def return_detail(request: HttpRequest, return_id: int) -> HttpResponse:
    ret = _return_or_404(request, return_id)
    lines = [
        {"line": item, "reason": REASON_LABELS[ReturnReason(item.reason)]}
        for item in selectors.return_lines(ret)
    ]
    context = {
        "ret": ret,
        "shop": ret.shop,
        "order": ret.order,
        "status": _status(ret),
        "lines": lines,
        "created": selectors.format_day(ret.created_at, ret.shop),
        "refunded": selectors.format_day(ret.refunded_at, ret.shop),
        "refund_amount": money(ret.refund_amount, ret.order.currency),
        "can_cancel": ret.status == ReturnStatus.REQUESTED,
    }
    return render(request, "returns/detail.html", context)


@login_required
@require_POST
def return_cancel(request: HttpRequest, return_id: int) -> HttpResponse:
    ret = _return_or_404(request, return_id)
    try:
        services.return_cancel(ret=ret, user=request.user)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("Your return request is cancelled."))
    return redirect("returns:detail", ret.pk)


@login_required
@require_GET
def return_label(request: HttpRequest, return_id: int) -> FileResponse:
    return storage.label_response(_return_or_404(request, return_id))
