"""POST /orders/batch: many orders in one transaction, each refused or created on its own."""

from __future__ import annotations

from suivi.customers.models import Customer
from suivi.orders.models import Order, OrderEvent, OrderLine
from suivi.shops.models import Shop

from ..schemas import ActionBatchOut, OrderBatchOut
from .conftest import Api, assert_matches_schema, click_and_collect_body, order_body


def _counts() -> tuple[int, int, int, int]:
    return (
        Order.objects.count(),
        OrderLine.objects.count(),
        Customer.objects.count(),
        OrderEvent.objects.count(),
    )


def test_a_batch_creates_every_order_in_the_callers_shop(
    api_a: Api, api_b: Api, shop_a: Shop, shop_b: Shop
) -> None:
    # given three valid orders, one of them Click & Collect and paid
    orders = [
        order_body(reference="B-1"),
        click_and_collect_body(reference="B-2", paid=True),
        order_body(reference="B-3"),
    ]
    # when shop A sends them as one batch
    response = api_a.post("/orders/batch", {"orders": orders})
    # then each is created in shop A, in request order
    assert response.status_code == 200, response.content
    body = response.json()
    assert_matches_schema(OrderBatchOut, body)
    assert (body["created"], body["refused"]) == (3, 0)
    assert [item["order"]["reference"] for item in body["results"]] == ["B-1", "B-2", "B-3"]
    assert [item["order"]["status"] for item in body["results"]] == [
        "awaiting_payment",
        "to_prepare",
        "awaiting_payment",
    ]
    assert body["results"][0]["order"]["total_amount"] == "119.70"
    assert set(Order.objects.filter(shop=shop_a).values_list("reference", flat=True)) == {
        "B-1",
        "B-2",
        "B-3",
    }
    assert not Order.objects.filter(shop=shop_b).exists()
    # and each order reads back through the single-order endpoint
    first = api_a.get(f"/orders/{body['results'][0]['order']['id']}").json()
    assert first["lines_amount"] == "114.80"


def test_a_refused_item_refuses_only_itself_and_says_why(api_a: Api, api_b: Api) -> None:
    # given an existing order B-1, and a batch repeating it, with a bad phone, and a good one
    api_a.create_order(reference="B-1")
    before = _counts()
    bad_phone = order_body(reference="B-2")
    bad_phone["customer"] = {**bad_phone["customer"], "phone": "12"}
    orders = [order_body(reference="B-1"), bad_phone, order_body(reference="B-3")]
    # when sent
    response = api_a.post("/orders/batch", {"orders": orders})
    # then the first two are refused with their problems, the third is created
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["refused"]) == (1, 2)
    duplicate, phone, created = body["results"]
    assert duplicate["status"] == 409
    assert duplicate["order"] is None
    assert duplicate["problem"]["type"].endswith("/duplicate-reference")
    assert phone["status"] == 422
    assert [e["field"] for e in phone["problem"]["errors"]] == ["orders.1.customer.phone"]
    assert created["status"] == 201
    # and exactly one order (with its 2 lines and 1 event) was written; no stray customer
    orders_after, lines_after, customers_after, events_after = _counts()
    assert orders_after == before[0] + 1
    assert lines_after == before[1] + 2
    assert events_after == before[3] + 1
    assert customers_after == before[2]


def test_the_same_reference_twice_in_one_batch_creates_it_once(api_a: Api, api_b: Api) -> None:
    response = api_a.post(
        "/orders/batch", {"orders": [order_body(reference="B-9"), order_body(reference="B-9")]}
    )

    assert [item["status"] for item in response.json()["results"]] == [201, 409]
    assert Order.objects.filter(reference="B-9").count() == 1


def test_a_body_that_fails_validation_is_refused_whole(api_a: Api, api_b: Api) -> None:
    # given a batch whose second order has an unknown field
    before = _counts()
    orders = [order_body(reference="B-1"), order_body(reference="B-2", colour="red")]
    # when sent
    response = api_a.post("/orders/batch", {"orders": orders})
    # then 422 naming the field, and nothing written
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert "orders.1.colour" in [e["field"] for e in response.json()["errors"]]
    assert _counts() == before


