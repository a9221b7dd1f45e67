"""A shop's public brand assets: the logo uploaded in the back office, served to anyone.

Nothing else of ``MEDIA_ROOT`` is served: this view reads the one file ``Shop.logo`` names.
The logo shows in the customer's emails (which mail clients and their image proxies fetch
without any session) and in the customer pages' header, so it is public by design and
cached for a day. Its type is sniffed by Pillow (PNG, JPEG or WebP only: what
:mod:`.branding` writes) and never taken from the name; the ETag comes from the file name,
which :func:`.branding.branding_update` makes new for every upload, so a new logo is a new
ETag (and a new ``?v=`` in the links :func:`.branding.logo_path` builds).
"""

from __future__ import annotations

import io
from typing import Final

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe
from PIL import Image, UnidentifiedImageError

from .branding import MAX_LOGO_BYTES, logo_fingerprint
from .models import Shop

# Pillow format → content type. Branding re-encodes every upload into one of these three.
CONTENT_TYPES: Final = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
# A re-encoded logo (at most 1024 px a side) stays far below this; anything larger is not
# a file branding wrote.
MAX_STORED_BYTES: Final = MAX_LOGO_BYTES * 4
CACHE_CONTROL: Final = "public, max-age=86400"


def _headers(response: HttpResponseBase, etag: str) -> HttpResponseBase:
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    # An image opened on its own does nothing, and nothing it could carry runs.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _read(shop: Shop, name: str) -> bytes | None:
    try:
        with shop.logo.storage.open(name, "rb") as handle:
            data: bytes = handle.read(MAX_STORED_BYTES + 1)
    except (OSError, ValueError):
        return None
    return data if 0 < len(data) <= MAX_STORED_BYTES else None


def _sniff(data: bytes) -> str | None:
    """The content type Pillow reads in *data*'s header (PNG, JPEG or WebP), else None."""
    try:
        with Image.open(io.BytesIO(data), formats=list(CONTENT_TYPES)) as image:
            return CONTENT_TYPES.get(image.format or "")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


@require_safe
def logo(request: HttpRequest, slug: str) -> HttpResponseBase:
    """Serve the logo of the shop *slug*; 404 when the shop or its logo is unknown, or the
    stored file is not a PNG, JPEG or WebP picture."""
    shop = Shop.objects.filter(slug=slug).only("pk", "slug", "logo").first()
    name = (shop.logo.name or "") if shop is not None else ""
    if shop is None or not name:
        raise Http404("No logo.")
    etag = f'"{logo_fingerprint(name)}"'
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:
        return _headers(not_modified, etag)
    data = _read(shop, name)
    content_type = _sniff(data) if data is not None else None
    if data is None or content_type is None:
        raise Http404("No logo.")
    response = HttpResponse(data, content_type=content_type)
    response["Content-Length"] = str(len(data))
    return _headers(response, etag)
