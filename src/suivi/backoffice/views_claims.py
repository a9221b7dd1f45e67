"""The claims inbox of the back office: the queue, one claim with its thread, and the
shop's answers (reply, internal note, assignment, status, resolution) and photos.

Every claim comes through ``claims.selectors.claim_of_shop(staff.shop, …)`` (another shop's
id is a 404); every write goes through ``claims.services`` / ``claims.resolution`` with
``user=staff.user``. A refused change comes back as a message with nothing written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from suivi.claims import photos, resolution, selectors, services
from suivi.claims.models import Claim
from suivi.core.errors import DomainError, NotFound
from suivi.core.money import format_money
from suivi.orders.lifecycle import info as order_status_info
from suivi.orders.models import OrderLine
from suivi.shops.models import Membership

from .access import Staff, staff_view
from .forms_claims import (
    MINE,
    STAFF_STATUS_LABELS,
    UNASSIGNED,
    AssignForm,
    FilterForm,
    ReplyForm,
    ResolveForm,
    StatusForm,
    status_targets,
)

PAGE_SIZE = 50
Status = Claim.Status
Resolution = Claim.Resolution
OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_CUSTOMER)


# --- helpers ----------------------------------------------------------------------------


def duration_text(delta: dt.timedelta | None) -> str:
    """``45 min``, ``5 h``, ``2 days 3 h`` (the queue's age, the time to resolution)."""
    if delta is None:
        return ""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    hours = minutes // 60
    if hours < 24:
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    days, hours = divmod(hours, 24)
    text = ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    if hours:
        text += " " + ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    return text


def is_overdue(claim: Claim, now: dt.datetime) -> bool:
    return claim.due_at is not None and claim.due_at < now and claim.status in OPEN_STATUSES


def _claim_or_404(staff: Staff, claim_id: int) -> Claim:
    try:
        return selectors.claim_of_shop(staff.shop, claim_id)
    except NotFound:
        raise Http404 from None


def _members(staff: Staff) -> list[tuple[int, str]]:
    rows = (
        Membership.objects.filter(shop=staff.shop, user__is_active=True)
        .select_related("user")
        .order_by("user__email")
    )
    return [
        (m.user_id, f"{m.user.get_full_name() or m.user.email} ({m.get_role_display()})")
        for m in rows
    ]


def _detail_url(staff: Staff, claim: Claim, anchor: str = "") -> str:
    url = reverse("backoffice:claims-detail", args=[staff.shop.slug, claim.pk])
    return f"{url}#{anchor}" if anchor else url


def _order_lines(claim: Claim) -> list[OrderLine]:
    return list(OrderLine.objects.filter(order_id=claim.order_id).order_by("position"))


def _form_error(form: forms.Form, exc: DomainError) -> None:
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, exc.message)


# --- the queue --------------------------------------------------------------------------


@require_GET
@staff_view("claims.view")
def claims_list(request: HttpRequest, staff: Staff) -> HttpResponse:
    """The shop's claims, those due soonest first (overdue on top), with filters."""
    form = FilterForm(request.GET or None)
    status, assignee = "", ""
    if form.is_valid():
        status = form.cleaned_data["status"]
        assignee = form.cleaned_data["assignee"]
    claims = selectors.claims_of_shop(staff.shop, status=status or None)
    if assignee == MINE:
        claims = claims.filter(assignee=staff.user)
    elif assignee == UNASSIGNED:
        claims = claims.filter(assignee__isnull=True)
    page = Paginator(claims, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        {
            "claim": claim,
            "status": STAFF_STATUS_LABELS[claim.status],
            "overdue": is_overdue(claim, now),
            "age": duration_text(now - claim.created_at),
            "resolved_in": duration_text(resolution.time_to_resolution(claim)),
        }
        for claim in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "backoffice/claims/list.html",
        {
            "nav": "claims",
            "form": form,
            "rows": rows,
            "page": page,
            "query": query.urlencode(),
            "filtered": bool(status or assignee),
        },
        status=200 if form.is_valid() or not request.GET else 400,
    )


# --- one claim --------------------------------------------------------------------------


def _render_detail(
    request: HttpRequest,
    staff: Staff,
    claim: Claim,
    *,
    status: int = 200,
    reply_form: ReplyForm | None = None,
    assign_form: AssignForm | None = None,
    status_form: StatusForm | None = None,
    resolve_form: ResolveForm | None = None,
) -> HttpResponse:
    lines = _order_lines(claim)
    order = claim.order
    locale = (request.LANGUAGE_CODE or "fr").split("-")[0]
    members = _members(staff)
    context: dict[str, Any] = {
        "nav": "claims",
        "claim": claim,
        "status_label": STAFF_STATUS_LABELS[claim.status],
        "order": order,
        "order_status": order_status_info(order.status).label,
        "order_total": format_money(order.total_amount, order.currency, locale),
        "lines": [
            {"line": line, "price": format_money(line.unit_price, order.currency, locale)}
            for line in lines
        ],
        "customer": claim.customer,
        "thread": selectors.staff_thread(claim),
        "opening_photos": selectors.opening_photos(claim),
        "overdue": is_overdue(claim, timezone.now()),
        "age": duration_text(timezone.now() - claim.created_at),
        "resolved_in": duration_text(resolution.time_to_resolution(claim)),
        "can_handle": staff.can("claims.handle"),
        "is_closed": claim.is_closed,
        "reply_form": reply_form or ReplyForm(),
        "assign_form": assign_form
        or AssignForm(members=members, initial={"assignee": claim.assignee_id}),
        "assigned_to_me": claim.assignee_id == staff.user.pk,
        "status_form": status_form or StatusForm(claim=claim),
        "has_status_targets": bool(status_targets(claim)),
        "resolve_form": resolve_form or ResolveForm(lines=lines),
    }
    return render(request, "backoffice/claims/detail.html", context, status=status)