def test_a_batch_holds_one_to_a_hundred_orders(api_a: Api, api_b: Api) -> None:
    too_many = [order_body(reference=f"B-{n}") for n in range(101)]

    assert api_a.post("/orders/batch", {"orders": []}).status_code == 422
    assert api_a.post("/orders/batch", {"orders": too_many}).status_code == 422
    assert not Order.objects.exists()


def test_references_are_per_shop_in_batches_too(api_a: Api, api_b: Api, shop_b: Shop) -> None:
    api_a.create_order(reference="SAME-1")

    response = api_b.post("/orders/batch", {"orders": [order_body(reference="SAME-1")]})

    assert response.json()["results"][0]["status"] == 201
    assert Order.objects.get(shop=shop_b).reference == "SAME-1"


def test_a_replayed_batch_creates_nothing_more(api_a: Api, api_b: Api) -> None:
    batch = {"orders": [order_body(reference="B-1"), order_body(reference="B-2")]}
    headers = {"Idempotency-Key": "batch-0001"}

    first = api_a.post("/orders/batch", batch, headers=headers)
    second = api_a.post("/orders/batch", batch, headers=headers)

    assert second.status_code == first.status_code == 200
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 2


def test_a_batch_needs_a_key(anonymous: Api, db: None) -> None:
    response = anonymous.post("/orders/batch", {"orders": [order_body()]})

    assert response.status_code == 401
    assert not Order.objects.exists()


# --- POST /orders/actions -------------------------------------------------------------------


def test_a_batch_of_actions_walks_orders_and_reports_each(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    # given two orders of shop A and one of shop B
    first, second = api_a.create_order()["id"], api_a.create_order()["id"]
    theirs = api_b.create_order()["id"]
    actions = [
        {"order_id": first, "action": "confirm_payment"},
        {"order_id": second, "action": "confirm_payment", "expected_version": 1},
        {"order_id": first, "action": "mark_ready"},
        {"order_id": theirs, "action": "confirm_payment"},  # shop B's: not found
        {"order_id": second, "action": "mark_collected"},  # not a delivery action
        {"order_id": second, "action": "start_preparation", "expected_version": 1},  # stale
    ]
    # when
    response = api_a.post("/orders/actions", {"actions": actions})
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert_matches_schema(ActionBatchOut, body)
    assert (body["applied"], body["refused"]) == (3, 3)
    assert [item["status"] for item in body["results"]] == [200, 200, 200, 404, 409, 409]
    assert body["results"][0]["order"]["status"] == "ready_to_ship"  # as after the batch
    assert body["results"][3]["problem"]["type"].endswith("/not-found")
    assert body["results"][3]["problem"]["errors"] == []
    assert body["results"][4]["problem"]["type"].endswith("/invalid-transition")
    assert body["results"][5]["problem"]["type"].endswith("/concurrent-change")
    assert api_b.get(f"/orders/{theirs}").json()["status"] == "awaiting_payment"
    timeline = api_a.get(f"/orders/{first}/events").json()["items"]
    assert [e["type"] for e in timeline] == [
        "order.created",
        "order.confirmed",
        "order.invoiced",  # shop A invoices on payment
        "order.ready_to_ship",
    ]


def test_a_batch_of_actions_refuses_cancel_and_unknown_fields_whole(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order()["id"]

    cancel = api_a.post(
        "/orders/actions", {"actions": [{"order_id": order_id, "action": "cancel"}]}
    )
    extra = api_a.post(
        "/orders/actions",
        {"actions": [{"order_id": order_id, "action": "confirm_payment", "why": "x"}]},
    )

    assert cancel.status_code == 422
    assert extra.status_code == 422
    assert "actions.0.why" in [e["field"] for e in extra.json()["errors"]]
    assert api_a.get(f"/orders/{order_id}").json()["version"] == 1
