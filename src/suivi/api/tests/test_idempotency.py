"""Idempotency-Key on writes: replays, reuse, in-flight keys, races, failures and purge."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from suivi.core import events
from suivi.orders.models import Order, OrderEvent
from suivi.shops.models import Shop
from suivi.shops.services import IssuedApiKey

from ..idempotency import STALE_CLAIM_AFTER, idempotency_purge
from ..models import IdempotencyRecord
from .conftest import Api, order_body


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_repeating_a_create_with_the_same_key_replays_the_first_response(
    api_a: Api, api_b: Api
) -> None:
    body = order_body()

    first = api_a.post("/orders", body, headers=_key("create-1"))
    second = api_a.post("/orders", body, headers=_key("create-1"))

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Order.objects.count() == 1


def test_the_same_json_written_differently_is_the_same_request(api_a: Api, api_b: Api) -> None:
    body = order_body()
    compact = json.dumps(body, separators=(",", ":"))
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)

    first = api_a.post("/orders", raw=compact, headers=_key("k"))
    second = api_a.post("/orders", raw=reordered, headers=_key("k"))

    assert second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert second.json() == first.json()


def test_reusing_a_key_with_another_body_is_a_422_and_creates_nothing(
    api_a: Api, api_b: Api
) -> None:
    api_a.post("/orders", order_body(reference="FIRST"), headers=_key("k"))

    response = api_a.post("/orders", order_body(reference="SECOND"), headers=_key("k"))

    assert response.status_code == 422
    assert response.json()["type"] == "https://suivi.dev/problems/idempotency-key-reused"
    assert list(Order.objects.values_list("reference", flat=True)) == ["FIRST"]


def test_reusing_a_key_on_another_endpoint_is_a_422(api_a: Api, api_b: Api) -> None:
    order_id = api_a.post("/orders", order_body(), headers=_key("k")).json()["id"]

    response = api_a.post(f"/orders/{order_id}/actions/confirm_payment", headers=_key("k"))

    assert response.status_code == 422
    assert response.json()["type"] == "https://suivi.dev/problems/idempotency-key-reused"
    assert Order.objects.get(pk=order_id).status == "awaiting_payment"


def test_keys_belong_to_one_shop(api_a: Api, api_b: Api) -> None:
    from_a = api_a.post("/orders", order_body(reference="A"), headers=_key("shared"))
    from_b = api_b.post("/orders", order_body(reference="B"), headers=_key("shared"))

    assert from_a.status_code == from_b.status_code == 201
    assert "Idempotent-Replayed" not in from_b
    assert from_b.json()["reference"] == "B"
    assert Order.objects.count() == 2


def test_a_repeated_action_is_applied_once(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order(paid=True)["id"]
    path = f"/orders/{order_id}/actions/ship"
    body = {"carrier": "colissimo"}

    first = api_a.post(path, body, headers=_key("ship-1"))
    second = api_a.post(path, body, headers=_key("ship-1"))

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert OrderEvent.objects.filter(order_id=order_id, type="order.shipped").count() == 1


def test_a_refusal_by_the_domain_is_stored_and_replayed(api_a: Api, api_b: Api) -> None:
    order_id = api_a.create_order()["id"]
    path = f"/orders/{order_id}/actions/ship"

    refused = api_a.post(path, headers=_key("early-ship"))
    api_a.post(f"/orders/{order_id}/actions/confirm_payment")
    replayed = api_a.post(path, headers=_key("early-ship"))

    assert refused.status_code == replayed.status_code == 409
    assert replayed.content == refused.content
    assert replayed["Content-Type"] == "application/problem+json"
    assert replayed["Idempotent-Replayed"] == "true"
    assert Order.objects.get(pk=order_id).status == "to_prepare"


def test_a_request_refused_by_validation_does_not_use_up_its_key(api_a: Api, api_b: Api) -> None:
    invalid = api_a.post("/orders", order_body(reference=""), headers=_key("k"))
    valid = api_a.post("/orders", order_body(), headers=_key("k"))

    assert invalid.status_code == 422
    assert valid.status_code == 201
    assert "Idempotent-Replayed" not in valid


def _record_of(shop: Shop, key: str) -> IdempotencyRecord:
    return IdempotencyRecord.objects.get(shop=shop, key=key)


def _in_flight_copy(shop: Shop, *, of: str, key: str, claimed_ago: timedelta) -> None:
    """Store an unfinished claim of *key* for the same request as the record *of*."""
    done = _record_of(shop, of)
    IdempotencyRecord.objects.create(
        shop=shop,
        key=key,
        method=done.method,
        path=done.path,
        body_sha256=done.body_sha256,
        lock_token="someone-else",
        claimed_at=timezone.now() - claimed_ago,
    )


def test_a_key_whose_request_is_still_running_is_a_409(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    body = order_body(reference="RUNNING")
    api_a.post("/orders", body, headers=_key("probe"))
    Order.objects.all().delete()
    _in_flight_copy(shop_a, of="probe", key="running", claimed_ago=timedelta(seconds=1))

    response = api_a.post("/orders", body, headers=_key("running"))

    assert response.status_code == 409
    assert response.json()["type"] == "https://suivi.dev/problems/idempotency-key-in-use"
    assert not Order.objects.exists()


def test_a_claim_left_by_a_dead_request_is_taken_over(api_a: Api, api_b: Api, shop_a: Shop) -> None:
    body = order_body(reference="ORPHAN")
    api_a.post("/orders", body, headers=_key("probe"))
    Order.objects.all().delete()
    _in_flight_copy(
        shop_a, of="probe", key="orphan", claimed_ago=STALE_CLAIM_AFTER + timedelta(seconds=1)
    )

    response = api_a.post("/orders", body, headers=_key("orphan"))

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert _record_of(shop_a, "orphan").response_status == 201
    assert Order.objects.count() == 1


@pytest.fixture
def subscriber() -> Iterator[list[Any]]:
    """Call every function appended to the yielded list on ``order.created``."""
    calls: list[Any] = []

    def run(event: events.DomainEvent) -> None:
        for call in calls:
            call(event)

    events.subscribe("order.created", run)
    yield calls
    events.unsubscribe("order.created", run)


def test_a_server_error_is_not_stored_so_the_retry_runs(
    api_a: Api, api_b: Api, shop_a: Shop, subscriber: list[Any]
) -> None:
    def explode(event: events.DomainEvent) -> None:
        raise RuntimeError("disk full")

    subscriber.append(explode)
    failed = api_a.post("/orders", order_body(reference="RETRY"), headers=_key("retry"))
    subscriber.clear()
    retried = api_a.post("/orders", order_body(reference="RETRY"), headers=_key("retry"))

    assert failed.status_code == 500
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert Order.objects.count() == 1


def test_a_request_whose_claim_was_taken_over_rolls_back(
    api_a: Api, api_b: Api, shop_a: Shop, subscriber: list[Any]
) -> None:
    def take_over(event: events.DomainEvent) -> None:
        # A retry took the key over while this request was still running.
        IdempotencyRecord.objects.filter(key="slow").update(lock_token="the-retry")

    subscriber.append(take_over)
    response = api_a.post("/orders", order_body(), headers=_key("slow"))

    assert response.status_code == 409
    assert response.json()["type"] == "https://suivi.dev/problems/idempotency-key-in-use"
    assert not Order.objects.exists()


@pytest.mark.parametrize("key", ["", "a b", "é", "k" * 256])
def test_a_malformed_key_is_a_422_on_the_header(api_a: Api, api_b: Api, key: str) -> None:
    headers = {"Idempotency-Key": key}

    response = api_a.post("/orders", order_body(), headers=headers)

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["Idempotency-Key"]
    assert not Order.objects.exists()


def test_purging_deletes_only_records_older_than_asked(
    api_a: Api, api_b: Api, shop_a: Shop
) -> None:
    api_a.post("/orders", order_body(), headers=_key("old"))
    api_a.post("/orders", order_body(), headers=_key("new"))
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=25)
    )

    purged = idempotency_purge(older_than=timedelta(hours=24))

    assert purged == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert idempotency_purge(older_than=timedelta(hours=24)) == 0


@pytest.mark.django_db(transaction=True)
def test_two_racing_requests_with_one_key_create_one_order(
    key_a: IssuedApiKey, key_b: IssuedApiKey, subscriber: list[Any]
) -> None:
    """The first request holds its transaction open while the second arrives."""
    entered = threading.Event()
    release = threading.Event()

    def hold(event: events.DomainEvent) -> None:
        if not entered.is_set():
            entered.set()
            release.wait(timeout=30)

    subscriber.append(hold)
    body = order_body(reference="RACE")
    results: dict[str, Any] = {}

    def send(name: str) -> None:
        try:
            results[name] = Api(Client(), key_a).post("/orders", body, headers=_key("race"))
        finally:
            connection.close()

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert entered.wait(timeout=30)
    second = threading.Thread(target=send, args=("second",))
    second.start()
    # PostgreSQL answers the second at once (409); SQLite makes it wait for the write lock.
    second.join(timeout=1)
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)

    assert results["first"].status_code == 201
    late = results["second"]
    if late.status_code == 201:
        assert late["Idempotent-Replayed"] == "true"
        assert late.content == results["first"].content
    else:
        assert late.status_code == 409
        assert late.json()["type"] == "https://suivi.dev/problems/idempotency-key-in-use"
    assert Order.objects.filter(reference="RACE").count() == 1
    assert IdempotencyRecord.objects.get(key="race").response_status == 201
