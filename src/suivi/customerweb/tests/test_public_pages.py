"""Public pages rendered once per change: one query when current, never stale."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from suivi.carriers.vocabulary import Status
from suivi.customerweb.models import PublicPage
from suivi.customerweb.pages import refresh_changed
from suivi.notifications import links

from .support import event, push, shipped_order


def test_a_current_page_costs_one_query_and_a_change_rebuilds_it(shop_a) -> None:
    order = shipped_order(shop_a)
    url = f"/t/{links.tracking_token(order.pk)}"
    client = Client()
    first = client.get(url).content.decode()
    stored = PublicPage.objects.get(order=order)
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url).content.decode()
    assert len(queries) == 1 and again == first
    push(
        shop_a,
        "6A12345678901",
        [
            event(
                "6A12345678901",
                Status.OUT_FOR_DELIVERY,
                0.2,
                "Tournée du jour",
                "Paris 11",
                code="MD2",
            )
        ],
    )
    changed = client.get(url).content.decode()
    assert "Tournée du jour" in changed
    assert PublicPage.objects.get(order=order).version != stored.version


def test_the_visitor_s_language_or_else_the_order_s(shop_a) -> None:
    order = shipped_order(shop_a)
    url = f"/t/{links.tracking_token(order.pk)}"
    assert 'lang="fr"' in Client().get(url).content.decode()  # the order's language
    english = Client()
    english.cookies["django_language"] = "en"
    html = english.get(url).content.decode()
    assert 'lang="en"' in html and "Carrier events" in html


def test_the_worker_renders_the_pages_of_orders_that_changed(shop_a) -> None:
    refresh_changed()  # takes the marks
    order = shipped_order(shop_a)
    assert not PublicPage.objects.filter(order=order).exists()
    assert refresh_changed() >= 1
    assert PublicPage.objects.filter(order=order).exists()
    assert refresh_changed() == 0


def test_rendering_a_page_twice_replaces_it(shop_a) -> None:
    from suivi.customerweb.pages import render_public

    order = shipped_order(shop_a)
    render_public(order.pk)
    render_public(order.pk)
    assert PublicPage.objects.filter(order=order).count() == 1
