"""USPS Tracking API v3: parsing our fixtures (codes, offsets from GMTOffset, GMTTimestamp or
the state's zone, never "Z") and fetching over real HTTP against a fake carrier."""

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
from suivi.carriers.connectors import usps
from suivi.carriers.testing import FakeCarrier, Recorded, Reply
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError

CLIENT_SECRET = "usps-secret"
FIXTURES = Path(__file__).parent / "fixtures" / "usps"
TOKEN_PATH = "/oauth2/v3/token"
NUMBER = "9400111899223344556677"


def _load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _one(name: str) -> ShipmentUpdate:
    [update] = usps.parse(_load(name))
    assert isinstance(update, ShipmentUpdate)
    return update


def _body(*events: dict[str, Any], **fields: Any) -> bytes:
    return json.dumps({"trackingNumber": NUMBER, "trackingEvents": list(events), **fields}).encode()


# --- Parsing ---------------------------------------------------------------------------


def test_an_item_in_transit_gets_each_offset_from_what_usps_gave() -> None:
    update = _one("in_transit.json")
    assert update.tracking_number == NUMBER
    assert [e.raw_code for e in update.events] == ["TL", "A1", "10", "SF", "03", "GX"]
    assert [e.status for e in update.events] == [Status.IN_TRANSIT] * 5 + [Status.INFO_RECEIVED]
    offsets = [e.occurred_at.utcoffset() for e in update.events]
    assert offsets == [
        timedelta(hours=-6),  # TL: no GMTOffset, from GMTTimestamp (09:40:12Z vs 03:40 local)
        timedelta(hours=-6),  # A1: GMTOffset
        timedelta(hours=-5),
        timedelta(hours=-5),  # SF: no GMT fields at all, New York's zone
        timedelta(hours=-5),
        timedelta(hours=-5),
    ]
    assert update.events[0].occurred_at.isoformat() == "2026-11-18T03:40:00-06:00"
    departed = update.events[3]
    assert (departed.location, departed.country) == ("JAMAICA, NY 11430", "US")
    # A local expected time at the destination (Illinois), never made "Z".
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-20T21:00:00-06:00"
    assert update.carrier_product == "USPS Ground Advantage"
    assert not update.is_final


def test_out_for_delivery_and_a_date_only_eta() -> None:
    update = _one("out_for_delivery.json")
    assert [(e.raw_code, e.status) for e in update.events] == [
        ("OF", Status.OUT_FOR_DELIVERY),
        ("07", Status.IN_TRANSIT),
    ]
    assert update.events[0].occurred_at.isoformat() == "2026-11-20T07:45:00-08:00"
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-20T00:00:00-08:00"


def test_delivered_is_final() -> None:
    update = _one("delivered.json")
    delivered = update.events[0]
    assert (delivered.raw_code, delivered.status) == ("01", Status.DELIVERED)
    assert delivered.occurred_at.isoformat() == "2026-11-20T13:58:00-06:00"
    assert delivered.raw_label == "Delivered, In/At Mailbox"
    assert update.is_final


def test_a_notice_left_then_available_at_the_post_office() -> None:
    update = _one("relay_point.json")
    assert [(e.raw_code, e.status, e.reason) for e in update.events] == [
        ("16", Status.AVAILABLE_FOR_PICKUP, Reason.NONE),
        ("02", Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT),
        ("OF", Status.OUT_FOR_DELIVERY, Reason.NONE),
    ]


def test_refused_undeliverable_and_returned_with_arizona_offsets() -> None:
    update = _one("exception.json")
    assert [(e.raw_code, e.status, e.reason) for e in update.events] == [
        ("T1", Status.IN_TRANSIT, Reason.NONE),
        ("21", Status.RETURNING, Reason.ADDRESS_PROBLEM),
        ("05", Status.EXCEPTION, Reason.ADDRESS_PROBLEM),
        ("04", Status.EXCEPTION, Reason.REFUSED),
    ]
    # "-7:00" (no padding) is read; Arizona keeps -07:00 in November (no DST).
    assert all(e.occurred_at.utcoffset() == timedelta(hours=-7) for e in update.events)
    # T1's eventTimestamp says "05:15:00Z" but GMTTimestamp is 12:15Z: the Z is a mislabel.
    assert update.events[0].occurred_at.isoformat() == "2026-11-20T05:15:00-07:00"


def test_a_z_timestamp_equal_to_the_gmt_time_is_converted_not_relabelled() -> None:
    body = _body(
        {"eventCode": "10", "eventTimestamp": "2026-11-20T12:15:00Z",
         "GMTTimestamp": "2026-11-20T12:15:31Z", "GMTOffset": "-05:00"},
    )  # fmt: skip
    [update] = usps.parse(body)
    assert isinstance(update, ShipmentUpdate)
    assert update.events[0].occurred_at.isoformat() == "2026-11-20T07:15:31-05:00"


