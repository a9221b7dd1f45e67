"""Endpoints about the API itself: the order lifecycle tables."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from . import render
from .problems import Problem
from .schemas import LifecycleOut

router = Router(tags=["lifecycle"])


@router.get(
    "/lifecycle",
    response={200: LifecycleOut, 401: Problem},
    summary="Statuses, actions and transitions",
    operation_id="lifecycle_get",
)
def get_lifecycle(request: HttpRequest) -> HttpResponse:
    """Return the order lifecycle as declared in ``suivi.orders.lifecycle``."""
    return render.json_response(render.lifecycle_data())
