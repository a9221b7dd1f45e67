"""Claim pages of the customer space: list, new claim, thread with replies, photos.

Thin: every object comes through the ownership-scoped selectors (404 for anything not the
signed-in customer's), every write through :mod:`.services`, whose :class:`DomainError`
comes back on the form as a readable message (status 400) with nothing saved.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from suivi.core.errors import DomainError, NotFound
from suivi.customers.selectors import orders_of_user
from suivi.customerweb.access import order_or_404
from suivi.orders.models import Order

from . import photos, selectors, services
from .forms import ClaimForm, ReplyForm
from .models import Claim

# A claim with 5 photos of 8 MB and its text fits well under this; a larger body is
# refused with a readable message before its fields are read.
MAX_REQUEST_BYTES = photos.MAX_PHOTOS * photos.MAX_BYTES + 5 * 1024 * 1024
ORDER_CHOICES = 50


def _too_big(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_REQUEST_BYTES
    except ValueError:
        return False


def _too_big_message() -> str:
    return _("What you sent is too large: at most %(max)d photos of 8 MB each.") % {
        "max": photos.MAX_PHOTOS
    }


def _add_error(form: forms.Form, exc: DomainError) -> None:
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, exc.message)


def _claim_or_404(request: HttpRequest, claim_id: int) -> Claim:
    try:
        return selectors.claim_of_user(request.user, claim_id)
    except NotFound:
        raise Http404 from None


def _order_id(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise Http404 from None


def _order_choices(request: HttpRequest, chosen: Order | None) -> list[tuple[int, str]]:
    orders = list(orders_of_user(request.user)[:ORDER_CHOICES])
    if chosen is not None and chosen.pk not in {o.pk for o in orders}:
        orders.insert(0, chosen)
    return [
        (o.pk, f"{o.reference} — {o.shop.display_sender} — {o.placed_at:%d/%m/%Y}") for o in orders
    ]


@login_required
@require_GET
def claim_list(request: HttpRequest) -> HttpResponse:
    """The signed-in customer's claims, newest first."""
    return render(request, "claims/list.html", {"claims": selectors.claims_of_user(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def claim_new(request: HttpRequest) -> HttpResponse:
    """The claim form (``?order=<id>`` chooses the order) and its submission."""
    if request.method == "POST" and _too_big(request):
        chosen = _chosen_order(request, request.GET.get("order"))
        form = ClaimForm(orders=_order_choices(request, chosen))
        return _render_new(request, form, chosen, status=413, refusal=_too_big_message())
    source = request.POST if request.method == "POST" else request.GET
    chosen = _chosen_order(request, source.get("order"))
    choices = _order_choices(request, chosen)
    if request.method == "GET":
        form = ClaimForm(orders=choices, initial={"order": chosen.pk if chosen else None})
        return _render_new(request, form, chosen)
    form = ClaimForm(request.POST, request.FILES, orders=choices)
    if form.is_valid() and chosen is not None:
        try:
            claim = services.claim_open(
                customer_user=request.user,
                order=chosen,
                kind=form.cleaned_data["kind"],
                description=form.cleaned_data["description"],
                photos=form.cleaned_data["photos"],
                requested_resolution=form.cleaned_data["requested_resolution"] or "none",
            )
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            _add_error(form, exc)
        else:
            messages.success(
                request,
                _("Your claim %(reference)s was sent to %(shop)s.")
                % {"reference": claim.reference, "shop": chosen.shop.display_sender},
            )
            return redirect("claims:detail", claim.pk)
    return _render_new(request, form, chosen, status=400)


def _chosen_order(request: HttpRequest, value: str | None) -> Order | None:
    order_id = _order_id(value)
    return order_or_404(request, order_id) if order_id is not None else None


def _render_new(
    request: HttpRequest,
    form: ClaimForm,
    chosen: Order | None,
    *,
    status: int = 200,
    refusal: str = "",
) -> HttpResponse:
    action = reverse("claims:new")
    context: dict[str, Any] = {
        "form": form,
        "order": chosen,
        "shop": chosen.shop if chosen else None,
        "action": action,
        "refusal": refusal,
        "has_orders": bool(form.fields["order"].choices),  # type: ignore[attr-defined]
    }
    return render(request, "claims/new.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def claim_detail(request: HttpRequest, claim_id: int) -> HttpResponse:
    """The claim's status, expected resolution, thread (no internal note) and reply form."""
    claim = _claim_or_404(request, claim_id)
    status, refusal = 200, ""
    if request.method == "POST":
        if _too_big(request):
            form = ReplyForm()
            status, refusal = 413, _too_big_message()
        else:
            form = ReplyForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    services.claim_reply_customer(
                        customer_user=request.user,
                        claim=claim,
                        body=form.cleaned_data["body"],
                        photos=form.cleaned_data["photos"],
                    )
                except NotFound:
                    raise Http404 from None
                except DomainError as exc:
                    _add_error(form, exc)
                else:
                    messages.success(request, _("Your message was sent."))
                    return redirect(reverse("claims:detail", args=[claim.pk]) + "#reply")
            status = 400
    else:
        form = ReplyForm()
    context = {
        "claim": claim,
        "order": claim.order,
        "shop": claim.shop,
        "opening_photos": selectors.opening_photos(claim),
        "thread": selectors.customer_thread(claim),
        "form": form,
        "refusal": refusal,
        "awaiting_shop": claim.due_at is not None
        and claim.status in (Claim.Status.OPEN, Claim.Status.IN_PROGRESS),
    }
    return render(request, "claims/detail.html", context, status=status)


@login_required
@require_GET
def claim_photo(request: HttpRequest, claim_id: int, photo_id: int) -> FileResponse:
    """Serve a photo of the customer's own claim, never cached, never sniffed."""
    try:
        photo = selectors.photo_of_user(request.user, claim_id, photo_id)
    except NotFound:
        raise Http404 from None
    return photos.photo_response(photo, claim_id)
