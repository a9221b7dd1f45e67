"""Who reaches the settings and operations pages: each role gets 403 where it lacks the
right (tenant isolation over every back-office URL is in test_tenancy.py)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.urls import URLPattern, reverse

from suivi.backoffice import urls_operations, urls_settings
from suivi.backoffice.permissions import allowed
from suivi.notifications import services as notifications
from suivi.notifications.models import OutboxMessage, WebhookEndpoint
from suivi.shipments import services as shipments
from suivi.shipments.models import CarrierAccount
from suivi.shops.models import ApiKey, Location, Membership, Shop
from suivi.shops.services import api_key_create
from suivi.testing import make_order

from .support import client_for, staff_user

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.216.34/hooks/suivi"
PATTERNS: list[URLPattern] = [
    p
    for p in [*urls_settings.urlpatterns, *urls_operations.urlpatterns]
    if isinstance(p, URLPattern)
]


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def _objects(shop: Shop) -> dict[str, int]:
    """One object of each kind in *shop*: the kwargs every id URL needs."""
    endpoint, _secret = notifications.endpoint_create(shop=shop, url=PUBLIC_URL)
    make_order(shop, paid=True)
    message = OutboxMessage.objects.filter(endpoint=endpoint).first()
    assert message is not None
    OutboxMessage.objects.filter(shop=shop, order__isnull=False).update(status="dead")
    account, _push = shipments.account_create(
        shop=shop, carrier="laposte", credentials={"api_key": "k" * 20}
    )
    return {
        "location_id": Location.objects.filter(shop=shop).first().pk,  # type: ignore[union-attr]
        "account_id": account.pk,
        "key_id": api_key_create(shop=shop, name="k").api_key.pk,
        "endpoint_id": endpoint.pk,
        "message_id": message.pk,
    }


def _url(pattern: URLPattern, shop: Shop, ids: dict[str, int]) -> str:
    names = [n for n in ids if f"<int:{n}>" in str(pattern.pattern)]
    return reverse(
        f"backoffice:{pattern.name}", kwargs={"slug": shop.slug, **{n: ids[n] for n in names}}
    )


def _snapshot() -> list[Any]:
    return [
        list(Location.objects.order_by("pk").values()),
        list(CarrierAccount.objects.order_by("pk").values()),
        list(ApiKey.objects.order_by("pk").values()),
        list(WebhookEndpoint.objects.order_by("pk").values()),
        list(OutboxMessage.objects.order_by("pk").values("pk", "status", "attempts")),
    ]


def _answers(client: Any, target: str, expected: int, data: dict[str, str]) -> None:
    """GET and POST answer *expected*, except a method the view does not take (405); at
    least one of them is taken."""
    statuses = [client.get(target).status_code, client.post(target, data).status_code]
    assert set(statuses) <= {expected, 405} and expected in statuses, (target, statuses)


def _right(pattern: URLPattern) -> str:
    return pattern.callback.staff_right  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", [Membership.Role.LOGISTICS, Membership.Role.CUSTOMER_SERVICE])
def test_roles_without_the_right_get_403_and_change_nothing(shop_a: Shop, role: str) -> None:
    ids = _objects(shop_a)
    client = client_for(staff_user(shop_a, role))
    before = _snapshot()
    refused = []
    for pattern in PATTERNS:
        if allowed(role, _right(pattern)):
            continue
        refused.append(pattern.name)
        _answers(client, _url(pattern, shop_a, ids), 403, {"confirmed": "1", "name": "x"})
    assert _snapshot() == before
    if role == Membership.Role.LOGISTICS:
        assert {"settings-api-keys", "settings-webhooks", "settings-policies",
                "settings-promises", "settings-api-key-revoke"} <= set(refused)  # fmt: skip
        assert "settings-locations" not in refused and "settings-carriers" not in refused
    else:
        assert {p.name for p in PATTERNS if p.name.startswith("settings")} <= set(refused)
        assert "operations" not in refused and "operations-retry" not in refused


def test_logistics_reaches_locations_and_carriers(shop_a: Shop, logistics_a: Any) -> None:
    client = client_for(logistics_a)
    for name in ("settings", "settings-locations", "settings-carriers", "settings-location-new"):
        assert client.get(reverse(f"backoffice:{name}", args=[shop_a.slug])).status_code == 200


class _Controls(HTMLParser):
    """Form controls without a label (hidden inputs and buttons need none), and the h1s."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.unnamed: list[str] = []
        self.labelled: set[str] = set()
        self.h1 = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "h1":
            self.h1 += 1
        if tag == "label" and found.get("for"):
            self.labelled.add(str(found["for"]))
        if tag in ("input", "select", "textarea") and found.get("type") not in ("hidden", "submit"):
            if found.get("aria-label"):
                return
            if found.get("id"):
                self.ids.append(str(found["id"]))
            else:
                self.unnamed.append(str(found.get("name")))


def test_every_page_has_one_h1_and_labelled_controls(shop_a: Shop, owner_a: Any) -> None:
    ids = _objects(shop_a)
    client = client_for(owner_a)
    extra = {"settings-carrier-new": {"carrier": "ups"}}
    for pattern in PATTERNS:
        response = client.get(_url(pattern, shop_a, ids), extra.get(str(pattern.name), {}))
        if response.status_code == 405:
            continue
        assert response.status_code == 200, pattern.name
        parser = _Controls()
        parser.feed(response.content.decode())
        assert parser.h1 == 1, pattern.name
        assert parser.unnamed == [], (pattern.name, parser.unnamed)
        assert set(parser.ids) <= parser.labelled, (pattern.name, set(parser.ids) - parser.labelled)
