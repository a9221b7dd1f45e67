"""Shop API keys: what is refused, what is accepted, and who the events name."""

from __future__ import annotations

import pytest
from django.test import Client

from suivi.orders.models import Order, OrderEvent
from suivi.shops.services import IssuedApiKey, api_key_revoke

from .conftest import BASE, Api, order_body

PROTECTED = [
    ("get", "/orders"),
    ("get", "/orders/1"),
    ("get", "/orders/1/events"),
    ("get", "/lifecycle"),
    ("post", "/orders"),
    ("post", "/orders/1/actions/ship"),
    ("post", "/orders/1/cancel"),
    ("post", "/orders/1/cancel-lines"),
    ("post", "/orders/1/invoice"),
]


def _assert_unauthorized(response: object) -> None:
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/problem+json"  # type: ignore[index]
    assert response["WWW-Authenticate"].startswith("Bearer")  # type: ignore[index]
    body = response.json()  # type: ignore[attr-defined]
    assert body["type"] == "https://suivi.dev/problems/unauthorized"
    assert body["status"] == 401


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_a_request_without_a_key_is_refused_with_401(
    anonymous: Api, key_a: IssuedApiKey, key_b: IssuedApiKey, method: str, path: str
) -> None:
    response = getattr(anonymous, method)(path)
    _assert_unauthorized(response)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer sk_notakey_notakeyatall",
        "Bearer ",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "sk_missing_the_scheme",
        "Bearer " + "x" * 5000,
    ],
)
def test_a_wrong_key_is_refused_with_401(
    client: Client, key_a: IssuedApiKey, key_b: IssuedApiKey, authorization: str
) -> None:
    response = client.get(f"{BASE}/orders", headers={"Authorization": authorization})
    _assert_unauthorized(response)


def test_a_key_of_one_shop_with_a_changed_character_is_refused(
    client: Client, key_a: IssuedApiKey, key_b: IssuedApiKey
) -> None:
    secret = key_a.secret[:-1] + ("A" if key_a.secret[-1] != "A" else "B")
    response = client.get(f"{BASE}/orders", headers={"Authorization": f"Bearer {secret}"})
    _assert_unauthorized(response)


def test_a_revoked_key_is_refused_at_once_while_the_other_shop_key_still_works(
    api_a: Api, client: Client, key_a: IssuedApiKey, key_b: IssuedApiKey
) -> None:
    assert api_a.get("/orders").status_code == 200
    api_key_revoke(api_key=key_a.api_key)
    _assert_unauthorized(api_a.get("/orders"))
    _assert_unauthorized(api_a.post("/orders", order_body()))
    assert Api(client, key_b).get("/orders").status_code == 200
    assert not Order.objects.exists()


def test_the_scheme_name_is_case_insensitive(
    client: Client, key_a: IssuedApiKey, key_b: IssuedApiKey
) -> None:
    response = client.get(f"{BASE}/orders", headers={"Authorization": f"bearer {key_a.secret}"})
    assert response.status_code == 200


def test_events_written_through_the_api_name_the_key_prefix_as_actor(
    api_a: Api, key_a: IssuedApiKey, key_b: IssuedApiKey
) -> None:
    order = api_a.create_order(paid=True)
    actors = set(OrderEvent.objects.filter(order_id=order["id"]).values_list("actor", flat=True))
    assert actors == {f"api-key:{key_a.api_key.prefix}"}


def test_the_openapi_document_and_the_docs_need_no_key(
    anonymous: Api, shop_a: object, shop_b: object
) -> None:
    assert anonymous.get("/openapi.json").status_code == 200
    assert anonymous.get("/docs").status_code == 200


def test_writes_need_no_csrf_token_since_the_key_is_not_a_cookie(
    key_a: IssuedApiKey, key_b: IssuedApiKey
) -> None:
    api = Api(Client(enforce_csrf_checks=True), key_a)

    assert api.post("/orders", order_body()).status_code == 201
