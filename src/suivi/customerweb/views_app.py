"""Guide and app shell (work in progress)."""

from django.http import HttpRequest, HttpResponse


def guide(request: HttpRequest) -> HttpResponse:
    return HttpResponse("guide")


manifest = service_worker = guide
