"""Customer space (work in progress)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .access import order_or_404
from suivi.customers.selectors import orders_of_user


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    return render(request, "customerweb/base.html", {"orders": orders_of_user(request.user)})


@login_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = order_or_404(request, order_id)
    return render(request, "customerweb/base.html", {"order": order, "shop": order.shop})


address_change = preferences = account = export = delete = push_subscription = orders
