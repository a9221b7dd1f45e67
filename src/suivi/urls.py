"""Root URLs: the REST API, the operator admin and health check."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path

from suivi.api.urls import api


def healthz(request: HttpRequest) -> JsonResponse:
    """Answer liveness probes."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("healthz", healthz),
]
