"""A shop's notification configuration as the planner needs it, cached briefly per process.

Planning runs inside every order write; reading rules, settings and webhook endpoints three
times per event would triple its cost. The cache holds a shop's configuration for a few
seconds and is dropped at once in this process when the configuration services change it
(other processes see the change within ``TTL_SECONDS``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from .catalog import CHANNELS, EVENTS, default_enabled
from .models import NotificationRule, NotificationSettings, WebhookEndpoint

TTL_SECONDS = 5.0


@dataclass(frozen=True)
class RuleView:
    enabled: bool
    delay_seconds: int


@dataclass(frozen=True)
class ShopConfig:
    shop_id: int
    rules: dict[tuple[str, str], RuleView]
    settings: NotificationSettings
    timezone: str = "Europe/Paris"
    endpoints: tuple[WebhookEndpoint, ...] = field(default_factory=tuple)

    def rule(self, event_key: str, channel: str) -> RuleView:
        return self.rules[(event_key, channel)]


_cache: dict[int, tuple[float, ShopConfig]] = {}
_lock = threading.Lock()


def settings_for(shop_id: int) -> NotificationSettings:
    found = NotificationSettings.objects.filter(shop_id=shop_id).first()
    return found if found is not None else NotificationSettings(shop_id=shop_id)


def load(shop_id: int) -> ShopConfig:
    rules = {
        (key, channel): RuleView(default_enabled(key, channel), 0)
        for key in EVENTS
        for channel in CHANNELS
    }
    for rule in NotificationRule.objects.filter(shop_id=shop_id):
        rules[(rule.event_key, rule.channel)] = RuleView(rule.enabled, rule.delay_seconds)
    endpoints = tuple(WebhookEndpoint.objects.filter(shop_id=shop_id, enabled=True).order_by("id"))
    from suivi.shops.models import Shop

    tz = Shop.objects.filter(pk=shop_id).values_list("timezone", flat=True).first()
    return ShopConfig(shop_id, rules, settings_for(shop_id), tz or "Europe/Paris", endpoints)


def shop_config(shop_id: int) -> ShopConfig:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(shop_id)
        if hit is not None and now - hit[0] < TTL_SECONDS:
            return hit[1]
    config = load(shop_id)
    with _lock:
        _cache[shop_id] = (now, config)
    return config


def forget(shop_id: int | None = None) -> None:
    """Drop the cached configuration of *shop_id* (or of every shop)."""
    with _lock:
        if shop_id is None:
            _cache.clear()
        else:
            _cache.pop(shop_id, None)
