"""The tracking endpoints: carriers and detection, the parcels of an order, carrier accounts,
and the push endpoints carriers send their events to.

Every test goes through the HTTP API (Django's test client): shop endpoints with a shop key,
the push endpoints with a carrier account's HMAC signature. Bodies are checked against the
documented response schemas, errors against their problem type and field.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone as dj_timezone

from suivi.api.shipments import (
    AccountCreatedOut,
    AccountOut,
    CarrierOut,
    DetectOut,
    LegOut,
    ParcelListOut,
    ParcelOut,
    ParcelsOut,
    PushOut,
    sign,
)
from suivi.carriers.vocabulary import Status
from suivi.notifications import channels, dispatch
from suivi.notifications.models import NotificationSettings, OutboxMessage
from suivi.notifications.tests.smtp_server import SMTPServer
from suivi.orders.lifecycle import Mode
from suivi.orders.models import Order, OrderEvent, OrderLine
from suivi.shipments.ingest import ingest
from suivi.shipments.models import CarrierAccount, Parcel, ParcelLeg, ParcelLine, TrackingEvent
from suivi.shipments.tests.factories import number, scan, update
from suivi.shops.models import Shop
from suivi.testing import make_order

from .conftest import BASE, Api, assert_matches_schema

MISSING_ID = 987654321
PROBLEM = "https://suivi.dev/problems/"
PARIS_WINTER = timezone(timedelta(hours=1))
PARIS_SUMMER = timezone(timedelta(hours=2))


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    # No private network is reachable: carrier base URLs must be public.
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = []


# --- helpers ----------------------------------------------------------------------------


def problem_type(response: Any) -> str:
    assert response["Content-Type"] == "application/problem+json", response.content
    return str(response.json()["type"]).removeprefix(PROBLEM)


def fields(response: Any) -> list[str | None]:
    return [error["field"] for error in response.json()["errors"]]


def s10(serial: int, country: str = "FR") -> str:
    """A UPU S10 number with a valid check digit (``RR`` + 8 digits + check + country)."""
    digits = f"{serial:08d}"
    total = sum(int(d) * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    r = total % 11
    check = 5 if r == 0 else 0 if r == 1 else 11 - r
    return f"RR{digits}{check}{country}"


def ship(api: Api, order_id: int, *parcels: dict[str, Any]) -> Any:
    return api.post(f"/orders/{order_id}/parcels", {"parcels": list(parcels)})


def shipped(api: Api, shop: Shop, n: str | None = None, **parcel: Any) -> tuple[Order, dict]:
    """A paid order of *shop* shipped in one La Poste parcel through the API."""
    order = make_order(shop, paid=True)
    response = ship(
        api, order.pk, {"tracking_number": n or number(), "carrier": "laposte", **parcel}
    )
    assert response.status_code == 201, response.content
    order.refresh_from_db()
    return order, response.json()["parcels"][0]


def delete(api: Api, path: str) -> Any:
    return api.client.delete(f"{BASE}{path}", headers=api._headers({}))


def create_account(api: Api, **body: Any) -> dict[str, Any]:
    payload = {"carrier": "laposte", "credentials": {"api_key": "lp-key-0123456789"}, **body}
    response = api.post("/carrier-accounts", payload)
    assert response.status_code == 201, response.content
    return dict(response.json())


def event(
    tracking_number: str,
    status: str,
    occurred_at: str,
    code: str,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "tracking_number": tracking_number,
        "status": status,
        "occurred_at": occurred_at,
        "code": code,
        "label": f"{status} scan",
        **extra,
    }


def push(
    client: Client,
    account: dict[str, Any] | None,
    events: list[dict[str, Any]] | None = None,
    *,
    raw: bytes | None = None,
    secret: str | None = None,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST *events* to /tracking/events signed with *account*'s push secret."""
    body = raw if raw is not None else json.dumps({"events": events or []}).encode()
    sent: dict[str, str] = {}
    if account is not None:
        sent["X-Suivi-Account"] = str(account["id"])
        key = account["push_secret"] if secret is None else secret
        sent["X-Suivi-Signature"] = sign(key, body, timestamp)
    sent.update(headers or {})
    return client.post(
        f"{BASE}/tracking/events", data=body, content_type="application/json", headers=sent
    )


def order_lines(api: Api, order_id: int) -> dict[int, int]:
    """Line position -> quantity shipped, as the order API shows it."""
    body = api.get(f"/orders/{order_id}").json()
    return {line["position"]: line["quantity_shipped"] for line in body["lines"]}


def event_types(order: Order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).values_list("type", flat=True))


def state() -> tuple[int, int, int, int, list[tuple[int, str]]]:
    """What a refused write must leave as it was."""
    return (
        Parcel.objects.count(),
        ParcelLeg.objects.count(),
        ParcelLine.objects.count(),
        TrackingEvent.objects.count(),
        list(Order.objects.order_by("pk").values_list("pk", "status")),
    )


# --- carriers ---------------------------------------------------------------------------


def test_the_carriers_list_tells_limits_credentials_and_push(api_a: Api, api_b: Api) -> None:
    response = api_a.get("/carriers")

    assert response.status_code == 200
    body = response.json()
    for item in body:
        assert_matches_schema(CarrierOut, item)
    laposte = {c["code"]: c for c in body}["laposte"]
    assert laposte["credential_names"] == ["api_key"]
    assert laposte["push"] is False
    assert laposte["max_numbers_per_call"] >= 1 and laposte["requests_per_minute"] >= 1


@pytest.mark.parametrize(
    ("given", "normalised", "expected"),
    [
        ("rr 1234 5678 5fr", "RR123456785FR", [("laposte", True), ("chronopost", True)]),
        ("6A12345678901", "6A12345678901", [("colissimo", False), ("laposte", False)]),
        ("876543210010", "876543210010", [("fedex", True), ("gls", True)]),
        ("1Z999AA10123456784", "1Z999AA10123456784", [("ups", True)]),
        ("hello-world", "HELLOWORLD", []),
        ("RR123456784FR", "RR123456784FR", []),  # a wrong check digit is a typo, not S10
    ],
)
def test_detection_ranks_the_candidates_and_never_guesses(
    api_a: Api, api_b: Api, given: str, normalised: str, expected: list[tuple[str, bool]]
) -> None:
    response = api_a.get("/carriers/detect", {"number": given})

    assert response.status_code == 200
    body = response.json()
    assert_matches_schema(DetectOut, body)
    assert body["tracking_number"] == normalised
    assert [(c["carrier"], c["check_digit_verified"]) for c in body["candidates"]] == expected


def test_detection_needs_a_number(api_a: Api, api_b: Api) -> None:
    response = api_a.get("/carriers/detect")

    assert response.status_code == 422
    assert fields(response) == ["number"]


# --- creating parcels -------------------------------------------------------------------


