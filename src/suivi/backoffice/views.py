"""The back office's entry: the shops of the signed-in member and each shop's home page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from suivi.shops.selectors import memberships_of

from . import dashboard
from .access import Staff, staff_view


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The shops the user works in; straight to the shop when there is only one."""
    memberships = list(memberships_of(request.user))
    if len(memberships) == 1:
        return redirect("backoffice:home", slug=memberships[0].shop.slug)
    return render(request, "backoffice/index.html", {"memberships": memberships})


@require_GET
@staff_view("orders.view")
def home(request: HttpRequest, staff: Staff) -> HttpResponse:
    """What needs doing today in this shop, with links to each list."""
    return render(
        request, "backoffice/home.html", {"counts": dashboard.counts(staff.shop), "nav": "home"}
    )
