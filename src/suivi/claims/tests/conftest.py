"""Fixtures of the claim tests: two customers with an account (one per shop), a staff
member of shop A, and a private directory of our own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from suivi.customers.models import Customer
from suivi.orders.models import Order
from suivi.shops.models import Membership, Shop
from suivi.testing import make_order

from .support import Person


@pytest.fixture(autouse=True)
def private_dir(tmp_path: Path, settings: Any) -> Path:
    """Every test writes its photos in a directory of its own."""
    path = tmp_path / "private"
    settings.SUIVI_PRIVATE_DIR = path
    return path


def _person(shop: Shop, email: str) -> Person:
    order = make_order(shop, email=email)
    user = get_user_model().objects.create_user(username=email, email=email)
    Customer.objects.filter(shop=shop, email=email).update(user=user)
    return Person(
        user=user, order=Order.objects.select_related("shop", "customer").get(pk=order.pk)
    )


@pytest.fixture
def claire(shop_a: Shop) -> Person:
    """A customer of shop A with an account."""
    return _person(shop_a, "claire.martin@example.fr")


@pytest.fixture
def bruno(shop_b: Shop) -> Person:
    """A customer of shop B with an account: must never see Claire's claims."""
    return _person(shop_b, "bruno.petit@example.fr")


@pytest.fixture
def agent(shop_a: Shop) -> Any:
    """A customer-service member of shop A."""
    user = get_user_model().objects.create_user(username="agent", email="sav@maison.example")
    Membership.objects.create(shop=shop_a, user=user, role=Membership.Role.CUSTOMER_SERVICE)
    return user


@pytest.fixture
def outsider(shop_b: Shop) -> Any:
    """Staff of shop B: no business with shop A's claims."""
    user = get_user_model().objects.create_user(username="other", email="sav@epicerie.example")
    Membership.objects.create(shop=shop_b, user=user, role=Membership.Role.OWNER)
    return user


@pytest.fixture(autouse=True)
def english(settings: Any) -> Any:
    """These tests read the English messages (French has its own catalogue test)."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
