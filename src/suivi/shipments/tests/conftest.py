"""Carrier accounts in these tests point at fake carriers on loopback: the operator allows it
(a merchant-set carrier URL goes through the SSRF guard like any merchant URL)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _loopback_carriers(settings) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8"]
