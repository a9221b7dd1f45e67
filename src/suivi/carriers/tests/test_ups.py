"""UPS Track API and Track Alert: parsing of recorded-shape bodies, OAuth and fetch over HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

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
from suivi.carriers.connectors import ups
from suivi.carriers.testing import FakeCarrier, Recorded, Reply
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError

FIXTURES = Path(__file__).parent / "fixtures" / "ups"
HOUR = timedelta(hours=1)
NUMBER = "1Z999AA10123456784"
TOKEN_PATH = "/security/v1/oauth/token"
TRACK_PATH = f"/api/track/v1/details/{NUMBER}"


def _load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _update(name: str) -> ShipmentUpdate:
    [update] = ups.parse(_load(name))
    assert isinstance(update, ShipmentUpdate)
    return update


def _pushed(name: str) -> ShipmentUpdate:
    [update] = ups.parse_push(_load(name))
    assert isinstance(update, ShipmentUpdate)
    return update


# --- Track API parsing -----------------------------------------------------------------------


def test_a_parcel_in_transit_keeps_the_offset_ups_gives_or_implies() -> None:
    update = _update("in_transit.json")
    assert (update.tracking_number, update.carrier_product) == (NUMBER, "UPS Standard")
    arrived, departed, picked_up, label = update.events
    assert [e.raw_code for e in update.events] == ["005", "005", "038", "003"]
    assert [e.status for e in update.events] == [Status.IN_TRANSIT] * 3 + [Status.INFO_RECEIVED]
    assert arrived.occurred_at.isoformat() == "2026-11-17T21:30:00+01:00"  # its gmtOffset
    assert departed.occurred_at.utcoffset() == HOUR  # local 05:30 minus GMT 4:30 ("43000")
    assert picked_up.occurred_at.isoformat() == "2026-11-16T17:45:00+01:00"  # no GMT: Germany
    assert (arrived.location, arrived.country) == ("Saint-Ouen-l'Aumône", "FR")
    assert label.raw_label.startswith("Shipper created a label")
    # Scheduled date, "end of day" without a window: local noon at the destination (Paris).
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-19T12:00:00+01:00"
    assert not update.is_final


def test_out_for_delivery_after_a_failed_attempt_with_a_rescheduled_window() -> None:
    update = _update("out_for_delivery.json")
    assert [e.status for e in update.events] == [
        Status.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY, Status.FAILED_ATTEMPT,
        Status.OUT_FOR_DELIVERY,
    ]  # fmt: skip
    assert update.events[1].raw_code == "072"  # Loaded on Delivery Vehicle
    assert update.events[3].raw_code == "021"  # written "21" by UPS
    # The rescheduled date wins over the scheduled one; the window's end is the ETA.
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-20T13:30:00+01:00"


def test_a_delivered_parcel_is_final_without_eta() -> None:
    update = _update("delivered.json")
    assert update.is_final and update.estimated_delivery is None
    delivered = update.events[0]
    assert (delivered.raw_code, delivered.status) == ("011", Status.DELIVERED)
    assert (delivered.location, delivered.occurred_at.utcoffset()) == ("Paris, 75011", HOUR)


def test_an_access_point_parcel_is_available_for_pickup_though_typed_d() -> None:
    update = _update("relay_point.json")
    waiting, on_the_way, departed = update.events
    assert departed.country == "DE"
    assert (waiting.raw_code, waiting.status) == ("161", Status.AVAILABLE_FOR_PICKUP)
    assert (on_the_way.raw_code, on_the_way.status) == ("057", Status.IN_TRANSIT)
    assert waiting.occurred_at.utcoffset() == 2 * HOUR  # summer time
    assert not update.is_final


def test_customs_and_damage_exceptions_and_an_unplaceable_time_left_out() -> None:
    update = _update("exception.json")
    # The Chicago pickup has no GMT time and the US has several zones: left out, not guessed.
    assert [e.raw_code for e in update.events] == ["124", "059", "005"]
    customs, damaged, louisville = update.events
    assert (customs.status, customs.reason) == (Status.EXCEPTION, Reason.CUSTOMS_HOLD)
    assert (damaged.status, damaged.reason) == (Status.EXCEPTION, Reason.DAMAGED)
    assert louisville.occurred_at.isoformat() == "2026-11-20T03:45:00-05:00"
    assert louisville.location == "Louisville, KY"
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-24T12:00:00+01:00"  # Lyon noon


@pytest.mark.parametrize(
    ("name", "number", "code"),
    [
        ("unknown_number.json", "", "unknown_number"),
        ("not_found_warning.json", "1Z999AA10000000000", "unknown_number"),
        ("invalid_number.json", "", "invalid_number"),
        ("auth_error.json", "", "carrier_error"),
        ("rate_limited.json", "", "carrier_error"),
        ("malformed.json", "", "carrier_error"),
    ],
)
def test_error_bodies_are_tracking_errors(name: str, number: str, code: str) -> None:
    [error] = ups.parse(_load(name))
    assert isinstance(error, TrackingError)
    assert (error.tracking_number, error.code) == (number, code)
    assert error.message


# --- Track Alert ------------------------------------------------------------------------------


def test_a_manifest_push_takes_its_offset_from_local_and_gmt_times() -> None:
    update = _pushed("track_alert_manifest.json")
    assert update.tracking_number == NUMBER  # UPS's leading space dropped
    [event] = update.events
    assert (event.raw_code, event.status) == ("003", Status.INFO_RECEIVED)
    assert event.occurred_at.isoformat() == "2026-11-16T09:12:03+01:00"
    assert update.estimated_delivery is None  # empty scheduledDeliveryDate


def test_an_out_for_delivery_push_carries_the_scheduled_date_as_local_noon() -> None:
    update = _pushed("track_alert_out_for_delivery.json")
    [event] = update.events
    assert (event.raw_code, event.status) == ("021", Status.OUT_FOR_DELIVERY)
    assert event.occurred_at.isoformat() == "2026-06-30T08:15:44+02:00"
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-06-30T12:00:00+02:00"


def test_a_delivered_push_is_final() -> None:
    update = _pushed("track_alert_delivered.json")
    [event] = update.events
    assert (event.status, event.location) == (Status.DELIVERED, "PARIS, 75011")
    assert update.is_final and update.estimated_delivery is None


def test_an_exception_push() -> None:
    update = _pushed("track_alert_exception.json")
    [event] = update.events
    assert (event.status, event.reason) == (Status.EXCEPTION, Reason.CUSTOMS_HOLD)
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-24T12:00:00+01:00"


def test_bad_push_bodies_never_raise() -> None:
    for body in (b"", b"{", b"3", b"{}", b'{"trackingNumber": "1Z"}', b"[{}]"):
        results = ups.parse_push(body)
        assert results and all(isinstance(r, ShipmentUpdate | TrackingError) for r in results)
    [update] = ups.parse_push(b'{"trackingNumber": "1Z", "activityStatus": {"type": "I"}}')
    assert isinstance(update, ShipmentUpdate) and update.events == ()  # no time: left out


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({"credential": "s3cret-registered"}, True),
        ({"Credential": "s3cret-registered", "User-Agent": "UPSPubSubTrackingService"}, True),
        ({"HTTP_CREDENTIAL": "s3cret-registered"}, True),  # Django's request.META spelling
        ({"credential": "s3cret-registere"}, False),
        ({"credential": "s3cret-registered "}, False),
        ({"Authorization": "Bearer s3cret-registered"}, False),
        ({}, False),
    ],
)
def test_verify_push_wants_the_registered_credential(
    headers: dict[str, str], accepted: bool
) -> None:
    body = _load("track_alert_delivered.json")
    assert ups.verify_push(body, headers, "s3cret-registered") is accepted


def test_verify_push_refuses_everything_without_a_secret() -> None:
    assert not ups.verify_push(b"{}", {"credential": ""}, "")


# --- mapping coverage -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_code_in_the_fixtures_is_mapped_on_purpose(name: str) -> None:
    body = _load(name)
    assert ups.unmapped_codes(body) == set()
    for result in ups.parse_push(body) if name.startswith("track_alert") else ups.parse(body):
        for event in getattr(result, "events", ()):
            assert ups.CODES[event.raw_code] == (event.status, event.reason)


def test_an_undocumented_code_is_reported_and_the_type_decides() -> None:
    data = json.loads(_load("delivered.json"))
    activities = data["trackResponse"]["shipment"][0]["package"][0]["activity"]
    activities[1]["status"]["statusCode"] = "999"
    activities[2]["status"] = {"type": "Q", "description": "?"}
    body = json.dumps(data).encode()
    assert ups.unmapped_codes(body) == {"999", "Q"}
    [update] = ups.parse(body)
    assert isinstance(update, ShipmentUpdate)
    assert [e.raw_code for e in update.events] == ["011", "I"]  # "Q" alone: left out
    push = json.loads(_load("track_alert_out_for_delivery.json"))
    push["activityStatus"]["descriptionCode"] = "777"
    assert ups.unmapped_codes(json.dumps(push).encode()) == {"777"}


def test_every_documented_code_and_type_is_mapped() -> None:
    documented = (
        {0, 3, 5, 6, 7, *range(10, 15), *range(16, 31), *range(32, 150), *range(153, 170)}
        - {15, 31}
    )  # fmt: skip
    assert {f"{code:03d}" for code in documented} | {
        "D", "I", "P", "M", "MV", "X", "U", "DO", "DD", "W", "NA"
    } == set(ups.CODES)  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502</html>", b"{", b"[]", b"null", b'{"trackResponse": 3}',
     b'{"trackResponse": {"shipment": [1, {"package": [2, {"activity": [3]}]}]}}',
     b'{"trackResponse": {"shipment": [{"package": [{"activity": [{"date": "2026x117", "time": "1", "status": {"statusCode": "011"}}]}]}]}}',
     b'{"trackResponse": {"shipment": [{"package": [{"activity": [{"date": "20261117", "time": "1200", "gmtOffset": "+99:00", "status": {"statusCode": "011"}}]}]}]}}',
     b'{"trackResponse": {"shipment": [{"package": [{"activity": [{"date": "20261117", "time": "120000", "status": {"statusCode": 11}}]}]}]}}',
     b'{"response": {"errors": "no"}}', b"[" * 100_000, b"\xff\xfe"],
)  # fmt: skip
def test_bad_carrier_data_never_raises(body: bytes) -> None:
    results = ups.parse(body)
    assert results
    for result in results:
        assert isinstance(result, ShipmentUpdate | TrackingError)
        if isinstance(result, ShipmentUpdate):
            assert result.events == ()  # no usable time or no zone: left out, never guessed


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    ups.parse(body)
    ups.parse_push(body)
    ups.unmapped_codes(body)


_KEYS = st.sampled_from(
    ["trackResponse", "shipment", "package", "activity", "status", "statusCode", "type", "date",
     "time", "gmtDate", "gmtTime", "gmtOffset", "location", "address", "countryCode",
     "deliveryDate", "deliveryTime", "trackingNumber", "activityStatus", "descriptionCode",
     "localActivityDate", "localActivityTime", "scheduledDeliveryDate", "response", "errors"]
)  # fmt: skip
_VALUES = st.sampled_from(
    ["20261117", "120000", "12:00:00", "+01:00", "011", "D", "FR", "US", "SDD"]
)
_SHAPED = st.recursive(
    st.none() | st.integers() | st.text(max_size=20) | _VALUES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=6),
    max_leaves=40,
)


@given(_SHAPED)
def test_arbitrary_json_never_raises(data: object) -> None:
    body = json.dumps(data).encode()
    assert ups.parse(body)
    ups.parse_push(body)  # an empty array of pushed events is nothing to apply: []
    ups.unmapped_codes(body)


# --- OAuth and fetch over HTTP ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_cached_tokens() -> Iterator[None]:
    ups.TOKENS.clear()
    yield
    ups.TOKENS.clear()


@pytest.fixture
def carrier() -> Iterator[FakeCarrier]:
    with FakeCarrier() as fake:
        yield fake


CREDENTIALS = {"client_id": "client-id", "client_secret": "client-secret"}


def _account(fake: FakeCarrier, timeout: float = 2.0, **credentials: str) -> Account:
    return Account(base_url=fake.url, credentials=CREDENTIALS | credentials, timeout=timeout)


def _token_reply(value: str, expires_in: str = "14399") -> Reply:
    data = json.loads(_load("token.json"))
    return Reply(200, json.dumps(dict(data, access_token=value, expires_in=expires_in)).encode())


class _UPS:
    """Routes like UPS: a new token per token call; tracking accepts the live tokens only."""

    def __init__(self, fake: FakeCarrier, track_body: bytes, expires_in: str = "14399") -> None:
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.track_body = track_body
        self.expires_in = expires_in
        fake.route = self

    def __call__(self, request: Recorded) -> Reply:
        if request.path == TOKEN_PATH:
            self.issued.append(f"token-{len(self.issued) + 1}")
            return _token_reply(self.issued[-1], self.expires_in)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.issued or bearer in self.revoked:
            return Reply(401, _load("auth_error.json"))
        return Reply(200, self.track_body)


def _tracks(fake: FakeCarrier) -> list[Recorded]:
    return [r for r in fake.requests if r.path.startswith("/api/track/")]


def test_the_token_is_obtained_once_and_reused(carrier: FakeCarrier) -> None:
    ups_ = _UPS(carrier, _load("in_transit.json"))
    for _ in range(2):
        [update] = ups.fetch([NUMBER], _account(carrier))
        assert isinstance(update, ShipmentUpdate) and update.tracking_number == NUMBER
    assert ups_.issued == ["token-1"]
    token_call, first, second = carrier.requests
    assert (token_call.method, token_call.path) == ("POST", TOKEN_PATH)
    expected = base64.b64encode(b"client-id:client-secret").decode()
    assert token_call.headers["authorization"] == f"Basic {expected}"
    assert parse_qs(token_call.body.decode()) == {"grant_type": ["client_credentials"]}
    assert (first.method, first.path) == ("GET", TRACK_PATH)
    assert first.query == {
        "locale": ["en_US"], "returnSignature": ["false"], "returnMilestones": ["false"]
    }  # fmt: skip
    assert first.headers["authorization"] == "Bearer token-1"
    assert first.headers["transactionsrc"] == "suivi"
    assert len(first.headers["transid"]) == 32
    assert first.headers["transid"] != second.headers["transid"]  # unique per request


def test_a_401_drops_the_token_and_retries_once_with_a_new_one(carrier: FakeCarrier) -> None:
    ups_ = _UPS(carrier, _load("delivered.json"))
    ups.fetch([NUMBER], _account(carrier))
    ups_.revoked.add("token-1")
    [update] = ups.fetch([NUMBER], _account(carrier))
    assert isinstance(update, ShipmentUpdate) and update.is_final
    assert ups_.issued == ["token-1", "token-2"]
    assert [r.headers["authorization"] for r in _tracks(carrier)] == [
        "Bearer token-1", "Bearer token-1", "Bearer token-2"
    ]  # fmt: skip


def test_a_second_401_is_an_authentication_failure(carrier: FakeCarrier) -> None:
    carrier.route = lambda request: (
        _token_reply("t") if request.path == TOKEN_PATH else Reply(401, _load("auth_error.json"))
    )
    with pytest.raises(AuthenticationFailed) as caught:
        ups.fetch([NUMBER], _account(carrier))
    assert caught.value.status == 401 and not caught.value.retryable
    assert len(_tracks(carrier)) == 2


def test_an_expired_token_is_replaced(
    carrier: FakeCarrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    ups_ = _UPS(carrier, _load("in_transit.json"), expires_in="3600")
    now = [1000.0]
    monkeypatch.setattr(ups.TOKENS, "clock", lambda: now[0])
    ups.fetch([NUMBER], _account(carrier))
    now[0] += 3600 - 120  # still valid (a minute's margin is kept)
    ups.fetch([NUMBER], _account(carrier))
    assert ups_.issued == ["token-1"]
    now[0] += 90  # within the last minute: replaced before use
    ups.fetch([NUMBER], _account(carrier))
    assert ups_.issued == ["token-1", "token-2"]


def test_tokens_are_per_account(carrier: FakeCarrier) -> None:
    ups_ = _UPS(carrier, _load("in_transit.json"))
    ups.fetch([NUMBER], _account(carrier))
    ups.fetch([NUMBER], _account(carrier, client_secret="another-secret"))
    assert ups_.issued == ["token-1", "token-2"]


def test_refused_client_credentials_fail_before_tracking(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(401, _load("token_refused.json")))
    with pytest.raises(AuthenticationFailed):
        ups.fetch([NUMBER], _account(carrier))
    assert _tracks(carrier) == []
    with pytest.raises(AuthenticationFailed):  # no secret: refused before any call
        ups.fetch([NUMBER], _account(carrier, client_secret=""))
    assert len(carrier.requests) == 1


def test_a_token_answer_without_token_is_unavailable(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(200, b"<html>maintenance</html>", content_type="text/html"))
    with pytest.raises(CarrierUnavailable):
        ups.fetch([NUMBER], _account(carrier))


def test_an_unknown_number_answers_404_with_tw0001(carrier: FakeCarrier) -> None:
    carrier.enqueue(_token_reply("t"), Reply(404, _load("unknown_number.json")))
    [error] = ups.fetch([NUMBER], _account(carrier))
    assert isinstance(error, TrackingError)
    assert (error.tracking_number, error.code) == (NUMBER, "unknown_number")
    carrier.enqueue(Reply(200, _load("not_found_warning.json")))  # the token is reused
    [error] = ups.fetch(["1Z999AA10000000000"], _account(carrier))
    assert isinstance(error, TrackingError) and error.code == "unknown_number"


def test_rate_limited_carries_retry_after(carrier: FakeCarrier) -> None:
    carrier.enqueue(
        _token_reply("t"), Reply(429, _load("rate_limited.json"), {"Retry-After": "30"})
    )
    with pytest.raises(RateLimited) as caught:
        ups.fetch([NUMBER], _account(carrier))
    assert (caught.value.status, caught.value.retry_after) == (429, 30.0)


def test_server_errors_and_cut_connections_are_unavailable(carrier: FakeCarrier) -> None:
    carrier.enqueue(_token_reply("t"), Reply(503, b'{"response": {"errors": []}}'))
    with pytest.raises(CarrierUnavailable) as caught:
        ups.fetch([NUMBER], _account(carrier))
    assert caught.value.status == 503
    carrier.enqueue(Reply(200, _load("delivered.json"), truncate=True))
    with pytest.raises(CarrierUnavailable):
        ups.fetch([NUMBER], _account(carrier))


def test_a_hanging_carrier_times_out(carrier: FakeCarrier) -> None:
    carrier.enqueue(_token_reply("t"), Reply(200, b"{}", delay=1.5))
    with pytest.raises(CarrierUnavailable, match="timeout"):
        ups.fetch([NUMBER], _account(carrier, timeout=0.5))


def test_wrong_json_gives_an_error_for_the_call_not_an_exception(carrier: FakeCarrier) -> None:
    carrier.enqueue(_token_reply("t"), Reply(200, _load("malformed.json")))
    [error] = ups.fetch([NUMBER], _account(carrier))
    assert isinstance(error, TrackingError) and (error.tracking_number, error.code) == (
        "",
        "carrier_error",
    )
    carrier.enqueue(Reply(200, b'"just a string"'))
    [error] = ups.fetch([NUMBER], _account(carrier))
    assert isinstance(error, TrackingError) and error.code == "carrier_error"


def test_one_number_per_call() -> None:
    with pytest.raises(ValueError):
        ups.fetch([NUMBER, "1Z0V7F240412345672"], Account(base_url="http://x"))
    assert ups.CONNECTOR.max_numbers_per_call == 1
    assert (
        ups.CONNECTOR.parse_push is ups.parse_push and ups.CONNECTOR.verify_push is ups.verify_push
    )


# --- Track Alert subscriptions --------------------------------------------------------------

SUBSCRIPTION_PATH = "/api/track/v1/subscription/standard/package"
CALLBACK = "https://suivi.example/api/v1/tracking/webhooks/7"
PUSH_SECRET = "s3cret-registered"


def _subscriptions(fake: FakeCarrier) -> list[Recorded]:
    return [r for r in fake.requests if r.path == SUBSCRIPTION_PATH]


def _register(fake: FakeCarrier, numbers: list[str]) -> list[TrackingError]:
    return ups.register(numbers, _account(fake), CALLBACK, PUSH_SECRET)


def test_register_subscribes_with_the_callback_and_the_credential(carrier: FakeCarrier) -> None:
    carrier.enqueue(
        _token_reply("token-1"),
        Reply(200, json.dumps({"validTrackingNumbers": [NUMBER, "1ZCIETST0111111114"]}).encode()),
    )
    assert _register(carrier, [NUMBER, "1zcietst0111111114"]) == []
    token_call, request = carrier.requests
    assert token_call.path == TOKEN_PATH
    assert (request.method, request.path) == ("POST", SUBSCRIPTION_PATH)
    assert request.headers["authorization"] == "Bearer token-1"
    assert request.headers["transactionsrc"] == "suivi"
    assert len(request.headers["transid"]) == 32
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {
        "locale": "en_US",
        "countryCode": "US",
        "trackingNumberList": [NUMBER, "1ZCIETST0111111114"],  # as UPS wants it written
        "destination": {"url": CALLBACK, "credentialType": "Bearer", "credential": PUSH_SECRET},
    }
    # What Track Alert will send back is what verify_push accepts.
    assert ups.verify_push(b"{}", {"credential": PUSH_SECRET}, PUSH_SECRET)


def test_register_reports_the_numbers_ups_refused_under_the_numbers_given(
    carrier: FakeCarrier,
) -> None:
    carrier.enqueue(_token_reply("t"), Reply(200, _load("subscription_partial.json")))
    asked = [NUMBER, "1Z0V 7F24 0412 3456 72", "1ZCIETST0111111114", "1Z999AA1012345678X9"]
    missing = "1Z999AA10000000000"
    errors = _register(carrier, [*asked, missing])
    by_number = {e.tracking_number: e.code for e in errors}
    assert by_number == {
        "1Z0V 7F24 0412 3456 72": "invalid_number",  # in invalidTrackingNumbers
        "1Z999AA1012345678X9": "invalid_number",  # not a 1Z: never sent
        missing: "carrier_error",  # in neither list: not confirmed
    }
    assert all(e.message for e in errors)
    [request] = _subscriptions(carrier)
    assert json.loads(request.body)["trackingNumberList"] == [
        NUMBER, "1Z0V7F240412345672", "1ZCIETST0111111114", missing
    ]  # fmt: skip


def test_register_without_a_1z_makes_no_call(carrier: FakeCarrier) -> None:
    [error] = _register(carrier, ["H9205817377"])
    assert (error.tracking_number, error.code) == ("H9205817377", "invalid_number")
    assert carrier.requests == []


def test_register_when_no_number_is_valid_ups_answers_400(carrier: FakeCarrier) -> None:
    carrier.enqueue(_token_reply("t"), Reply(400, _load("subscription_none_valid.json")))
    [error] = _register(carrier, ["1Z0V7F240412345672"])
    assert (error.tracking_number, error.code) == ("1Z0V7F240412345672", "invalid_number")
    assert error.message.startswith("VSS210 ")


def test_register_a_refused_request_is_an_error_for_each_number(carrier: FakeCarrier) -> None:
    carrier.enqueue(_token_reply("t"), Reply(400, _load("subscription_rejected.json")))
    errors = _register(carrier, [NUMBER, "1ZCIETST0111111114"])
    assert [(e.tracking_number, e.code) for e in errors] == [
        (NUMBER, "carrier_error"), ("1ZCIETST0111111114", "carrier_error")
    ]  # fmt: skip
    assert "VSS610" in errors[0].message


def test_register_reuses_the_token_and_renews_it_after_a_401(carrier: FakeCarrier) -> None:
    ups_ = _UPS(carrier, json.dumps({"validTrackingNumbers": [NUMBER]}).encode())
    ups.fetch([NUMBER], _account(carrier))
    ups_.revoked.add("token-1")
    assert _register(carrier, [NUMBER]) == []
    assert ups_.issued == ["token-1", "token-2"]
    assert [r.headers["authorization"] for r in _subscriptions(carrier)] == [
        "Bearer token-1", "Bearer token-2"
    ]  # fmt: skip


def test_register_a_second_401_is_an_authentication_failure(carrier: FakeCarrier) -> None:
    carrier.route = lambda request: (
        _token_reply("t") if request.path == TOKEN_PATH else Reply(401, _load("auth_error.json"))
    )
    with pytest.raises(AuthenticationFailed) as caught:
        _register(carrier, [NUMBER])
    assert caught.value.status == 401 and not caught.value.retryable
    assert len(_subscriptions(carrier)) == 2


def test_register_rate_limited_and_server_errors(carrier: FakeCarrier) -> None:
    carrier.enqueue(
        _token_reply("t"), Reply(429, _load("rate_limited.json"), {"Retry-After": "30"})
    )
    with pytest.raises(RateLimited) as limited:
        _register(carrier, [NUMBER])
    assert (limited.value.status, limited.value.retry_after) == (429, 30.0)
    carrier.enqueue(Reply(503, b'{"response": {"errors": [{"code": "VSS100"}]}}'))
    with pytest.raises(CarrierUnavailable) as unavailable:
        _register(carrier, [NUMBER])
    assert unavailable.value.status == 503


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, b""), (200, b"<html>maintenance</html>"), (200, b"[]"), (200, b"{}"),
     (200, b'{"validTrackingNumbers": 3}'), (400, b"{"), (400, b'{"errors": 1}'),
     (404, b'{"errors": [{"code": "404"}]}'), (200, b"\xff\xfe")],
)  # fmt: skip
def test_register_an_unreadable_answer_is_unavailable(
    carrier: FakeCarrier, status: int, body: bytes
) -> None:
    carrier.enqueue(_token_reply("t"), Reply(status, body))
    with pytest.raises(CarrierUnavailable):
        _register(carrier, [NUMBER])


@given(st.recursive(
    st.none() | st.integers() | st.text(max_size=20) | st.sampled_from([NUMBER, "VSS210"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["validTrackingNumbers", "invalidTrackingNumbers", "response",
                         "errors", "code", "message"]), inner, max_size=4),
    max_leaves=20,
))  # fmt: skip
def test_register_arbitrary_answers_give_errors_or_unavailable(data: object) -> None:
    for status in (200, 400):
        response = httpx.Response(status, content=json.dumps(data).encode())
        try:
            refusals = ups._refusals(response, [NUMBER])
        except CarrierUnavailable:
            continue
        assert set(refusals) <= {NUMBER}
        assert all(code in ("invalid_number", "carrier_error") for code, _ in refusals.values())


def test_register_limits_and_settings(carrier: FakeCarrier) -> None:
    with pytest.raises(ValueError):
        _register(carrier, [NUMBER] * 101)
    with pytest.raises(ValueError):
        _register(carrier, [])
    with pytest.raises(AuthenticationFailed):  # nothing to check pushes with: not subscribed
        ups.register([NUMBER], _account(carrier), CALLBACK, "")
    with pytest.raises(AuthenticationFailed):  # no client secret: refused before any call
        ups.register([NUMBER], _account(carrier, client_secret=""), CALLBACK, PUSH_SECRET)
    assert carrier.requests == []
    assert ups.CONNECTOR.register is ups.register
    assert ups.CONNECTOR.max_numbers_per_registration == 100
