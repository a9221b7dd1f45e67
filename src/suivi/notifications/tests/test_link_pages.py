"""The pages behind the links in every message: the order's tracking page and the
customer's notification choices, opened with a signed token."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from suivi.notifications import links
from suivi.notifications.models import CustomerPreference
from suivi.orders.services import order_apply_action
from suivi.shops.models import Shop
from suivi.testing import make_order

pytestmark = pytest.mark.django_db


def test_the_tracking_link_shows_progress_without_personal_data(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    order_apply_action(shop=shop_a, order_id=order.pk, action="start_preparation")

    response = Client().get(f"/t/{links.tracking_token(order.pk)}")

    html = response.content.decode()
    assert response.status_code == 200
    assert order.reference in html and "préparation" in html.lower()
    for private in ("Claire", "Martin", "claire.martin@example.fr", "Bellecour", "Pull marin"):
        assert private not in html


@pytest.mark.parametrize("token", ["1.AAAAAAAAAAAAAAAA", "zz", "", "1", "1.x.y"])
def test_a_forged_tracking_token_is_a_404(shop_a: Shop, token: str) -> None:
    make_order(shop_a, paid=True)
    assert Client().get(f"/t/{token}").status_code == 404


def test_a_tracking_token_cannot_be_moved_to_another_order(shop_a: Shop) -> None:
    first, second = make_order(shop_a), make_order(shop_a)
    ident, _, mac = links.tracking_token(first.pk).partition(".")
    other_ident = links.tracking_token(second.pk).partition(".")[0]
    assert Client().get(f"/t/{other_ident}.{mac}").status_code == 404
    assert ident != other_ident


def test_a_customer_saves_their_choices_with_csrf_protection(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    url = f"/p/{links.preferences_token(order.customer_id)}"
    client = Client(enforce_csrf_checks=True)

    page = client.get(url)
    assert page.status_code == 200
    refused = client.post(url, {"channels": ["email"], "language": "en"})
    assert refused.status_code == 403  # no CSRF token
    token = page.cookies["csrftoken"].value
    saved = client.post(
        url,
        {
            "channels": ["email", "sms"], "marketing_opt_out": "on", "language": "en",
            "quiet_start": "22:00", "quiet_end": "07:30", "csrfmiddlewaretoken": token,
        },
    )  # fmt: skip

    assert saved.status_code == 200 and "saved" in saved.content.decode()
    pref = CustomerPreference.objects.get(customer=order.customer)
    assert pref.channels == ["email", "sms"] and pref.marketing_opt_out
    assert (pref.quiet_start, pref.quiet_end) == (dt.time(22, 0), dt.time(7, 30))


def test_half_quiet_hours_are_refused_with_a_readable_message(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    url = f"/p/{links.preferences_token(order.customer_id)}"
    response = Client().post(url, {"language": "fr", "quiet_start": "22:00"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "heures calmes" in page and "au moins un canal" in page
    assert not CustomerPreference.objects.filter(
        customer=order.customer, quiet_start__isnull=False
    ).exists()


def test_a_preferences_token_is_not_a_tracking_token(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    token = links.preferences_token(order.customer_id)
    assert links.order_from_tracking_token(token) is None
