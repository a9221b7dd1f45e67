"""The v1 API object, mounted at ``api/v1/`` by :mod:`suivi.urls`."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver, path, re_path, reverse
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from . import meta, notifications, orders, shipments
from .auth import ApiKeyAuth
from .docs import ASSET_URL_NAME, OfflineSwagger, docs_asset
from .parser import JSONParser
from .problems import (
    PROBLEM_CONTENT_TYPE,
    install_problem_handlers,
    not_found_view,
    problem_response,
)
from .render import json_response

DESCRIPTION = """\
Orders, their lifecycle and their documents for one shop.

* **Authentication**: `Authorization: Bearer <shop API key>`.
* **Errors**: RFC 9457 `application/problem+json`, with a stable `type` per error and
  `errors[].field` naming each invalid field.
* **Idempotency**: send an `Idempotency-Key` header on writes; a retry with the same key and
  body returns the first response (`Idempotent-Replayed: true`).
* **Pagination**: lists return `next_cursor`; pass it back as `?cursor=`.
"""


class SuiviAPI(NinjaAPI):
    """NinjaAPI with problem+json error documents and a JSON index and 404 of its own."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        """Return the OpenAPI document, error responses typed ``application/problem+json``."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content")
                    if int(status) >= 400 and content and "application/json" in content:
                        content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")
        return schema

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        """Return ninja's URL patterns plus the docs assets, the index and a problem 404."""
        patterns, app_name, namespace = super().urls
        # ninja's root view only raises 404; ours lists where things are (same name, as
        # ninja reverses it to find the API's prefix).
        patterns = [p for p in patterns if getattr(p, "name", None) != "api-root"]
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                pattern.callback = _problem_when_not_allowed(pattern.callback)
        return (
            [
                *patterns,
                path("docs/assets/<str:name>", docs_asset, name=ASSET_URL_NAME),
                path("", self._index, name="api-root"),
                re_path(r"^.*$", not_found_view),
            ],
            app_name,
            namespace,
        )

    def _index(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return json_response(
            {
                "title": self.title,
                "version": self.version,
                "openapi": reverse(f"{self.urls_namespace}:openapi-json"),
                "docs": reverse(f"{self.urls_namespace}:openapi-view"),
            }
        )


def _problem_when_not_allowed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap an operation view so that its plain-text 405 becomes a problem."""

    @wraps(view)  # keeps csrf_exempt, which ninja's views carry
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            return problem_response(
                code="method-not-allowed",
                status=405,
                detail=f"This URL accepts {allowed}.",
                headers={"Allow": allowed},
            )
        return response

    return wrapper


api = SuiviAPI(
    title="Suivi API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=ApiKeyAuth(),
    parser=JSONParser(),
    docs=OfflineSwagger(),
)
install_problem_handlers(api)
api.add_router("", orders.router)
api.add_router("", meta.router)
api.add_router("", notifications.router)
api.add_router("", shipments.router)
api.add_router("", shipments.push_router)
