"""Template context shared by the customer pages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    """Languages for the switch and the live-update address."""
    return {"SUIVI_LANGUAGES": settings.LANGUAGES, "SUIVI_LIVE_URL": settings.SUIVI_LIVE_URL}