@require_GET
@staff_view("claims.view")
def claims_detail(request: HttpRequest, staff: Staff, claim_id: int) -> HttpResponse:
    """The claim, its order, photos, the whole thread (internal notes marked) and actions."""
    return _render_detail(request, staff, _claim_or_404(staff, claim_id))


@require_POST
@staff_view("claims.handle")
def claims_reply(request: HttpRequest, staff: Staff, claim_id: int) -> HttpResponse:
    """Answer the customer (notified) or add an internal note (nobody is told)."""
    claim = _claim_or_404(staff, claim_id)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        internal = form.cleaned_data["internal"]
        try:
            services.claim_reply_staff(
                claim=claim,
                user=staff.user,
                body=form.cleaned_data["body"],
                internal=internal,
                ask_customer=form.cleaned_data["ask_customer"],
                photos=form.cleaned_data["photos"],
            )
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                _("Internal note added.")
                if internal
                else _("Your reply was sent to the customer."),
            )
            return redirect(_detail_url(staff, claim, "thread"))
    claim.refresh_from_db()
    return _render_detail(request, staff, claim, status=400, reply_form=form)


@require_POST
@staff_view("claims.handle")
def claims_assign(request: HttpRequest, staff: Staff, claim_id: int) -> HttpResponse:
    """Give the claim to a member of the shop's staff, to oneself, or to nobody."""
    claim = _claim_or_404(staff, claim_id)
    form = AssignForm(request.POST, members=_members(staff))
    if form.is_valid():
        assignee_id = form.cleaned_data["assignee"]
        assignee = None
        if assignee_id is not None:
            membership = (
                Membership.objects.select_related("user")
                .filter(shop=staff.shop, user_id=assignee_id)
                .first()
            )
            if membership is None:
                raise Http404
            assignee = membership.user
        try:
            services.claim_assign(claim=claim, user=staff.user, assignee=assignee)
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            _form_error(form, exc)
        else:
            if assignee is None:
                messages.success(request, _("The claim is assigned to nobody."))
            else:
                messages.success(
                    request,
                    _("The claim is assigned to %(name)s.")
                    % {"name": assignee.get_full_name() or assignee.email},
                )
            return redirect(_detail_url(staff, claim))
    return _render_detail(request, staff, claim, status=400, assign_form=form)


@require_POST
@staff_view("claims.handle")
def claims_status(request: HttpRequest, staff: Staff, claim_id: int) -> HttpResponse:
    """Move the claim to another status (the customer is told, with the optional note)."""
    claim = _claim_or_404(staff, claim_id)
    form = StatusForm(request.POST, claim=claim)
    if form.is_valid():
        try:
            services.claim_set_status(
                claim=claim,
                user=staff.user,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
            )
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                _("The claim is now “%(status)s”.") % {"status": STAFF_STATUS_LABELS[claim.status]},
            )
            return redirect(_detail_url(staff, claim))
    return _render_detail(request, staff, claim, status=400, status_form=form)


@require_POST
@staff_view("claims.handle")
def claims_resolve(request: HttpRequest, staff: Staff, claim_id: int) -> HttpResponse:
    """Decide the resolution and do it: a replacement parcel, a credit note, or a note."""
    claim = _claim_or_404(staff, claim_id)
    form = ResolveForm(request.POST, lines=_order_lines(claim))
    if form.is_valid():
        data = form.cleaned_data
        chosen = [resolution.ClaimLine(line_id, qty) for line_id, qty in form.chosen_lines()]
        try:
            decided = data["resolution"]
            if decided == Resolution.RESHIP:
                parcel = resolution.claim_resolve_by_reship(
                    claim=claim,
                    user=staff.user,
                    tracking_number=data["tracking_number"],
                    carrier=data["carrier"].strip().lower(),
                    lines=chosen,
                    note=data["note"],
                )
                done = _("Resolved by reshipment: parcel %(number)s created.") % {
                    "number": parcel.tracking_number
                }
            elif decided == Resolution.REFUND:
                credit_note = resolution.claim_resolve_by_refund(
                    claim=claim, user=staff.user, lines=chosen, note=data["note"]
                )
                done = (
                    _("Resolved by refund: credit note %(number)s issued.")
                    % {"number": credit_note.number}
                    if credit_note is not None
                    else _("Resolved by refund (the order has no invoice: no credit note).")
                )
            elif decided == Resolution.COMPENSATION:
                resolution.claim_resolve_by_compensation(
                    claim=claim, user=staff.user, amount=data["amount"], note=data["note"]
                )
                done = _("Resolved by compensation.")
            else:
                services.claim_resolve(
                    claim=claim, user=staff.user, resolution=decided, note=data["note"]
                )
                done = _("Resolved by expedited delivery.")
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, done)
            return redirect(_detail_url(staff, claim))
    claim.refresh_from_db()
    return _render_detail(request, staff, claim, status=400, resolve_form=form)


@require_GET
@staff_view("claims.view")
def claims_photo(request: HttpRequest, staff: Staff, claim_id: int, photo_id: int) -> HttpResponse:
    """Serve a photo of one of the shop's claims (internal notes' too), never cached."""
    try:
        photo = selectors.photo_of_shop(staff.shop, claim_id, photo_id)
    except NotFound:
        raise Http404 from None
    # A streamed file; the decorator passes it through.
    return cast(HttpResponse, photos.photo_response(photo, claim_id))
