"""POST /orders: what is created, what is refused, and that a refusal writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from suivi.core import events
from suivi.customers.models import Customer
from suivi.orders.lifecycle import Mode, Status, available_actions
from suivi.orders.models import Order, OrderEvent, OrderLine
from suivi.shops.models import Shop

from ..schemas import OrderOut
from .conftest import Api, assert_matches_schema, click_and_collect_body, order_body, problem_fields


def _counts() -> tuple[int, int, int, int]:
    return (
        Order.objects.count(),
        OrderLine.objects.count(),
        Customer.objects.count(),
        OrderEvent.objects.count(),
    )


def test_creating_a_delivery_order_returns_it_with_totals_as_strings(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    response = api_a.post("/orders", order_body(reference="WEB-1001"))

    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert_matches_schema(OrderOut, body)
    assert body["reference"] == "WEB-1001"
    assert body["status"] == "awaiting_payment"
    assert body["public_step"] == "ordered"
    assert body["version"] == 1
    assert body["lines_amount"] == "114.80"
    assert body["shipping_amount"] == "4.90"
    assert body["total_amount"] == "119.70"
    assert body["currency"] == "EUR"
    assert [line["tax_rate"] for line in body["lines"]] == ["20.00", "5.50"]
    assert body["customer"]["phone"] == "+33612345678"
    assert body["shipping_address"]["country"] == "FR"
    # Straight from the lifecycle table, which owns which actions apply when.
    assert body["available_actions"] == [
        action.value for action in available_actions(Mode.DELIVERY, Status.AWAITING_PAYMENT)
    ]
    assert {"confirm_payment", "cancel"} <= set(body["available_actions"])
    assert body["invoice"] is None
    order = Order.objects.get(pk=body["id"])
    assert order.shop == shop_a
    assert order.total_amount == Decimal("119.70")


def test_creating_a_click_and_collect_order_names_its_store(api_a: Api, api_b: Api) -> None:
    response = api_a.post("/orders", click_and_collect_body())

    assert response.status_code == 201
    body = response.json()
    assert_matches_schema(OrderOut, body)
    assert body["fulfilment_mode"] == "click_and_collect"
    assert body["pickup_store"] == "boutique"
    assert body["shipping_address"] is None
    assert body["total_amount"] == "114.80"


def test_a_paid_order_is_confirmed_and_invoiced_when_the_shop_invoices(
    api_a: Api, api_b: Api
) -> None:
    invoicing = api_a.post("/orders", order_body(paid=True)).json()
    not_invoicing = api_b.post("/orders", order_body(paid=True)).json()

    assert invoicing["status"] == "to_prepare"
    assert invoicing["facts"]["invoiced"] is True
    assert invoicing["invoice"] == {"number": "F-000001", "total_amount": "119.70"}
    assert not_invoicing["status"] == "to_prepare"
    assert not_invoicing["invoice"] is None


def test_optional_fields_are_stored_and_metadata_lands_on_the_created_event(
    api_a: Api, api_b: Api
) -> None:
    body = api_a.create_order(
        currency="usd",
        language="en",
        promised_delivery_date="2030-05-04",
        placed_at="2030-05-01T10:30:00+02:00",
        metadata={"channel": "web", "cart": {"items": [1, 2.5, None, True]}},
    )

    assert body["currency"] == "USD"
    assert body["language"] == "en"
    assert body["promised_delivery_date"] == "2030-05-04"
    assert body["placed_at"].startswith("2030-05-01T08:30:00")
    created = OrderEvent.objects.get(order_id=body["id"], type="order.created")
    assert created.payload["metadata"] == {
        "channel": "web",
        "cart": {"items": [1, 2.5, None, True]},
    }


def test_a_duplicate_reference_is_a_409_but_another_shop_may_reuse_it(
    api_a: Api, api_b: Api
) -> None:
    api_a.create_order(reference="SAME-REF")

    again = api_a.post("/orders", order_body(reference="SAME-REF"))
    elsewhere = api_b.post("/orders", order_body(reference="SAME-REF"))

    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    assert again.json()["type"] == "https://suivi.dev/problems/duplicate-reference"
    assert elsewhere.status_code == 201


def test_a_failing_create_leaves_no_order_customer_or_lines(api_a: Api, api_b: Api) -> None:
    api_a.create_order(reference="TAKEN")
    before = _counts()

    # A new customer is upserted before the order insert fails on the reference.
    customer = {"email": "nouveau.client@example.fr", "phone": "+33 6 98 76 54 32"}
    response = api_a.post("/orders", order_body(reference="TAKEN", customer=customer))

    assert response.status_code == 409
    assert _counts() == before
    assert not Customer.objects.filter(email="nouveau.client@example.fr").exists()


@pytest.fixture
def exploding_subscriber() -> Iterator[None]:
    def explode(event: events.DomainEvent) -> None:
        raise RuntimeError("a subscriber failed mid-transaction")

    events.subscribe("order.created", explode)
    yield
    events.unsubscribe("order.created", explode)


def test_an_unexpected_error_mid_create_is_a_500_problem_and_writes_nothing(
    api_a: Api, api_b: Api, exploding_subscriber: None
) -> None:
    customer = {"email": "jamais.cree@example.fr"}
    response = api_a.post("/orders", order_body(customer=customer))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "https://suivi.dev/problems/internal-error"
    assert _counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer": {"email": "claire@example.fr", "phone": "12"}}, "customer.phone"),
        ({"customer": {"email": "claire@example.fr", "phone": "+1 555"}}, "customer.phone"),
        ({"pickup_store": "boutique"}, "pickup_store"),
        ({"shipping_address": None}, "shipping_address"),
    ],
)
def test_input_a_service_refuses_is_a_422_naming_the_field(
    api_a: Api, api_b: Api, change: dict[str, Any], field: str
) -> None:
    response = api_a.post("/orders", order_body(**change))

    assert response.status_code == 422
    assert response.json()["type"] == "https://suivi.dev/problems/invalid-input"
    assert problem_fields(response) == [field]
    assert _counts() == (0, 0, 0, 0)


def test_an_unknown_store_is_a_422_on_pickup_store(api_a: Api, api_b: Api) -> None:
    response = api_a.post("/orders", click_and_collect_body(pickup_store="fermee"))

    assert response.status_code == 422
    assert problem_fields(response) == ["pickup_store"]


def test_unknown_fields_are_refused_with_one_error_each(api_a: Api, api_b: Api) -> None:
    body = order_body(discount="10%")
    body["customer"]["nickname"] = "Clo"
    body["lines"][1]["colour"] = "blue"

    response = api_a.post("/orders", body)

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "https://suivi.dev/problems/validation-error"
    assert sorted(problem_fields(response)) == ["customer.nickname", "discount", "lines.1.colour"]
    assert not Order.objects.exists()


def _line(**changes: Any) -> dict[str, Any]:
    return {"sku": "PULL-M", "name": "Pull", "unit_price": "10.00", "quantity": 1, **changes}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reference": "R" * 65}, "reference"),
        ({"reference": "   "}, "reference"),
        ({"reference": "A\x00B"}, "reference"),
        ({"reference": "A\ud800B"}, "reference"),
        ({"fulfilment_mode": "drone"}, "fulfilment_mode"),
        ({"customer": {"email": "not-an-email"}}, "customer.email"),
        ({"customer": {"email": "claire@example.fr", "first_name": "C" * 101}}, "customer.first_name"),
        ({"lines": []}, "lines"),
        ({"lines": [_line(sku="S" * 65)]}, "lines.0.sku"),
        ({"lines": [_line(name="N" * 301)]}, "lines.0.name"),
        ({"lines": [_line(quantity=0)]}, "lines.0.quantity"),
        ({"lines": [_line(quantity=1_000_001)]}, "lines.0.quantity"),
        ({"lines": [_line(quantity=2**64)]}, "lines.0.quantity"),
        ({"lines": [_line(quantity=1.5)]}, "lines.0.quantity"),
        ({"lines": [_line(unit_price="-1")]}, "lines.0.unit_price"),
        ({"lines": [_line(unit_price="NaN")]}, "lines.0.unit_price"),
        ({"lines": [_line(unit_price="Infinity")]}, "lines.0.unit_price"),
        ({"lines": [_line(unit_price="1e20")]}, "lines.0.unit_price"),
        ({"lines": [_line(unit_price="10.001")]}, "lines.0.unit_price"),
        ({"lines": [_line(unit_price="dix")]}, "lines.0.unit_price"),
        ({"lines": [_line(tax_rate="100.01")]}, "lines.0.tax_rate"),
        ({"lines": [_line(unit_price="9999999999.99", quantity=2)]}, "lines"),
        ({"lines": [_line()] * 501}, "lines"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"language": "de"}, "language"),
        ({"shipping_amount": "-4.90"}, "shipping_amount"),
        ({"shipping_address": {"name": "C", "line1": "", "postcode": "1", "city": "L"}}, "shipping_address.line1"),
        ({"shipping_address": {"name": "C", "line1": "1", "postcode": "1", "city": "L", "country": "XX"}}, "shipping_address.country"),
        ({"pickup_store": "../etc"}, "pickup_store"),
        ({"promised_delivery_date": "2030-02-30"}, "promised_delivery_date"),
        ({"promised_delivery_date": "0001-01-01"}, "promised_delivery_date"),
        ({"placed_at": "2030-05-01T10:30:00"}, "placed_at"),
        ({"placed_at": "0001-01-01T00:00:00+01:00"}, "placed_at"),
        ({"paid": "maybe"}, "paid"),
        ({"metadata": ["not", "an", "object"]}, "metadata"),
        ({"metadata": {"k": "\x00"}}, "metadata"),
        ({"metadata": {"k": "v" * 20_000}}, "metadata"),
        ({"metadata": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {}}}}}}}}}}, "metadata"),
    ],
)  # fmt: skip
def test_invalid_values_are_refused_with_422_naming_the_field(
    api_a: Api, api_b: Api, change: dict[str, Any], field: str
) -> None:
    response = api_a.post("/orders", order_body(**change))

    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in problem_fields(response)
    assert all(error["message"] for error in response.json()["errors"])
    assert _counts() == (0, 0, 0, 0)


def test_a_missing_required_field_is_named(api_a: Api, api_b: Api) -> None:
    body = order_body()
    del body["reference"]
    del body["lines"][0]["quantity"]

    response = api_a.post("/orders", body)

    assert response.status_code == 422
    assert sorted(problem_fields(response)) == ["lines.0.quantity", "reference"]


def test_decimals_are_accepted_as_numbers_or_strings(api_a: Api, api_b: Api) -> None:
    body = api_a.create_order(
        lines=[_line(unit_price=12.5, quantity=2), _line(unit_price="1e1", tax_rate=5.5)],
        shipping_amount=0,
    )

    assert [line["unit_price"] for line in body["lines"]] == ["12.50", "10.00"]
    assert body["lines"][1]["tax_rate"] == "5.50"
    assert body["total_amount"] == "35.00"


def test_the_largest_storable_total_is_accepted(api_a: Api, api_b: Api) -> None:
    body = api_a.create_order(lines=[_line(unit_price="9999999995.09")], shipping_amount="4.90")

    assert body["total_amount"] == "9999999999.99"


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"reference": }', b"\xff\xfe", b'{"lines": NaN}', b'{"a": 1e999}', b"nul"],
)
def test_a_body_that_is_not_json_is_a_400_problem(api_a: Api, api_b: Api, raw: bytes) -> None:
    response = api_a.post("/orders", raw=raw)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "https://suivi.dev/problems/malformed-json"


@pytest.mark.parametrize("raw", [b"[]", b'"order"', b"42", b"null", b""])
def test_a_json_body_that_is_not_an_object_is_a_422(api_a: Api, api_b: Api, raw: bytes) -> None:
    response = api_a.post("/orders", raw=raw)

    assert response.status_code == 422
    assert response.json()["type"] == "https://suivi.dev/problems/validation-error"
