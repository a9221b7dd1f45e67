"""Resetting a shop's rules to the catalog's defaults."""

from __future__ import annotations

import pytest

from suivi.notifications import config, services
from suivi.notifications.catalog import default_enabled
from suivi.notifications.models import NotificationRule
from suivi.notifications.rules_defaults import rules_reset
from suivi.shops.models import Shop

pytestmark = pytest.mark.django_db


def test_reset_deletes_the_shops_rules_only(shop_a: Shop, shop_b: Shop) -> None:
    change = {"event_key": "shipped", "channel": "sms", "enabled": True}
    services.rules_update(
        shop=shop_a, changes=[change, {**change, "channel": "email", "enabled": False}]
    )
    services.rules_update(shop=shop_b, changes=[change])
    assert config.shop_config(shop_a.pk).rule("shipped", "sms").enabled

    rows = rules_reset(shop=shop_a, actor="staff:1")

    assert not NotificationRule.objects.filter(shop=shop_a).exists()
    assert NotificationRule.objects.filter(shop=shop_b).count() == 1
    assert all(row.is_default and row.enabled == row.default_enabled for row in rows)
    assert config.shop_config(shop_a.pk).rule("shipped", "sms").enabled is default_enabled(
        "shipped", "sms"
    )
