"""Back-office URLs: ``/shop/`` and every page of one shop under ``/shop/<slug>/``.

Each area has its own URL module; every view there is wrapped by
:func:`suivi.backoffice.access.staff_view` (a test walks this URLconf to prove it).
"""

from django.urls import include, path

from . import views

app_name = "backoffice"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.home, name="home"),
    path("<slug:slug>/orders/", include("suivi.backoffice.urls_orders")),
    path("<slug:slug>/claims/", include("suivi.backoffice.urls_claims")),
    path("<slug:slug>/returns/", include("suivi.backoffice.urls_returns")),
    path("<slug:slug>/notifications/", include("suivi.backoffice.urls_notifications")),
    path("<slug:slug>/settings/", include("suivi.backoffice.urls_settings")),
    path("<slug:slug>/operations/", include("suivi.backoffice.urls_operations")),
]
