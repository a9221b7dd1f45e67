"""GET /lifecycle, the OpenAPI document, the offline docs page and generic errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from suivi.api.tests.test_notifications_api import OPERATIONS as NOTIFICATION_OPERATIONS
from suivi.api.tests.test_shipments_api import OPERATIONS as TRACKING_OPERATIONS
from suivi.api.tests.test_shipments_api import PUSH_OPERATIONS, WITHOUT_IDEMPOTENCY
from suivi.orders import lifecycle
from suivi.orders.models import Order

from ..docs import ASSETS
from ..schemas import LifecycleOut
from .conftest import BASE, Api, assert_matches_schema, order_body


def test_the_lifecycle_endpoint_mirrors_the_lifecycle_module(api_a: Api, api_b: Api) -> None:
    response = api_a.get("/lifecycle")

    assert response.status_code == 200
    body = response.json()
    assert_matches_schema(LifecycleOut, body)
    assert body["modes"] == [mode.value for mode in lifecycle.Mode]
    assert [s["code"] for s in body["statuses"]] == [s.value for s in lifecycle.Status]
    for status in body["statuses"]:
        info = lifecycle.info(status["code"])
        assert status["public_step"] == info.step.value
        assert status["internal"] is info.internal
        assert status["terminal"] is info.terminal
        for language in ("fr", "en"):
            with translation.override(language):
                assert status["label"][language] == str(info.label)
                assert status["customer_label"][language] == str(info.customer_label)
    for mode in lifecycle.Mode:
        table = body["transitions"][mode.value]
        assert set(table) == {s.value for s in lifecycle.TRANSITIONS[mode]}
        for source, targets in table.items():
            assert set(targets) == {t.value for t in lifecycle.allowed_targets(mode, source)}
    actions = {a["code"]: a["targets"] for a in body["actions"]}
    assert actions["ship"] == {"delivery": "shipped", "click_and_collect": None}
    assert actions["mark_ready"] == {
        "delivery": "ready_to_ship",
        "click_and_collect": "ready_for_pickup",
    }
    assert [r["code"] for r in body["cancellation_reasons"]] == [
        r.value for r in lifecycle.CancellationReason
    ]


def test_the_openapi_document_is_3_1_with_problem_errors(
    anonymous: Api, shop_a: Any, shop_b: Any
) -> None:
    document = anonymous.get("/openapi.json").json()

    assert document["openapi"].startswith("3.1")
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    order_operations = {
        "POST /api/v1/orders",
        "POST /api/v1/orders/batch",
        "POST /api/v1/orders/actions",
        "GET /api/v1/orders",
        "GET /api/v1/orders/{order_id}",
        "POST /api/v1/orders/{order_id}/actions/{action}",
        "POST /api/v1/orders/{order_id}/cancel",
        "POST /api/v1/orders/{order_id}/cancel-lines",
        "POST /api/v1/orders/{order_id}/invoice",
        "GET /api/v1/orders/{order_id}/events",
        "GET /api/v1/lifecycle",
    }
    assert {f"{m.upper()} {p}" for p, m, _ in operations} == (
        order_operations | NOTIFICATION_OPERATIONS | TRACKING_OPERATIONS
    )
    for path, method, operation in operations:
        name = f"{method.upper()} {path}"
        # The push endpoints are called by carriers and signed with a push secret (their
        # own test checks how).
        if name not in PUSH_OPERATIONS:
            assert operation["security"] == [{"ApiKeyAuth": []}], name
        assert "401" in operation["responses"]
        for status, response in operation["responses"].items():
            if status == "204":
                assert "content" not in response, (path, method)
                continue
            expected = "application/problem+json" if int(status) >= 400 else "application/json"
            assert list(response["content"]) == [expected], (path, method, status)
        if method == "post" and name not in WITHOUT_IDEMPOTENCY:
            headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert headers == ["Idempotency-Key"], (path, method)
    assert document["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"


def test_the_docs_page_loads_nothing_from_another_host(
    client: Client, shop_a: Any, shop_b: Any
) -> None:
    page = client.get(f"{BASE}/docs")

    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(source.startswith(f"{BASE}/docs/assets/") for source in sources)
    assert "cdn" not in html.lower()
    assert f'"url": "{BASE}/openapi.json"' in html
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200
        assert asset["Content-Type"] in ASSETS.values()
        assert b"".join(asset.streaming_content)


def test_the_swagger_bundle_is_served_from_the_installed_package(
    client: Client, shop_a: Any, shop_b: Any
) -> None:
    response = client.get(f"{BASE}/docs/assets/swagger-ui-bundle.js")

    assert response.status_code == 200
    assert b"SwaggerUIBundle" in b"".join(response.streaming_content)


@pytest.mark.parametrize(
    "name", ["redoc.standalone.js.map", "..%2F__init__.py", "swagger-ui.css.map", "nope.js"]
)
def test_only_the_listed_doc_assets_are_served(
    client: Client, shop_a: Any, shop_b: Any, name: str
) -> None:
    response = client.get(f"{BASE}/docs/assets/{name}")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_an_unknown_api_url_is_a_404_problem(api_a: Api, api_b: Api) -> None:
    for path in ("/nope", "/orders/1/refund", "/orders/"):
        response = api_a.get(path)
        assert response.status_code == 404
        assert response.json()["type"] == "https://suivi.dev/problems/not-found"


def test_a_method_the_url_does_not_accept_is_a_405_problem(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order()["id"]

    response = api_a.client.delete(
        f"{BASE}/orders/{order_id}", headers={"Authorization": f"Bearer {api_a.key.secret}"}
    )

    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert response.json()["type"] == "https://suivi.dev/problems/method-not-allowed"
    assert Order.objects.filter(pk=order_id).exists()


def test_the_api_root_points_to_the_document_and_the_docs(
    anonymous: Api, shop_a: Any, shop_b: Any
) -> None:
    body = anonymous.get("/").json()

    assert body["openapi"] == f"{BASE}/openapi.json"
    assert body["docs"] == f"{BASE}/docs"


def test_a_body_larger_than_django_accepts_is_a_413_problem(
    api_a: Api, api_b: Api, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = order_body(metadata={"note": "x" * 12_000})

    response = api_a.post("/orders", body)

    assert response.status_code == 413
    assert response.json()["type"] == "https://suivi.dev/problems/payload-too-large"
