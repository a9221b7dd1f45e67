"""Public tracking pages built once per change (see :class:`.models.PublicPage`).

``public_page(order_id, language)`` runs one query that reads the stored page and the
order's current version (the newest order event and carrier scan ids, two index lookups in
sub-selects); when the stored page is older, or missing, or older than ``MAX_AGE`` (shop
branding may have changed), both languages are rendered again and stored. A worker job
renders the pages of orders that just changed, so that the customer who follows a link from
a message finds their page ready.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from suivi.notifications import links

from .changes import changes_since, high_water_marks, version_columns_sql, version_of
from .models import PublicPage
from .tracking import order_for_tracking, tracking_view

MAX_AGE = dt.timedelta(hours=1)
LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class Page:
    html: str
    json: str
    version: str


def _page_sql() -> str:
    pages = PublicPage._meta.db_table
    return (
        f"SELECT {version_columns_sql()}, "  # noqa: S608 (table names from the models)
        f"pg.version, pg.built_at, pg.html_fr, pg.html_en, pg.json_fr, pg.json_en, pg.language "
        f"FROM (SELECT 1) AS one LEFT JOIN {pages} pg ON pg.order_id = %s"
    )


_SQL: str | None = None


def live_url(token: str) -> str:
    """Where the page's live stream is served ("" without a live process)."""
    base = settings.SUIVI_LIVE_URL.rstrip("/")
    return f"{base}/t/{token}/live" if base else ""


def render_public(order_id: int) -> PublicPage | None:
    """Render and store the public page of *order_id* in both languages (None: no order)."""
    order = order_for_tracking(order_id)
    if order is None:
        return None
    token = links.tracking_token(order.pk)
    rendered: dict[str, tuple[str, str]] = {}
    version = ""
    for language in LANGUAGES:
        with translation.override(language):
            view = tracking_view(order, language=language, owner=False)
            version = view.version
            context = {
                "t": view,
                "shop": order.shop,
                "token": token,
                "live_url": live_url(token),
                "is_owner": False,  # so no link to the customer's notification choices
                "SUIVI_LANGUAGES": settings.LANGUAGES,
                "next_path": reverse("customer:track", args=[token]),
            }
            html = render_to_string("customerweb/track.html", context)
            rendered[language] = (html, json.dumps(view.as_json(), ensure_ascii=False))
    page = PublicPage(
        order_id=order.pk,
        version=version,
        language=order.language if order.language in LANGUAGES else LANGUAGES[0],
        built_at=timezone.now(),
        html_fr=rendered["fr"][0],
        html_en=rendered["en"][0],
        json_fr=rendered["fr"][1],
        json_en=rendered["en"][1],
    )
    # One statement, INSERT … ON CONFLICT DO UPDATE: the worker and a first visitor may
    # render the same page at once; the last one wins, neither fails.
    PublicPage.objects.bulk_create(
        [page],
        update_conflicts=True,
        unique_fields=["order"],
        update_fields=[
            "version", "language", "built_at", "html_fr", "html_en", "json_fr", "json_en"
        ],
    )  # fmt: skip
    return page


def public_page(order_id: int, language: str) -> Page | None:
    """The public page of *order_id* in *language* ("": the order's own), rebuilt first if
    it is not current."""
    global _SQL
    if _SQL is None:
        _SQL = _page_sql()
    with connection.cursor() as cursor:
        cursor.execute(_SQL, [order_id, order_id, order_id])
        row = cursor.fetchone()
    version = version_of(row[0], row[1])
    stored_version, built_at = row[2], row[3]
    if isinstance(built_at, str):  # SQLite returns text
        built_at = dt.datetime.fromisoformat(built_at)
    if built_at is not None and timezone.is_naive(built_at):
        built_at = timezone.make_aware(built_at, dt.UTC)
    fresh = (
        stored_version == version and built_at is not None and timezone.now() - built_at < MAX_AGE
    )
    if fresh:
        english = (language or row[8]) == "en"
        html, body = (row[5], row[7]) if english else (row[4], row[6])
        return Page(html=html, json=body, version=version)
    page = render_public(order_id)
    if page is None:
        return None
    english = (language or page.language) == "en"
    return Page(
        html=page.html_en if english else page.html_fr,
        json=page.json_en if english else page.json_fr,
        version=page.version,
    )


MARKS_KEY = "customerweb:pages:marks"
REFRESH_LIMIT = 200


def refresh_changed() -> int:
    """Worker job: render the public pages of the orders that changed since the last run
    (at most ``REFRESH_LIMIT`` per run; the rest wait for the next run or their first
    visit). The marks live in the shared cache; a lost mark only means a page is rendered
    on its first visit instead."""
    from django.core.cache import cache

    marks = cache.get(MARKS_KEY)
    if marks is None:
        cache.set(MARKS_KEY, list(high_water_marks()), None)
        return 0
    changed, order_mark, scan_mark = changes_since(int(marks[0]), int(marks[1]))
    built = 0
    for order_id in sorted(changed)[:REFRESH_LIMIT]:
        if render_public(order_id) is not None:
            built += 1
    cache.set(MARKS_KEY, [order_mark, scan_mark], None)
    return built
