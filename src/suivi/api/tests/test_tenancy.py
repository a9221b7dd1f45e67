"""A shop's key never reaches another shop's orders, nor learns that they exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from suivi.orders.models import Order, OrderEvent

from .conftest import Api

MISSING_ID = 987654321

# Every way of touching one order, with a valid body so that only the shop can fail.
REQUESTS: dict[str, Callable[[Api, int], Any]] = {
    "get": lambda api, order_id: api.get(f"/orders/{order_id}"),
    "events": lambda api, order_id: api.get(f"/orders/{order_id}/events"),
    "action": lambda api, order_id: api.post(f"/orders/{order_id}/actions/confirm_payment"),
    "action with version": lambda api, order_id: api.post(
        f"/orders/{order_id}/actions/confirm_payment", {"expected_version": 1}
    ),
    "cancel": lambda api, order_id: api.post(
        f"/orders/{order_id}/cancel", {"reason": "customer_request"}
    ),
    "cancel lines": lambda api, order_id: api.post(
        f"/orders/{order_id}/cancel-lines",
        {"reason": "out_of_stock", "lines": [{"position": 1, "quantity": 1}]},
    ),
    "invoice": lambda api, order_id: api.post(f"/orders/{order_id}/invoice"),
}


@pytest.mark.parametrize("request_name", list(REQUESTS))
def test_another_shops_order_is_a_404_identical_to_a_missing_one(
    api_a: Api, api_b: Api, request_name: str
) -> None:
    theirs = api_b.create_order(paid=True)["id"]
    before = list(Order.objects.filter(pk=theirs).values())
    events_before = OrderEvent.objects.filter(order_id=theirs).count()
    send = REQUESTS[request_name]

    other_shop = send(api_a, theirs)
    missing = send(api_a, MISSING_ID)

    assert other_shop.status_code == 404
    assert other_shop.content == missing.content
    assert other_shop["Content-Type"] == missing["Content-Type"] == "application/problem+json"
    assert list(Order.objects.filter(pk=theirs).values()) == before
    assert OrderEvent.objects.filter(order_id=theirs).count() == events_before
    # The owner reaches it (whatever the lifecycle then says).
    assert send(api_b, theirs).status_code != 404


def test_the_list_never_shows_another_shops_orders(api_a: Api, api_b: Api) -> None:
    mine = {api_a.create_order(reference=f"A-{n}")["id"] for n in range(3)}
    theirs = api_b.create_order(reference="A-1")

    listed = {o["id"] for o in api_a.get("/orders", {"limit": 200}).json()["items"]}
    by_reference = api_a.get("/orders", {"reference": "A-1"}).json()["items"]

    assert listed == mine
    assert [o["id"] for o in by_reference] != [theirs["id"]]
    assert len(by_reference) == 1


def test_a_cursor_from_one_shop_only_pages_through_the_other_shops_own_orders(
    api_a: Api, api_b: Api
) -> None:
    for _ in range(3):
        api_a.create_order()
    theirs = [api_b.create_order()["id"] for _ in range(3)]
    cursor = api_b.get("/orders", {"limit": 1}).json()["next_cursor"]

    items = api_a.get("/orders", {"cursor": cursor}).json()["items"]

    assert not {o["id"] for o in items} & set(theirs)
