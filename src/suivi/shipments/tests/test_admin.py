"""The operator admin shows parcels, accounts and breakers read-only, never credentials."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from suivi.shipments import services
from suivi.shipments.models import CarrierHealth

from .factories import number, shipped_order

pytestmark = pytest.mark.django_db


def test_admin_pages_render_without_secrets(client, shop_a) -> None:
    user = get_user_model().objects.create_superuser(
        "op@suivi.test", "op@suivi.test", "pw-12345678"
    )
    client.force_login(user)
    _order, [parcel] = shipped_order(shop_a, number())
    account, secret = services.account_create(
        shop=shop_a, carrier="laposte", credentials={"api_key": "very-secret-okapi-key"}
    )
    CarrierHealth.objects.create(carrier="laposte", consecutive_failures=2)
    pages = [
        "/admin/shipments/parcel/",
        f"/admin/shipments/parcel/{parcel.pk}/change/",
        "/admin/shipments/carrieraccount/",
        f"/admin/shipments/carrieraccount/{account.pk}/change/",
        "/admin/shipments/carrierhealth/",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert "very-secret-okapi-key" not in body and secret not in body
    assert parcel.tracking_number in client.get("/admin/shipments/parcel/").content.decode()
