"""Tenant isolation and roles over the WHOLE back office, walked from its URLconf: a new
URL is covered by these tests the day it is added (or fails them until its ids are known).

- every view but the shop list is wrapped by ``staff_view`` with a right of the table;
- staff of shop A typing shop B's URLs, or B's ids under A's URLs, get 404 — GET and POST,
  confirmed — and no row of either shop changes;
- a role without a view's right gets the readable 403 and changes nothing;
- an owner without a second factor is sent to set one up, from every URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, reverse

from suivi.backoffice import urls as backoffice_urls
from suivi.backoffice.permissions import RIGHTS, allowed
from suivi.claims import services as claims
from suivi.claims.tests.support import jpeg_with_gps, upload
from suivi.customerweb.tests.support import customer_user, shipped_order
from suivi.notifications import services as notifications
from suivi.notifications.models import OutboxMessage
from suivi.orders.models import Order
from suivi.returns import services as returns
from suivi.returns.services import ReturnItem
from suivi.returns.tests.support import delivered_order
from suivi.shipments import services as shipments
from suivi.shops.models import Location, Membership, Shop
from suivi.shops.services import api_key_create

from .support import client_for, staff_user

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.216.34/hooks/suivi"
# Path parameters that are not ids: a valid value, the same in every shop.
NAMES = {"event_key": "shipped", "channel": "email", "locale": "en"}
# Every table the back office can write to.
WATCHED = [
    "shops.Shop", "shops.Location", "shops.Membership", "shops.ApiKey", "shops.DeliveryPromise",
    "orders.Order", "orders.OrderLine", "orders.OrderEvent", "orders.Invoice", "orders.CreditNote",
    "shipments.Parcel", "shipments.ParcelLine", "shipments.ParcelLeg", "shipments.CarrierAccount",
    "claims.Claim", "claims.ClaimMessage", "claims.ClaimPhoto", "returns.ReturnRequest",
    "notifications.NotificationSettings", "notifications.NotificationRule",
    "notifications.Template", "notifications.WebhookEndpoint", "notifications.OutboxMessage",
]  # fmt: skip


def _patterns(entries: list[Any], outer: tuple[str, ...] = ()) -> Iterator[URLPattern]:
    """Every view pattern, its ``kwargs`` set to every parameter of its full path."""
    for entry in entries:
        names = (*outer, *entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            yield from _patterns(entry.url_patterns, names)
        else:
            entry.full_kwargs = names  # type: ignore[attr-defined]
            yield entry


PATTERNS = [p for p in _patterns(backoffice_urls.urlpatterns) if p.name != "index"]


@pytest.fixture(autouse=True)
def private_dir(tmp_path: Path, settings: Any) -> None:
    settings.SUIVI_PRIVATE_DIR = tmp_path / "private"


def _objects(shop: Shop, number: str) -> dict[str, Any]:
    """One object of every kind a back-office URL names, in *shop*."""
    order = shipped_order(shop, number=number, email=f"client@{shop.slug}.example")
    user = customer_user(order)
    order = Order.objects.select_related("shop", "customer").get(pk=order.pk)
    claim = claims.claim_open(
        customer_user=user, order=order, kind="damaged", description="Broken.",
        photos=[upload("vase.jpg", jpeg_with_gps())],
    )  # fmt: skip
    delivered = delivered_order(shop, email=f"rendu@{shop.slug}.example")
    owner = customer_user(delivered, email=f"rendu@{shop.slug}.example")
    line = delivered.lines.first()
    assert line is not None
    request = returns.return_request(
        user=owner, order=delivered, lines=[ReturnItem(line.pk, 1, "changed_mind")]
    )
    endpoint, _secret = notifications.endpoint_create(shop=shop, url=PUBLIC_URL)
    account, _push = shipments.account_create(
        shop=shop, carrier="laposte", credentials={"api_key": "k" * 20}
    )
    message = OutboxMessage.objects.filter(shop=shop, order=order).first()
    assert message is not None
    location = Location.objects.filter(shop=shop).first()
    assert location is not None
    return {
        "order_id": order.pk,
        "position": order.lines.first().position,  # type: ignore[union-attr]
        "message_id": message.pk,
        "claim_id": claim.pk,
        "photo_id": claim.photos.first().pk,  # type: ignore[attr-defined]
        "return_id": request.pk,
        "location_id": location.pk,
        "account_id": account.pk,
        "key_id": api_key_create(shop=shop, name="k").api_key.pk,
        "endpoint_id": endpoint.pk,
        **NAMES,
    }


def _kwargs_of(pattern: URLPattern) -> list[str]:
    return list(pattern.full_kwargs)  # type: ignore[attr-defined]


def _url(pattern: URLPattern, slug: str, ids: dict[str, Any]) -> str:
    names = [n for n in _kwargs_of(pattern) if n != "slug"]
    return reverse(
        f"backoffice:{pattern.name}", kwargs={"slug": slug, **{n: ids[n] for n in names}}
    )


def _snapshot() -> list[Any]:
    return [list(apps.get_model(name).objects.order_by("pk").values()) for name in WATCHED]


def _answers(client: Any, target: str, expected: int) -> None:
    """GET and a confirmed POST answer *expected*, except the method the view does not
    take (405); at least one of them is taken."""
    data = {"confirmed": "1", "action": "confirm_payment", "message": "x", "name": "x"}
    statuses = [client.get(target).status_code, client.post(target, data).status_code]
    assert set(statuses) <= {expected, 405} and expected in statuses, (target, statuses)


def test_every_view_asks_for_a_right_of_the_table() -> None:
    assert len(PATTERNS) >= 60  # the walk found every area
    for pattern in PATTERNS:
        right = getattr(pattern.callback, "staff_right", None)
        assert right in RIGHTS, f"{pattern.name} is not wrapped by staff_view"


def test_every_url_parameter_has_a_builder(shop_a: Shop) -> None:
    known = {"slug", *NAMES, "order_id", "position", "message_id", "claim_id", "photo_id",
             "return_id", "location_id", "account_id", "key_id", "endpoint_id"}  # fmt: skip
    for pattern in PATTERNS:
        assert set(_kwargs_of(pattern)) <= known, pattern.name


def test_staff_of_a_reach_nothing_of_b_by_typing_its_urls(
    shop_a: Shop, shop_b: Shop, owner_a: Any
) -> None:
    theirs = _objects(shop_b, "6A22222222222")
    _objects(shop_a, "6A11111111111")
    client = client_for(owner_a)
    before = _snapshot()
    for pattern in PATTERNS:
        # B's slug with B's ids, then A's slug with B's ids.
        _answers(client, _url(pattern, shop_b.slug, theirs), 404)
        if set(_kwargs_of(pattern)) - {"slug", *NAMES}:
            _answers(client, _url(pattern, shop_a.slug, theirs), 404)
    assert _snapshot() == before


@pytest.mark.parametrize("role", [Membership.Role.LOGISTICS, Membership.Role.CUSTOMER_SERVICE])
def test_a_role_without_the_right_is_refused_and_changes_nothing(shop_a: Shop, role: str) -> None:
    ids = _objects(shop_a, "6A11111111111")
    client = client_for(staff_user(shop_a, role))
    before = _snapshot()
    refused = [p for p in PATTERNS if not allowed(role, p.callback.staff_right)]  # type: ignore[attr-defined]
    assert refused
    for pattern in refused:
        _answers(client, _url(pattern, shop_a.slug, ids), 403)
    assert _snapshot() == before


def test_an_owner_without_a_second_factor_is_sent_to_set_one_up_from_every_url(
    shop_a: Shop,
) -> None:
    ids = _objects(shop_a, "6A11111111111")
    client = client_for(staff_user(shop_a, Membership.Role.OWNER, mfa=False))
    before = _snapshot()
    for pattern in PATTERNS:
        _answers(client, _url(pattern, shop_a.slug, ids), 302)
    assert _snapshot() == before


JUNK = [
    {},
    {"confirmed": "1"},
    {
        "confirmed": "1", "action": "nope", "expected_version": "abc", "quantity": "-3",
        "reason": "x" * 5000, "tracking_0": "🚚" * 40, "carrier_0": "nope", "message": "",
        "resolution": "nope", "amount": "1e309", "status": "nope", "assignee": "999999",
        "order": ["abc", "-1"], "url": "javascript:alert(1)", "primary_color": "red",
        "business_days": "NaN", "mon_open1": "25:99", "name": "", "kind": "nope",
        "event_types": "nope", "return_window_days": "-1", "subject": "{% broken",
    },
]  # fmt: skip


def test_no_url_answers_a_server_error_to_junk(shop_a: Shop, owner_a: Any) -> None:
    """Bad input gets a message or a 4xx, never a 500 — every URL, GET and POST."""
    ids = _objects(shop_a, "6A11111111111")
    client = client_for(owner_a)
    client.raise_request_exception = False
    for pattern in PATTERNS:
        target = _url(pattern, shop_a.slug, ids)
        answers = [client.get(target, {"q": "💥", "page": "x", "cursor": "%%%"}).status_code]
        answers += [client.post(target, data).status_code for data in JUNK]
        assert all(status < 500 for status in answers), (pattern.name, answers)