def test_without_usps_offset_a_split_state_or_no_state_is_kept_out() -> None:
    body = _body(
        {"eventCode": "10", "eventTimestamp": "2026-11-20T10:00:00", "eventState": "TX"},
        {"eventCode": "10", "eventTimestamp": "2026-11-20T09:00:00"},
        {"eventCode": "10", "eventTimestamp": "2026-11-20T08:00:00", "eventState": "HI"},
        {"eventCode": "10", "eventTimestamp": "2026-11-20T07:00:00", "eventCountry": "FR"},
    )
    [update] = usps.parse(body)
    assert isinstance(update, ShipmentUpdate)
    assert [e.occurred_at.isoformat() for e in update.events] == [
        "2026-11-20T08:00:00-10:00",  # Hawaii: one zone
        "2026-11-20T07:00:00+01:00",  # an international scan, placed by its country
    ]


def test_an_unknown_number_answers_404_with_a_body() -> None:
    [error] = usps.parse(_load("unknown_number.json"))
    assert isinstance(error, TrackingError) and error.code == "unknown_number"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_code_in_the_fixtures_is_mapped_on_purpose(name: str) -> None:
    assert usps.unmapped_codes(_load(name)) == set()


def test_an_unknown_code_is_reported_and_left_out() -> None:
    body = _body(
        {"eventCode": "Q7", "eventTimestamp": "2026-11-20T10:00:00", "GMTOffset": "-05:00"}
    )
    assert usps.unmapped_codes(body) == {"Q7"}
    [update] = usps.parse(body)
    assert isinstance(update, ShipmentUpdate) and update.events == ()


def test_returns_are_09_and_21_to_31_and_receptacle_problems_are_attempts() -> None:
    for code in ("09", "21", "22", "23", "24", "25", "26", "27", "28", "29", "31", "44"):
        assert usps.CODES[code][0] is Status.RETURNING, code
    for code in ("53", "54"):
        assert usps.CODES[code][0] is Status.FAILED_ATTEMPT, code
    documented = {
        "MA", "GX", "03", "TM", "PA", "80", "07", "10", "PC", "EF", "SF", "19", "41", "42",
        "81", "82", "06", "14", "08", "15", "71", "DX", "OF", "02", "52", "55", "56", "51",
        "53", "54", "30", "16", "01", "17", "43", "04", "05", "11", "09", "44", "21", "22",
        "23", "24", "25", "26", "27", "31", "28", "29",
    }  # fmt: skip
    assert documented <= set(usps.CODES)


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502</html>", b"{", b"[1]", b"null", b'{"trackingEvents": 3}',
     b'{"trackingEvents": [1, {"eventCode": 5, "eventTimestamp": []}]}',
     b'{"trackingEvents": [{"eventCode": "01", "eventTimestamp": "2026-11-20T10:00:00", "GMTOffset": "+99:00"}]}',
     b'{"trackingEvents": [{"eventCode": "01", "eventTimestamp": "2026-11-20T10:00:00", "GMTTimestamp": "1900-01-01T00:00:00Z"}]}',
     b'{"error": {"code": 404, "errors": 7}}', b'{"error": null}',
     b"[" * 100_000, b"\xff\xfe"],
)  # fmt: skip
def test_bad_carrier_data_never_raises(body: bytes) -> None:
    results = usps.parse(body)
    assert results
    for result in results:
        assert isinstance(result, ShipmentUpdate | TrackingError)
        if isinstance(result, ShipmentUpdate):
            assert result.events == ()  # nothing trustworthy in these bodies
    usps.unmapped_codes(body)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    usps.parse(body)
    usps.unmapped_codes(body)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_stamps = st.sampled_from(
    [
        "2026-11-20T10:00:00",
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00-05:00",
        "2026-11-20",
        "soon",
    ]
)
_events = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "eventCode": st.sampled_from(sorted(usps.CODES)) | _json,
            "eventTimestamp": _stamps | _json,
            "GMTTimestamp": _stamps | _json,
            "GMTOffset": st.sampled_from(["-05:00", "-7:00", "+0530", "-99:99", "Z"]) | _json,
            "eventState": st.sampled_from(["NY", "TX", "AZ", ""]) | _json,
            "eventCountry": st.sampled_from(["US", "FR", "FRANCE", None]) | _json,
        },
    ),
    max_size=4,
)
_answers = st.fixed_dictionaries(
    {"trackingEvents": _events},
    optional={"trackingNumber": _json, "expectedDeliveryDate": _stamps | _json,
              "destinationState": _json, "statusCategory": _json, "error": _json},
)  # fmt: skip


@given(st.one_of(_json, _answers))
def test_arbitrary_json_never_raises(data: Any) -> None:
    body = json.dumps(data).encode()
    for result in usps.parse(body):
        assert isinstance(result, ShipmentUpdate | TrackingError)
    usps.unmapped_codes(body)


def test_connector_settings() -> None:
    connector = usps.CONNECTOR
    assert (connector.code, connector.max_numbers_per_call) == ("usps", 1)
    assert connector.requests_per_minute == 1  # 60 calls an hour by default
    assert connector.credential_names == ("client_id", "client_secret")


