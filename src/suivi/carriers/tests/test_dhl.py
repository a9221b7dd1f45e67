"""DHL Unified Tracking: parsing of recorded-shape answers, and fetch over real HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suivi.carriers.base import (
    Account,
    AuthenticationFailed,
    CarrierUnavailable,
    RateLimited,
)
from suivi.carriers.connectors import dhl
from suivi.carriers.testing import FakeCarrier, Reply
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError

FIXTURES = Path(__file__).parent / "fixtures" / "dhl"
HOUR = timedelta(hours=1)


def _load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _update(name: str) -> ShipmentUpdate:
    [update] = dhl.parse(_load(name))
    assert isinstance(update, ShipmentUpdate)
    return update


def _newest(update: ShipmentUpdate):  # type: ignore[no-untyped-def]
    return max(update.events, key=lambda e: e.occurred_at)


# --- parsing ---------------------------------------------------------------------------


def test_an_express_parcel_in_transit_keeps_each_countrys_offset() -> None:
    update = _update("in_transit.json")
    assert update.tracking_number == "4527639910"
    assert update.carrier_product == "EXPRESS WORLDWIDE" and not update.is_final
    assert [e.status for e in update.events] == [Status.IN_TRANSIT] * 5 + [Status.INFO_RECEIVED]
    paris, london = update.events[0], update.events[-1]
    assert paris.occurred_at.isoformat() == "2026-11-17T06:48:00+01:00"
    assert london.occurred_at.utcoffset() == timedelta(0)  # UK in November: +00:00, not "Z"
    assert london.occurred_at.isoformat() == "2026-11-16T11:20:00+00:00"
    assert (paris.country, paris.location) == ("FR", "PARIS - FRANCE")
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-18T23:59:00+01:00"


def test_normal_customs_processing_is_not_a_customs_hold() -> None:
    update = _update("in_transit.json")
    customs = [e for e in update.events if "learance" in e.raw_label]
    assert len(customs) == 2
    assert {(e.raw_code, e.status, e.reason) for e in customs} == {
        ("transit", Status.IN_TRANSIT, Reason.NONE)
    }


def test_bare_local_times_take_the_event_country_then_the_service_home_zone() -> None:
    update = _update("out_for_delivery.json")
    loaded, arrived, export, posted, announced = update.events
    assert (loaded.raw_code, loaded.status) == ("transit/out-for-delivery", Status.OUT_FOR_DELIVERY)
    assert loaded.occurred_at.isoformat() == "2026-06-16T07:41:00+02:00"  # Strasbourg, summer
    assert export.country == "" and export.occurred_at.utcoffset() == 2 * HOUR  # parcel-de: Berlin
    assert (
        announced.status is Status.INFO_RECEIVED and announced.occurred_at.utcoffset() == 2 * HOUR
    )
    assert posted.status is Status.IN_TRANSIT  # "posted at the retail outlet" is not a pickup point
    assert arrived.status is Status.IN_TRANSIT
    assert update.estimated_delivery is not None  # the end of the announced window, local time
    assert update.estimated_delivery.isoformat() == "2026-06-16T13:00:00+02:00"


def test_a_delivered_parcel_is_final() -> None:
    update = _update("delivered.json")
    assert update.is_final and update.carrier_product == "EXPRESS 12:00"
    newest = _newest(update)
    assert (newest.status, newest.raw_code) == (Status.DELIVERED, "delivered")
    assert newest.raw_label == "Delivered - Signed for by: DUPONT"
    courier = update.events[1]
    assert (courier.raw_code, courier.status) == (
        "transit/out-for-delivery",
        Status.OUT_FOR_DELIVERY,
    )


def test_a_servicepoint_parcel_is_available_for_pickup_after_a_failed_attempt() -> None:
    update = _update("relay_point.json")
    ready, absent, out, sorted_, data = update.events
    assert (ready.raw_code, ready.status) == ("transit/pickup-point", Status.AVAILABLE_FOR_PICKUP)
    assert (absent.raw_code, absent.status, absent.reason) == (
        "failure/absent",
        Status.FAILED_ATTEMPT,
        Reason.RECIPIENT_ABSENT,
    )  # "will be taken to a ServicePoint" is not yet "available"
    assert out.status is Status.OUT_FOR_DELIVERY
    assert ready.location == "59000 Lille" and ready.occurred_at.utcoffset() == HOUR
    assert sorted_.country == "NL" and sorted_.occurred_at.utcoffset() == HOUR
    assert data.status is Status.INFO_RECEIVED
    assert not update.is_final


def test_a_customs_hold_is_an_exception_and_a_date_only_eta_is_local_noon() -> None:
    update = _update("exception.json")
    held = update.events[0]
    assert (held.raw_code, held.status, held.reason) == (
        "transit/customs-hold",
        Status.EXCEPTION,
        Reason.CUSTOMS_HOLD,
    )
    new_york = update.events[-1]
    assert new_york.occurred_at.utcoffset() == -5 * HOUR  # the origin's own offset, kept
    assert update.estimated_delivery is not None
    assert update.estimated_delivery.isoformat() == "2026-11-21T12:00:00+01:00"  # Bordeaux noon


def test_a_return_ends_returned_with_its_reasons_on_the_way() -> None:
    update = _update("returned.json")
    back, refused, address, info = update.events
    assert update.is_final
    assert (back.raw_code, back.status) == ("delivered/returned", Status.RETURNED)
    assert (refused.raw_code, refused.status) == ("failure/returned", Status.RETURNING)
    assert (address.raw_code, address.status, address.reason) == (
        "failure/address",
        Status.FAILED_ATTEMPT,
        Reason.ADDRESS_PROBLEM,
    )
    assert (info.raw_code, info.status) == ("unknown", Status.IN_TRANSIT)
    # parcel-de, domestic: Berlin time, still winter time on 12 March.
    assert back.occurred_at.isoformat() == "2026-03-12T10:14:00+01:00"


@pytest.mark.parametrize(
    ("name", "code"),
    [("unknown_number.json", "unknown_number"), ("invalid_number.json", "invalid_number")],
)
def test_problem_bodies_are_errors_for_the_number(name: str, code: str) -> None:
    [error] = dhl.parse(_load(name))
    assert isinstance(error, TrackingError) and error.code == code and error.message


@pytest.mark.parametrize("name", ["auth_error.json", "rate_limited.json", "malformed.json"])
def test_bodies_that_say_nothing_about_the_number_are_carrier_errors(name: str) -> None:
    [error] = dhl.parse(_load(name))
    assert isinstance(error, TrackingError)
    assert (error.tracking_number, error.code) == ("", "carrier_error")


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_code_in_the_fixtures_is_mapped_on_purpose(name: str) -> None:
    body = _load(name)
    assert dhl.unmapped_codes(body) == set()
    for result in dhl.parse(body):
        for event in getattr(result, "events", ()):
            assert dhl.CODES[event.raw_code] == (event.status, event.reason)


def test_an_unknown_status_code_is_reported_and_its_event_left_out() -> None:
    body = json.dumps(
        {
            "shipments": [
                {
                    "id": "X1",
                    "events": [
                        {"timestamp": "2026-11-17T09:00:00+01:00", "statusCode": "in-customs"},
                        {"timestamp": "2026-11-16T09:00:00+01:00", "statusCode": "transit"},
                    ],
                }
            ]
        }
    ).encode()
    assert dhl.unmapped_codes(body) == {"in-customs"}
    [update] = dhl.parse(body)
    assert isinstance(update, ShipmentUpdate)
    assert [e.raw_code for e in update.events] == ["transit"]


def test_every_code_is_a_status_code_or_a_status_code_refined_by_a_rule() -> None:
    rules = {name for name, _ in dhl._RULES}
    for key in dhl.CODES:
        status_code, _, rule = key.partition("/")
        assert status_code in dhl.STATUS_CODES
        assert not rule or rule in rules
    assert set(dhl.CODES) >= dhl.STATUS_CODES


@pytest.mark.parametrize(
    ("status_code", "text", "expected"),
    [
        ("transit", "Shipment picked up", "transit"),
        ("transit", "The shipment has been dropped off at a DHL ServicePoint", "transit"),
        ("transit", "The shipment will be ready for pickup tomorrow", "transit"),
        ("transit", "The packaging was damaged and has been repaired", "transit"),
        ("transit", "Clearance delay - Import", "transit/customs-hold"),
        ("transit", "Die Sendung wurde in das Zustellfahrzeug geladen", "transit/out-for-delivery"),
        ("transit", "Votre colis est disponible en point relais", "transit/pickup-point"),
        ("transit", "The shipment has been brought to the post office", "transit/pickup-point"),
        ("delivered", "The recipient has picked up the shipment from the Packstation", "delivered"),
        (
            "delivered",
            "The shipment has been delivered to the Packstation and is ready for pickup",
            "delivered/pickup-point",
        ),
        ("failure", "Shipment damaged", "failure/damaged"),
        ("failure", "Shipment lost", "failure/lost"),
        ("failure", "Delivery refused by the recipient", "failure/refused"),
        ("failure", "Delivery delayed due to severe weather", "failure/weather"),
        ("failure", "Empfänger nicht angetroffen", "failure/absent"),
        ("failure", "Something went wrong", "failure"),
        ("pre-transit", "Out for delivery", "pre-transit"),  # pre-transit is never refined
        ("unknown", "Out for delivery", "unknown/out-for-delivery"),
    ],
)
def test_keyword_rules(status_code: str, text: str, expected: str) -> None:
    assert dhl.classify(status_code, text) == expected


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502</html>", b"{", b"[]", b"null", b'{"shipments": 3}', b'{"shipments": [7]}',
     b'{"shipments": [{"id": {"a": 1}, "events": "no"}]}',
     b'{"shipments": [{"id": "X", "events": [{"statusCode": "transit", "timestamp": "hier"}]}]}',
     b'{"shipments": [{"id": "X", "events": [{"statusCode": "transit", "timestamp": "2026-11-17"}]}]}',
     b'{"shipments": [{"id": "X", "events": [{"statusCode": "transit", "timestamp": "2026-11-17T09:00:00"}]}]}',
     b'{"shipments": [{"id": "X", "events": [{"statusCode": 5, "timestamp": "2026-11-17T09:00:00+01:00"}]}]}',
     b"[" * 100_000, b"\xff\xfe"],
)  # fmt: skip
def test_bad_carrier_data_never_raises(body: bytes) -> None:
    results = dhl.parse(body)
    assert results
    for result in results:
        assert isinstance(result, ShipmentUpdate | TrackingError)
        if isinstance(result, ShipmentUpdate):
            # no time of day, no zone to be found, or an unknown code: left out, not guessed
            assert result.events == ()


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    dhl.parse(body)
    dhl.unmapped_codes(body)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)
_KEYS = st.sampled_from(
    ["shipments", "id", "service", "events", "status", "statusCode", "timestamp", "description",
     "location", "address", "countryCode", "estimatedTimeOfDelivery", "origin", "destination"]
)  # fmt: skip
_SHAPED = st.recursive(
    st.none() | st.text(max_size=25) | st.integers() | st.sampled_from(sorted(dhl.STATUS_CODES)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=6),
    max_leaves=40,
)


@given(_JSON | _SHAPED)
def test_arbitrary_json_never_raises(data: object) -> None:
    body = json.dumps(data).encode()
    assert dhl.parse(body)
    dhl.unmapped_codes(body)


# --- fetch over HTTP -----------------------------------------------------------------------


@pytest.fixture
def carrier():  # type: ignore[no-untyped-def]
    with FakeCarrier() as fake:
        yield fake


def _account(fake: FakeCarrier, key: str = "dhl-key", timeout: float = 2.0) -> Account:
    return Account(base_url=fake.url, credentials={"api_key": key}, timeout=timeout)


def test_fetch_sends_the_documented_request_and_parses_the_answer(carrier) -> None:  # type: ignore[no-untyped-def]
    carrier.enqueue(Reply(200, _load("delivered.json")))
    [update] = dhl.fetch(["7382645510"], _account(carrier))
    [request] = carrier.requests
    assert (request.method, request.path) == ("GET", "/track/shipments")
    assert request.query == {"trackingNumber": ["7382645510"], "language": ["en"]}
    assert request.headers["dhl-api-key"] == "dhl-key"
    assert isinstance(update, ShipmentUpdate) and update.is_final


def test_an_answer_for_another_id_is_given_the_number_asked(carrier) -> None:  # type: ignore[no-untyped-def]
    # A piece number is answered by its shipment; several divisions may answer one number.
    data = json.loads(_load("in_transit.json"))
    other = dict(data["shipments"][0], id="0000000001", events=[])
    data["shipments"].insert(0, other)
    carrier.enqueue(Reply(200, json.dumps(data).encode()))
    [update] = dhl.fetch(["4527639910"], _account(carrier))
    assert isinstance(update, ShipmentUpdate) and len(update.events) == 6
    carrier.enqueue(Reply(200, _load("delivered.json")))
    [update] = dhl.fetch(["JD014600011239874512"], _account(carrier))
    assert isinstance(update, ShipmentUpdate)
    assert update.tracking_number == "JD014600011239874512"
    assert {e.tracking_number for e in update.events} == {"JD014600011239874512"}


def test_an_unknown_number_answers_404_with_a_problem_body(carrier) -> None:  # type: ignore[no-untyped-def]
    carrier.enqueue(
        Reply(404, _load("unknown_number.json"), content_type="application/problem+json")
    )
    [error] = dhl.fetch(["1234567890"], _account(carrier))
    assert isinstance(error, TrackingError)
    assert (error.tracking_number, error.code) == ("1234567890", "unknown_number")


def test_rate_limited_carries_retry_after(carrier) -> None:  # type: ignore[no-untyped-def]
    carrier.enqueue(Reply(429, _load("rate_limited.json"), {"Retry-After": "60"}))
    with pytest.raises(RateLimited) as caught:
        dhl.fetch(["4527639910"], _account(carrier))
    assert (caught.value.status, caught.value.retry_after) == (429, 60.0)


def test_server_errors_and_cut_connections_are_unavailable(carrier) -> None:  # type: ignore[no-untyped-def]
    carrier.enqueue(Reply(503, b"<html>Service Unavailable</html>", content_type="text/html"))
    with pytest.raises(CarrierUnavailable) as caught:
        dhl.fetch(["4527639910"], _account(carrier))
    assert caught.value.status == 503
    carrier.enqueue(Reply(200, _load("in_transit.json"), truncate=True))
    with pytest.raises(CarrierUnavailable):
        dhl.fetch(["4527639910"], _account(carrier))


def test_a_hanging_carrier_times_out(carrier) -> None:  # type: ignore[no-untyped-def]
    carrier.enqueue(Reply(200, b"{}", delay=1.5))
    with pytest.raises(CarrierUnavailable, match="timeout"):
        dhl.fetch(["4527639910"], _account(carrier, timeout=0.5))


def test_authentication_errors_are_not_retryable(carrier) -> None:  # type: ignore[no-untyped-def]
    carrier.enqueue(Reply(401, _load("auth_error.json")))
    with pytest.raises(AuthenticationFailed) as caught:
        dhl.fetch(["4527639910"], _account(carrier))
    assert not caught.value.retryable
    with pytest.raises(AuthenticationFailed):  # no key: refused before any call
        dhl.fetch(["4527639910"], _account(carrier, key=""))
    assert len(carrier.requests) == 1


def test_wrong_json_gives_an_error_for_the_call_not_an_exception(carrier) -> None:  # type: ignore[no-untyped-def]
    carrier.enqueue(Reply(200, _load("malformed.json")))
    [error] = dhl.fetch(["7382645510"], _account(carrier))
    assert isinstance(error, TrackingError) and (error.tracking_number, error.code) == (
        "",
        "carrier_error",
    )
    carrier.enqueue(Reply(200, b'["not", "an", "object"]'))
    [error] = dhl.fetch(["7382645510"], _account(carrier))
    assert isinstance(error, TrackingError) and error.code == "carrier_error"


def test_one_number_per_call() -> None:
    with pytest.raises(ValueError):
        dhl.fetch(["4527639910", "7382645510"], Account(base_url="http://x"))
    assert dhl.CONNECTOR.max_numbers_per_call == 1
