"""Template context of the back-office pages: the member acting and the shop."""

from __future__ import annotations

from django.http import HttpRequest


def staff(request: HttpRequest) -> dict[str, object]:
    """``staff`` (see :class:`suivi.backoffice.access.Staff`) on back-office pages."""
    current = getattr(request, "staff", None)
    return {"staff": current} if current is not None else {}
