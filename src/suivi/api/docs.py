"""Interactive API docs that work offline.

django-ninja's Swagger page loads Swagger UI from a CDN unless ``ninja`` is an installed
app. The same files ship inside the ninja package: serve them from there, under the
API's own URLs, so a self-hosted instance without Internet access has working docs and
no page of ours pulls a third-party script.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import ninja
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from ninja.openapi.docs import DocsBase

from .problems import not_found_view

if TYPE_CHECKING:
    from ninja import NinjaAPI

ASSET_DIR = Path(ninja.__file__).resolve().parent / "static" / "ninja"
# The only files served, with their types: nothing else of the directory is reachable.
ASSETS: dict[str, str] = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-init.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
    "favicon.png": "image/png",
}
ASSET_URL_NAME = "docs-asset"


class OfflineSwagger(DocsBase):
    """Swagger UI rendered from our template with assets served by :func:`docs_asset`."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        """Render the docs page for *api*."""

        def asset(name: str) -> str:
            return reverse(f"{api.urls_namespace}:{ASSET_URL_NAME}", kwargs={"name": name})

        settings = {
            "url": self.get_openapi_url(api, kwargs),
            "layout": "BaseLayout",
            "deepLinking": True,
            "persistAuthorization": True,
            # The default validator badge calls validator.swagger.io: stay offline.
            "validatorUrl": None,
        }
        context = {
            "title": api.title,
            "swagger_settings": settings,
            "assets": {
                "css": asset("swagger-ui.css"),
                "bundle": asset("swagger-ui-bundle.js"),
                "init": asset("swagger-ui-init.js"),
                "favicon": asset("favicon.svg"),
            },
        }
        return render(request, "api/docs.html", context)


def docs_asset(request: HttpRequest, name: str) -> HttpResponseBase:
    """Serve one Swagger UI file from the installed ninja package."""
    content_type = ASSETS.get(name)
    path = ASSET_DIR / name
    if content_type is None or not path.is_file():
        return not_found_view(request)
    response = FileResponse(path.open("rb"), content_type=content_type)
    # The files change only with the ninja version: let browsers keep them a day.
    response["Cache-Control"] = "public, max-age=86400"
    return response
