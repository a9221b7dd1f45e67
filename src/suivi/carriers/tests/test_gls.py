"""GLS Track And Trace: parsing of our own fixtures, then fetch over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
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
from suivi.carriers.connectors import gls
from suivi.carriers.testing import FakeCarrier, Recorded, Reply
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError

FIXTURES = Path(__file__).parent / "fixtures" / "gls"
SUMMER, WINTER = timedelta(hours=2), timedelta(hours=1)


def _load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _updates(name: str) -> list[ShipmentUpdate]:
    results = gls.parse(_load(name))
    assert all(isinstance(r, ShipmentUpdate) for r in results)
    return [r for r in results if isinstance(r, ShipmentUpdate)]


def _latest(update: ShipmentUpdate) -> Status:
    return max(update.events, key=lambda e: e.occurred_at).status


# --- Parsing ----------------------------------------------------------------------------


def test_a_parcel_in_transit_keeps_every_step_and_its_summer_offset() -> None:
    moving, announced = _updates("in_transit.json")
    assert moving.tracking_number == "77012345678" and not moving.is_final
    assert [e.raw_code for e in moving.events] == [
        "OUTBOD.NORMAL", "INBOUD.NORMAL", "INTIAL.NORMAL", "INTIAL.E48_DATA", "INTIAL.PREADVICE",
    ]  # fmt: skip
    assert [e.status for e in moving.events] == [
        Status.IN_TRANSIT, Status.IN_TRANSIT, Status.IN_TRANSIT, Status.INFO_RECEIVED,
        Status.INFO_RECEIVED,
    ]  # fmt: skip
    first = moving.events[0]
    assert first.occurred_at.isoformat() == "2026-07-08T04:12:09+02:00"
    assert all(e.occurred_at.utcoffset() == SUMMER for e in moving.events)
    assert (first.location, first.country) == ("95500 Gonesse", "FR")
    assert moving.events[2].country == "DE"
    # The number we asked (with its check digit), not GLS's unit number without it.
    assert announced.tracking_number == "770123456790"
    assert [e.status for e in announced.events] == [Status.INFO_RECEIVED]


def test_out_for_delivery_in_winter_keeps_plus_one() -> None:
    [update] = _updates("out_for_delivery.json")
    assert _latest(update) is Status.OUT_FOR_DELIVERY
    assert update.events[0].raw_code == "OUTDEL.NORMAL"
    assert all(e.occurred_at.utcoffset() == WINTER for e in update.events)
    assert len(update.events) == 5  # INDELIVERY already told by OUTDEL.NORMAL: no extra event


def test_delivered_parcels_are_final_across_the_spring_clock_change() -> None:
    home, shop = _updates("delivered.json")
    assert home.is_final and _latest(home) is Status.DELIVERED
    assert home.events[0].occurred_at.utcoffset() == WINTER
    assert next(e for e in home.events if e.raw_code == "CHANGD.MONEWADDR").status is (
        Status.IN_TRANSIT
    )
    # FINAL closes the history without being a state: no event of its own.
    assert shop.is_final and "FINAL" not in {e.raw_code for e in shop.events}
    by_code = {e.raw_code: e for e in shop.events}
    assert by_code["DELIVD.PARCELSHOP"].status is Status.AVAILABLE_FOR_PICKUP
    assert by_code["DELIVD.DEL_BY_PSAPP"].status is Status.DELIVERED
    assert by_code["DELIVD.DEL_BY_PSAPP"].occurred_at.utcoffset() == SUMMER  # 2 April
    assert by_code["INTIAL.NORMAL"].occurred_at.utcoffset() == WINTER  # 27 March


def test_a_parcel_at_a_parcelshop_is_available_for_pickup_not_delivered() -> None:
    [update] = _updates("relay_point.json")
    assert not update.is_final
    assert _latest(update) is Status.AVAILABLE_FOR_PICKUP
    assert update.events[0].location == "33700 Mérignac"
    assert gls.CODES["DELIVD.PARCELSHOP"][0] is Status.AVAILABLE_FOR_PICKUP
    assert gls.PARCEL_STATUSES["DELIVEREDPS"][0] is Status.AVAILABLE_FOR_PICKUP


def test_a_summary_newer_than_the_events_becomes_an_event() -> None:
    attempted, cancelled = _updates("exception.json")
    # NOTDELIVERED at 16:42 is newer than the last event (out for delivery at 07:12).
    summary = attempted.events[-1]
    assert (summary.raw_code, summary.status, summary.reason) == (
        "NOTDELIVERED", Status.FAILED_ATTEMPT, Reason.OTHER,
    )  # fmt: skip
    assert summary.occurred_at.isoformat() == "2026-11-05T16:42:10+01:00"
    assert summary.raw_label == "Parcel was not delivered"
    assert not attempted.is_final
    assert cancelled.is_final
    assert (cancelled.events[0].status, cancelled.events[0].reason) == (
        Status.EXCEPTION, Reason.OTHER,
    )  # fmt: skip
    assert len(cancelled.events) == 2  # CANCELED is already told by CANCEL.NORMAL


def test_an_unknown_number_is_an_error_next_to_the_known_one() -> None:
    unknown, known = gls.parse(_load("unknown_number.json"))
    assert isinstance(unknown, TrackingError)
    assert (unknown.tracking_number, unknown.code) == ("77999999999", "unknown_number")
    assert isinstance(known, ShipmentUpdate) and known.tracking_number == "77012345679"


@pytest.mark.parametrize(
    ("code", "kind"),
    [("E_404_01", "unknown_number"), ("E_400_01", "invalid_number"), ("E_500_01", "carrier_error"),
     ("E_999_99", "carrier_error")],
)  # fmt: skip
def test_per_number_error_codes(code: str, kind: str) -> None:
    body = json.dumps({"parcels": [{"requested": "1", "errorCode": code}]}).encode()
    [error] = gls.parse(body)
    assert isinstance(error, TrackingError) and (error.code, error.message) == (kind, code)


@pytest.mark.parametrize("name", ["auth_error.json", "rate_limited.json", "malformed.json"])
def test_bodies_without_parcels_are_one_error_for_the_whole_call(name: str) -> None:
    [error] = gls.parse(_load(name))
    assert isinstance(error, TrackingError) and error.tracking_number == ""


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_code_in_the_fixtures_is_mapped_on_purpose(name: str) -> None:
    assert gls.unmapped_codes(_load(name)) == set()


def test_an_unknown_code_is_reported_left_out_and_covered_by_the_summary() -> None:
    body = json.dumps({"parcels": [{
        "requested": "77000000001", "status": "NOTDELIVERED",
        "statusDateTime": "2026-02-10T15:00:00+0100",
        "events": [
            {"code": "NOTDEL.NOTHOME", "eventDateTime": "2026-02-10T15:00:00+0100"},
            {"code": "OUTDEL.NORMAL", "eventDateTime": "2026-02-10T08:00:00+0100"},
        ],
    }, {"requested": "77000000002", "status": "LOST", "events": []}]}).encode()  # fmt: skip
    assert gls.unmapped_codes(body) == {"NOTDEL.NOTHOME", "LOST"}
    first, second = gls.parse(body)
    assert isinstance(first, ShipmentUpdate) and isinstance(second, ShipmentUpdate)
    assert [e.raw_code for e in first.events] == ["OUTDEL.NORMAL", "NOTDELIVERED"]
    assert second.events == ()


def test_every_documented_parcel_status_is_mapped() -> None:
    documented = {
        "PLANNEDPICKUP", "INPICKUP", "NOTPICKEDUP", "PREADVICE", "INTRANSIT", "INDELIVERY",
        "DELIVEREDPS", "DELIVERED", "INWAREHOUSE", "NOTDELIVERED", "CANCELED", "FINAL",
    }  # fmt: skip
    assert set(gls.PARCEL_STATUSES) | {gls.HISTORY_CLOSED} == documented
    assert set(gls.STATUS_LABELS) == set(gls.PARCEL_STATUSES)


def test_a_bare_time_takes_the_event_country_zone_or_is_left_out() -> None:
    body = json.dumps({"parcels": [{"requested": "7", "events": [
        {"code": "INBOUD.NORMAL", "country": "FR", "eventDateTime": "2026-07-01T10:00:00"},
        {"code": "INBOUD.NORMAL", "country": "", "eventDateTime": "2026-07-01T11:00:00"},
        {"code": "INBOUD.NORMAL", "country": "PT", "eventDateTime": "2026-01-01T11:00:00"},
    ]}]}).encode()  # fmt: skip
    [update] = gls.parse(body)
    assert isinstance(update, ShipmentUpdate)
    assert [e.occurred_at.isoformat() for e in update.events] == ["2026-07-01T10:00:00+02:00"]


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502</html>", b"{", b"[]", b"null", b'{"parcels": 3}', b'{"parcels": [3, null]}',
     b'{"parcels": [{"requested": 5, "events": "x", "status": 7}]}',
     b'{"parcels": [{"events": [{"code": "DELIVD.NORMAL", "eventDateTime": "hier"}]}]}',
     b'{"parcels": [{"events": [{"code": null, "eventDateTime": 3}], "statusDateTime": []}]}',
     b'{"parcels": [{"status": "DELIVERED", "statusDateTime": "2026-01-01T00:00:00"}]}',
     b"[" * 100_000, b"\xff\xfe"],
)  # fmt: skip
def test_bad_carrier_data_never_raises(body: bytes) -> None:
    results = gls.parse(body)
    assert all(isinstance(r, ShipmentUpdate | TrackingError) for r in results)
    for result in results:
        if isinstance(result, ShipmentUpdate):
            assert result.events == ()  # nothing readable is never guessed
    gls.unmapped_codes(body)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    gls.parse(body)
    gls.unmapped_codes(body)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=15), inner, max_size=4)
    ),
    max_leaves=20,
)
_event = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from([*gls.EVENT_CODES, "X.Y"]) | _json,
        "eventDateTime": st.sampled_from(["2026-07-01T10:00:00+0200", "2026-07-01T10:00:00"])
        | _json,
        "country": st.sampled_from(["FR", "", "ZZ"]) | _json,
        "city": _json,
        "postalCode": _json,
    },
)
_parcel = st.fixed_dictionaries(
    {},
    optional={
        "requested": _json,
        "status": st.sampled_from([*gls.PARCEL_STATUSES, "FINAL"]) | _json,
        "statusDateTime": st.sampled_from(["2026-07-01T09:00:00+0200"]) | _json,
        "events": st.lists(_event, max_size=4) | _json,
        "errorCode": st.none() | st.sampled_from([*gls.ERROR_KINDS]) | _json,
    },
)


@given(st.fixed_dictionaries({"parcels": st.lists(_parcel, max_size=3)}))
def test_arbitrary_answer_shapes_never_raise(answer: dict[str, object]) -> None:
    body = json.dumps(answer).encode()
    for result in gls.parse(body):
        assert isinstance(result, ShipmentUpdate | TrackingError)
    gls.unmapped_codes(body)


# --- Fetch over HTTP --------------------------------------------------------------------

TOKEN = json.loads(_load("token.json"))["access_token"]


@pytest.fixture
def carrier() -> Iterator[FakeCarrier]:
    gls.TOKENS.clear()
    with FakeCarrier() as fake:
        yield fake
    gls.TOKENS.clear()


def _account(fake: FakeCarrier, given: str = "s3cret", timeout: float = 2.0) -> Account:
    return Account(
        base_url=fake.url,
        credentials={"client_id": "suivi-app", "client_secret": given},
        timeout=timeout,
    )


def _serve(fake: FakeCarrier, tracking: Reply) -> None:
    def route(request: Recorded) -> Reply:
        if request.path == gls.OAUTH_PATH:
            return Reply(200, _load("token.json"))
        return tracking

    fake.route = route


def _tracking_requests(fake: FakeCarrier) -> list[Recorded]:
    return [r for r in fake.requests if r.path.startswith(gls.TRACKING_PATH)]


def test_fetch_gets_a_token_then_asks_for_the_numbers_in_one_call(carrier: FakeCarrier) -> None:
    _serve(carrier, Reply(200, _load("unknown_number.json")))
    results = gls.fetch(["77999999999", "77012345679"], _account(carrier))
    token_request, tracking_request = carrier.requests
    assert (token_request.method, token_request.path) == ("POST", "/oauth2/v2/token")
    basic = base64.b64encode(b"suivi-app:s3cret").decode()
    assert token_request.headers["authorization"] == f"Basic {basic}"
    assert parse_qs(token_request.body.decode()) == {"grant_type": ["client_credentials"]}
    assert tracking_request.method == "GET"
    assert tracking_request.path == (
        "/track-and-trace-v1/tracking/simple/trackids/77999999999,77012345679"
    )
    assert tracking_request.headers["authorization"] == f"Bearer {TOKEN}"
    assert tracking_request.headers["accept"] == "application/json"
    assert tracking_request.headers["accept-language"] == "EN"
    assert [type(r).__name__ for r in results] == ["TrackingError", "ShipmentUpdate"]


def test_the_token_is_reused_until_it_expires(carrier: FakeCarrier) -> None:
    _serve(carrier, Reply(200, _load("in_transit.json")))
    gls.fetch(["77012345678"], _account(carrier))
    gls.fetch(["77012345678"], _account(carrier))
    assert [r.path for r in carrier.requests].count(gls.OAUTH_PATH) == 1
    assert len(_tracking_requests(carrier)) == 2


def test_a_refused_cached_token_is_renewed_once(carrier: FakeCarrier) -> None:
    _serve(carrier, Reply(200, _load("in_transit.json")))
    gls.fetch(["77012345678"], _account(carrier))
    carrier.enqueue(Reply(401, _load("auth_error.json")))  # the cached token was revoked
    [update, _] = gls.fetch(["77012345678"], _account(carrier))
    assert isinstance(update, ShipmentUpdate)
    assert [r.path for r in carrier.requests].count(gls.OAUTH_PATH) == 2


def test_a_refused_fresh_token_is_not_retried(carrier: FakeCarrier) -> None:
    _serve(carrier, Reply(401, _load("auth_error.json")))
    with pytest.raises(AuthenticationFailed) as caught:
        gls.fetch(["77012345678"], _account(carrier))
    assert not caught.value.retryable and caught.value.status == 401
    assert len(carrier.requests) == 2  # one token, one refused call, no loop


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refused_client_credentials_are_an_authentication_failure(
    carrier: FakeCarrier, status: int
) -> None:
    body = b'{"errors": [{"message": "Invalid client identifier", "type": "400"}]}'
    carrier.enqueue(Reply(status, body))
    with pytest.raises(AuthenticationFailed):
        gls.fetch(["77012345678"], _account(carrier))
    assert len(carrier.requests) == 1


def test_missing_credentials_are_refused_before_any_call(carrier: FakeCarrier) -> None:
    with pytest.raises(AuthenticationFailed):
        gls.fetch(["77012345678"], _account(carrier, given=""))
    assert carrier.requests == []


@pytest.mark.parametrize("body", [b"{}", b"not json", b'{"access_token": 3}'])
def test_an_unreadable_token_answer_is_unavailable(carrier: FakeCarrier, body: bytes) -> None:
    carrier.enqueue(Reply(200, body))
    with pytest.raises(CarrierUnavailable):
        gls.fetch(["77012345678"], _account(carrier))


def test_rate_limited_carries_retry_after(carrier: FakeCarrier) -> None:
    _serve(carrier, Reply(429, _load("rate_limited.json"), {"Retry-After": "3600"}))
    with pytest.raises(RateLimited) as caught:
        gls.fetch(["77012345678"], _account(carrier))
    assert caught.value.retry_after == 3600.0 and caught.value.status == 429


def test_server_errors_and_cut_connections_are_unavailable(carrier: FakeCarrier) -> None:
    _serve(carrier, Reply(503, b"maintenance", {"Retry-After": "120"}))
    with pytest.raises(CarrierUnavailable) as caught:
        gls.fetch(["77012345678"], _account(carrier))
    assert caught.value.retry_after == 120.0
    _serve(carrier, Reply(200, _load("delivered.json"), truncate=True))
    with pytest.raises(CarrierUnavailable):
        gls.fetch(["77030303030"], _account(carrier))


def test_a_hanging_carrier_times_out(carrier: FakeCarrier) -> None:
    _serve(carrier, Reply(200, _load("in_transit.json"), delay=1.5))
    with pytest.raises(CarrierUnavailable, match="timeout"):
        gls.fetch(["77012345678"], _account(carrier, timeout=0.5))


@pytest.mark.parametrize(
    "reply",
    [Reply(200, _load("malformed.json")), Reply(200, b'"just a string"'),
     Reply(404, b'{"type": "about:blank", "title": "Not Found", "status": 404}'),
     Reply(400, b'{"title": "Bad Request", "detail": "Provided references of size 11"}')],
)  # fmt: skip
def test_wrong_answers_give_an_error_for_the_call(carrier: FakeCarrier, reply: Reply) -> None:
    _serve(carrier, reply)
    [error] = gls.fetch(["77012345678", "77030303030"], _account(carrier))
    assert isinstance(error, TrackingError) and error.tracking_number == ""


def test_a_number_missing_from_the_answer_gets_its_own_error(carrier: FakeCarrier) -> None:
    _serve(carrier, Reply(200, _load("relay_point.json")))
    update, missing = gls.fetch(["77092209220", "77000000404"], _account(carrier))
    assert isinstance(update, ShipmentUpdate)
    assert isinstance(missing, TrackingError)
    assert (missing.tracking_number, missing.code) == ("77000000404", "carrier_error")


def test_one_to_ten_numbers_per_call() -> None:
    account = Account(base_url="http://127.0.0.1:9", credentials={"client_id": "a"})
    with pytest.raises(ValueError):
        gls.fetch([f"770000000{i:02d}" for i in range(11)], account)
    with pytest.raises(ValueError):
        gls.fetch([], account)
    assert gls.CONNECTOR.max_numbers_per_call == 10


def test_the_connector_declares_its_settings() -> None:
    assert gls.CONNECTOR.code == "gls"
    assert gls.CONNECTOR.credential_names == ("client_id", "client_secret")
    assert gls.CONNECTOR.codes is gls.CODES
    assert gls.CONNECTOR.public_url("77012345678").endswith("match=77012345678")
