"""GET /orders and /orders/{id}: one order, filtered lists and cursor pagination."""

from __future__ import annotations

from typing import Any

import pytest

from suivi.orders.models import Order

from ..pagination import cursor_encode
from ..schemas import OrderOut, OrderPageOut
from .conftest import Api, assert_matches_schema, problem_fields


def _walk(api: Api, params: dict[str, Any]) -> tuple[list[int], int]:
    """Follow next_cursor to the end; return the ids seen and the number of pages."""
    ids: list[int] = []
    pages = 0
    cursor = None
    while True:
        response = api.get("/orders", {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200
        body = response.json()
        pages += 1
        ids += [order["id"] for order in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages


def test_getting_an_order_returns_what_creating_it_returned(api_a: Api, api_b: Api) -> None:
    created = api_a.create_order(paid=True)

    response = api_a.get(f"/orders/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created
    assert_matches_schema(OrderOut, response.json())


def test_a_nonexistent_order_is_a_404_problem(api_a: Api, api_b: Api) -> None:
    response = api_a.get("/orders/999999")

    assert response.status_code == 404
    assert response.json() == {
        "type": "https://suivi.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No such order.",
        "errors": [],
    }


@pytest.mark.parametrize("order_id", ["abc", "0", "-1", str(2**63), "1.5"])
def test_an_order_id_that_cannot_exist_is_a_422_not_a_500(
    api_a: Api, api_b: Api, order_id: str
) -> None:
    response = api_a.get(f"/orders/{order_id}")

    assert response.status_code == 422
    assert problem_fields(response) == ["order_id"]


def test_the_list_shows_the_shop_orders_newest_first(api_a: Api, api_b: Api) -> None:
    first = api_a.create_order()
    second = api_a.create_order()
    api_b.create_order()

    response = api_a.get("/orders")

    assert response.status_code == 200
    body = response.json()
    assert_matches_schema(OrderPageOut, body)
    assert [order["id"] for order in body["items"]] == [second["id"], first["id"]]
    assert body["next_cursor"] is None


def test_cursor_pagination_walks_every_order_once(api_a: Api, api_b: Api) -> None:
    created = [api_a.create_order()["id"] for _ in range(7)]
    api_b.create_order()

    ids, pages = _walk(api_a, {"limit": 3})

    assert ids == sorted(created, reverse=True)
    assert pages == 3


def test_an_order_created_between_pages_does_not_shift_the_next_page(
    api_a: Api, api_b: Api
) -> None:
    created = [api_a.create_order()["id"] for _ in range(4)]
    page = api_a.get("/orders", {"limit": 2}).json()
    api_a.create_order()

    rest = api_a.get("/orders", {"limit": 2, "cursor": page["next_cursor"]}).json()

    seen = [o["id"] for o in page["items"]] + [o["id"] for o in rest["items"]]
    assert seen == sorted(created, reverse=True)


def test_the_list_filters_by_status_and_reference(api_a: Api, api_b: Api) -> None:
    unpaid = api_a.create_order(reference="UNPAID-1")
    paid = api_a.create_order(reference="PAID-1", paid=True)
    api_b.create_order(reference="PAID-1", paid=True)

    by_status = api_a.get("/orders", {"status": "to_prepare"}).json()["items"]
    by_reference = api_a.get("/orders", {"reference": "UNPAID-1"}).json()["items"]

    assert [o["id"] for o in by_status] == [paid["id"]]
    assert [o["id"] for o in by_reference] == [unpaid["id"]]


def test_the_list_filters_by_placing_time_as_a_half_open_interval(api_a: Api, api_b: Api) -> None:
    early = api_a.create_order(placed_at="2030-01-01T09:00:00Z")
    middle = api_a.create_order(placed_at="2030-01-02T09:00:00Z")
    api_a.create_order(placed_at="2030-01-03T09:00:00Z")

    items = api_a.get(
        "/orders", {"placed_after": "2030-01-01T09:00:00Z", "placed_before": "2030-01-03T09:00:00Z"}
    ).json()["items"]

    assert [o["id"] for o in items] == [middle["id"], early["id"]]


def test_filters_and_pagination_combine(api_a: Api, api_b: Api) -> None:
    paid = [api_a.create_order(paid=True)["id"] for _ in range(5)]
    api_a.create_order()

    ids, _ = _walk(api_a, {"status": "to_prepare", "limit": 2})

    assert ids == sorted(paid, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "many"},
        {"status": "lost"},
        {"placed_after": "yesterday"},
        {"placed_after": "2030-01-01T00:00:00"},
        {"reference": "x" * 65},
        {"reference": "a\x00b"},
    ],
)
def test_invalid_list_parameters_are_a_422(api_a: Api, api_b: Api, params: dict[str, Any]) -> None:
    response = api_a.get("/orders", params)

    assert response.status_code == 422
    assert problem_fields(response) == list(params)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "é",
        cursor_encode("events", 5),
        cursor_encode("orders", 5).replace("M", "N"),
        "MTpvcmRlcnM6LTU",  # "1:orders:-5"
        "MTpvcmRlcnM6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk",  # past the largest id
        "x" * 200,
    ],
)
def test_a_cursor_this_api_did_not_issue_is_a_400_problem(
    api_a: Api, api_b: Api, cursor: str
) -> None:
    api_a.create_order()

    response = api_a.get("/orders", {"cursor": cursor})

    assert response.status_code == 400, response.content
    assert response.json()["type"] == "https://suivi.dev/problems/invalid-cursor"


def test_listing_a_page_costs_the_same_queries_whatever_its_size(
    api_a: Api, api_b: Api, django_assert_num_queries: Any
) -> None:
    api_a.create_order(paid=True)
    order_id = api_a.create_order(paid=True)["id"]
    api_a.post(
        f"/orders/{order_id}/cancel-lines",
        {"reason": "out_of_stock", "lines": [{"position": 1, "quantity": 1}]},
    )
    api_a.create_order()
    for _ in range(6):
        api_a.create_order(paid=True)
    assert Order.objects.filter(credit_notes__isnull=False).exists()

    # Key, orders (with customer, store and invoice joined), lines, credit notes.
    with django_assert_num_queries(4):
        response = api_a.get("/orders", {"limit": 100})

    assert len(response.json()["items"]) == 9


def test_getting_an_order_costs_three_queries_and_one_more_when_invoiced(
    api_a: Api, api_b: Api, django_assert_num_queries: Any
) -> None:
    unpaid = api_a.create_order()["id"]
    invoiced = api_a.create_order(paid=True)["id"]

    with django_assert_num_queries(3):
        assert api_a.get(f"/orders/{unpaid}").status_code == 200
    with django_assert_num_queries(4):
        assert api_a.get(f"/orders/{invoiced}").status_code == 200
