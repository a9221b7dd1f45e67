"""Root URLs: the home page, the REST API, the operator admin, the merchant back office
(``/shop/``), the customer web and the health check."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import include, path

from suivi import __version__
from suivi.api.urls import api
from suivi.customerweb import views_accounts
from suivi.shops import views as shop_views


def home(request: HttpRequest) -> HttpResponse:
    """Show what this installation serves and where."""
    return render(request, "home.html", {"version": __version__})


def healthz(request: HttpRequest) -> JsonResponse:
    """Answer liveness probes."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("healthz", healthz),
    path("brand/<slug:slug>/logo", shop_views.logo, name="shop-logo"),
    path(
        "accounts/login/code/confirm/",
        views_accounts.confirm_login_code,
        name="account_confirm_login_code",
    ),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("shop/", include("suivi.backoffice.urls")),
    path("", include("suivi.customerweb.urls")),
    # The customer space's other parts (namespaces claims:, returns:, archive:).
    path("space/claims/", include("suivi.claims.urls")),
    path("space/returns/", include("suivi.returns.urls")),
    path("space/documents/", include("suivi.archive.urls")),
    path("", include("suivi.notifications.urls")),
]
