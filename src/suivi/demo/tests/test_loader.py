"""Loading the demo platform: shops, logins, keys, credentials file, reloads and resets."""

from __future__ import annotations

import stat
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model

from suivi.core.errors import InvalidInput
from suivi.demo.credentials import (
    credentials_match_database,
    credentials_path,
    format_credentials,
    read_credentials,
)
from suivi.demo.loader import DemoReport, demo_load, demo_reset
from suivi.demo.specs import DEMO_SHOPS, OPERATOR_EMAIL
from suivi.orders.lifecycle import TRANSITIONS, Mode, Status
from suivi.orders.models import Order
from suivi.shops.models import Membership, Shop
from suivi.shops.services import api_key_authenticate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_data_dir(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    # Demo logins get real hashed passwords; the fastest hasher keeps the tests quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def statuses_by_mode() -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for mode, status in Order.objects.values_list("fulfilment_mode", "status"):
        found[mode].add(status)
    return found


def every_status(mode: Mode) -> set[str]:
    return {status.value for status in TRANSITIONS[mode]}


def test_the_default_demo_has_orders_in_every_status_of_each_mode() -> None:
    report = demo_load()

    assert report.method == "services"
    assert report.orders == 120 == Order.objects.count()
    found = statuses_by_mode()
    assert found[Mode.DELIVERY] == every_status(Mode.DELIVERY)
    assert found[Mode.CLICK_AND_COLLECT] == every_status(Mode.CLICK_AND_COLLECT)
    assert Order.objects.filter(is_partially_cancelled=True).count() >= 2
    assert Order.objects.exclude(exception_reason="").exists()
    assert Order.objects.filter(
        status=Status.CANCELLED, cancellation_reason="sold_in_store"
    ).exists()


def test_the_demo_shops_are_set_up_as_described() -> None:
    demo_load(orders=0)

    lumiere = Shop.objects.get(slug="maison-lumiere")
    librairie = Shop.objects.get(slug="librairie-du-marche")
    assert lumiere.invoicing_enabled and not librairie.invoicing_enabled
    assert list(lumiere.locations.values_list("kind", flat=True)) == ["warehouse"]
    stores = librairie.locations.filter(kind="store")
    assert stores.count() == 2
    assert all(store.opening_hours["sat"] for store in stores)
    for shop in (lumiere, librairie):
        assert sorted(shop.memberships.values_list("role", flat=True)) == sorted(
            Membership.Role.values
        )


def test_every_demo_login_works_with_the_password_on_file_and_the_operator_is_a_superuser() -> None:
    report = demo_load(orders=0)
    credentials = report.credentials
    assert credentials is not None

    for login in credentials.logins:
        assert authenticate(username=login.email, password=credentials.password) is not None, login
    operator = get_user_model().objects.get(username=OPERATOR_EMAIL)
    assert operator.is_superuser and operator.is_staff


def test_each_demo_api_key_authenticates_its_own_shop() -> None:
    credentials = demo_load(orders=0).credentials
    assert credentials is not None

    assert [key.shop_slug for key in credentials.api_keys] == [spec.slug for spec in DEMO_SHOPS]
    for key in credentials.api_keys:
        api_key = api_key_authenticate(secret=key.secret)
        assert api_key is not None and api_key.shop.slug == key.shop_slug


def test_the_credentials_file_is_private_and_reads_back_the_same() -> None:
    report = demo_load(orders=0)

    path = credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_credentials() == report.credentials
    assert credentials_match_database(report.credentials)  # type: ignore[arg-type]
    printed = format_credentials(report.credentials)  # type: ignore[arg-type]
    assert report.credentials.password in printed  # type: ignore[union-attr]
    assert all(key.secret in printed for key in report.credentials.api_keys)  # type: ignore[union-attr]


def test_loading_again_adds_orders_with_new_references_and_keeps_the_credentials() -> None:
    first = demo_load(orders=60)
    on_file = credentials_path().read_text()

    second = demo_load(orders=20)

    assert second.credentials is None
    assert credentials_path().read_text() == on_file
    assert Order.objects.count() == 80
    references = list(Order.objects.values_list("shop__slug", "reference"))
    assert len(set(references)) == 80
    assert Shop.objects.count() == 2
    assert first.shops == second.shops


def test_reset_replaces_the_demo_and_its_credentials() -> None:
    first = demo_load(orders=30)
    other_shop = Shop.objects.create(name="Épicerie Bleue", slug="epicerie-bleue")

    second = demo_load(orders=10, reset=True)

    assert sorted(second.removed) == sorted(spec.name for spec in DEMO_SHOPS)
    assert Order.objects.count() == 10
    assert Shop.objects.filter(pk=other_shop.pk).exists()  # only the demo shops go
    assert second.credentials is not None and first.credentials is not None
    assert second.credentials.password != first.credentials.password
    assert read_credentials() == second.credentials
    assert not credentials_match_database(first.credentials)


def test_a_half_deleted_demo_asks_for_a_reset_instead_of_guessing() -> None:
    demo_load(orders=0)
    Shop.objects.get(slug="librairie-du-marche").delete()

    with pytest.raises(InvalidInput, match="--reset"):
        demo_load(orders=5)
    assert demo_reset() == ["Maison Lumière"]


def test_a_negative_number_of_orders_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot be negative"):
        demo_load(orders=-1)
    assert not Shop.objects.exists()


def test_the_bulk_path_also_fills_every_status(settings: Any) -> None:
    report: DemoReport = demo_load(orders=80, method="bulk")

    assert report.method == "bulk"
    assert Order.objects.count() == 80
    found = statuses_by_mode()
    assert found[Mode.DELIVERY] == every_status(Mode.DELIVERY)
    assert found[Mode.CLICK_AND_COLLECT] == every_status(Mode.CLICK_AND_COLLECT)


def test_loading_again_continues_after_the_highest_demo_number_only() -> None:
    from suivi.testing import make_order

    demo_load(orders=10)
    lumiere = Shop.objects.get(slug="maison-lumiere")
    make_order(lumiere, reference="ML-EXTRA")  # a reference the demo did not number

    demo_load(orders=5)

    numbered = Order.objects.filter(shop=lumiere).exclude(reference="ML-EXTRA")
    assert sorted(numbered.values_list("reference", flat=True)) == [
        f"ML-{n:06d}" for n in range(1, 10)
    ]
