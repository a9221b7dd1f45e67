"""La Poste Suivi v2 driven over real HTTP against a fake carrier on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from suivi.carriers.base import (
    Account,
    AuthenticationFailed,
    CarrierUnavailable,
    RateLimited,
)
from suivi.carriers.connectors import laposte
from suivi.carriers.testing import FakeCarrier, Reply
from suivi.carriers.vocabulary import ShipmentUpdate, Status, TrackingError

FIXTURES = Path(__file__).parent / "fixtures" / "laposte"


@pytest.fixture
def carrier():
    with FakeCarrier() as fake:
        yield fake


def _account(fake: FakeCarrier, key: str = "okapi-key") -> Account:
    return Account(base_url=fake.url, credentials={"api_key": key}, timeout=2.0)


def test_fetch_sends_the_documented_request_and_parses_the_answer(carrier) -> None:
    carrier.enqueue(Reply(207, (FIXTURES / "multi_207.json").read_bytes()))
    results = laposte.fetch(["6A12345678901", "8D00432154798"], _account(carrier))
    [request] = carrier.requests
    assert request.method == "GET"
    assert request.path == "/suivi/v2/idships/6A12345678901,8D00432154798"
    assert request.query == {"lang": ["fr_FR"]}
    assert request.headers["x-okapi-key"] == "okapi-key"
    assert any(isinstance(r, ShipmentUpdate) for r in results)
    assert any(isinstance(r, TrackingError) and r.code == "unknown_number" for r in results)


def test_a_single_unknown_number_answers_404_with_a_body(carrier) -> None:
    body = b'{"lang":"fr_FR","returnCode":404,"returnMessage":"Numero inconnu","idShip":"6A0"}'
    carrier.enqueue(Reply(404, body))
    [result] = laposte.fetch(["6A0"], _account(carrier))
    assert isinstance(result, TrackingError) and result.code == "unknown_number"


def test_rate_limited_carries_retry_after(carrier) -> None:
    carrier.enqueue(Reply(429, b'{"code":"TOO_MANY_REQUESTS"}', {"Retry-After": "42"}))
    with pytest.raises(RateLimited) as caught:
        laposte.fetch(["6A12345678901"], _account(carrier))
    assert caught.value.retry_after == 42.0 and caught.value.status == 429


def test_server_errors_and_cut_connections_are_unavailable(carrier) -> None:
    carrier.enqueue(Reply(503, b"maintenance", {"Retry-After": "120"}))
    with pytest.raises(CarrierUnavailable) as caught:
        laposte.fetch(["6A12345678901"], _account(carrier))
    assert caught.value.retry_after == 120.0
    carrier.enqueue(Reply(200, (FIXTURES / "delivered.json").read_bytes(), truncate=True))
    with pytest.raises(CarrierUnavailable):
        laposte.fetch(["6A12345678901"], _account(carrier))


def test_a_hanging_carrier_times_out(carrier) -> None:
    carrier.enqueue(Reply(200, b"{}", delay=1.5))
    account = Account(base_url=carrier.url, credentials={"api_key": "k"}, timeout=0.5)
    with pytest.raises(CarrierUnavailable, match="timeout"):
        laposte.fetch(["6A12345678901"], account)


def test_authentication_errors_are_not_retryable(carrier) -> None:
    carrier.enqueue(Reply(401, b'{"code":"UNAUTHORIZED","message":"Invalid apikey"}'))
    with pytest.raises(AuthenticationFailed) as caught:
        laposte.fetch(["6A12345678901"], _account(carrier))
    assert not caught.value.retryable
    with pytest.raises(AuthenticationFailed):  # no key: refused before any call
        laposte.fetch(["6A12345678901"], _account(carrier, key=""))
    assert len(carrier.requests) == 1


def test_wrong_json_gives_an_error_for_the_call_not_an_exception(carrier) -> None:
    carrier.enqueue(Reply(200, b'{"returnCode": 200, "shipment": '))
    [error] = laposte.fetch(["6A12345678901"], _account(carrier))
    assert isinstance(error, TrackingError) and error.tracking_number == ""
    carrier.enqueue(Reply(200, b'"just a string"'))
    [error] = laposte.fetch(["6A12345678901"], _account(carrier))
    assert isinstance(error, TrackingError)


def test_at_most_ten_numbers_per_call() -> None:
    with pytest.raises(ValueError):
        laposte.fetch([f"6A{i:011d}" for i in range(11)], Account(base_url="http://x"))


def test_et1_in_a_live_answer_is_in_transit(carrier) -> None:
    carrier.enqueue(Reply(200, (FIXTURES / "delivered.json").read_bytes()))
    [update] = laposte.fetch(["6A12345678901"], _account(carrier))
    assert isinstance(update, ShipmentUpdate)
    et1 = next(e for e in update.events if e.raw_code == "ET1")
    assert et1.status is Status.IN_TRANSIT
