"""DPD ParcelLifeCycleService: parsing of our own fixtures, then fetch over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suivi.carriers.base import (
    Account,
    AuthenticationFailed,
    CarrierUnavailable,
    RateLimited,
)
from suivi.carriers.connectors import dpd
from suivi.carriers.testing import FakeCarrier, Recorded, Reply
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError

FIXTURES = Path(__file__).parent / "fixtures" / "dpd"
SUMMER, WINTER = timedelta(hours=2), timedelta(hours=1)
NUMBER = "05308801410058"


def _load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _update(name: str) -> ShipmentUpdate:
    [update] = dpd.parse(_load(name))
    assert isinstance(update, ShipmentUpdate)
    return update


def _error(name: str) -> TrackingError:
    [error] = dpd.parse(_load(name))
    assert isinstance(error, TrackingError)
    return error


def _soap(inner: str) -> bytes:
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<getTrackingDataResponse xmlns="{dpd.NS_TRACKING}"><trackingresult>{inner}'
        "</trackingresult></getTrackingDataResponse></soap:Body></soap:Envelope>"
    ).encode()


def _info(status: str, date: str, location: str = "Lille (FR)", reached: str = "true") -> str:
    return (
        f"<statusInfo><status>{escape(status)}</status>"
        f"<statusHasBeenReached>{escape(reached)}</statusHasBeenReached>"
        f"<location><content>{escape(location)}</content></location>"
        f"<date><content>{escape(date)}</content></date></statusInfo>"
    )


# A DTD the byte check cannot see: only expat's own doctype handler catches it.
UTF16_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode(
        "utf-16"
    )
)

# --- Parsing ----------------------------------------------------------------------------


def test_a_parcel_in_transit_keeps_its_steps_and_summer_offsets() -> None:
    update = _update("in_transit.xml")
    assert update.tracking_number == "" and not update.is_final  # fetch fills the number in
    assert [e.raw_code for e in update.events] == [
        "PickedUp",
        "BetweenDepots",
        "BetweenDepots",
        "Depot",
    ]
    assert {e.status for e in update.events} == {Status.IN_TRANSIT}
    first = update.events[0]
    assert first.occurred_at.isoformat() == "2026-07-14T16:12:37+02:00"  # 4:12:37 PM, Brussels
    assert (first.location, first.country, first.raw_label) == (
        "Aalst (BE)", "BE", "DPD has received your parcel.",
    )  # fmt: skip
    assert update.events[-1].country == "FR"
    assert all(e.occurred_at.utcoffset() == SUMMER for e in update.events)
    assert update.carrier_product == "DPD CLASSIC"


def test_depot_is_in_transit_and_courier_is_out_for_delivery_in_winter() -> None:
    update = _update("out_for_delivery.xml")
    assert [e.status for e in update.events][-2:] == [Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY]
    assert update.events[-1].occurred_at.isoformat() == "2026-01-20T07:44:03+01:00"
    assert all(e.occurred_at.utcoffset() == WINTER for e in update.events)


def test_a_parcel_at_a_pickup_shop_is_available_for_pickup() -> None:
    update = _update("relay_point.xml")
    shop = update.events[-1]
    assert (shop.raw_code, shop.status, shop.location) == (
        "ParcelShop", Status.AVAILABLE_FOR_PICKUP, "Lille (FR)",
    )  # fmt: skip
    assert shop.occurred_at.isoformat() == "2026-10-06T11:27:58+02:00"
    assert update.carrier_product == "DPD PARCELSHOP DELIVERY" and not update.is_final


def test_collected_from_the_shop_is_delivered_and_final() -> None:
    update = _update("collected.xml")
    assert [e.status for e in update.events] == [
        Status.IN_TRANSIT, Status.AVAILABLE_FOR_PICKUP, Status.DELIVERED,
    ]  # fmt: skip
    assert update.is_final


def test_dpd_germany_milestones_read_day_first() -> None:
    update = _update("delivered.xml")
    assert [e.raw_code for e in update.events] == [
        "ACCEPTED", "AT_SENDING_DEPOT", "ON_THE_ROAD", "AT_DELIVERY_DEPOT", "DELIVERED",
    ]  # fmt: skip
    assert update.events[-1].status is Status.DELIVERED and update.is_final
    assert update.events[0].occurred_at.isoformat() == "2026-03-02T17:05:00+01:00"  # 2 March
    assert update.events[3].status is Status.IN_TRANSIT  # at the depot is not on the road


def test_milestones_not_reached_yet_are_never_events() -> None:
    update = _update("milestones_partial.xml")
    assert [e.raw_code for e in update.events] == ["ACCEPTED", "AT_SENDING_DEPOT"]
    assert not update.is_final
    assert all(e.occurred_at.utcoffset() == SUMMER for e in update.events)


def test_a_failed_attempt_stays_a_failed_attempt_back_at_the_depot() -> None:
    update = _update("exception.xml")
    failure, back = update.events[-2:]
    assert (failure.status, failure.reason) == (Status.FAILED_ATTEMPT, Reason.OTHER)
    assert (back.raw_code, back.status) == ("ReturningFromDelivery", Status.FAILED_ATTEMPT)
    assert back.occurred_at.isoformat() == "2026-12-02T18:40:33+01:00"
    assert dpd.CODES["ReturningFromDelivery"][0] is not Status.OUT_FOR_DELIVERY


def test_an_empty_tracking_result_is_an_unknown_number() -> None:
    error = _error("unknown_number.xml")
    assert error.code == "unknown_number"


def test_an_authentication_fault_is_an_error_when_parsed_alone() -> None:
    error = _error("auth_error.xml")
    assert error.code == "carrier_error" and "DELICOM_ERR_AUTHENTICATION" in error.message


def test_a_fault_with_detail_is_an_error_for_the_number() -> None:
    body = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Fault occured</faultstring>"
        f'<detail><ns:faults xmlns:ns="{dpd.NS_TRACKING}"><faultCode>ERR_PARCEL</faultCode>'
        "<message>parcelLabelNumber is not valid</message></ns:faults></detail></soap:Fault>"
        "</soap:Body></soap:Envelope>"
    ).encode()
    [error] = dpd.parse(body)
    assert isinstance(error, TrackingError)
    assert (error.code, error.message) == (
        "carrier_error",
        "ERR_PARCEL: parcelLabelNumber is not valid",
    )


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.xml")))
def test_every_code_in_the_fixtures_is_mapped_on_purpose(name: str) -> None:
    assert dpd.unmapped_codes(_load(name)) == set()


def test_an_unknown_code_is_reported_and_left_out() -> None:
    body = _soap(
        _info("ReturnedToSender", "3/2/2026 9:00:00 AM") + _info("Depot", "3/2/2026 8:00:00 AM")
    )
    assert dpd.unmapped_codes(body) == {"ReturnedToSender"}
    [update] = dpd.parse(body)
    assert isinstance(update, ShipmentUpdate)
    assert [e.raw_code for e in update.events] == ["Depot"]


def test_the_location_country_gives_the_offset_and_brussels_is_the_fallback() -> None:
    body = _soap(
        _info("Depot", "7/1/2026 9:00:00 AM", "Porto (PT)")  # PT has no single zone: Brussels
        + _info("Depot", "7/1/2026 9:00:00 AM", "Dublin (IE)")
        + _info("Depot", "7/1/2026 9:00:00 AM", "Somewhere")
        + _info("Depot", "2026-07-01T09:00:00+03:00")
        + _info("Depot", "yesterday")
    )
    [update] = dpd.parse(body)
    assert isinstance(update, ShipmentUpdate)
    assert [e.occurred_at.isoformat() for e in update.events] == [
        "2026-07-01T09:00:00+02:00", "2026-07-01T09:00:00+01:00", "2026-07-01T09:00:00+02:00",
        "2026-07-01T09:00:00+03:00",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>',
     b'<?xml version="1.0"?><!doctype a SYSTEM "file:///etc/passwd"><a/>',
     UTF16_DOCTYPE],
)  # fmt: skip
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    [error] = dpd.parse(body)
    assert isinstance(error, TrackingError) and "refused" in error.message
    assert dpd.unmapped_codes(body) == set()


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502 Bad Gateway</html>", b"<a", b"\xff\xfe", b"<" * 100_000,
     b'<?xml version="1.0" encoding="x-unknown"?><a/>', _load("malformed.xml"),
     _load("rate_limited.html"), _load("login.xml"), _soap("<statusInfo/>"),
     _soap("<statusInfo><status>Delivered</status></statusInfo>"),
     _soap(_info("Delivered", "31/31/2026 99:99:99 PM")),
     _soap("<statusInfo><status><b>x</b></status><date>nested</date></statusInfo>")],
)  # fmt: skip
def test_bad_carrier_data_never_raises(body: bytes) -> None:
    results = dpd.parse(body)
    assert results and all(isinstance(r, ShipmentUpdate | TrackingError) for r in results)
    for result in results:
        if isinstance(result, ShipmentUpdate):
            assert result.events == ()  # nothing readable is never guessed
    dpd.unmapped_codes(body)


def test_a_time_without_a_zone_is_localised_not_guessed_as_utc() -> None:
    [update] = dpd.parse(_soap(_info("Delivered", "2026-07-01T09:00:00", location="")))
    assert isinstance(update, ShipmentUpdate)
    assert update.events[0].occurred_at.utcoffset() == SUMMER


@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    dpd.parse(body)
    dpd.unmapped_codes(body)


@given(st.text(max_size=300))
def test_arbitrary_text_in_the_envelope_never_raises(inner: str) -> None:
    body = _soap(inner)
    dpd.parse(body)
    dpd.unmapped_codes(body)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([*dpd.CODES, "Other"]) | st.text(max_size=20),
            st.sampled_from(["8/17/2021 7:11:26 PM", "17/08/2021, 19:11"]) | st.text(max_size=25),
            st.text(max_size=25),
            st.sampled_from(["true", "false"]) | st.text(max_size=5),
        ),
        max_size=5,
    )
)
def test_arbitrary_status_entries_never_raise(entries: list[tuple[str, str, str, str]]) -> None:
    body = _soap(
        "".join(_info(code, date, place, reached) for code, date, place, reached in entries)
    )
    for result in dpd.parse(body):
        assert isinstance(result, ShipmentUpdate | TrackingError)
    dpd.unmapped_codes(body)


# --- Fetch over HTTP --------------------------------------------------------------------

TOKEN = "Zm9yLXN1aXZpLXRlc3RzLW9ubHktbm90LWEtcmVhbC10b2tlbg"


@pytest.fixture
def carrier() -> Iterator[FakeCarrier]:
    dpd.TOKENS.clear()
    with FakeCarrier() as fake:
        yield fake
    dpd.TOKENS.clear()


def _account(fake: FakeCarrier, given: str = "pa55word", timeout: float = 2.0) -> Account:
    return Account(
        base_url=fake.url,
        credentials={"delis_id": "SUIVI01", "password": given},
        timeout=timeout,
    )


def _serve(fake: FakeCarrier, tracking: Reply) -> None:
    def route(request: Recorded) -> Reply:
        if request.path == dpd.LOGIN_PATH:
            return Reply(200, _load("login.xml"), content_type="text/xml")
        return tracking

    fake.route = route


def _xml_reply(name: str, status: int = 200) -> Reply:
    return Reply(status, _load(name), content_type="text/xml; charset=utf-8")


def _fields(body: bytes) -> dict[str, str]:
    root = ElementTree.fromstring(body)  # noqa: S314 — our own request
    return {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}


def test_fetch_logs_in_then_asks_for_the_number(carrier: FakeCarrier) -> None:
    _serve(carrier, _xml_reply("relay_point.xml"))
    [update] = dpd.fetch([NUMBER], _account(carrier))
    login, tracking = carrier.requests
    assert (login.method, login.path) == ("POST", "/soap/services/LoginService/V2_1")
    assert login.headers["soapaction"] == f"{dpd.NS_LOGIN}/getAuth"
    assert login.headers["content-type"].startswith("text/xml")
    sent = _fields(login.body)
    assert (sent["delisId"], sent["password"], sent["messageLanguage"]) == (
        "SUIVI01", "pa55word", "en_EN",
    )  # fmt: skip
    assert tracking.path == "/soap/services/ParcelLifeCycleService/V2_0"
    assert tracking.headers["soapaction"] == f"{dpd.NS_TRACKING}/getTrackingData"
    fields = _fields(tracking.body)
    assert (fields["authToken"], fields["delisId"], fields["parcelLabelNumber"]) == (
        TOKEN, "SUIVI01", NUMBER,
    )  # fmt: skip
    assert isinstance(update, ShipmentUpdate) and update.tracking_number == NUMBER
    assert {e.tracking_number for e in update.events} == {NUMBER}


def test_request_values_are_escaped() -> None:
    body = dpd.tracking_envelope("A&B", "t<k", "1</parcelLabelNumber>")
    fields = _fields(body)
    assert (fields["delisId"], fields["authToken"], fields["parcelLabelNumber"]) == (
        "A&B", "t<k", "1</parcelLabelNumber>",
    )  # fmt: skip


def test_the_token_is_reused(carrier: FakeCarrier) -> None:
    _serve(carrier, _xml_reply("in_transit.xml"))
    dpd.fetch([NUMBER], _account(carrier))
    dpd.fetch(["05308801410059"], _account(carrier))
    assert [r.path for r in carrier.requests].count(dpd.LOGIN_PATH) == 1


def test_an_expired_cached_token_is_renewed_once(carrier: FakeCarrier) -> None:
    _serve(carrier, _xml_reply("in_transit.xml"))
    dpd.fetch([NUMBER], _account(carrier))
    carrier.enqueue(_xml_reply("auth_error.xml", status=500))  # DPD faults come with 500
    [update] = dpd.fetch([NUMBER], _account(carrier))
    assert isinstance(update, ShipmentUpdate)
    assert [r.path for r in carrier.requests].count(dpd.LOGIN_PATH) == 2


def test_a_refused_fresh_token_is_not_retried(carrier: FakeCarrier) -> None:
    _serve(carrier, _xml_reply("auth_error.xml", status=500))
    with pytest.raises(AuthenticationFailed) as caught:
        dpd.fetch([NUMBER], _account(carrier))
    assert not caught.value.retryable
    assert len(carrier.requests) == 2


def test_a_refused_login_is_an_authentication_failure(carrier: FakeCarrier) -> None:
    carrier.enqueue(_xml_reply("auth_error.xml", status=500))
    with pytest.raises(AuthenticationFailed, match="DELICOM_ERR_AUTHENTICATION"):
        dpd.fetch([NUMBER], _account(carrier))
    assert len(carrier.requests) == 1


def test_missing_credentials_are_refused_before_any_call(carrier: FakeCarrier) -> None:
    with pytest.raises(AuthenticationFailed):
        dpd.fetch([NUMBER], _account(carrier, given=""))
    assert carrier.requests == []


def test_an_unknown_number_is_an_error_for_that_number(carrier: FakeCarrier) -> None:
    _serve(carrier, _xml_reply("unknown_number.xml"))
    [error] = dpd.fetch([NUMBER], _account(carrier))
    assert isinstance(error, TrackingError)
    assert (error.tracking_number, error.code) == (NUMBER, "unknown_number")


def test_rate_limited_carries_retry_after(carrier: FakeCarrier) -> None:
    _serve(carrier, Reply(429, _load("rate_limited.html"), {"Retry-After": "30"}, "text/html"))
    with pytest.raises(RateLimited) as caught:
        dpd.fetch([NUMBER], _account(carrier))
    assert caught.value.retry_after == 30.0


BARE_FAULT = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>NullPointerException"
    b"</faultstring></soap:Fault></soap:Body></soap:Envelope>"
)


@pytest.mark.parametrize(
    "reply",
    [Reply(503, b"maintenance", {"Retry-After": "60"}, "text/plain"),
     Reply(500, b"<html>Internal error</html>", content_type="text/html"),
     Reply(500, BARE_FAULT, content_type="text/xml")],
)  # fmt: skip
def test_server_failures_are_unavailable(carrier: FakeCarrier, reply: Reply) -> None:
    _serve(carrier, reply)
    with pytest.raises(CarrierUnavailable):
        dpd.fetch([NUMBER], _account(carrier))


def test_a_failing_login_service_is_unavailable(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(200, b"<a>no token here</a>", content_type="text/xml"))
    with pytest.raises(CarrierUnavailable):
        dpd.fetch([NUMBER], _account(carrier))


def test_cut_connections_and_hangs_are_unavailable(carrier: FakeCarrier) -> None:
    _serve(carrier, Reply(200, _load("delivered.xml"), truncate=True, content_type="text/xml"))
    with pytest.raises(CarrierUnavailable):
        dpd.fetch([NUMBER], _account(carrier))
    _serve(carrier, Reply(200, _load("delivered.xml"), delay=1.5, content_type="text/xml"))
    with pytest.raises(CarrierUnavailable, match="timeout"):
        dpd.fetch([NUMBER], _account(carrier, timeout=0.5))


@pytest.mark.parametrize("body", [_load("malformed.xml"), b"{}", b"<a/>"])
def test_wrong_xml_is_an_error_for_the_number(carrier: FakeCarrier, body: bytes) -> None:
    _serve(carrier, Reply(200, body, content_type="text/xml"))
    [error] = dpd.fetch([NUMBER], _account(carrier))
    assert isinstance(error, TrackingError)
    assert (error.tracking_number, error.code) == (NUMBER, "carrier_error")


def test_exactly_one_number_per_call() -> None:
    account = Account(base_url="http://127.0.0.1:9", credentials={"delis_id": "a", "password": "b"})
    with pytest.raises(ValueError):
        dpd.fetch([NUMBER, "05308801410059"], account)
    with pytest.raises(ValueError):
        dpd.fetch([], account)
    assert dpd.CONNECTOR.max_numbers_per_call == 1


def test_the_connector_declares_its_settings() -> None:
    assert dpd.CONNECTOR.code == "dpd"
    assert dpd.CONNECTOR.credential_names == ("delis_id", "password")
    assert dpd.CONNECTOR.public_url(NUMBER).endswith(f"/parcel/{NUMBER}")
