"""FedEx Track API: parsing our fixtures (statuses, reasons, offsets kept) and fetching over
real HTTP against a fake carrier on loopback (OAuth token reuse, failures)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suivi.carriers.base import (
    Account,
    AuthenticationFailed,
    CarrierUnavailable,
    RateLimited,
)
from suivi.carriers.connectors import fedex
from suivi.carriers.testing import FakeCarrier, Recorded, Reply
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError

CLIENT_SECRET = "fedex-secret"
FIXTURES = Path(__file__).parent / "fixtures" / "fedex"
TRACK_PATH = "/track/v1/trackingnumbers"
TOKEN_PATH = "/oauth/token"


def _load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _one(name: str) -> ShipmentUpdate:
    [update] = fedex.parse(_load(name))
    assert isinstance(update, ShipmentUpdate)
    return update


def _token(value: str, expires_in: int = 3599) -> Reply:
    body = {"access_token": value, "token_type": "bearer", "expires_in": expires_in, "scope": "CXS"}
    return Reply(200, json.dumps(body).encode())


# --- Parsing ---------------------------------------------------------------------------


def test_an_international_parcel_keeps_each_scan_in_its_own_local_time() -> None:
    update = _one("in_transit.json")
    assert update.tracking_number == "794612345018"
    assert [e.raw_code for e in update.events] == ["CC", "AR", "DP", "IT", "PU", "OC"]
    assert [e.status for e in update.events] == [Status.IN_TRANSIT] * 5 + [Status.INFO_RECEIVED]
    roissy, _, memphis, *_, label = update.events
    assert roissy.occurred_at.utcoffset() == timedelta(hours=1)
    assert roissy.occurred_at.isoformat() == "2026-11-18T07:05:00+01:00"
    assert (roissy.country, roissy.location) == ("FR", "ROISSY CHARLES DE GAULLE CEDEX, 95700")
    assert memphis.occurred_at.utcoffset() == timedelta(hours=-6)
    assert memphis.location == "MEMPHIS, TN 38118"
    assert label.occurred_at.utcoffset() == timedelta(hours=-5)
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-19T18:00:00+01:00"
    assert update.carrier_product == "FedEx International Priority"
    assert not update.is_final


def test_on_vehicle_for_delivery_is_out_for_delivery_although_fedex_derives_in_transit() -> None:
    update = _one("out_for_delivery.json")
    on_vehicle = update.events[0]
    assert (on_vehicle.raw_code, on_vehicle.status) == ("OD", Status.OUT_FOR_DELIVERY)
    assert on_vehicle.occurred_at.utcoffset() == timedelta(hours=-8)
    # The window's start has no offset; its end has one: that is the ETA kept.
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-20T14:00:00-08:00"


def test_a_reused_number_answers_with_the_shipment_that_moved_last() -> None:
    update = _one("delivered.json")
    assert [e.raw_code for e in update.events] == ["DL", "OD", "PU"]
    assert update.events[0].status is Status.DELIVERED
    assert update.events[0].occurred_at.isoformat() == "2026-11-18T10:31:00-05:00"
    assert update.is_final


def test_hold_at_location_is_available_for_pickup() -> None:
    update = _one("relay_point.json")
    assert [(e.raw_code, e.status) for e in update.events] == [
        ("HP", Status.AVAILABLE_FOR_PICKUP),
        ("HL", Status.AVAILABLE_FOR_PICKUP),
        ("AR", Status.IN_TRANSIT),
    ]
    assert update.events[0].occurred_at.utcoffset() == timedelta(hours=-7)
    assert "Package available for pickup at" in update.events[0].raw_label


def test_exception_codes_and_delay_details_give_the_reason() -> None:
    address, customs, returned = fedex.parse(_load("exception.json"))
    assert isinstance(address, ShipmentUpdate)
    assert [(e.status, e.reason) for e in address.events] == [
        (Status.FAILED_ATTEMPT, Reason.ADDRESS_PROBLEM),  # DE 03 incorrect address
        (Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),  # DE 08 customer not available
    ]
    assert isinstance(customs, ShipmentUpdate)
    assert [(e.status, e.reason) for e in customs.events] == [
        (Status.EXCEPTION, Reason.CUSTOMS_HOLD),  # CD clearance delay
        (Status.EXCEPTION, Reason.WEATHER),  # DY with delayDetail WEATHER
    ]
    assert customs.events[0].occurred_at.utcoffset() == timedelta(hours=1)
    assert isinstance(returned, ShipmentUpdate)
    assert [(e.status, e.reason) for e in returned.events] == [
        (Status.RETURNING, Reason.REFUSED),  # RS 07 refused by recipient
        (Status.EXCEPTION, Reason.DAMAGED),  # SE "037": leading zeros do not matter
    ]


def test_an_unknown_number_is_an_error_for_that_number() -> None:
    [error] = fedex.parse(_load("unknown_number.json"))
    assert isinstance(error, TrackingError)
    assert (error.tracking_number, error.code) == ("123456789999", "unknown_number")


def test_a_call_level_error_body_applies_to_every_number() -> None:
    [error] = fedex.parse(_load("auth_error.json"))
    assert isinstance(error, TrackingError) and error.tracking_number == ""
    body = b'{"errors": [{"code": "TRACKING.TRACKINGNUMBER.INVALID", "message": "Invalid"}]}'
    [error] = fedex.parse(body)
    assert isinstance(error, TrackingError) and error.code == "invalid_number"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_code_in_the_fixtures_is_mapped_on_purpose(name: str) -> None:
    assert fedex.unmapped_codes(_load(name)) == set()


def _answer(*events: dict[str, Any]) -> bytes:
    result = {"trackingNumber": "700000000011", "trackResults": [{"scanEvents": list(events)}]}
    return json.dumps({"output": {"completeTrackResults": [result]}}).encode()


def test_an_unknown_event_type_is_reported_and_falls_back_on_the_derived_status() -> None:
    body = _answer(
        {"date": "2026-11-18T10:00:00-05:00", "eventType": "ZQ", "derivedStatusCode": "DL"},
        {"date": "2026-11-18T09:00:00-05:00", "eventType": "ZZ", "derivedStatusCode": "??"},
        {"date": "2026-11-18T08:00:00-05:00", "eventType": "SE", "exceptionCode": "Q9"},
    )
    assert fedex.unmapped_codes(body) == {"ZQ", "ZZ", "exception:Q9"}
    [update] = fedex.parse(body)
    assert isinstance(update, ShipmentUpdate)
    # ZQ is placed by FedEx's own derived code; ZZ has nothing usable and is left out.
    assert [(e.raw_code, e.status) for e in update.events] == [
        ("ZQ", Status.DELIVERED),
        ("SE", Status.EXCEPTION),
    ]
    assert update.events[1].reason is Reason.OTHER  # unknown exception code: the type's reason


def test_a_time_without_offset_is_placed_only_in_a_single_zone_country() -> None:
    body = _answer(
        {"date": "2026-11-18T10:00:00", "eventType": "AR", "scanLocation": {"countryCode": "FR"}},
        {"date": "2026-11-18T09:00:00", "eventType": "AR", "scanLocation": {"countryCode": "US"}},
        {"date": "2026-11-18T08:00:00", "eventType": "AR"},
    )
    [update] = fedex.parse(body)
    assert isinstance(update, ShipmentUpdate)
    [paris] = update.events  # the US and the unplaced times are left out, never made "Z"
    assert paris.occurred_at.isoformat() == "2026-11-18T10:00:00+01:00"


def test_the_code_table_covers_fedex_status_codes() -> None:
    documented = {
        "AA", "AC", "AD", "AF", "AO", "AP", "AR", "AX", "CA", "CH", "DD", "DE", "DL", "DP",
        "DR", "DS", "DY", "EA", "ED", "EO", "EP", "FD", "HL", "HP", "IT", "IX", "LO", "OC",
        "OD", "OF", "OW", "OX", "PD", "PF", "PL", "PM", "PU", "PX", "RR", "RM", "RC", "RS",
        "RP", "LP", "RG", "RD", "SE", "SF", "SP", "TR", "CC", "CD", "CP",
    }  # fmt: skip
    assert documented <= set(fedex.CODES)
    assert fedex.CODES["OD"][0] is Status.OUT_FOR_DELIVERY
    assert fedex.CODES["HL"][0] is Status.AVAILABLE_FOR_PICKUP


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502 Bad Gateway</html>", b"{", b"[1, 2]", b"null", b'{"output": 3}',
     b'{"output": {"completeTrackResults": [1, {"trackResults": 7}]}}',
     b'{"output": {"completeTrackResults": [{"trackResults": [{"scanEvents": [{"date": 5}]}]}]}}',
     b'{"output": {"completeTrackResults": [{"trackResults": [{"error": 1}]}]}}',
     b'{"output": {"completeTrackResults": [{"trackResults": []}]}}',
     b"[" * 100_000, b"\xff\xfe"],
)  # fmt: skip
def test_bad_carrier_data_never_raises(body: bytes) -> None:
    results = fedex.parse(body)
    assert results
    assert all(isinstance(r, ShipmentUpdate | TrackingError) for r in results)
    fedex.unmapped_codes(body)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    fedex.parse(body)
    fedex.unmapped_codes(body)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_events = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "date": st.sampled_from(["2026-11-18T10:00:00-05:00", "2026-11-18T10:00:00", "x"])
            | _json,
            "eventType": st.sampled_from(sorted(fedex.CODES)) | _json,
            "derivedStatusCode": st.sampled_from(["IT", "DL", "IN"]) | _json,
            "exceptionCode": st.sampled_from(sorted(fedex.EXCEPTION_REASONS)) | _json,
            "delayDetail": st.fixed_dictionaries({"type": st.sampled_from(["WEATHER", "X"])})
            | _json,
            "scanLocation": st.fixed_dictionaries(
                {"countryCode": st.sampled_from(["FR", "US"]) | _json}
            )
            | _json,
        },
    ),
    max_size=4,
)
_answers = st.fixed_dictionaries(
    {
        "output": st.fixed_dictionaries(
            {
                "completeTrackResults": st.lists(
                    st.fixed_dictionaries(
                        {"trackingNumber": _json, "trackResults": st.lists(
                            st.fixed_dictionaries({"scanEvents": _events}, optional={"error": _json, "dateAndTimes": _json, "latestStatusDetail": _json}),
                            max_size=3,
                        )}
                    ),
                    max_size=3,
                )
            }
        )
    }
)  # fmt: skip


@given(st.one_of(_json, _answers))
def test_arbitrary_json_never_raises(data: Any) -> None:
    body = json.dumps(data).encode()
    for result in fedex.parse(body):
        assert isinstance(result, ShipmentUpdate | TrackingError)
        if isinstance(result, ShipmentUpdate):
            assert all(e.occurred_at.utcoffset() is not None for e in result.events)
    fedex.unmapped_codes(body)


def test_connector_settings() -> None:
    connector = fedex.CONNECTOR
    assert (connector.code, connector.max_numbers_per_call) == ("fedex", 30)
    assert connector.credential_names == ("client_id", "client_secret")
    assert connector.public_url("794612345018").endswith("trknbr=794612345018")


# --- Fetching over HTTP ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    fedex.TOKENS.clear()
    yield
    fedex.TOKENS.clear()


@pytest.fixture
def carrier() -> Iterator[FakeCarrier]:
    with FakeCarrier() as fake:
        yield fake


def _account(fake: FakeCarrier, secret: str = CLIENT_SECRET, timeout: float = 2.0) -> Account:
    credentials = {"client_id": "fedex-client", "client_secret": secret}
    return Account(base_url=fake.url, credentials=credentials, timeout=timeout)


def _routes(token_values: list[str], track: Reply) -> Any:
    tokens = iter(token_values)

    def route(request: Recorded) -> Reply:
        if request.path == TOKEN_PATH:
            return _token(next(tokens))
        return track

    return route


def _paths(fake: FakeCarrier) -> list[str]:
    return [r.path for r in fake.requests]


def test_fetch_gets_a_token_then_posts_the_documented_request(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["token-1"], Reply(200, _load("in_transit.json")))
    [update] = fedex.fetch(["794612345018", "771234560015"], _account(carrier))
    assert isinstance(update, ShipmentUpdate)
    token_request, track_request = carrier.requests
    assert (token_request.method, token_request.path) == ("POST", TOKEN_PATH)
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_request.body.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": ["fedex-client"],
        "client_secret": ["fedex-secret"],
    }
    assert (track_request.method, track_request.path) == ("POST", TRACK_PATH)
    assert track_request.headers["authorization"] == "Bearer token-1"
    assert track_request.headers["content-type"] == "application/json"
    assert json.loads(track_request.body) == {
        "includeDetailedScans": True,
        "trackingInfo": [
            {"trackingNumberInfo": {"trackingNumber": "794612345018"}},
            {"trackingNumberInfo": {"trackingNumber": "771234560015"}},
        ],
    }


def test_the_token_is_reused_across_calls(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["token-1", "token-2"], Reply(200, _load("delivered.json")))
    account = _account(carrier)
    fedex.fetch(["776094331234"], account)
    fedex.fetch(["776094331234"], account)
    assert _paths(carrier) == [TOKEN_PATH, TRACK_PATH, TRACK_PATH]
    assert {r.headers["authorization"] for r in carrier.requests[1:]} == {"Bearer token-1"}


def test_a_token_close_to_its_expiry_is_not_reused(carrier: FakeCarrier) -> None:
    carrier.enqueue(_token("short", expires_in=30))
    carrier.route = _routes(["token-2"], Reply(200, _load("delivered.json")))
    account = _account(carrier)
    fedex.fetch(["776094331234"], account)
    fedex.fetch(["776094331234"], account)
    assert _paths(carrier) == [TOKEN_PATH, TRACK_PATH, TOKEN_PATH, TRACK_PATH]


def test_a_changed_secret_gets_its_own_token(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["token-1", "token-2"], Reply(200, _load("delivered.json")))
    fedex.fetch(["776094331234"], _account(carrier))
    fedex.fetch(["776094331234"], _account(carrier, secret="rotated"))
    assert _paths(carrier).count(TOKEN_PATH) == 2


def test_a_401_drops_the_token_and_retries_once_with_a_new_one(carrier: FakeCarrier) -> None:
    carrier.enqueue(_token("stale"), Reply(401, _load("auth_error.json")))
    carrier.route = _routes(["fresh"], Reply(200, _load("delivered.json")))
    [update] = fedex.fetch(["776094331234"], _account(carrier))
    assert isinstance(update, ShipmentUpdate) and update.is_final
    assert _paths(carrier) == [TOKEN_PATH, TRACK_PATH, TOKEN_PATH, TRACK_PATH]
    assert carrier.requests[3].headers["authorization"] == "Bearer fresh"


def test_a_401_after_a_fresh_token_is_an_authentication_failure(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["one", "two"], Reply(401, _load("auth_error.json")))
    with pytest.raises(AuthenticationFailed) as caught:
        fedex.fetch(["776094331234"], _account(carrier))
    assert not caught.value.retryable
    assert _paths(carrier) == [TOKEN_PATH, TRACK_PATH, TOKEN_PATH, TRACK_PATH]


def test_refused_credentials_are_an_authentication_failure(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(401, _load("auth_error.json")))
    with pytest.raises(AuthenticationFailed) as caught:
        fedex.fetch(["776094331234"], _account(carrier))
    assert caught.value.status == 401
    with pytest.raises(AuthenticationFailed):  # no secret: refused before any call
        fedex.fetch(["776094331234"], _account(carrier, secret=""))
    assert _paths(carrier) == [TOKEN_PATH]


def test_a_403_is_not_retried(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["one"], Reply(403, b'{"errors":[{"code":"FORBIDDEN.ERROR"}]}'))
    with pytest.raises(AuthenticationFailed):
        fedex.fetch(["776094331234"], _account(carrier))
    assert _paths(carrier) == [TOKEN_PATH, TRACK_PATH]


def test_rate_limited_carries_retry_after(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["one"], Reply(429, _load("rate_limited.json"), {"Retry-After": "42"}))
    with pytest.raises(RateLimited) as caught:
        fedex.fetch(["776094331234"], _account(carrier))
    assert (caught.value.retry_after, caught.value.status) == (42.0, 429)


def test_server_errors_and_cut_connections_are_unavailable(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["one"], Reply(503, b"maintenance", {"Retry-After": "120"}))
    with pytest.raises(CarrierUnavailable) as caught:
        fedex.fetch(["776094331234"], _account(carrier))
    assert caught.value.retry_after == 120.0
    carrier.route = _routes([], Reply(200, _load("delivered.json"), truncate=True))
    with pytest.raises(CarrierUnavailable):
        fedex.fetch(["776094331234"], _account(carrier))


def test_a_hanging_carrier_times_out(carrier: FakeCarrier) -> None:
    carrier.enqueue(_token("one"), Reply(200, _load("delivered.json"), delay=1.5))
    with pytest.raises(CarrierUnavailable, match="timeout"):
        fedex.fetch(["776094331234"], _account(carrier, timeout=0.5))


def test_a_token_answer_without_a_token_is_unavailable(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(200, b'{"token_type": "bearer"}'))
    with pytest.raises(CarrierUnavailable):
        fedex.fetch(["776094331234"], _account(carrier))
    carrier.enqueue(Reply(200, b"<html>sorry</html>"))
    with pytest.raises(CarrierUnavailable):
        fedex.fetch(["776094331234"], _account(carrier))


def test_wrong_json_gives_an_error_for_the_call_not_an_exception(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["one"], Reply(200, _load("malformed.json")))
    [error] = fedex.fetch(["794612345018"], _account(carrier))
    assert isinstance(error, TrackingError) and error.tracking_number == ""
    carrier.route = _routes([], Reply(200, b'"just a string"'))
    [error] = fedex.fetch(["794612345018"], _account(carrier))
    assert isinstance(error, TrackingError)


def test_a_bad_request_body_is_read_not_raised(carrier: FakeCarrier) -> None:
    body = b'{"errors":[{"code":"TRACKING.TRACKINGNUMBER.EMPTY","message":"Please provide tracking number."}]}'
    carrier.route = _routes(["one"], Reply(400, body))
    [error] = fedex.fetch(["794612345018"], _account(carrier))
    assert isinstance(error, TrackingError) and error.code == "invalid_number"


def test_an_unknown_number_over_http(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["one"], Reply(200, _load("unknown_number.json")))
    [error] = fedex.fetch(["123456789999"], _account(carrier))
    assert isinstance(error, TrackingError) and error.code == "unknown_number"


def test_at_most_thirty_numbers_per_call() -> None:
    with pytest.raises(ValueError):
        fedex.fetch([f"7000000000{i:02d}" for i in range(31)], Account(base_url="http://x"))
    with pytest.raises(ValueError):
        fedex.fetch([], Account(base_url="http://x"))
