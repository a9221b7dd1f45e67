"""The customer space: scoped to the signed-in customer, forms with CSRF, clear refusals."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth import get_user_model
from django.test import Client

from suivi.customers.models import Customer
from suivi.notifications.models import CustomerPreference, PushSubscription
from suivi.orders.models import Order, OrderEvent
from suivi.testing import make_order

from .support import PERSONAL, customer_user, ready_order, shipped_order


@pytest.fixture
def owner(shop_a, shop_b):
    """A customer with a shipped order in shop A and a ready one in shop B."""
    shipped = shipped_order(shop_a)
    ready = ready_order(shop_b)
    user = customer_user(shipped)
    Customer.objects.filter(pk=ready.customer_id).update(user=user)
    client = Client()
    client.force_login(user)
    return client, user, shipped, ready


def test_pages_need_a_signed_in_customer(shop_a) -> None:
    for url in ("/space/", "/space/preferences/", "/space/account/", "/space/account/export.json"):
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_history_lists_the_orders_of_every_shop_and_nobody_else_s(owner, shop_a) -> None:
    client, _user, shipped, ready = owner
    stranger = make_order(shop_a, email="stranger@example.org")
    html = client.get("/space/").content.decode()
    assert shipped.reference in html and ready.reference in html
    assert stranger.reference not in html


def test_another_customer_s_order_is_not_found(owner, shop_a) -> None:
    client, *_ = owner
    stranger = make_order(shop_a, email="stranger@example.org")
    for url in (f"/space/orders/{stranger.pk}/", f"/space/orders/{stranger.pk}/address",
                "/space/orders/999999/"):  # fmt: skip
        assert client.get(url).status_code == 404


def test_order_detail_shows_timeline_items_and_messages(owner) -> None:
    client, _user, shipped, _ready = owner
    html = client.get(f"/space/orders/{shipped.pk}/").content.decode()
    assert "6A12345678901" in html and PERSONAL["line"] in html
    assert "Chilly-Mazarin" in html


def test_the_address_changes_before_shipping_and_is_refused_after(owner) -> None:
    client, _user, shipped, ready = owner
    data = {"ship_name": "Inès Moreau", "ship_line1": "8 rue Neuve", "ship_line2": "",
            "ship_postcode": "75011", "ship_city": "Paris", "ship_country": "fr"}  # fmt: skip
    response = client.post(f"/space/orders/{ready.pk}/address", data)
    assert response.status_code == 302
    ready.refresh_from_db()
    assert (ready.ship_line1, ready.ship_country) == ("8 rue Neuve", "FR")
    assert OrderEvent.objects.filter(order=ready, type="order.address_changed").count() == 1
    # Shipped: refused, nothing changed.
    response = client.post(f"/space/orders/{shipped.pk}/address", data, follow=True)
    assert Order.objects.get(pk=shipped.pk).ship_line1 == "3 place Bellecour"
    assert (
        "can no longer change" in response.content.decode()
        or "ne peut plus" in response.content.decode()
    )


def test_a_bad_address_is_refused_with_a_message_and_changes_nothing(owner) -> None:
    client, _user, _shipped, ready = owner
    response = client.post(
        f"/space/orders/{ready.pk}/address",
        {
            "ship_name": "",
            "ship_line1": "x",
            "ship_postcode": "1",
            "ship_city": "y",
            "ship_country": "France",
        },
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert Order.objects.get(pk=ready.pk).ship_line1 == "3 place Bellecour"


def test_preferences_are_saved_per_shop(owner) -> None:
    client, _user, shipped, _ready = owner
    prefix = f"c{shipped.customer_id}"
    response = client.post("/space/preferences/", {
        "customer": shipped.customer_id, f"{prefix}-channels": ["email", "push"],
        f"{prefix}-language": "en", f"{prefix}-quiet_start": "22:00",
        f"{prefix}-quiet_end": "07:30",
    })  # fmt: skip
    assert response.status_code == 302
    pref = CustomerPreference.objects.get(customer_id=shipped.customer_id)
    assert pref.channels == ["email", "push"] and pref.language == "en"
    assert str(pref.quiet_start) == "22:00:00"


def test_preferences_of_another_customer_cannot_be_posted(owner, shop_a) -> None:
    client, *_ = owner
    stranger = make_order(shop_a, email="stranger@example.org")
    prefix = f"c{stranger.customer_id}"
    client.post(
        "/space/preferences/",
        {
            "customer": stranger.customer_id,
            f"{prefix}-channels": ["sms"],
            f"{prefix}-language": "en",
        },
    )
    assert not CustomerPreference.objects.filter(
        customer_id=stranger.customer_id, channels=["sms"]
    ).exists()


def _subscription() -> dict[str, object]:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    b64 = lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")  # noqa: E731
    return {"endpoint": "https://127.0.0.1:9/send/abc123",
            "keys": {"p256dh": b64(key), "auth": b64(b"0123456789abcdef")}}  # fmt: skip


def test_a_device_subscribes_to_push_for_every_shop_of_the_account(owner, settings) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8"]  # the test's push service
    client, _user, shipped, ready = owner
    response = client.post(
        "/space/push", json.dumps(_subscription()), content_type="application/json"
    )
    assert response.status_code == 201
    assert set(PushSubscription.objects.values_list("customer_id", flat=True)) == {
        shipped.customer_id, ready.customer_id}  # fmt: skip
    bad = client.post("/space/push", "{}", content_type="application/json")
    assert bad.status_code == 400 and bad.json()["type"] == "invalid-input"


def test_export_holds_the_customer_s_data(owner) -> None:
    client, _user, shipped, ready = owner
    data = json.loads(client.get("/space/account/export.json").content)
    refs = {o["reference"] for o in data["orders"]}
    assert refs == {shipped.reference, ready.reference}
    assert data["orders"][0]["lines"]


def test_deletion_needs_the_email_typed_and_keeps_the_orders(owner) -> None:
    client, user, shipped, _ready = owner
    refused = client.post("/space/account/delete", {"confirm": "nope@example.org"})
    assert refused.status_code == 400
    assert get_user_model().objects.filter(pk=user.pk).exists()
    done = client.post("/space/account/delete", {"confirm": user.email.upper()})
    assert done.status_code == 302
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert Order.objects.filter(pk=shipped.pk).exists()
    assert Customer.objects.get(pk=shipped.customer_id).user is None


@pytest.mark.parametrize("url", ["/space/account/delete", "/space/preferences/", "/space/push"])
def test_every_form_needs_its_csrf_token(owner, url) -> None:
    _client, user, *_ = owner
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(url, {"confirm": user.email}).status_code == 403
