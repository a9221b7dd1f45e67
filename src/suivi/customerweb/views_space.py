"""The customer space: order history and detail, notification choices, delivery address,
web push on this device, data export and account deletion.

Every object is read through :mod:`suivi.customers.selectors` (scoped to the signed-in
user): another customer's order is a 404, whether it exists or not.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from suivi.claims.selectors import claims_of_order
from suivi.core.errors import DomainError, InvalidInput
from suivi.customers import selectors
from suivi.customers.services import customers_unlink_user
from suivi.notifications import links
from suivi.notifications import services as notification_services
from suivi.notifications.catalog import CHANNEL_LABELS, EVENTS
from suivi.notifications.models import OutboxMessage, PushSubscription
from suivi.notifications.vapid import application_server_key
from suivi.notifications.views import PreferencesForm
from suivi.orders.address import address_changeable, order_change_address
from suivi.orders.models import Order

from .access import order_or_404
from .tracking import tracking_view


def _language(request: HttpRequest) -> str:
    lang = translation.get_language() or "fr"
    return lang if lang in ("fr", "en") else "fr"


@login_required
@require_GET
def orders(request: HttpRequest) -> HttpResponse:
    """Every order of the signed-in customer, in every shop, newest first."""
    rows = list(selectors.orders_of_user(request.user)[:200])
    from suivi.orders import lifecycle

    items = [
        {
            "order": order,
            "status_label": lifecycle.info(order.status).customer_label,
            "shop": order.shop.display_sender,
        }
        for order in rows
    ]
    return render(request, "customerweb/orders.html", {"items": items})


def _messages_of(order: Order) -> list[dict[str, Any]]:
    rows = (
        OutboxMessage.objects.filter(order=order, customer_id=order.customer_id, is_test=False)
        .exclude(channel="webhook")
        .filter(merged_into__isnull=True)
        .order_by("-created_at")[:50]
    )
    return [
        {
            "label": EVENTS[m.event_key].label if m.event_key in EVENTS else m.event_key,
            "channel": CHANNEL_LABELS.get(m.channel, m.channel),
            "status": m.status,
            "at": m.sent_at or m.created_at,
        }
        for m in rows
    ]


@login_required
@require_GET
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    """One order: its tracking (with the owner's part), messages, documents and actions."""
    order = order_or_404(request, order_id)
    view = tracking_view(order, language=_language(request), owner=True)
    try:
        invoice = order.invoice
    except Order.invoice.RelatedObjectDoesNotExist:
        invoice = None
    return render(
        request,
        "customerweb/order.html",
        {
            "order": order,
            "shop": order.shop,
            "t": view,
            "is_owner": True,
            "token": links.tracking_token(order.pk),
            "preferences_url": links.preferences_url(order.customer_id),
            "sent": _messages_of(order),
            "invoice": invoice,
            "credit_notes": list(order.credit_notes.order_by("issued_at")),
            "can_change_address": address_changeable(order),
            "claims": list(claims_of_order(request.user, order.pk)),
        },
    )


class AddressForm(forms.Form):
    ship_name = forms.CharField(label=_("Name"), max_length=200)
    ship_line1 = forms.CharField(label=_("Address"), max_length=200)
    ship_line2 = forms.CharField(label=_("Address (continued)"), max_length=200, required=False)
    ship_postcode = forms.CharField(label=_("Postcode"), max_length=16)
    ship_city = forms.CharField(label=_("City"), max_length=100)
    ship_country = forms.CharField(
        label=_("Country (two letters, e.g. FR)"), max_length=2, min_length=2
    )


@login_required
@require_http_methods(["GET", "POST"])
def address_change(request: HttpRequest, order_id: int) -> HttpResponse:
    """Change the delivery address while the order has not shipped."""
    order = order_or_404(request, order_id)
    form = AddressForm(
        request.POST or None,
        initial={name: getattr(order, name) for name in AddressForm.base_fields},
    )
    status = 200
    if not address_changeable(order):
        messages.error(request, _("This order has shipped: its address can no longer change."))
        return redirect("customer:order", order_id=order.pk)
    if request.method == "POST":
        if form.is_valid():
            try:
                order_change_address(
                    shop=order.shop,
                    order_id=order.pk,
                    address=form.cleaned_data,
                    actor=f"customer:{order.customer_id}",
                )
            except DomainError as exc:
                form.add_error(
                    getattr(exc, "field", None) if isinstance(exc, InvalidInput) else None,
                    exc.message,
                )
                status = 400
            else:
                messages.success(request, _("Your delivery address was changed."))
                return redirect("customer:order", order_id=order.pk)
        else:
            status = 400
    return render(
        request,
        "customerweb/address.html",
        {"form": form, "order": order, "shop": order.shop},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Notification choices, per shop the customer bought from (one form per shop)."""
    customers = list(
        selectors.customers_of_user(request.user).select_related("shop").order_by("pk")
    )
    if not customers:
        return render(request, "customerweb/preferences.html", {"forms": []})
    chosen = request.POST.get("customer") or request.GET.get("customer")
    entries = []
    status = 200
    for customer in customers:
        pref = notification_services.preferences_get(shop=customer.shop, customer_id=customer.pk)
        initial = {
            "channels": pref.channels or ["email"],
            "service_opt_out": pref.service_opt_out,
            "marketing_opt_out": pref.marketing_opt_out,
            "language": pref.language or customer.language or "fr",
            "quiet_start": pref.quiet_start or dt.time(21, 0),
            "quiet_end": pref.quiet_end or dt.time(8, 0),
        }
        posted = request.method == "POST" and chosen == str(customer.pk)
        form = PreferencesForm(
            request.POST if posted else None, initial=initial, prefix=f"c{customer.pk}"
        )
        if posted:
            if form.is_valid():
                try:
                    form.save_for(customer, pref)
                except InvalidInput as exc:
                    form.add_error(None, exc.message)
                    status = 400
                else:
                    messages.success(request, _("Your choices were saved."))
                    return redirect("customer:preferences")
            else:
                status = 400
        entries.append({"customer": customer, "shop": customer.shop, "form": form})
    return render(request, "customerweb/preferences.html", {"forms": entries}, status=status)


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    """Sign-in settings (allauth), this device's push notifications, export, deletion."""
    devices = PushSubscription.objects.filter(
        customer__in=selectors.customers_of_user(request.user)
    ).count()
    return render(
        request,
        "customerweb/account.html",
        {"vapid_key": application_server_key(), "devices": devices},
    )


@login_required
@require_POST
def push_subscription(request: HttpRequest) -> HttpResponse:
    """Record this browser's push subscription for every shop the customer buys from, so
    that each device signed in to the account receives the same notifications."""
    try:
        body = json.loads(request.body or b"{}")
        keys = body.get("keys") or {}
        endpoint, p256dh, auth = body["endpoint"], keys["p256dh"], keys["auth"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return JsonResponse(
            {
                "type": "invalid-input",
                "title": "Send the subscription as PushSubscription.toJSON().",
            },
            status=400,
        )
    customers = list(selectors.customers_of_user(request.user).select_related("shop"))
    if not customers:
        return JsonResponse(
            {"type": "no-orders", "title": "There is no order in this account yet."}, status=409
        )
    try:
        with transaction.atomic():
            for customer in customers:
                notification_services.push_subscribe(
                    shop=customer.shop,
                    customer_id=customer.pk,
                    endpoint=endpoint,
                    p256dh=p256dh,
                    auth=auth,
                    user_agent=request.headers.get("User-Agent", ""),
                )
    except InvalidInput as exc:
        return JsonResponse(
            {"type": exc.code, "title": exc.message, "field": exc.field}, status=422
        )
    return JsonResponse({"subscribed": len(customers)}, status=201)


def _export(user: Any) -> dict[str, Any]:
    customers = list(selectors.customers_of_user(user).select_related("shop"))
    orders = list(selectors.orders_of_user(user).prefetch_related("lines", "events"))
    return {
        "exported_at": timezone.now().isoformat(),
        "account": {"email": user.email, "date_joined": user.date_joined.isoformat()},
        "customers": [
            {
                "shop": c.shop.name,
                "email": c.email,
                "phone": c.phone,
                "first_name": c.first_name,
                "last_name": c.last_name,
                "language": c.language,
            }
            for c in customers
        ],
        "orders": [
            {
                "shop": o.shop.name,
                "reference": o.reference,
                "status": o.status,
                "placed_at": o.placed_at.isoformat(),
                "email": o.email,
                "phone": o.phone,
                "delivery_address": {
                    "name": o.ship_name,
                    "line1": o.ship_line1,
                    "line2": o.ship_line2,
                    "postcode": o.ship_postcode,
                    "city": o.ship_city,
                    "country": o.ship_country,
                },
                "currency": o.currency,
                "total": str(o.total_amount),
                "lines": [
                    {
                        "name": line.name,
                        "sku": line.sku,
                        "quantity": line.quantity_ordered,
                        "cancelled": line.quantity_cancelled,
                        "unit_price": str(line.unit_price),
                    }
                    for line in o.lines.all()
                ],
                "timeline": [
                    {"type": e.type, "at": e.occurred_at.isoformat()} for e in o.events.all()
                ],
            }
            for o in orders
        ],
    }


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """Everything the account holds about the customer, as a JSON download (GDPR art. 20)."""
    response = JsonResponse(
        _export(request.user), json_dumps_params={"ensure_ascii": False, "indent": 2}
    )
    response["Content-Disposition"] = 'attachment; filename="suivi-export.json"'
    response["Cache-Control"] = "private, no-store"
    return response


class DeleteForm(forms.Form):
    confirm = forms.CharField(label=_("Type your email address to confirm"), max_length=254)

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_confirm(self) -> str:
        value = str(self.cleaned_data["confirm"]).strip().lower()
        if value != self.email.lower():
            raise ValidationError(_("This is not the email address of this account."))
        return value


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest) -> HttpResponse:
    """Delete the account. The shops keep the orders (invoices must be kept by law) but the
    account, its sign-in methods, its push subscriptions and its link to the orders go."""
    user = request.user
    form = DeleteForm(request.POST or None, email=getattr(user, "email", ""))
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            PushSubscription.objects.filter(customer__in=selectors.customers_of_user(user)).delete()
            customers_unlink_user(user=user)
            logout(request)
            user.delete()
        messages.success(request, _("Your account was deleted."))
        return redirect("customer:lookup")
    return render(
        request, "customerweb/delete.html", {"form": form}, status=400 if form.errors else 200
    )
