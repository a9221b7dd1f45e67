"""The public tracking page: look an order up, open it from a message's signed link, read
its JSON, and (on the ASGI process, see :mod:`suivi.customerweb.live`) follow it live.

Proof of ownership (see :mod:`.tracking`): the signed-in owner, or a lookup with the order's
email in this browser session. A signed link or a lookup by postcode shows the public page.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from suivi.core.ratelimit import Limit, client_address
from suivi.notifications import links
from suivi.orders.models import Order
from suivi.shops.models import Shop

from .changes import latest_version
from .pages import live_url, public_page
from .tracking import find_order, order_for_tracking, tracking_view

# Against enumeration: 5 failed lookups per address per 15 minutes, 10 per order number per
# hour, and 30 lookups of any kind per address per 10 minutes.
FAILURES_PER_ADDRESS = Limit("lookup-fail-ip", 5, 900)
FAILURES_PER_REFERENCE = Limit("lookup-fail-ref", 10, 3600)
LOOKUPS_PER_ADDRESS = Limit("lookup-ip", 30, 600)
SESSION_KEY = "suivi_owned_orders"
MAX_GRANTS = 20


class LookupForm(forms.Form):
    reference = forms.CharField(label=_("Order number"), max_length=64)
    contact = forms.CharField(
        label=_("Email address or delivery postcode"),
        max_length=254,
        help_text=_("With your email address you also see your items and delivery address."),
    )


def _grant(request: HttpRequest, order_id: int) -> None:
    owned = [i for i in request.session.get(SESSION_KEY, []) if i != order_id]
    request.session[SESSION_KEY] = [order_id, *owned][:MAX_GRANTS]
    request.session.cycle_key()  # a new session id once it carries a proof


def _is_owner(request: HttpRequest, order: Order) -> bool:
    if request.COOKIES.get(settings.SESSION_COOKIE_NAME) is None:
        return False  # no session, no proof (and no session query on the hot path)
    user = request.user
    if user.is_authenticated and order.customer.user_id == user.pk:
        return True
    return order.pk in request.session.get(SESSION_KEY, [])


def _cookie_language(request: HttpRequest) -> str:
    """The language of a public page: the switch's cookie, else the order's (decided by
    :func:`public_page` from the stored page: French, the platform's first language)."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    return chosen if chosen in ("fr", "en") else ""


def _language(request: HttpRequest, order: Order) -> str:
    """The visitor's chosen language (the switch's cookie), else the order's."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    lang = chosen if chosen in ("fr", "en") else order.language
    return lang if lang in ("fr", "en") else settings.LANGUAGE_CODE


@require_http_methods(["GET", "POST"])
def lookup(request: HttpRequest) -> HttpResponse:
    """Find an order by its number and the email or the postcode it was placed with."""
    slug = request.GET.get("shop", "")
    shop = Shop.objects.filter(slug=slug).first() if slug else None
    form = LookupForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        address = client_address(request)
        reference = form.cleaned_data["reference"].strip().upper()
        if (
            FAILURES_PER_ADDRESS.exceeded(address)
            or FAILURES_PER_REFERENCE.exceeded(reference)
            or LOOKUPS_PER_ADDRESS.hit(address) > LOOKUPS_PER_ADDRESS.count
        ):
            form.add_error(
                None,
                _("Too many attempts. Please wait a few minutes before trying again."),
            )
            response = render(
                request, "customerweb/lookup.html", {"form": form, "shop": shop}, status=429
            )
            response["Retry-After"] = str(FAILURES_PER_ADDRESS.retry_after())
            return response
        order, owner = find_order(
            form.cleaned_data["reference"], form.cleaned_data["contact"], shop
        )
        if order is None:
            FAILURES_PER_ADDRESS.hit(address)
            FAILURES_PER_REFERENCE.hit(reference)
            form.add_error(
                None,
                _(
                    "We could not find an order with these details. Check the order number "
                    "and use the email address or postcode given with the order."
                ),
            )
            status = 400
        else:
            if owner:
                _grant(request, order.pk)
            return redirect(reverse("customer:track", args=[links.tracking_token(order.pk)]))
    elif request.method == "POST":
        status = 400
    return render(request, "customerweb/lookup.html", {"form": form, "shop": shop}, status=status)


def _order_from_token(token: str) -> Order:
    order_id = links.order_from_tracking_token(token)
    order = order_for_tracking(order_id) if order_id else None
    if order is None:
        raise Http404
    return order


@require_GET
def track(request: HttpRequest, token: str) -> HttpResponse:
    """The tracking page (``?fragment=1``: only the part that live updates replace)."""
    if request.COOKIES.get(settings.SESSION_COOKIE_NAME) is None and not request.GET:
        # No session, so no proof: the page every visitor gets, rendered once per change.
        order_id = links.order_from_tracking_token(token)
        page = public_page(order_id, _cookie_language(request)) if order_id else None
        if page is None:
            raise Http404
        response = HttpResponse(page.html)
        response["Cache-Control"] = "private, no-cache"
        response["Referrer-Policy"] = "no-referrer"
        return response
    order = _order_from_token(token)
    lang = _language(request, order)
    translation.activate(lang)
    request.LANGUAGE_CODE = lang
    owner = _is_owner(request, order)
    view = tracking_view(order, language=lang, owner=owner)
    context = {
        "t": view,
        "shop": order.shop,
        "token": token,
        "live_url": live_url(token),
        "preferences_url": links.preferences_url(order.customer_id),
        "is_owner": owner,
    }
    template = (
        "customerweb/_tracking.html" if request.GET.get("fragment") else "customerweb/track.html"
    )
    response = render(request, template, context)
    response["Cache-Control"] = "private, no-cache"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


@require_GET
def track_json(request: HttpRequest, token: str) -> HttpResponse:
    """The page's data as JSON; answers 304 when nothing changed (``If-None-Match``)."""
    order_id = links.order_from_tracking_token(token)
    if not order_id:
        raise Http404
    if request.COOKIES.get(settings.SESSION_COOKIE_NAME) is None:
        page = public_page(order_id, _cookie_language(request))
        if page is None:
            raise Http404
        etag = f'"{page.version}"'
        if request.headers.get("If-None-Match") == etag:
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(page.json, content_type="application/json")
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response
    etag = f'"{latest_version(order_id)}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        order = order_for_tracking(order_id)
        if order is None:
            raise Http404
        lang = _language(request, order)
        view = tracking_view(order, language=lang, owner=_is_owner(request, order))
        response = JsonResponse(view.as_json(), json_dumps_params={"ensure_ascii": False})
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


def live_unavailable(request: HttpRequest, token: str) -> HttpResponse:
    """The live stream is served by the ASGI process (``suivi.asgi``), not by the WSGI
    workers; here 204 tells EventSource to stop, and the page polls the JSON instead."""
    return HttpResponse(status=204)
