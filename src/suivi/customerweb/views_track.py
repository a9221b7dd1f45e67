"""Public tracking pages (work in progress)."""

from django.http import Http404, HttpRequest, HttpResponse


def lookup(request: HttpRequest) -> HttpResponse:
    raise Http404


def track(request: HttpRequest, token: str) -> HttpResponse:
    raise Http404


def track_json(request: HttpRequest, token: str) -> HttpResponse:
    raise Http404


def live_unavailable(request: HttpRequest, token: str) -> HttpResponse:
    raise Http404
