"""API test helpers: a client per shop key, and valid request bodies to start from."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from django.test import Client
from ninja import Schema

from suivi.shops.services import IssuedApiKey

BASE = "/api/v1"
_references = itertools.count(1)


class Api:
    """A Django test client speaking JSON to the API with one shop's key (or none)."""

    def __init__(self, client: Client, key: IssuedApiKey | None) -> None:
        self.client = client
        self.key = key

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        result = dict(headers or {})
        if self.key is not None:
            result.setdefault("Authorization", f"Bearer {self.key.secret}")
        return result

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> Any:
        """GET ``/api/v1<path>`` with *params* as the query string."""
        return self.client.get(f"{BASE}{path}", params or {}, headers=self._headers(headers))

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """POST *body* as JSON (or *raw* bytes as they are) to ``/api/v1<path>``."""
        data = raw if raw is not None else (b"" if body is None else json.dumps(body))
        return self.client.post(
            f"{BASE}{path}",
            data=data,
            content_type="application/json",
            headers=self._headers(headers),
        )

    def create_order(self, **overrides: Any) -> dict[str, Any]:
        """Create an order through the API and return its body (asserting 201)."""
        response = self.post("/orders", order_body(**overrides))
        assert response.status_code == 201, response.content
        return dict(response.json())


def order_body(**overrides: Any) -> dict[str, Any]:
    """Return a valid delivery order body; keyword arguments replace top-level fields."""
    body: dict[str, Any] = {
        "reference": f"WEB-{next(_references):06d}",
        "fulfilment_mode": "delivery",
        "customer": {
            "email": "claire.martin@example.fr",
            "phone": "06 12 34 56 78",
            "first_name": "Claire",
            "last_name": "Martin",
        },
        "lines": [
            {"sku": "PULL-M", "name": "Pull marin", "unit_price": "49.90", "quantity": 2},
            {"sku": "BONNET", "name": "Bonnet", "unit_price": 15, "quantity": 1, "tax_rate": "5.5"},
        ],
        "shipping_amount": "4.90",
        "shipping_address": {
            "name": "Claire Martin",
            "line1": "3 place Bellecour",
            "postcode": "69002",
            "city": "Lyon",
        },
    }
    body.update(overrides)
    return body


def click_and_collect_body(**overrides: Any) -> dict[str, Any]:
    """Return a valid Click & Collect order body (store ``boutique`` of the test shops)."""
    body = order_body(fulfilment_mode="click_and_collect", pickup_store="boutique")
    del body["shipping_address"]
    body["shipping_amount"] = "0"
    body.update(overrides)
    return body


def problem_fields(response: Any) -> list[str | None]:
    """Return the field paths named by a problem response."""
    return [error["field"] for error in response.json()["errors"]]


@pytest.fixture
def api_a(client: Client, key_a: IssuedApiKey) -> Api:
    return Api(client, key_a)


@pytest.fixture
def api_b(client: Client, key_b: IssuedApiKey) -> Api:
    return Api(client, key_b)


@pytest.fixture
def anonymous(client: Client) -> Api:
    return Api(client, None)


def assert_matches_schema(schema: type[Schema], body: Any) -> None:
    """Assert *body* validates against *schema* and has exactly its fields, at every level.

    The API renders JSON by hand for speed; this keeps the rendering and the OpenAPI
    document from drifting apart (a missing, extra or mistyped field fails).
    """
    dumped = schema.model_validate(body).model_dump(mode="json")
    _assert_same_keys(dumped, body, path="")


def _assert_same_keys(expected: Any, actual: Any, *, path: str) -> None:
    if isinstance(expected, dict) and isinstance(actual, dict):
        assert set(expected) == set(actual), f"fields differ at {path or 'top level'}"
        for key in expected:
            _assert_same_keys(expected[key], actual[key], path=f"{path}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        assert len(expected) == len(actual), f"lengths differ at {path}"
        for index, (item, other) in enumerate(zip(expected, actual, strict=True)):
            _assert_same_keys(item, other, path=f"{path}.{index}")