def test_a_parcel_with_its_carrier_ships_the_order(api_a: Api, api_b: Api, shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    n = number()

    response = ship(api_a, order.pk, {"tracking_number": n, "carrier": "laposte", "service": "DOM"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert_matches_schema(ParcelsOut, body)
    [parcel] = body["parcels"]
    assert parcel["order_id"] == order.pk
    assert (parcel["carrier"], parcel["tracking_number"], parcel["service"]) == (
        "laposte",
        n,
        "DOM",
    )
    assert (
        parcel["tracking_url"].startswith("https://www.laposte.fr/") and n in parcel["tracking_url"]
    )
    assert parcel["status"] == "pending" and parcel["events"] == []
    # Without lines, everything left goes in the parcel (by line position).
    assert parcel["lines"] == [{"line": 1, "quantity": 2}, {"line": 2, "quantity": 1}]
    [leg] = parcel["legs"]
    assert (leg["carrier"], leg["tracking_number"], leg["role"]) == ("laposte", n, "origin")
    assert leg["polled"] is False  # no La Poste account yet
    order.refresh_from_db()
    assert order.status == "shipped"
    shipped_event = OrderEvent.objects.get(order=order, type="order.shipped")
    assert shipped_event.payload["carrier"] == "laposte"
    assert shipped_event.payload["tracking_number"] == n
    assert shipped_event.payload["parcel_id"] == parcel["id"]
    assert order_lines(api_a, order.pk) == {1: 2, 2: 1}


@pytest.mark.parametrize(
    ("given", "carrier"),
    [
        ("RR123456785FR", "laposte"),
        ("rr 123 456 785 fr", "laposte"),
        ("6A12345678901", "colissimo"),
    ],
)
def test_the_carrier_is_detected_from_the_number(
    api_a: Api, api_b: Api, shop_a: Shop, given: str, carrier: str
) -> None:
    order = make_order(shop_a, paid=True)

    response = ship(api_a, order.pk, {"tracking_number": given})

    assert response.status_code == 201, response.content
    [parcel] = response.json()["parcels"]
    assert parcel["carrier"] == carrier
    assert parcel["tracking_number"] == given.replace(" ", "").upper()


def test_an_ambiguous_number_is_refused_with_its_candidates(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    order = make_order(shop_a, paid=True)
    before = state()

    response = ship(
        api_a,
        order.pk,
        {"tracking_number": number(), "carrier": "laposte", "lines": [{"line": 1, "quantity": 1}]},
        {"tracking_number": "8765 4321 0010"},
    )

    assert response.status_code == 422
    assert problem_type(response) == "carrier-not-detected"
    body = response.json()
    assert body["candidates"] == ["fedex", "gls"]
    assert body["tracking_number"] == "876543210010"
    assert fields(response) == ["parcels.1.carrier"]
    assert state() == before  # all or nothing: the first parcel was not created either


def test_a_number_no_carrier_uses_needs_its_carrier(api_a: Api, api_b: Api, shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    before = state()

    response = ship(api_a, order.pk, {"tracking_number": "ABCD-1234-XYZ"})

    assert response.status_code == 422
    assert problem_type(response) == "carrier-not-detected"
    assert response.json()["candidates"] == []
    assert fields(response) == ["parcels.0.carrier"]
    assert state() == before
    # Given the carrier, the same number is accepted.
    again = ship(api_a, order.pk, {"tracking_number": "ABCD-1234-XYZ", "carrier": "other"})
    assert again.status_code == 201, again.content
    assert again.json()["parcels"][0]["tracking_url"] == ""


def test_an_unknown_carrier_is_refused(api_a: Api, api_b: Api, shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)

    response = ship(api_a, order.pk, {"tracking_number": number(), "carrier": "pigeon_post"})

    assert response.status_code == 422
    assert problem_type(response) == "invalid-input"
    assert Order.objects.get(pk=order.pk).status == "to_prepare"


def test_a_split_shipment_counts_what_each_parcel_carries(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    order = make_order(shop_a, paid=True)  # line 1: 2 pullovers, line 2: 1 hat
    first_number, second_number = number(), number()

    first = ship(
        api_a,
        order.pk,
        {
            "tracking_number": first_number,
            "carrier": "laposte",
            "lines": [{"line": 1, "quantity": 1}],
        },
    )

    assert first.status_code == 201, first.content
    assert first.json()["parcels"][0]["lines"] == [{"line": 1, "quantity": 1}]
    assert order_lines(api_a, order.pk) == {1: 1, 2: 0}
    assert Order.objects.get(pk=order.pk).status == "shipped"

    second = ship(api_a, order.pk, {"tracking_number": second_number, "carrier": "laposte"})

    assert second.status_code == 201, second.content
    assert second.json()["parcels"][0]["lines"] == [
        {"line": 1, "quantity": 1},
        {"line": 2, "quantity": 1},
    ]
    assert order_lines(api_a, order.pk) == {1: 2, 2: 1}
    types = event_types(order)
    assert types.count("order.shipped") == 1 and types.count("order.parcel_added") == 1
    added = OrderEvent.objects.get(order=order, type="order.parcel_added")
    assert added.payload["tracking_number"] == second_number
    assert added.payload["carrier"] == "laposte"
    listed = api_a.get(f"/orders/{order.pk}/parcels").json()["parcels"]
    assert [p["tracking_number"] for p in listed] == [first_number, second_number]


def test_two_parcels_in_one_call_split_the_lines(api_a: Api, api_b: Api, shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)

    response = ship(
        api_a,
        order.pk,
        {"tracking_number": number(), "carrier": "laposte", "lines": [{"line": 1, "quantity": 2}]},
        {"tracking_number": s10(11111111), "lines": [{"line": 2, "quantity": 1}]},
    )

    assert response.status_code == 201, response.content
    parcels = response.json()["parcels"]
    assert [p["lines"] for p in parcels] == [
        [{"line": 1, "quantity": 2}],
        [{"line": 2, "quantity": 1}],
    ]
    assert [p["carrier"] for p in parcels] == ["laposte", "laposte"]
    assert order_lines(api_a, order.pk) == {1: 2, 2: 1}
    shipped_event = OrderEvent.objects.get(order=order, type="order.shipped")
    assert [p["parcel_id"] for p in shipped_event.payload["parcels"]] == [p["id"] for p in parcels]


@pytest.mark.parametrize(
    "lines",
    [
        [{"line": 1, "quantity": 3}],  # 2 ordered
        [{"line": 1, "quantity": 1}, {"line": 1, "quantity": 2}],  # 3 of 2, spread
        [{"line": 9, "quantity": 1}],  # no such line
    ],
)
def test_more_than_is_left_of_a_line_is_refused_and_nothing_is_written(
    api_a: Api, api_b: Api, shop_a: Shop, lines: list[dict[str, int]]
) -> None:
    order = make_order(shop_a, paid=True)
    before = state()

    response = ship(
        api_a, order.pk, {"tracking_number": number(), "carrier": "laposte", "lines": lines}
    )

    assert response.status_code == 422, response.content
    assert problem_type(response) == "invalid-input"
    assert fields(response) == ["parcels.0.lines"]
    assert state() == before
    assert Order.objects.get(pk=order.pk).status == "to_prepare"
    assert order_lines(api_a, order.pk) == {1: 0, 2: 0}
    assert "order.shipped" not in event_types(order)


def test_a_second_parcel_cannot_carry_what_the_first_took(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    order, _parcel = shipped(api_a, shop_a)  # everything went in the first parcel
    before = state()

    response = ship(
        api_a,
        order.pk,
        {"tracking_number": number(), "carrier": "laposte", "lines": [{"line": 2, "quantity": 1}]},
    )

    assert response.status_code == 422
    assert state() == before
    assert "order.parcel_added" not in event_types(order)


def test_order_lines_shipped_counts_survive_a_refused_second_call(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    """A refused call after a split shipment leaves the shipped quantities as they were."""
    order = make_order(shop_a, paid=True)
    ship(
        api_a,
        order.pk,
        {"tracking_number": number(), "carrier": "laposte", "lines": [{"line": 1, "quantity": 1}]},
    )

    refused = ship(
        api_a,
        order.pk,
        {"tracking_number": number(), "carrier": "laposte", "lines": [{"line": 1, "quantity": 2}]},
    )

    assert refused.status_code == 422
    assert dict(
        OrderLine.objects.filter(order=order).values_list("position", "quantity_shipped")
    ) == {
        1: 1,
        2: 0,
    }


def test_a_click_and_collect_order_is_not_shipped(api_a: Api, api_b: Api, shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True, mode=Mode.CLICK_AND_COLLECT)
    before = state()

    response = ship(api_a, order.pk, {"tracking_number": number(), "carrier": "laposte"})

    assert response.status_code == 409
    assert problem_type(response) == "not-shippable"
    assert state() == before


def test_an_unpaid_order_is_not_shipped(api_a: Api, api_b: Api, shop_a: Shop) -> None:
    order = make_order(shop_a)
    before = state()

    response = ship(api_a, order.pk, {"tracking_number": number(), "carrier": "laposte"})

    assert response.status_code == 409
    assert problem_type(response) == "not-shippable"
    assert state() == before
    assert Order.objects.get(pk=order.pk).status == order.status


def test_a_retried_shipment_with_its_idempotency_key_is_replayed(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    order = make_order(shop_a, paid=True)
    body = {"parcels": [{"tracking_number": number(), "carrier": "laposte"}]}
    key = {"Idempotency-Key": "ship-order-1-attempt"}

    first = api_a.post(f"/orders/{order.pk}/parcels", body, headers=key)
    retry = api_a.post(f"/orders/{order.pk}/parcels", body, headers=key)
    without_key = api_a.post(f"/orders/{order.pk}/parcels", body)

    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert Parcel.objects.filter(order=order).count() == 1
    assert event_types(order).count("order.shipped") == 1
    assert without_key.status_code == 409  # the number is followed already
    other_body = {"parcels": [{"tracking_number": number(), "carrier": "laposte"}]}
    reused = api_a.post(f"/orders/{order.pk}/parcels", other_body, headers=key)
    assert reused.status_code == 422
    assert problem_type(reused) == "idempotency-key-reused"


def test_a_retried_leg_with_its_idempotency_key_is_replayed(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    _order, parcel = shipped(api_a, shop_a)
    body = {"tracking_number": "JJD0099999999999999"}
    key = {"Idempotency-Key": "leg-1"}

    first = api_a.post(f"/parcels/{parcel['id']}/legs", body, headers=key)
    retry = api_a.post(f"/parcels/{parcel['id']}/legs", body, headers=key)

    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true" and retry.json() == first.json()
    assert ParcelLeg.objects.filter(parcel_id=parcel["id"]).count() == 2


def test_a_number_the_shop_already_follows_is_a_conflict(
    api_a: Api, api_b: Api, shop_a: Shop, shop_b: Shop
) -> None:
    n = number()
    shipped(api_a, shop_a, n)
    other = make_order(shop_a, paid=True)
    before = state()

    response = ship(api_a, other.pk, {"tracking_number": n, "carrier": "laposte"})

    assert response.status_code == 409
    assert problem_type(response) == "duplicate-parcel"
    assert state() == before
    assert Order.objects.get(pk=other.pk).status == "to_prepare"
    # Another shop may follow the same number: numbers are per shop.
    theirs = make_order(shop_b, paid=True)
    assert ship(api_b, theirs.pk, {"tracking_number": n, "carrier": "laposte"}).status_code == 201


def test_the_same_number_twice_in_one_call_is_refused(api_a: Api, api_b: Api, shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    n = number()

    response = ship(
        api_a,
        order.pk,
        {"tracking_number": n, "carrier": "laposte", "lines": [{"line": 1, "quantity": 1}]},
        {"tracking_number": n.lower(), "carrier": "laposte", "lines": [{"line": 2, "quantity": 1}]},
    )

    assert response.status_code == 422
    assert Parcel.objects.filter(order=order).count() == 0


def test_another_shops_order_is_not_found_like_a_missing_one(
    api_a: Api, api_b: Api, shop_b: Shop
) -> None:
    theirs = make_order(shop_b, paid=True)
    before = state()

    other = ship(api_a, theirs.pk, {"tracking_number": number(), "carrier": "laposte"})
    missing = ship(api_a, MISSING_ID, {"tracking_number": number(), "carrier": "laposte"})

    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    assert problem_type(other) == "not-found"
    assert state() == before
    listed, not_there = (
        api_a.get(f"/orders/{theirs.pk}/parcels"),
        api_a.get(f"/orders/{MISSING_ID}/parcels"),
    )
    assert listed.status_code == not_there.status_code == 404
    assert listed.content == not_there.content


@pytest.mark.parametrize(
    ("parcel", "field"),
    [
        ({"tracking_number": "12"}, "parcels.0.tracking_number"),
        ({"tracking_number": "6A12345678901", "carrier": "La Poste"}, "parcels.0.carrier"),
        ({"tracking_number": "6A12345678901", "tracking_url": "javascript:x"}, "parcels.0.tracking_url"),
        ({"tracking_number": "6A12345678901", "lines": [{"line": 1, "quantity": 0}]}, "parcels.0.lines.0.quantity"),
        ({"tracking_number": "6A12345678901", "weight": 3}, "parcels.0.weight"),
    ],
)  # fmt: skip
def test_invalid_parcels_name_their_field(
    api_a: Api, api_b: Api, shop_a: Shop, parcel: dict[str, Any], field: str
) -> None:
    order = make_order(shop_a, paid=True)

    response = ship(api_a, order.pk, parcel)

    assert response.status_code == 422
    assert problem_type(response) == "validation-error"
    assert fields(response) == [field]
    assert Parcel.objects.count() == 0


def test_an_empty_parcel_list_is_refused(api_a: Api, api_b: Api, shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)

    response = api_a.post(f"/orders/{order.pk}/parcels", {"parcels": []})

    assert response.status_code == 422
    assert fields(response) == ["parcels"]


# --- reading parcels --------------------------------------------------------------------


def test_events_are_listed_newest_first_with_the_carriers_offset(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    n = number()
    order, parcel = shipped(api_a, shop_a, n)
    # 07:00 UTC in Paris (winter time) and 06:30 UTC said at +02:00: by their local clock the
    # second looks later, by the instant it is earlier.
    paris = datetime(2026, 11, 18, 8, 0, tzinfo=PARIS_WINTER)
    summer = datetime(2026, 11, 18, 8, 30, tzinfo=PARIS_SUMMER)
    ingest(
        shop_a,
        [
            (
                "laposte",
                update(
                    n,
                    scan(n, Status.IN_TRANSIT, summer, "PCH", location="Roissy"),
                    scan(n, Status.IN_TRANSIT, paris, "ET1", location="Lyon"),
                ),
            )
        ],
        source="push",
    )

    one = api_a.get(f"/parcels/{parcel['id']}")
    of_order = api_a.get(f"/orders/{order.pk}/parcels")

    assert one.status_code == of_order.status_code == 200
    assert_matches_schema(ParcelOut, one.json())
    assert_matches_schema(ParcelsOut, of_order.json())
    assert of_order.json()["parcels"] == [one.json()]
    events = one.json()["events"]
    assert [(e["code"], e["occurred_at"]) for e in events] == [
        ("ET1", "2026-11-18T08:00:00+01:00"),
        ("PCH", "2026-11-18T08:30:00+02:00"),
    ]
    assert events[0]["location"] == "Lyon" and events[0]["status"] == "in_transit"
    assert events[0]["source"] == "push"
    assert (events[0]["carrier"], events[0]["tracking_number"]) == ("laposte", n)
    body = one.json()
    assert body["status"] == "in_transit"
    assert body["last_event_at"] is not None
    assert datetime.fromisoformat(body["last_event_at"]) == paris


def test_another_shops_parcel_is_not_found_like_a_missing_one(
    api_a: Api, api_b: Api, shop_b: Shop
) -> None:
    _order, theirs = shipped(api_b, shop_b)

    other = api_a.get(f"/parcels/{theirs['id']}")
    missing = api_a.get(f"/parcels/{MISSING_ID}")

    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    assert api_b.get(f"/parcels/{theirs['id']}").status_code == 200


def test_parcels_are_listed_by_status_stalled_and_page(
    api_a: Api, api_b: Api, shop_a: Shop, shop_b: Shop
) -> None:
    ids = [shipped(api_a, shop_a)[1]["id"] for _ in range(5)]
    shipped(api_b, shop_b)  # never listed for shop A
    moving = Parcel.objects.get(pk=ids[1])
    ingest(
        shop_a,
        [
            (
                "laposte",
                update(
                    moving.tracking_number,
                    scan(moving.tracking_number, Status.IN_TRANSIT, datetime(2026, 11, 18, 8, tzinfo=PARIS_WINTER)),
                ),
            )
        ],
        source="poll",
    )  # fmt: skip
    Parcel.objects.filter(pk__in=[ids[2], ids[4]]).update(stalled_at=dj_timezone.now())

    everything = api_a.get("/parcels").json()
    in_transit = api_a.get("/parcels", {"status": "in_transit"}).json()
    stalled = api_a.get("/parcels", {"stalled": "true"}).json()
    not_stalled = api_a.get("/parcels", {"stalled": "false"}).json()

    assert_matches_schema(ParcelListOut, everything)
    assert [p["id"] for p in everything["parcels"]] == ids
    assert everything["next_cursor"] is None
    assert all(p["events"] == [] for p in everything["parcels"])  # open a parcel for those
    assert [p["id"] for p in in_transit["parcels"]] == [ids[1]]
    assert [p["id"] for p in stalled["parcels"]] == [ids[2], ids[4]]
    assert all(p["stalled"] for p in stalled["parcels"])
    assert [p["id"] for p in not_stalled["parcels"]] == [ids[0], ids[1], ids[3]]

    pages: list[list[int]] = []
    cursor = 0
    while True:
        page = api_a.get("/parcels", {"limit": 2, "cursor": cursor}).json()
        pages.append([p["id"] for p in page["parcels"]])
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "shipped"}, "status"), ({"limit": 0}, "limit"), ({"cursor": -1}, "cursor")],
)
def test_invalid_list_filters_are_refused(
    api_a: Api, api_b: Api, params: dict[str, Any], field: str
) -> None:
    response = api_a.get("/parcels", params)

    assert response.status_code == 422
    assert fields(response) == [field]


# --- legs -------------------------------------------------------------------------------


def test_a_destination_leg_is_followed_and_a_duplicate_refused(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    _order, parcel = shipped(api_a, shop_a)

    response = api_a.post(
        f"/parcels/{parcel['id']}/legs", {"tracking_number": "JJD 0099 9999 9999 9999"}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert_matches_schema(LegOut, body)
    assert (body["carrier"], body["tracking_number"], body["role"]) == (
        "dhl",
        "JJD0099999999999999",
        "destination",
    )
    assert body["polled"] is False  # no DHL account: followed through pushes
    legs = api_a.get(f"/parcels/{parcel['id']}").json()["legs"]
    assert [(leg["role"], leg["carrier"]) for leg in legs] == [
        ("origin", "laposte"),
        ("destination", "dhl"),
    ]

    again = api_a.post(
        f"/parcels/{parcel['id']}/legs",
        {"tracking_number": "JJD0099999999999999", "carrier": "dhl"},
    )
    assert again.status_code == 409
    assert problem_type(again) == "duplicate-parcel"
    assert ParcelLeg.objects.filter(parcel_id=parcel["id"]).count() == 2


def test_a_leg_needs_an_unambiguous_carrier_and_a_parcel_of_the_shop(
    api_a: Api, api_b: Api, shop_a: Shop, shop_b: Shop
) -> None:
    _order, mine = shipped(api_a, shop_a)
    _order, theirs = shipped(api_b, shop_b)

    ambiguous = api_a.post(f"/parcels/{mine['id']}/legs", {"tracking_number": "876543210010"})
    other = api_a.post(f"/parcels/{theirs['id']}/legs", {"tracking_number": "JJD0099999999999999"})
    missing = api_a.post(f"/parcels/{MISSING_ID}/legs", {"tracking_number": "JJD0099999999999999"})

    assert ambiguous.status_code == 422
    assert problem_type(ambiguous) == "carrier-not-detected"
    assert ambiguous.json()["candidates"] == ["fedex", "gls"]
    assert fields(ambiguous) == ["carrier"]
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    assert ParcelLeg.objects.count() == 2


# --- carrier accounts -------------------------------------------------------------------


def test_an_account_shows_its_push_secret_once_and_never_its_credentials(
    api_a: Api, api_b: Api
) -> None:
    credential = "lp-very-secret-key-4242"
    created = create_account(
        api_a,
        label="Entrepôt Lyon",
        credentials={"api_key": credential},
        base_url="https://93.184.216.34/sandbox",
        requests_per_minute=30,
    )

    assert_matches_schema(AccountCreatedOut, created)
    assert created["push_secret"].startswith("psk_") and len(created["push_secret"]) > 30
    assert created["credential_names"] == ["api_key"]
    assert (created["carrier"], created["label"], created["requests_per_minute"]) == (
        "laposte",
        "Entrepôt Lyon",
        30,
    )
    assert created["is_active"] is True

    listed = api_a.get("/carrier-accounts")

    assert listed.status_code == 200
    [account] = listed.json()
    assert_matches_schema(AccountOut, account)
    assert account["id"] == created["id"] and account["credential_names"] == ["api_key"]
    assert "push_secret" not in account
    assert credential.encode() not in listed.content
    assert created["push_secret"].encode() not in listed.content
    stored = CarrierAccount.objects.get(pk=created["id"])
    assert credential not in stored.credentials_encrypted
    assert created["push_secret"] not in stored.push_secret_encrypted
    assert api_b.get("/carrier-accounts").json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"carrier": "laposte", "credentials": {}}, "credentials"),
        ({"carrier": "laposte", "credentials": {"api_key": "  "}}, "credentials"),
        ({"carrier": "laposte", "credentials": {"token": "x"}}, "credentials"),
        ({"carrier": "pigeon_post"}, "carrier"),
        ({"carrier": "LaPoste"}, "carrier"),
        ({"carrier": "other", "requests_per_minute": 0}, "requests_per_minute"),
        ({"carrier": "other", "base_url": "http://169.254.169.254/latest/meta-data/"}, "base_url"),
        ({"carrier": "other", "base_url": "http://127.0.0.1:8000/"}, "base_url"),
        ({"carrier": "other", "base_url": "file:///etc/passwd"}, "base_url"),
        ({"carrier": "other", "base_url": "http://2130706433/"}, "base_url"),
    ],
)
def test_an_invalid_account_is_refused(
    api_a: Api, api_b: Api, body: dict[str, Any], field: str
) -> None:
    response = api_a.post("/carrier-accounts", body)

    assert response.status_code == 422, response.content
    assert fields(response) == [field]
    assert CarrierAccount.objects.count() == 0


def test_an_account_without_connector_needs_no_credentials(api_a: Api, api_b: Api) -> None:
    created = create_account(api_a, carrier="other", credentials={})

    assert created["credential_names"] == []
    # The same carrier and label twice is refused.
    again = api_a.post("/carrier-accounts", {"carrier": "other"})
    assert again.status_code == 422
    assert fields(again) == ["label"]


def test_a_new_account_polls_the_parcels_and_its_deletion_stops_it(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    _order, parcel = shipped(api_a, shop_a)
    assert parcel["legs"][0]["polled"] is False

    account = create_account(api_a)

    assert api_a.get(f"/parcels/{parcel['id']}").json()["legs"][0]["polled"] is True
    response = delete(api_a, f"/carrier-accounts/{account['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert api_a.get(f"/parcels/{parcel['id']}").json()["legs"][0]["polled"] is False
    assert api_a.get("/carrier-accounts").json() == []
    again = delete(api_a, f"/carrier-accounts/{account['id']}")
    assert again.status_code == 404
    assert problem_type(again) == "not-found"


def test_a_shop_cannot_delete_another_shops_account(api_a: Api, api_b: Api) -> None:
    theirs = create_account(api_b)

    other = delete(api_a, f"/carrier-accounts/{theirs['id']}")
    missing = delete(api_a, f"/carrier-accounts/{MISSING_ID}")

    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    assert CarrierAccount.objects.filter(pk=theirs["id"]).exists()
    assert [a["id"] for a in api_b.get("/carrier-accounts").json()] == [theirs["id"]]


# --- pushed events ----------------------------------------------------------------------


def test_signed_events_are_stored_and_move_the_order(
    api_a: Api, api_b: Api, shop_a: Shop, client: Client
) -> None:
    n = number()
    order, parcel = shipped(api_a, shop_a, n)
    account = create_account(api_a)
    events = [
        event(n, "in_transit", "2026-11-18T08:00:00+01:00", "ET1", location="Lyon"),
        event(n, "out_for_delivery", "2026-11-19T07:15:00+01:00", "MD2", location="Paris 11"),
        # the same scan again, written with another offset: one instant, one event
        event(n, "in_transit", "2026-11-18T07:00:00+00:00", "ET1", location="Lyon"),
    ]

    response = push(client, account, events)

    assert response.status_code == 200, response.content
    body = response.json()
    assert_matches_schema(PushOut, body)
    assert body == {
        "received": 3,
        "inserted": 2,
        "duplicates": 1,
        "unknown": [],
        "rejected": [],
        "parcels_changed": 1,
        "orders_moved": 1,
    }
    order.refresh_from_db()
    assert order.status == "out_for_delivery"
    assert "shipment.out_for_delivery" in event_types(order)
    moved = OrderEvent.objects.get(order=order, type="order.out_for_delivery")
    assert moved.payload["tracking_number"] == n
    timeline = api_a.get(f"/parcels/{parcel['id']}").json()
    assert timeline["status"] == "out_for_delivery"
    assert [(e["code"], e["occurred_at"], e["source"]) for e in timeline["events"]] == [
        ("MD2", "2026-11-19T07:15:00+01:00", "push"),
        ("ET1", "2026-11-18T08:00:00+01:00", "push"),
    ]

    # The same batch again changes nothing.
    again = push(client, account, events).json()
    assert (again["inserted"], again["duplicates"], again["orders_moved"]) == (0, 3, 0)
    assert TrackingEvent.objects.filter(parcel_id=parcel["id"]).count() == 2


def test_pushed_extras_reach_the_parcel(
    api_a: Api, api_b: Api, shop_a: Shop, client: Client
) -> None:
    n = number()
    _order, parcel = shipped(api_a, shop_a, n)
    account = create_account(api_a)
    relay = {"name": "Tabac de la Gare", "city": "Lyon"}

    response = push(
        client,
        account,
        [
            event(
                n,
                "exception",
                "2026-11-18T08:00:00+01:00",
                "DO1",
                reason="customs_hold",
                customs="held",
                eta="2026-11-21T12:00:00+01:00",
                relay_point=relay,
                handoff={"carrier": "dhl", "tracking_number": "JJD 0099 9999 9999 9999"},
            )
        ],
    )

    assert response.status_code == 200, response.content
    body = api_a.get(f"/parcels/{parcel['id']}").json()
    assert (body["status"], body["reason"], body["customs"]) == (
        "exception",
        "customs_hold",
        "held",
    )
    assert datetime.fromisoformat(body["eta"]) == datetime(2026, 11, 21, 11, tzinfo=dt.UTC)
    assert body["relay_point"] == relay
    assert ("destination", "dhl", "JJD0099999999999999") in {
        (leg["role"], leg["carrier"], leg["tracking_number"]) for leg in body["legs"]
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong secret",
        "another account's secret",
        "expired",
        "from the future",
        "no account header",
        "no signature",
        "account not a number",
        "missing account",
        "inactive account",
        "deleted account",
        "another body",
        "garbage signature",
        "huge timestamp",
        "non-ascii account digits",
        "non-ascii signature",
    ],
)
def test_a_push_without_a_valid_signature_is_refused(
    api_a: Api, api_b: Api, shop_a: Shop, client: Client, case: str
) -> None:
    n = number()
    order, _parcel = shipped(api_a, shop_a, n)
    account = create_account(api_a)
    theirs = create_account(api_b)
    events = [event(n, "out_for_delivery", "2026-11-19T07:15:00+01:00", "MD2")]
    body = json.dumps({"events": events}).encode()
    now = int(time.time())
    good = sign(account["push_secret"], body)
    headers: dict[str, str] = {"X-Suivi-Account": str(account["id"]), "X-Suivi-Signature": good}
    if case == "wrong secret":
        headers["X-Suivi-Signature"] = sign("psk_not-the-secret", body)
    elif case == "another account's secret":
        headers["X-Suivi-Signature"] = sign(theirs["push_secret"], body)
    elif case == "expired":
        headers["X-Suivi-Signature"] = sign(account["push_secret"], body, now - 301)
    elif case == "from the future":
        headers["X-Suivi-Signature"] = sign(account["push_secret"], body, now + 301)
    elif case == "no account header":
        del headers["X-Suivi-Account"]
    elif case == "no signature":
        del headers["X-Suivi-Signature"]
    elif case == "account not a number":
        headers["X-Suivi-Account"] = f"{account['id']}a"
    elif case == "missing account":
        headers["X-Suivi-Account"] = str(MISSING_ID)
    elif case == "inactive account":
        CarrierAccount.objects.filter(pk=account["id"]).update(is_active=False)
    elif case == "deleted account":
        assert delete(api_a, f"/carrier-accounts/{account['id']}").status_code == 204
    elif case == "another body":
        headers["X-Suivi-Signature"] = sign(account["push_secret"], body + b" ")
    elif case == "garbage signature":
        headers["X-Suivi-Signature"] = "t=,v1=;,=,t=x"
    elif case == "huge timestamp":
        headers["X-Suivi-Signature"] = "t=1" + "0" * 400 + ",v1=00"
    elif case == "non-ascii signature":
        headers["X-Suivi-Signature"] = f"t={now},v1=\u00e9{good[-64:]}"
    elif case == "non-ascii account digits":
        headers["X-Suivi-Account"] = "\u00b2"  # "²": str.isdigit() says yes, int() says no
    # A shop API key is no substitute for the signature.
    headers.setdefault("Authorization", f"Bearer {api_a.key.secret}")  # type: ignore[union-attr]

    response = client.post(
        f"{BASE}/tracking/events", data=body, content_type="application/json", headers=headers
    )

    assert response.status_code == 401, response.content
    assert problem_type(response) == "invalid-signature"
    assert "WWW-Authenticate" not in response  # not the shop key's Bearer challenge
    assert "X-Suivi-Signature" in response.json()["detail"]
    assert TrackingEvent.objects.count() == 0
    assert Order.objects.get(pk=order.pk).status == "shipped"
    if case == "wrong secret":  # the control: the right signature passes
        assert push(client, account, events).status_code == 200


def test_a_signature_a_few_minutes_old_or_early_is_accepted(
    api_a: Api, api_b: Api, shop_a: Shop, client: Client
) -> None:
    n = number()
    shipped(api_a, shop_a, n)
    account = create_account(api_a)
    now = int(time.time())

    late = push(
        client,
        account,
        [event(n, "in_transit", "2026-11-18T08:00:00+01:00", "ET1")],
        timestamp=now - 240,
    )
    early = push(
        client,
        account,
        [event(n, "in_transit", "2026-11-18T09:00:00+01:00", "ET2")],
        timestamp=now + 240,
    )

    assert late.status_code == early.status_code == 200


def test_a_push_larger_than_two_mebibytes_is_a_413(api_a: Api, api_b: Api, client: Client) -> None:
    account = create_account(api_a)
    raw = b'{"events": [' + b" " * (2 * 1024 * 1024) + b"]}"

    response = push(client, account, raw=raw)

    assert response.status_code == 413
    assert problem_type(response) == "payload-too-large"


def test_invalid_items_are_rejected_and_the_valid_ones_applied(
    api_a: Api, api_b: Api, shop_a: Shop, client: Client
) -> None:
    n = number()
    order, _parcel = shipped(api_a, shop_a, n)
    account = create_account(api_a)

    response = push(
        client,
        account,
        [
            event(n, "in_transit", "2026-11-18T08:00:00", "ET1"),  # no UTC offset
            event(n, "out_for_delivery", "2026-11-19T07:15:00+01:00", "MD2"),
            event(n, "teleported", "2026-11-19T07:16:00+01:00", "XX1"),
            {
                "tracking_number": n,
                "status": "delivered",
                "occurred_at": "2026-11-19T11:00:00+01:00",
            },
            event(n, "delivered", "2026-11-19T11:00:00+01:00", "DI1", colour="blue"),
            event(n, "delivered", "9999-12-31T23:59:00-12:00", "DI1"),  # past year 9999 in UTC
        ],
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert_matches_schema(PushOut, body)
    assert (body["received"], body["inserted"], body["orders_moved"]) == (1, 1, 1)
    rejected = {r["index"]: [e["field"] for e in r["errors"]] for r in body["rejected"]}
    assert rejected == {
        0: ["occurred_at"],
        2: ["status"],
        3: ["code"],
        4: ["colour"],
        5: ["occurred_at"],
    }
    assert body["rejected"][0]["errors"][0]["message"].startswith("needs its UTC offset")
    assert Order.objects.get(pk=order.pk).status == "out_for_delivery"


def test_a_batch_without_a_valid_item_is_a_422_problem(
    api_a: Api, api_b: Api, shop_a: Shop, client: Client
) -> None:
    n = number()
    shipped(api_a, shop_a, n)
    account = create_account(api_a)

    response = push(
        client,
        account,
        [event(n, "in_transit", "2026-11-18T08:00:00", "ET1"), {"tracking_number": n}],
    )

    assert response.status_code == 422
    assert problem_type(response) == "invalid-input"
    assert "events.0.occurred_at" in fields(response)
    assert "events.1.status" in fields(response) and "events.1.code" in fields(response)
    assert response.json()["errors"][0]["message"].startswith("needs its UTC offset")
    assert TrackingEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"events": []}', 422),
        (b'{"events": "nope"}', 422),
        (b'{"events": [1]}', 422),
        (b"{not json", 400),
        (b'{"events": [], "extra": 1}', 422),
    ],
)
def test_a_malformed_push_body_is_refused(
    api_a: Api, api_b: Api, client: Client, raw: bytes, status: int
) -> None:
    account = create_account(api_a)

    response = push(client, account, raw=raw)

    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"


def test_numbers_of_another_shop_come_back_unknown(
    api_a: Api, api_b: Api, shop_a: Shop, shop_b: Shop, client: Client
) -> None:
    mine, theirs_number = number(), number()
    order, _parcel = shipped(api_a, shop_a, mine)
    their_order, their_parcel = shipped(api_b, shop_b, theirs_number)
    account = create_account(api_a)

    response = push(
        client,
        account,
        [
            event(theirs_number, "delivered", "2026-11-19T11:00:00+01:00", "DI1"),
            event(mine, "in_transit", "2026-11-18T08:00:00+01:00", "ET1"),
        ],
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["unknown"] == [{"carrier": "laposte", "tracking_number": theirs_number}]
    assert body["inserted"] == 1
    assert Order.objects.get(pk=order.pk).status == "in_transit"
    assert Order.objects.get(pk=their_order.pk).status == "shipped"
    assert TrackingEvent.objects.filter(parcel_id=their_parcel["id"]).count() == 0
    assert Parcel.objects.get(pk=their_parcel["id"]).status == "pending"


def test_events_without_carrier_are_the_accounts_carriers(
    api_a: Api, api_b: Api, shop_a: Shop, client: Client
) -> None:
    n = s10(22222222)
    order, _parcel = shipped(api_a, shop_a, n)  # a La Poste parcel
    # A DHL parcel with the same number in the same shop: only the carrier tells them apart.
    other_order = make_order(shop_a, paid=True)
    assert ship(api_a, other_order.pk, {"tracking_number": n, "carrier": "dhl"}).status_code == 201
    account = create_account(api_a)

    response = push(client, account, [event(n, "in_transit", "2026-11-18T08:00:00+01:00", "ET1")])
    explicit = push(
        client,
        account,
        [event(n, "out_for_delivery", "2026-11-19T08:00:00+01:00", "WC", carrier="dhl")],
    )

    assert response.status_code == explicit.status_code == 200
    assert response.json()["unknown"] == [] and explicit.json()["unknown"] == []
    assert Order.objects.get(pk=order.pk).status == "in_transit"
    assert Order.objects.get(pk=other_order.pk).status == "out_for_delivery"


def test_an_account_of_another_carrier_matches_by_number_alone(
    api_a: Api, api_b: Api, shop_a: Shop, client: Client
) -> None:
    n, twin = number(), s10(33333333)
    order, _parcel = shipped(api_a, shop_a, n)
    # The same number under two carriers: "other" cannot tell them apart.
    for carrier in ("laposte", "dhl"):
        twin_order = make_order(shop_a, paid=True)
        assert (
            ship(api_a, twin_order.pk, {"tracking_number": twin, "carrier": carrier}).status_code
            == 201
        )
    account = create_account(api_a, carrier="other", credentials={})

    response = push(
        client,
        account,
        [
            event(n, "out_for_delivery", "2026-11-19T07:15:00+01:00", "MD2"),
            event(twin, "in_transit", "2026-11-18T08:00:00+01:00", "ET1"),
        ],
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["unknown"] == [{"carrier": "", "tracking_number": twin}]
    assert Order.objects.get(pk=order.pk).status == "out_for_delivery"


def test_a_la_poste_account_push_reaches_a_parcel_detected_as_colissimo(
    api_a: Api, api_b: Api, shop_a: Shop, client: Client
) -> None:
    order = make_order(shop_a, paid=True)
    n = number()
    created = ship(api_a, order.pk, {"tracking_number": n})  # detected: colissimo
    assert created.json()["parcels"][0]["carrier"] == "colissimo"
    account = create_account(api_a)

    response = push(client, account, [event(n, "in_transit", "2026-11-18T08:00:00+01:00", "ET1")])

    assert response.json()["unknown"] == []


def test_events_of_unknown_numbers_are_not_counted_as_duplicates(
    api_a: Api, api_b: Api, shop_a: Shop, client: Client
) -> None:
    n = number()
    shipped(api_a, shop_a, n)
    account = create_account(api_a)

    response = push(
        client,
        account,
        [
            event(n, "in_transit", "2026-11-18T08:00:00+01:00", "ET1"),
            event(number(), "in_transit", "2026-11-18T08:00:00+01:00", "ET1"),
        ],
    )

    body = response.json()
    assert (body["received"], body["inserted"], len(body["unknown"])) == (2, 1, 1)
    assert body["duplicates"] == 0


# --- end to end: a carrier event becomes the customer's email -------------------------


@pytest.fixture
def smtp(settings: Any) -> Iterator[SMTPServer]:
    """A real SMTP server on loopback, as in the notification tests."""
    server = SMTPServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "notifications@suivi.test"
    settings.BASE_URL = "https://suivi.test"
    channels.reset()
    yield server
    server.stop()
    channels.reset()


@pytest.mark.parametrize("template", ["default", "merchant's"])
def test_a_pushed_out_for_delivery_scan_emails_the_customer(
    api_a: Api, api_b: Api, shop_a: Shop, client: Client, smtp: SMTPServer, template: str
) -> None:
    # No quiet hours, whatever time the test runs.
    NotificationSettings.objects.create(shop=shop_a, quiet_start=dt.time(0), quiet_end=dt.time(0))
    if template == "merchant's":
        # The default out_for_delivery email names the carrier, not the number: a merchant
        # template shows what the pushed parcel puts in the message's context.
        saved = api_a.client.put(
            f"{BASE}/notifications/templates/out_for_delivery/email/fr",
            data=json.dumps(
                {
                    "subject": "{{ order.reference }} arrive aujourd'hui",
                    "body_text": "Colis {{ tracking.number }} ({{ tracking.carrier }}) en livraison.",
                    "body_html": "<p>Colis {{ tracking.number }} en livraison.</p>",
                }
            ),
            content_type="application/json",
            headers=api_a._headers({}),
        )
        assert saved.status_code == 200, saved.content
    n = number()
    order, _parcel = shipped(api_a, shop_a, n)
    account = create_account(api_a)
    while dispatch.run_once().claimed:  # the confirmation and shipping emails go first
        pass
    before = len(smtp.messages)

    response = push(
        client, account, [event(n, "out_for_delivery", "2026-11-19T07:15:00+01:00", "MD2")]
    )

    assert response.status_code == 200, response.content
    assert response.json()["orders_moved"] == 1
    order.refresh_from_db()
    assert order.status == "out_for_delivery"
    message = OutboxMessage.objects.get(order=order, event_key="out_for_delivery", channel="email")
    assert message.recipient == "claire.martin@example.fr"
    OutboxMessage.objects.filter(pk=message.pk).update(not_before=dj_timezone.now())

    while dispatch.run_once().claimed:
        pass

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    new = smtp.messages[before:]
    assert [m.rcpt_tos for m in new] == [["claire.martin@example.fr"]]
    mail = new[0].message
    assert mail["X-Suivi-Event"] == "out_for_delivery"
    assert order.reference in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "La Poste" in text
    if template == "merchant's":
        assert n in text and n in html


# --- carrier webhooks -------------------------------------------------------------------


@pytest.mark.parametrize("carrier", ["laposte", "other"])
def test_a_webhook_of_a_carrier_without_push_is_not_found(
    api_a: Api, api_b: Api, anonymous: Api, carrier: str
) -> None:
    credentials = {"api_key": "k"} if carrier == "laposte" else {}
    account = create_account(api_a, carrier=carrier, credentials=credentials)

    response = anonymous.post(f"/tracking/webhooks/{account['id']}", {"events": []})
    missing = anonymous.post(f"/tracking/webhooks/{MISSING_ID}", {"events": []})

    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content
    assert problem_type(response) == "not-found"


# --- the document -----------------------------------------------------------------------

OPERATIONS = {
    "GET /api/v1/carriers",
    "GET /api/v1/carriers/detect",
    "POST /api/v1/orders/{order_id}/parcels",
    "GET /api/v1/orders/{order_id}/parcels",
    "GET /api/v1/parcels/{parcel_id}",
    "GET /api/v1/parcels",
    "POST /api/v1/parcels/{parcel_id}/legs",
    "POST /api/v1/carrier-accounts",
    "GET /api/v1/carrier-accounts",
    "DELETE /api/v1/carrier-accounts/{account_id}",
    "POST /api/v1/tracking/events",
    "POST /api/v1/tracking/webhooks/{account_id}",
}
# Called by carriers, not with a shop key.
PUSH_OPERATIONS = {
    "POST /api/v1/tracking/events",
    "POST /api/v1/tracking/webhooks/{account_id}",
}
# POSTs without an Idempotency-Key: pushes are deduplicated by event, and an account's
# answer holds its push secret, which must not be stored for a replay.
WITHOUT_IDEMPOTENCY = {"POST /api/v1/carrier-accounts", *PUSH_OPERATIONS}


def test_every_tracking_endpoint_is_documented_with_problem_errors(
    anonymous: Api, shop_a: Any, shop_b: Any
) -> None:
    document = anonymous.get("/openapi.json").json()
    operations = {
        f"{method.upper()} {path}": operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }

    assert set(operations) >= OPERATIONS
    for name in OPERATIONS:
        operation = operations[name]
        push_operation = name in PUSH_OPERATIONS
        assert operation["tags"] == (["tracking push"] if push_operation else ["tracking"])
        assert "401" in operation["responses"], name
        for status, response in operation["responses"].items():
            if status == "204":
                assert "content" not in response, name
                continue
            expected = "application/problem+json" if int(status) >= 400 else "application/json"
            assert list(response["content"]) == [expected], (name, status)
        if "{" in name:
            assert "422" in operation["responses"], name
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        if name.startswith("POST ") and name not in WITHOUT_IDEMPOTENCY:
            assert headers == ["Idempotency-Key"], name
        else:
            assert headers == [], name
    assert operations["POST /api/v1/tracking/events"]["security"] == [{"CarrierSignature": []}]
    assert "security" not in operations["POST /api/v1/tracking/webhooks/{account_id}"]
    for name in OPERATIONS - PUSH_OPERATIONS:
        assert operations[name]["security"] == [{"ApiKeyAuth": []}], name
    scheme = document["components"]["securitySchemes"]["CarrierSignature"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == (
        "apiKey",
        "header",
        "X-Suivi-Signature",
    )


def test_tracking_schemas_do_not_replace_the_order_schemas(
    anonymous: Api, shop_a: Any, shop_b: Any
) -> None:
    """Components are named after their classes: a tracking ``Status`` or ``EventOut`` would
    silently replace the order's in the document."""
    schemas = anonymous.get("/openapi.json").json()["components"]["schemas"]

    assert "to_prepare" in schemas["Status"]["enum"]
    assert "type" in schemas["EventOut"]["properties"]
    assert "raw_code" not in schemas["EventOut"]["properties"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/carriers"),
        ("get", "/carriers/detect?number=RR123456785FR"),
        ("get", "/parcels"),
        ("get", "/parcels/1"),
        ("get", "/orders/1/parcels"),
        ("post", "/orders/1/parcels"),
        ("post", "/parcels/1/legs"),
        ("get", "/carrier-accounts"),
        ("post", "/carrier-accounts"),
        ("delete", "/carrier-accounts/1"),
    ],
)
def test_tracking_endpoints_need_a_key(
    anonymous: Api, shop_a: Any, shop_b: Any, method: str, path: str
) -> None:
    if method == "get":
        response = anonymous.client.get(f"{BASE}{path}")
    else:
        response = getattr(anonymous.client, method)(
            f"{BASE}{path}", data=b"{}", content_type="application/json"
        )

    assert response.status_code == 401
    assert problem_type(response) == "unauthorized"


def test_a_replacement_parcel_and_the_one_it_supersedes_say_so(api_a: Api, shop_a: Shop) -> None:
    from suivi.shipments.replacement import replacement_parcel_create
    from suivi.shipments.services import ParcelLineInput

    order = make_order(shop_a, paid=True)
    lost = ship(api_a, order.pk, {"tracking_number": number(), "carrier": "laposte"}).json()
    [lost_parcel] = lost["parcels"]
    again = replacement_parcel_create(
        shop=shop_a, order_id=order.pk, tracking_number=number(), carrier="laposte",
        lines=[ParcelLineInput(line=1, quantity=2)], supersedes=[lost_parcel["id"]],
    )  # fmt: skip

    body = api_a.get(f"/orders/{order.pk}/parcels").json()

    assert_matches_schema(ParcelsOut, body)
    by_id = {parcel["id"]: parcel for parcel in body["parcels"]}
    assert (by_id[again.pk]["replacement"], by_id[again.pk]["superseded_by"]) == (True, None)
    assert (by_id[lost_parcel["id"]]["replacement"], by_id[lost_parcel["id"]]["superseded_by"]) == (
        False,
        again.pk,
    )
    assert order_lines(api_a, order.pk) == {1: 2, 2: 1}  # the replacement ships nothing more
