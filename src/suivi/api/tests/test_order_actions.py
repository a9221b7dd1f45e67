"""Writes on an order: lifecycle actions, cancellations, invoicing, and its timeline."""

from __future__ import annotations

from typing import Any

import pytest

from suivi.orders.lifecycle import Action
from suivi.orders.models import CreditNote, Invoice, Order, OrderEvent
from suivi.shops.models import Shop

from ..schemas import EventPageOut, InvoiceOut, OrderOut
from .conftest import Api, assert_matches_schema, click_and_collect_body, problem_fields


def _act(api: Api, order_id: int, action: str, body: Any = None) -> Any:
    return api.post(f"/orders/{order_id}/actions/{action}", body)


def _snapshot(order_id: int) -> tuple[Any, ...]:
    order = Order.objects.get(pk=order_id)
    lines = tuple(
        order.lines.values_list("quantity_cancelled", "quantity_shipped", "quantity_collected")
    )
    return (
        order.status,
        order.version,
        order.total_amount,
        lines,
        OrderEvent.objects.filter(order=order).count(),
    )


def test_a_delivery_order_goes_from_payment_to_delivery(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order()["id"]
    steps = [
        ("confirm_payment", "to_prepare"),
        ("hold_for_stock", "awaiting_stock"),
        ("route", "routed"),
        ("start_preparation", "in_preparation"),
        ("mark_ready", "ready_to_ship"),
        ("ship", "shipped"),
        ("mark_in_transit", "in_transit"),
        ("mark_out_for_delivery", "out_for_delivery"),
        ("mark_available_for_pickup", "available_for_pickup"),
        ("mark_delivered", "delivered"),
    ]
    version = 1
    for action, status in steps:
        response = _act(api_a, order_id, action)
        assert response.status_code == 200, (action, response.content)
        body = response.json()
        assert_matches_schema(OrderOut, body)
        assert body["status"] == status
        assert body["version"] > version
        version = body["version"]
    assert body["available_actions"] == []
    assert all(line["quantity_shipped"] == line["quantity_ordered"] for line in body["lines"])


def test_stock_arrival_releases_an_order_back_to_preparation(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order(paid=True)["id"]
    _act(api_a, order_id, "hold_for_stock")

    body = _act(api_a, order_id, "release").json()

    assert body["status"] == "to_prepare"


def test_a_click_and_collect_order_is_made_ready_then_collected(api_a: Api, api_b: Api) -> None:
    order_id = api_a.post("/orders", click_and_collect_body(paid=True)).json()["id"]

    ready = _act(api_a, order_id, "mark_ready").json()
    collected = _act(api_a, order_id, "mark_collected").json()

    assert ready["status"] == "ready_for_pickup"
    assert collected["status"] == "collected"
    assert all(
        line["quantity_collected"] == line["quantity_ordered"] for line in collected["lines"]
    )


def test_action_details_go_into_the_event_payload(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order(paid=True)["id"]

    _act(api_a, order_id, "route", {"warehouse": "entrepot", "note": "Lyon est plein"})
    _act(api_a, order_id, "ship", {"carrier": "colissimo", "tracking_number": "6A12345678901"})

    routed = OrderEvent.objects.get(order_id=order_id, type="order.routed")
    shipped = OrderEvent.objects.get(order_id=order_id, type="order.shipped")
    assert routed.payload == {
        "from": "to_prepare",
        "to": "routed",
        "warehouse": "entrepot",
        "note": "Lyon est plein",
    }
    assert shipped.payload["carrier"] == "colissimo"
    assert shipped.payload["tracking_number"] == "6A12345678901"


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("ship", {"warehouse": "entrepot"}, "warehouse"),
        ("route", {"carrier": "colissimo"}, "carrier"),
        ("confirm_payment", {"tracking_number": "6A1"}, "tracking_number"),
    ],
)
def test_a_detail_that_does_not_belong_to_the_action_is_a_422(
    api_a: Api, api_b: Api, action: str, body: dict[str, str], field: str
) -> None:
    order_id = api_a.create_order(paid=True)["id"]
    before = _snapshot(order_id)

    response = _act(api_a, order_id, action, body)

    assert response.status_code == 422
    assert problem_fields(response) == [field]
    assert _snapshot(order_id) == before


def test_an_invalid_transition_is_a_409_and_changes_nothing(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order()["id"]
    before = _snapshot(order_id)

    response = _act(api_a, order_id, "mark_delivered")

    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "https://suivi.dev/problems/invalid-transition"
    assert "awaiting_payment" in problem["detail"]
    assert _snapshot(order_id) == before


def test_an_action_of_the_other_mode_is_an_invalid_transition(api_a: Api, api_b: Api) -> None:
    order_id = api_a.post("/orders", click_and_collect_body(paid=True)).json()["id"]

    response = _act(api_a, order_id, "ship")

    assert response.status_code == 409
    assert response.json()["type"] == "https://suivi.dev/problems/invalid-transition"


def test_a_stale_expected_version_is_a_409_concurrent_change(api_a: Api, api_b: Api) -> None:
    order = api_a.create_order()
    before = _snapshot(order["id"])

    stale = _act(api_a, order["id"], "confirm_payment", {"expected_version": order["version"] + 1})

    assert stale.status_code == 409
    assert stale.json()["type"] == "https://suivi.dev/problems/concurrent-change"
    assert _snapshot(order["id"]) == before
    current = _act(api_a, order["id"], "confirm_payment", {"expected_version": order["version"]})
    assert current.status_code == 200


@pytest.mark.parametrize("action", ["cancel", "teleport", "CONFIRM_PAYMENT"])
def test_an_action_outside_the_enum_is_a_422(api_a: Api, api_b: Api, action: str) -> None:
    order_id = api_a.create_order()["id"]

    response = _act(api_a, order_id, action)

    assert response.status_code == 422
    assert problem_fields(response) == ["action"]


def test_the_action_enum_is_the_lifecycle_actions_but_cancel(
    anonymous: Api, shop_a: Any, shop_b: Any
) -> None:
    document = anonymous.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/orders/{order_id}/actions/{action}"]["post"]
    [parameter] = [p for p in operation["parameters"] if p["name"] == "action"]

    assert parameter["schema"]["enum"] == [a.value for a in Action if a is not Action.CANCEL]


def test_cancelling_an_invoiced_order_issues_a_credit_note(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order(paid=True)["id"]

    response = api_a.post(f"/orders/{order_id}/cancel", {"reason": "customer_request", "note": "x"})

    assert response.status_code == 200
    body = response.json()
    assert_matches_schema(OrderOut, body)
    assert body["status"] == "cancelled"
    assert body["cancellation_reason"] == "customer_request"
    assert body["total_amount"] == "0.00"
    assert body["credit_notes"] == [{"number": "AV-000001", "total_amount": "119.70"}]


def test_cancelling_a_shipped_order_is_a_409_and_changes_nothing(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order(paid=True)["id"]
    _act(api_a, order_id, "ship")
    before = _snapshot(order_id)

    response = api_a.post(f"/orders/{order_id}/cancel", {"reason": "customer_request"})

    assert response.status_code == 409
    assert response.json()["type"] == "https://suivi.dev/problems/invalid-transition"
    assert _snapshot(order_id) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": "bored"}, "reason"),
        ({"reason": "other", "note": "n" * 2001}, "note"),
        ({"reason": "other", "refund": True}, "refund"),
    ],
)
def test_an_invalid_cancellation_is_a_422(
    api_a: Api, api_b: Api, body: dict[str, Any], field: str
) -> None:
    order_id = api_a.create_order()["id"]

    response = api_a.post(f"/orders/{order_id}/cancel", body)

    assert response.status_code == 422
    assert problem_fields(response) == [field]
    assert Order.objects.get(pk=order_id).status == "awaiting_payment"


def test_cancelling_some_lines_keeps_the_order_and_lowers_its_total(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order(paid=True)["id"]

    response = api_a.post(
        f"/orders/{order_id}/cancel-lines",
        {"reason": "sold_in_store", "lines": [{"position": 1, "quantity": 1}]},
    )

    assert response.status_code == 200
    body = response.json()
    assert_matches_schema(OrderOut, body)
    assert body["status"] == "to_prepare"
    assert body["facts"]["partially_cancelled"] is True
    assert body["lines"][0]["quantity_cancelled"] == 1
    assert body["total_amount"] == "69.80"
    assert body["credit_notes"] == [{"number": "AV-000001", "total_amount": "49.90"}]


def test_cancelling_every_line_cancels_the_order(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order()["id"]

    body = api_a.post(
        f"/orders/{order_id}/cancel-lines",
        {
            "reason": "out_of_stock",
            "lines": [{"position": 1, "quantity": 2}, {"position": 2, "quantity": 1}],
        },
    ).json()

    assert body["status"] == "cancelled"


@pytest.mark.parametrize(
    ("lines", "status", "problem", "field"),
    [
        ([{"position": 1, "quantity": 3}], 422, "invalid-quantity", "lines.0.quantity"),
        ([{"position": 2, "quantity": 1}, {"position": 1, "quantity": 5}], 422, "invalid-quantity", "lines.1.quantity"),
        ([{"position": 9, "quantity": 1}], 422, "invalid-input", "lines.0.position"),
        ([{"position": 1, "quantity": 1}, {"position": 1, "quantity": 1}], 422, "invalid-input", "lines"),
        ([{"position": 1, "quantity": 0}], 422, "validation-error", "lines.0.quantity"),
        ([{"position": 40000, "quantity": 1}], 422, "validation-error", "lines.0.position"),
        ([], 422, "validation-error", "lines"),
    ],
)  # fmt: skip
def test_cancelling_more_than_left_or_unknown_lines_changes_nothing(
    api_a: Api,
    api_b: Api,
    lines: list[dict[str, int]],
    status: int,
    problem: str,
    field: str,
) -> None:
    order_id = api_a.create_order(paid=True)["id"]
    before = _snapshot(order_id)
    notes = CreditNote.objects.count()

    response = api_a.post(
        f"/orders/{order_id}/cancel-lines", {"reason": "out_of_stock", "lines": lines}
    )

    assert response.status_code == status
    assert response.json()["type"] == f"https://suivi.dev/problems/{problem}"
    assert problem_fields(response) == [field]
    assert _snapshot(order_id) == before
    assert CreditNote.objects.count() == notes


def test_invoicing_a_paid_order_returns_the_invoice_once_the_shop_invoices(
    api_a: Api, api_b: Api, shop_b: Shop
) -> None:
    order_id = api_b.create_order(paid=True)["id"]
    refused = api_b.post(f"/orders/{order_id}/invoice")
    # The shop turns invoicing on later, and invoices what was already paid.
    Shop.objects.filter(pk=shop_b.pk).update(invoicing_enabled=True)

    response = api_b.post(f"/orders/{order_id}/invoice")

    assert refused.status_code == 409
    assert refused.json()["type"] == "https://suivi.dev/problems/invoicing-not-allowed"
    assert response.status_code == 201
    body = response.json()
    assert_matches_schema(InvoiceOut, body)
    assert body["total_amount"] == "119.70"
    assert body["currency"] == "EUR"
    assert body["shipping_amount"] == "4.90"
    assert [line["sku"] for line in body["lines"]] == ["PULL-M", "BONNET"]
    assert api_b.get(f"/orders/{order_id}").json()["invoice"]["number"] == body["number"]


def test_invoicing_twice_or_before_payment_is_a_409(api_a: Api, api_b: Api) -> None:
    invoiced = api_a.create_order(paid=True)["id"]
    unpaid = api_a.create_order()["id"]

    twice = api_a.post(f"/orders/{invoiced}/invoice")
    early = api_a.post(f"/orders/{unpaid}/invoice")

    for response in (twice, early):
        assert response.status_code == 409
        assert response.json()["type"] == "https://suivi.dev/problems/invoicing-not-allowed"
    assert Invoice.objects.count() == 1


def test_the_timeline_lists_every_change_oldest_first(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order(paid=True)["id"]
    _act(api_a, order_id, "ship", {"carrier": "colissimo"})

    response = api_a.get(f"/orders/{order_id}/events")

    assert response.status_code == 200
    body = response.json()
    assert_matches_schema(EventPageOut, body)
    assert [event["type"] for event in body["items"]] == [
        "order.created",
        "order.confirmed",
        "order.invoiced",
        "order.shipped",
    ]
    assert body["items"][-1]["payload"]["carrier"] == "colissimo"
    assert body["next_cursor"] is None


def test_the_timeline_pages_with_a_cursor(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order(paid=True)["id"]
    for action in ("hold_for_stock", "release", "hold_for_stock", "release", "ship"):
        assert _act(api_a, order_id, action).status_code == 200
    expected = list(
        OrderEvent.objects.filter(order_id=order_id).order_by("id").values_list("id", flat=True)
    )

    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api_a.get(f"/orders/{order_id}/events", params).json()
        seen += [event["id"] for event in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == expected
    assert len(expected) == 8


def test_an_order_cursor_is_refused_by_the_timeline(api_a: Api, api_b: Api) -> None:
    for _ in range(3):
        api_a.create_order()
    order_cursor = api_a.get("/orders", {"limit": 1}).json()["next_cursor"]
    order_id = api_a.create_order()["id"]

    response = api_a.get(f"/orders/{order_id}/events", {"cursor": order_cursor})

    assert response.status_code == 400
    assert response.json()["type"] == "https://suivi.dev/problems/invalid-cursor"