# --- Fetching over HTTP ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    usps.TOKENS.clear()
    yield
    usps.TOKENS.clear()


@pytest.fixture
def carrier() -> Iterator[FakeCarrier]:
    with FakeCarrier() as fake:
        yield fake


def _account(fake: FakeCarrier, secret: str = CLIENT_SECRET, timeout: float = 2.0) -> Account:
    credentials = {"client_id": "usps-client", "client_secret": secret}
    return Account(base_url=fake.url, credentials=credentials, timeout=timeout)


def _token(value: str) -> Reply:
    body = {
        "access_token": value,
        "token_type": "Bearer",
        "expires_in": "28799",
        "scope": "tracking",
    }
    return Reply(200, json.dumps(body).encode())


def _routes(token_values: list[str], track: Reply) -> Any:
    tokens = iter(token_values)

    def route(request: Recorded) -> Reply:
        if request.path == TOKEN_PATH:
            return _token(next(tokens))
        return track

    return route


def _paths(fake: FakeCarrier) -> list[str]:
    return [r.path for r in fake.requests]


TRACK_PATH = f"/tracking/v3/tracking/{NUMBER}"


def test_fetch_sends_the_documented_requests(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["tok-1"], Reply(200, _load("in_transit.json")))
    [update] = usps.fetch([NUMBER], _account(carrier))
    assert isinstance(update, ShipmentUpdate) and update.tracking_number == NUMBER
    token_request, track_request = carrier.requests
    assert (token_request.method, token_request.path) == ("POST", TOKEN_PATH)
    assert parse_qs(token_request.body.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": ["usps-client"],
        "client_secret": ["usps-secret"],
        "scope": ["tracking"],
    }
    assert (track_request.method, track_request.path) == ("GET", TRACK_PATH)
    assert track_request.query == {"expand": ["DETAIL"]}
    assert track_request.headers["authorization"] == "Bearer tok-1"


def test_the_token_is_reused_and_refetched_after_a_401(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["tok-1", "tok-2"], Reply(200, _load("delivered.json")))
    account = _account(carrier)
    usps.fetch([NUMBER], account)
    usps.fetch([NUMBER], account)
    assert _paths(carrier) == [TOKEN_PATH, TRACK_PATH, TRACK_PATH]
    carrier.enqueue(Reply(401, b'{"error": "invalid_token"}'))
    [update] = usps.fetch([NUMBER], account)
    assert isinstance(update, ShipmentUpdate) and update.is_final
    assert _paths(carrier)[3:] == [TRACK_PATH, TOKEN_PATH, TRACK_PATH]
    assert carrier.requests[-1].headers["authorization"] == "Bearer tok-2"


def test_refused_client_credentials_are_an_authentication_failure(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(401, _load("auth_error.json")))
    with pytest.raises(AuthenticationFailed) as caught:
        usps.fetch([NUMBER], _account(carrier))
    assert not caught.value.retryable
    with pytest.raises(AuthenticationFailed):
        usps.fetch([NUMBER], _account(carrier, secret=""))
    assert _paths(carrier) == [TOKEN_PATH]


def test_an_unknown_number_is_an_error_for_the_number_asked(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["tok"], Reply(404, _load("unknown_number.json")))
    [error] = usps.fetch(["9400100000000000000000"], _account(carrier))
    assert isinstance(error, TrackingError)
    assert (error.tracking_number, error.code) == ("9400100000000000000000", "unknown_number")


def test_rate_limited_carries_retry_after(carrier: FakeCarrier) -> None:
    carrier.route = _routes(
        ["tok"], Reply(429, _load("rate_limited.json"), {"Retry-After": "3600"})
    )
    with pytest.raises(RateLimited) as caught:
        usps.fetch([NUMBER], _account(carrier))
    assert caught.value.retry_after == 3600.0


def test_server_errors_cut_connections_and_timeouts_are_unavailable(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["tok"], Reply(503, b"down", {"Retry-After": "30"}))
    with pytest.raises(CarrierUnavailable) as caught:
        usps.fetch([NUMBER], _account(carrier))
    assert caught.value.retry_after == 30.0
    carrier.route = _routes([], Reply(200, _load("delivered.json"), truncate=True))
    with pytest.raises(CarrierUnavailable):
        usps.fetch([NUMBER], _account(carrier))
    carrier.route = _routes([], Reply(200, _load("delivered.json"), delay=1.5))
    with pytest.raises(CarrierUnavailable, match="timeout"):
        usps.fetch([NUMBER], _account(carrier, timeout=0.5))


def test_wrong_json_gives_an_error_not_an_exception(carrier: FakeCarrier) -> None:
    carrier.route = _routes(["tok"], Reply(200, _load("malformed.json")))
    [error] = usps.fetch([NUMBER], _account(carrier))
    assert isinstance(error, TrackingError) and error.tracking_number == ""


def test_one_number_per_call() -> None:
    with pytest.raises(ValueError):
        usps.fetch([NUMBER, NUMBER], Account(base_url="http://x"))
