"""AfterShip: parsing API answers and webhook bodies (tags and subtags, offsets, coordinates),
webhook signatures, and fetching over real HTTP against a fake AfterShip on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from suivi.carriers.base import (
    Account,
    AuthenticationFailed,
    CarrierUnavailable,
    RateLimited,
)
from suivi.carriers.connectors import aftership
from suivi.carriers.testing import FakeCarrier, Reply
from suivi.carriers.vocabulary import Handoff, Reason, ShipmentUpdate, Status, TrackingError

FIXTURES = Path(__file__).parent / "fixtures" / "aftership"
SECRET = "whsec-suivi-test"
TRACKINGS_PATH = f"/tracking/{aftership.API_VERSION}/trackings"


def _load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _one(name: str) -> ShipmentUpdate:
    parse = aftership.parse_push if name.startswith("webhook") else aftership.parse
    [update] = parse(_load(name))
    assert isinstance(update, ShipmentUpdate)
    return update


def _sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# --- Parsing API answers ---------------------------------------------------------------


def test_an_international_parcel_keeps_each_checkpoint_offset_and_coordinates() -> None:
    update = _one("in_transit.json")
    assert update.tracking_number == "EA123456785CN"
    assert [e.raw_code for e in update.events] == [
        "InfoReceived_001", "InTransit_002", "InTransit_007", "InTransit_004", "InTransit_006",
        "InTransit_005",
    ]  # fmt: skip
    assert update.events[0].status is Status.INFO_RECEIVED
    assert {e.status for e in update.events[1:]} == {Status.IN_TRANSIT}
    shenzhen, *_, arrived, _, released = update.events
    assert shenzhen.occurred_at.utcoffset() == timedelta(hours=8)
    assert (shenzhen.country, shenzhen.latitude, shenzhen.longitude) == ("CN", 22.5431, 114.0579)
    assert arrived.occurred_at.isoformat() == "2026-11-15T06:30:00+01:00"
    assert (arrived.latitude, arrived.longitude) == (49.0097, 2.5479)
    # A checkpoint time without offset gets France's zone from country_region, not "Z".
    assert released.occurred_at.isoformat() == "2026-11-16T08:20:00+01:00"
    assert released.latitude is None
    # A date-only estimate: midnight in the destination country's zone.
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-19T00:00:00+01:00"
    assert update.carrier_product == "china-ems: EMS"


def test_the_legacy_v4_shape_and_its_coordinates_array() -> None:
    update = _one("out_for_delivery.json")
    arrival, out = update.events
    assert (out.raw_code, out.status) == ("OutForDelivery_001", Status.OUT_FOR_DELIVERY)
    assert (out.latitude, out.longitude) == (52.532, 13.3849)
    assert (out.country, out.location) == ("DE", "Berlin, 10115")
    assert arrival.latitude is None  # an empty coordinates array
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-20T14:00:00+01:00"


def test_delivered_is_final_and_keeps_japan_time() -> None:
    update = _one("delivered.json")
    delivered = update.events[-1]
    assert (delivered.raw_code, delivered.status) == ("Delivered_003", Status.DELIVERED)
    assert delivered.occurred_at.utcoffset() == timedelta(hours=9)
    assert delivered.raw_label == "Final delivery"
    assert update.is_final


def test_available_for_pickup() -> None:
    update = _one("relay_point.json")
    assert update.events[-1].status is Status.AVAILABLE_FOR_PICKUP
    assert update.events[-1].location.startswith("Bpost point")


def test_exception_subtags_give_reasons_and_the_courier_that_moved_wins() -> None:
    update = _one("exception.json")
    assert update.carrier_product == "canada-post"  # not the "usps" tracking still pending
    assert [(e.raw_code, e.status, e.reason) for e in update.events] == [
        ("InTransit_004", Status.IN_TRANSIT, Reason.NONE),
        ("Exception_004", Status.EXCEPTION, Reason.CUSTOMS_HOLD),
        ("Exception_012", Status.EXCEPTION, Reason.DAMAGED),
        ("Exception_010", Status.RETURNING, Reason.NONE),
    ]
    assert update.events[2].occurred_at.utcoffset() == timedelta(hours=-7)
    assert not update.is_final


def test_a_tracking_that_does_not_exist_is_an_unknown_number() -> None:
    [error] = aftership.parse(_load("unknown_number.json"))
    assert isinstance(error, TrackingError) and error.code == "unknown_number"
    [error] = aftership.parse(b'{"meta": {"code": 200}, "data": {"trackings": []}}')
    assert isinstance(error, TrackingError) and error.code == "unknown_number"
    [error] = aftership.parse(_load("auth_error.json"))
    assert isinstance(error, TrackingError) and error.code == "carrier_error"


def test_documented_subtags_are_mapped() -> None:
    documented = {
        "InfoReceived_001", "AvailableForPickup_001", "Expired_001",
        *(f"InTransit_{i:03d}" for i in range(1, 10)),
        *(f"OutForDelivery_{i:03d}" for i in (1, 3, 4)),
        *(f"AttemptFail_{i:03d}" for i in range(1, 4)),
        *(f"Delivered_{i:03d}" for i in range(1, 5)),
        *(f"Exception_{i:03d}" for i in range(1, 14)),
        *(f"Pending_{i:03d}" for i in range(1, 7)),
        "Pending", "InfoReceived", "InTransit", "OutForDelivery", "AttemptFail", "Delivered",
        "AvailableForPickup", "Exception", "Expired",
    }  # fmt: skip
    assert documented <= set(aftership.CODES)
    assert aftership.CODES["Exception_004"] == (Status.EXCEPTION, Reason.CUSTOMS_HOLD)
    assert aftership.CODES["Exception_013"] == (Status.EXCEPTION, Reason.LOST)
    assert aftership.CODES["Exception_011"] == (Status.RETURNED, Reason.NONE)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_code_in_the_fixtures_is_mapped_on_purpose(name: str) -> None:
    assert aftership.unmapped_codes(_load(name)) == set()


def _answer(*checkpoints: dict[str, Any]) -> bytes:
    tracking = {"tracking_number": "X1", "slug": "dpd", "checkpoints": list(checkpoints)}
    return json.dumps({"meta": {"code": 200}, "data": {"trackings": [tracking]}}).encode()


def test_an_unknown_subtag_is_reported_and_placed_by_its_tag() -> None:
    body = _answer(
        {
            "checkpoint_time": "2026-11-19T10:00:00+01:00",
            "tag": "Exception",
            "subtag": "Exception_099",
        },
        {"checkpoint_time": "2026-11-19T09:00:00+01:00", "tag": "Teleported", "subtag": ""},
    )
    assert aftership.unmapped_codes(body) == {"Exception_099", "Teleported"}
    [update] = aftership.parse(body)
    assert isinstance(update, ShipmentUpdate)
    [event] = update.events  # the unknown tag is left out
    assert (event.raw_code, event.status, event.reason) == (
        "Exception_099",
        Status.EXCEPTION,
        Reason.OTHER,
    )


def test_a_bare_time_outside_a_single_zone_country_is_left_out() -> None:
    body = _answer(
        {"checkpoint_time": "2026-11-19T10:00:00", "tag": "InTransit", "country_region": "USA"},
        {"checkpoint_time": "2026-11-19T09:00:00", "tag": "InTransit"},
        {"checkpoint_time": "2026-11-19T08:00:00", "tag": "InTransit", "country_iso3": "ITA",
         "coordinate": {"latitude": 123.0, "longitude": 9.19}},
    )  # fmt: skip
    [update] = aftership.parse(body)
    assert isinstance(update, ShipmentUpdate)
    [milan] = update.events
    assert milan.occurred_at.isoformat() == "2026-11-19T08:00:00+01:00"
    assert milan.latitude is None  # out of range: not kept


# --- Webhooks ---------------------------------------------------------------------------


def test_a_webhook_body_carries_the_same_tracking_object() -> None:
    update = _one("webhook_delivered.json")
    assert update.tracking_number == "EJ123456785JP" and update.is_final
    assert [e.status for e in update.events] == [Status.AVAILABLE_FOR_PICKUP, Status.DELIVERED]
    refused = _one("webhook_exception.json")
    assert [(e.status, e.reason) for e in refused.events] == [
        (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
        (Status.EXCEPTION, Reason.REFUSED),
    ]
    # Spain is one zone: the bare local time of the first checkpoint gets +01:00.
    assert refused.events[0].occurred_at.isoformat() == "2026-11-18T12:10:00+01:00"


def test_a_webhook_without_a_tracking_is_unusable() -> None:
    for body in (b'{"event": "tracking_update"}', b'{"msg": {"tag": "Delivered"}}', b"[]"):
        [error] = aftership.parse_push(body)
        assert isinstance(error, TrackingError) and error.tracking_number == ""


def test_a_correct_signature_is_accepted_whatever_the_header_case() -> None:
    body = _load("webhook_delivered.json")
    for name in ("aftership-hmac-sha256", "Aftership-Hmac-Sha256", "AFTERSHIP-HMAC-SHA256"):
        assert aftership.verify_push(body, {name: _sign(body)}, SECRET)


@pytest.mark.parametrize(
    "case", ["wrong secret", "altered body", "missing header", "empty header", "hex digest",
             "no secret", "non-ascii header"],
)  # fmt: skip
def test_a_bad_signature_is_refused(case: str) -> None:
    body = _load("webhook_delivered.json")
    headers = {"aftership-hmac-sha256": _sign(body), "Content-Type": "application/json"}
    secret = SECRET
    if case == "wrong secret":
        headers["aftership-hmac-sha256"] = _sign(body, "another-secret")
    elif case == "altered body":
        body = body.replace(b"Delivered_002", b"Delivered_001")
    elif case == "missing header":
        del headers["aftership-hmac-sha256"]
    elif case == "empty header":
        headers["aftership-hmac-sha256"] = ""
    elif case == "hex digest":
        headers["aftership-hmac-sha256"] = hmac.new(SECRET.encode(), body, "sha256").hexdigest()
    elif case == "no secret":
        secret = ""
    elif case == "non-ascii header":
        headers["aftership-hmac-sha256"] = "é\udcff"
    assert not aftership.verify_push(body, headers, secret)


# --- Robustness -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502</html>", b"{", b"[1]", b"null", b'{"meta": 3}', b'{"data": []}',
     b'{"meta": {"code": true}, "data": {"tracking": 5}}',
     b'{"data": {"trackings": [1, {"checkpoints": 3}]}}',
     b'{"data": {"tracking": {"checkpoints": [{"checkpoint_time": 1, "tag": "Delivered"}]}}}',
     b'{"data": {"tracking": {"checkpoints": [{"checkpoint_time": "2026-11-19T10:00:00+01:00", "tag": "Delivered", "coordinates": [1e999, "x"]}]}}}',
     b"[" * 100_000, b"\xff\xfe"],
)  # fmt: skip
def test_bad_carrier_data_never_raises(body: bytes) -> None:
    for parse in (aftership.parse, aftership.parse_push):
        results = parse(body)
        assert results
        assert all(isinstance(r, ShipmentUpdate | TrackingError) for r in results)
    aftership.unmapped_codes(body)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    aftership.parse(body)
    aftership.parse_push(body)
    aftership.unmapped_codes(body)
    aftership.verify_push(body, {"aftership-hmac-sha256": "x"}, SECRET)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_checkpoints = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "checkpoint_time": st.sampled_from(
                ["2026-11-19T10:00:00+01:00", "2026-11-19T10:00:00", "now"]
            )
            | _json,
            "tag": st.sampled_from(["InTransit", "Delivered", "Nope"]) | _json,
            "subtag": st.sampled_from(sorted(aftership.CODES)) | _json,
            "country_region": st.sampled_from(["FRA", "USA", "XX"]) | _json,
            "coordinate": st.fixed_dictionaries({"latitude": _json, "longitude": _json}) | _json,
            "coordinates": st.lists(st.floats() | st.integers(), max_size=3) | _json,
        },
    ),
    max_size=4,
)
_tracking = st.fixed_dictionaries(
    {"checkpoints": _checkpoints},
    optional={
        "tracking_number": _json,
        "slug": _json,
        "tag": _json,
        "expected_delivery": _json,
        "latest_estimated_delivery": _json,
        "destination_country_region": _json,
    },
)
_bodies = st.one_of(
    _json,
    st.fixed_dictionaries({"meta": st.fixed_dictionaries({"code": st.sampled_from([200, 4004, 500]) | _json}),
                           "data": st.fixed_dictionaries({"trackings": st.lists(_tracking, max_size=3)})}),
    st.fixed_dictionaries({"event": _json, "msg": _tracking, "ts": _json}),
)  # fmt: skip


@given(_bodies)
def test_arbitrary_json_never_raises(data: Any) -> None:
    body = json.dumps(data).encode()
    for parse in (aftership.parse, aftership.parse_push):
        for result in parse(body):
            assert isinstance(result, ShipmentUpdate | TrackingError)
            if isinstance(result, ShipmentUpdate):
                assert all(e.occurred_at.utcoffset() is not None for e in result.events)
    aftership.unmapped_codes(body)


def test_slug_and_number() -> None:
    assert aftership.split("dhl:1234567890") == ("dhl", "1234567890")
    assert aftership.split("China-EMS:EA123456785CN") == ("china-ems", "EA123456785CN")
    assert aftership.split("1234567890") == ("", "1234567890")
    assert aftership.split("not a slug:123") == ("", "not a slug:123")
    assert aftership.split("dhl:") == ("", "dhl:")


def test_connector_settings() -> None:
    connector = aftership.CONNECTOR
    assert (connector.code, connector.max_numbers_per_call) == ("aftership", 1)
    assert connector.credential_names == ("api_key",)
    assert connector.parse_push is aftership.parse_push
    assert connector.verify_push is aftership.verify_push


# --- Fetching over HTTP ------------------------------------------------------------------


@pytest.fixture
def carrier() -> Iterator[FakeCarrier]:
    with FakeCarrier() as fake:
        yield fake


def _account(fake: FakeCarrier, key: str = "as-key", timeout: float = 2.0) -> Account:
    return Account(base_url=fake.url, credentials={"api_key": key}, timeout=timeout)


def test_fetch_sends_the_documented_request(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(200, _load("in_transit.json")))
    [update] = aftership.fetch(["china-ems:EA123456785CN"], _account(carrier))
    [request] = carrier.requests
    assert (request.method, request.path) == ("GET", TRACKINGS_PATH)
    assert request.query == {"tracking_numbers": ["EA123456785CN"], "slug": ["china-ems"]}
    assert request.headers["as-api-key"] == "as-key"
    # The result carries the number as asked, so the caller finds its parcel.
    assert isinstance(update, ShipmentUpdate)
    assert update.tracking_number == "china-ems:EA123456785CN"
    assert all(e.tracking_number == "china-ems:EA123456785CN" for e in update.events)


def test_a_bare_number_lets_aftership_answer_for_its_courier(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(200, _load("exception.json")))
    [update] = aftership.fetch(["LX123456785US"], _account(carrier))
    assert carrier.requests[0].query == {"tracking_numbers": ["LX123456785US"]}
    assert isinstance(update, ShipmentUpdate) and update.carrier_product == "canada-post"


def test_a_slug_keeps_only_that_courier(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(200, _load("exception.json")))
    [update] = aftership.fetch(["usps:LX123456785US"], _account(carrier))
    assert isinstance(update, ShipmentUpdate) and update.events == ()


def test_a_tracking_that_does_not_exist_answers_404(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(404, _load("unknown_number.json")))
    [error] = aftership.fetch(["dhl:1234567890"], _account(carrier))
    assert isinstance(error, TrackingError)
    assert (error.tracking_number, error.code) == ("dhl:1234567890", "unknown_number")


def test_an_invalid_key_is_an_authentication_failure(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(401, _load("auth_error.json")))
    with pytest.raises(AuthenticationFailed) as caught:
        aftership.fetch(["1234567890"], _account(carrier))
    assert not caught.value.retryable
    with pytest.raises(AuthenticationFailed):  # no key: refused before any call
        aftership.fetch(["1234567890"], _account(carrier, key=""))
    assert len(carrier.requests) == 1


def test_rate_limited_uses_the_reset_time_when_there_is_no_retry_after(
    carrier: FakeCarrier,
) -> None:
    reset = str(int(time.time()) + 30)
    carrier.enqueue(Reply(429, _load("rate_limited.json"), {"X-RateLimit-Reset": reset}))
    with pytest.raises(RateLimited) as caught:
        aftership.fetch(["1234567890"], _account(carrier))
    assert caught.value.status == 429
    assert caught.value.retry_after is not None and 25 <= caught.value.retry_after <= 31
    carrier.enqueue(
        Reply(429, _load("rate_limited.json"), {"Retry-After": "2", "X-RateLimit-Reset": reset})
    )
    with pytest.raises(RateLimited) as caught:
        aftership.fetch(["1234567890"], _account(carrier))
    assert caught.value.retry_after == 2.0
    carrier.enqueue(Reply(429, _load("rate_limited.json")))
    with pytest.raises(RateLimited) as caught:
        aftership.fetch(["1234567890"], _account(carrier))
    assert caught.value.retry_after is None


def test_server_errors_cut_connections_and_timeouts_are_unavailable(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(502, b"<html>bad gateway</html>", {"Retry-After": "60"}))
    with pytest.raises(CarrierUnavailable) as caught:
        aftership.fetch(["1234567890"], _account(carrier))
    assert caught.value.retry_after == 60.0
    carrier.enqueue(Reply(200, _load("delivered.json"), truncate=True))
    with pytest.raises(CarrierUnavailable):
        aftership.fetch(["1234567890"], _account(carrier))
    carrier.enqueue(Reply(200, b"{}", delay=1.5))
    with pytest.raises(CarrierUnavailable, match="timeout"):
        aftership.fetch(["1234567890"], _account(carrier, timeout=0.5))


def test_wrong_json_gives_an_error_not_an_exception(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(200, _load("malformed.json")))
    [error] = aftership.fetch(["1234567890"], _account(carrier))
    assert isinstance(error, TrackingError) and error.tracking_number == ""


def test_one_number_per_call() -> None:
    with pytest.raises(ValueError):
        aftership.fetch(["1", "2"], Account(base_url="http://x"))


def test_next_couriers_give_the_hand_off_to_a_carrier_suivi_follows() -> None:
    body = json.loads((FIXTURES / "webhook_delivered.json").read_bytes())
    body["msg"]["next_couriers"] = [
        {"slug": "unknown-post", "tracking_number": "X1234567"},
        {"slug": "la-poste-colissimo", "tracking_number": "6A12345678901"},
    ]
    [update] = aftership.parse_push(json.dumps(body).encode())
    assert isinstance(update, ShipmentUpdate)
    assert update.handoff == Handoff("colissimo", "6A12345678901")


# --- Registering (creating the tracking) ---------------------------------------------------

CALLBACK = "https://suivi.example/api/v1/tracking/webhooks/7"


def _register(fake: FakeCarrier, number: str, key: str = "as-key") -> list[TrackingError]:
    return aftership.register([number], _account(fake, key=key), CALLBACK, SECRET)


def test_register_creates_the_tracking(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(201, _load("create_created.json")))
    assert _register(carrier, "china-ems:EA123456785CN") == []
    [request] = carrier.requests
    assert (request.method, request.path) == ("POST", TRACKINGS_PATH)
    assert request.headers["as-api-key"] == "as-key"
    assert request.headers["content-type"] == "application/json"
    # Webhooks are set per AfterShip account: neither the callback nor the secret is sent.
    assert json.loads(request.body) == {"tracking_number": "EA123456785CN", "slug": "china-ems"}
    assert CALLBACK.encode() not in request.body and SECRET.encode() not in request.body


def test_register_a_bare_number_lets_aftership_detect_the_courier(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(201, _load("create_created.json")))
    assert _register(carrier, "EA123456785CN") == []
    assert json.loads(carrier.requests[0].body) == {"tracking_number": "EA123456785CN"}


def test_register_a_tracking_that_already_exists_is_registered(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(400, _load("create_already_exists.json")))
    assert _register(carrier, "china-ems:EA123456785CN") == []


@pytest.mark.parametrize(
    ("name", "code"),
    [("create_invalid_number.json", "invalid_number"),
     ("create_no_courier.json", "invalid_number"),
     ("create_missing_field.json", "carrier_error")],
)  # fmt: skip
def test_register_a_refused_number_is_an_error_under_the_number_given(
    carrier: FakeCarrier, name: str, code: str
) -> None:
    carrier.enqueue(Reply(400, _load(name)))
    [error] = _register(carrier, "dhl:12")
    assert (error.tracking_number, error.code) == ("dhl:12", code)
    assert error.message == json.loads(_load(name))["meta"]["message"]


def test_register_failures_of_the_call(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(401, _load("auth_error.json")))
    with pytest.raises(AuthenticationFailed):
        _register(carrier, "1234567890")
    carrier.enqueue(Reply(429, _load("rate_limited.json"), {"Retry-After": "3"}))
    with pytest.raises(RateLimited) as limited:
        _register(carrier, "1234567890")
    assert limited.value.retry_after == 3.0
    carrier.enqueue(Reply(503, b"<html>unavailable</html>"))
    with pytest.raises(CarrierUnavailable) as unavailable:
        _register(carrier, "1234567890")
    assert unavailable.value.status == 503
    with pytest.raises(AuthenticationFailed):  # no key: refused before any call
        _register(carrier, "1234567890", key="")
    assert len(carrier.requests) == 3


@pytest.mark.parametrize(
    ("status", "body"),
    [(201, b""), (200, b"<html>ok</html>"), (201, b"[]"), (201, b'{"meta": {"code": "201"}}'),
     (201, b'{"meta": {"code": true}}'), (404, b'{"meta": {"code": 404, "message": "no URI"}}'),
     (400, b"{"), (201, b'{"meta": {"code": 500}}'), (200, b"\xff\xfe")],
)  # fmt: skip
def test_register_an_unreadable_answer_is_unavailable(
    carrier: FakeCarrier, status: int, body: bytes
) -> None:
    carrier.enqueue(Reply(status, body))
    with pytest.raises(CarrierUnavailable):
        _register(carrier, "1234567890")


def test_register_one_number_per_call_and_settings() -> None:
    with pytest.raises(ValueError):
        aftership.register(["1", "2"], Account(base_url="http://x"), CALLBACK, SECRET)
    assert aftership.CONNECTOR.register is aftership.register
    assert aftership.CONNECTOR.max_numbers_per_registration == 1


@given(_json, st.sampled_from([200, 201, 400, 402, 404, 409, 422]))
def test_register_arbitrary_answers_give_errors_or_unavailable(data: Any, status: int) -> None:
    response = httpx.Response(status, content=json.dumps(data).encode())
    try:
        errors = aftership._created(response, "dhl:12")
    except CarrierUnavailable:
        return
    assert all(e.tracking_number == "dhl:12" and e.code for e in errors)
