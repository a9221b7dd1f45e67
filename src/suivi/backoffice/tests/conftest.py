from __future__ import annotations

from typing import Any

import pytest

from suivi.notifications.tests.conftest import smtp
from suivi.shops.models import Membership, Shop

from .support import staff_user

__all__ = ["smtp"]


@pytest.fixture
def owner_a(shop_a: Shop) -> Any:
    return staff_user(shop_a, Membership.Role.OWNER)


@pytest.fixture
def logistics_a(shop_a: Shop) -> Any:
    return staff_user(shop_a, Membership.Role.LOGISTICS)


@pytest.fixture
def service_a(shop_a: Shop) -> Any:
    return staff_user(shop_a, Membership.Role.CUSTOMER_SERVICE)


@pytest.fixture
def owner_b(shop_b: Shop) -> Any:
    return staff_user(shop_b, Membership.Role.OWNER)
