"""Mondial Relay WSI2_TracingColisDetaille: parsing of our own fixtures, then fetch over HTTP."""

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
from suivi.carriers.connectors import mondial_relay as mr
from suivi.carriers.testing import FakeCarrier, Reply
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError

FIXTURES = Path(__file__).parent / "fixtures" / "mondial_relay"
SUMMER, WINTER = timedelta(hours=2), timedelta(hours=1)
NUMBER = "31231652"


def _load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _update(name: str) -> ShipmentUpdate:
    [update] = mr.parse(_load(name))
    assert isinstance(update, ShipmentUpdate)
    return update


def _answer(inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
        'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<WSI2_TracingColisDetailleResponse xmlns="{mr.NAMESPACE}">'
        f"<WSI2_TracingColisDetailleResult>{inner}</WSI2_TracingColisDetailleResult>"
        "</WSI2_TracingColisDetailleResponse></soap:Body></soap:Envelope>"
    ).encode()


def _row(
    label: str, date: str, hour: str, place: str = "", relay: str = "", country: str = ""
) -> str:
    return (
        f"<ret_WSI2_sub_TracingColisDetaille><Libelle>{escape(label)}</Libelle>"
        f"<Date>{escape(date)}</Date><Heure>{escape(hour)}</Heure>"
        f"<Emplacement>{escape(place)}</Emplacement><Relais_Num>{escape(relay)}</Relais_Num>"
        f"<Relais_Pays>{escape(country)}</Relais_Pays></ret_WSI2_sub_TracingColisDetaille>"
    )


def _tracing(stat: str, *rows: str, extra: str = "") -> bytes:
    return _answer(f"<STAT>{stat}</STAT>{extra}<Tracing>{''.join(rows)}</Tracing>")


# A DTD the byte check cannot see: only expat's own doctype handler catches it.
UTF16_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode(
        "utf-16"
    )
)

# --- Parsing ----------------------------------------------------------------------------


def test_in_transit_keeps_each_row_with_its_summer_offset() -> None:
    update = _update("in_transit.xml")
    assert not update.is_final and update.tracking_number == ""  # fetch fills the number in
    assert [e.status for e in update.events] == [
        Status.INFO_RECEIVED, Status.IN_TRANSIT, Status.IN_TRANSIT,
    ]  # fmt: skip
    data, drop_off, agency = update.events
    assert (data.raw_code, data.raw_label) == ("RECEPTION DES DONNEES", "RÉCEPTION DES DONNÉES")
    assert data.occurred_at.isoformat() == "2026-07-06T18:22:00+02:00"  # 06/07/26, Paris
    # The sender's drop-off relay is in Belgium: its own zone (the same offset as Paris).
    assert (drop_off.location, drop_off.country) == ("Point Relais 041285 (BE), BRUXELLES", "BE")
    assert drop_off.occurred_at.tzinfo is not None and str(drop_off.occurred_at.tzinfo) == (
        "Europe/Brussels"
    )
    assert (agency.location, agency.country) == ("LILLE", "")
    assert all(e.occurred_at.utcoffset() == SUMMER for e in update.events)


def test_handed_to_the_driver_is_out_for_delivery_in_winter() -> None:
    update = _update("out_for_delivery.xml")
    last = update.events[-1]
    assert (last.raw_code, last.status) == ("COLIS REMIS AU LIVREUR", Status.OUT_FOR_DELIVERY)
    assert last.occurred_at.isoformat() == "2026-01-14T07:31:00+01:00"
    assert all(e.occurred_at.utcoffset() == WINTER for e in update.events)


def test_waiting_at_the_relay_point_is_available_for_pickup() -> None:
    update = _update("relay_point.xml")
    relay = update.events[-1]
    assert relay.status is Status.AVAILABLE_FOR_PICKUP
    assert (
        relay.raw_code == "COLIS DISPONIBLE AU POINT RELAIS"
    )  # "Colis disponible au Point Relais"
    assert (relay.location, relay.country) == (
        "Point Relais 020345 TABAC PRESSE DE LA MAIRIE (FR), PARIS", "FR",
    )  # fmt: skip
    assert relay.occurred_at.isoformat() == "2026-09-22T14:31:00+02:00"
    assert not update.is_final and len(update.events) == 5  # the empty padding rows are skipped


def test_collected_is_delivered_and_final_with_winter_offsets() -> None:
    update = _update("delivered.xml")
    assert update.is_final
    assert [e.status for e in update.events][-2:] == [Status.AVAILABLE_FOR_PICKUP, Status.DELIVERED]
    available, delivered = update.events[-2:]
    # A row without its relay number takes the shipment's destination relay.
    assert available.location == "Point Relais 069112 PHARMACIE DES HALLES (FR), LYON"
    assert delivered.location == "Point Relais 069112 PHARMACIE DES HALLES (FR), LYON"
    assert delivered.occurred_at.isoformat() == "2026-01-13T17:52:00+01:00"
    assert all(e.occurred_at.utcoffset() == WINTER for e in update.events)
    assert not any(e.raw_code == "82" for e in update.events)  # a row already says delivered


def test_an_anomaly_becomes_an_exception_dated_at_the_latest_row() -> None:
    update = _update("exception.xml")
    anomaly = update.events[-1]
    assert (anomaly.raw_code, anomaly.status, anomaly.reason) == (
        "83",
        Status.EXCEPTION,
        Reason.OTHER,
    )
    assert anomaly.raw_label == "COLIS EN ANOMALIE CONTACTEZ VOTRE SERVICE CLIENT"
    assert anomaly.occurred_at == update.events[-2].occurred_at
    assert anomaly.occurred_at.isoformat() == "2026-11-04T06:40:00+01:00"
    assert not update.is_final


def test_stat_82_without_a_delivered_row_is_still_delivered() -> None:
    body = _tracing(
        "82",
        _row("DISPONIBLE AU POINT RELAIS", "10/08/26", "09:15", "NICE", "006210", "FR"),
        extra="<Libelle01>COLIS LIVRÉ</Libelle01><Relais_Num>006210</Relais_Num>",
    )
    [update] = mr.parse(body)
    assert isinstance(update, ShipmentUpdate) and update.is_final
    stated = update.events[-1]
    assert (stated.raw_code, stated.status, stated.raw_label) == (
        "82",
        Status.DELIVERED,
        "COLIS LIVRÉ",
    )
    assert stated.occurred_at.isoformat() == "2026-08-10T09:15:00+02:00"
    assert (stated.location, stated.country) == ("Point Relais 006210 (FR)", "FR")
    # No dated row: no time to give the outcome, so no event — but the shipment is closed.
    [bare] = mr.parse(_tracing("82"))
    assert isinstance(bare, ShipmentUpdate) and bare.events == () and bare.is_final


@pytest.mark.parametrize(
    ("name", "code"),
    [("unknown_number.xml", "unknown_number"), ("invalid_number.xml", "invalid_number"),
     ("auth_error.xml", "carrier_error")],
)  # fmt: skip
def test_error_stats_are_errors_for_the_number(name: str, code: str) -> None:
    [error] = mr.parse(_load(name))
    assert isinstance(error, TrackingError) and error.code == code
    assert error.message.startswith("STAT ")


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.xml")))
def test_every_code_in_the_fixtures_is_mapped_on_purpose(name: str) -> None:
    assert mr.unmapped_codes(_load(name)) == set()


def test_unknown_labels_and_stats_are_reported() -> None:
    body = _tracing(
        "87",  # reserved tracing code: the rows are read, the STAT is reported
        _row("COLIS EN COURS DE RETOUR", "01/02/26", "10:00"),
        _row("PRISE EN CHARGE EN AGENCE", "01/02/26", "08:00", "LILLE"),
    )
    assert mr.unmapped_codes(body) == {"87", "COLIS EN COURS DE RETOUR"}
    [update] = mr.parse(body)
    assert isinstance(update, ShipmentUpdate)
    assert [e.raw_code for e in update.events] == ["PRISE EN CHARGE EN AGENCE"]
    unknown_stat = _tracing("55")
    assert mr.unmapped_codes(unknown_stat) == {"55"}
    [error] = mr.parse(unknown_stat)
    assert isinstance(error, TrackingError) and error.code == "carrier_error"


def test_every_documented_tracing_stat_is_mapped() -> None:
    assert set(mr.STATS) == {"80", "81", "82", "83"}
    assert set(mr.RESERVED_STATS) == {"84", "85", "86", "87", "88", "89"}
    assert {"24", "91", "94", "97"} <= set(mr.ERROR_STATS)
    assert mr.STATS["81"][0] is Status.IN_TRANSIT  # the rows tell in transit from at-the-relay


def test_labels_are_folded_to_their_code() -> None:
    assert mr.label_key("  Colis  livré. ") == "COLIS LIVRE"
    assert mr.label_key("Réception des données") == "RECEPTION DES DONNEES"


def test_paris_time_in_summer_and_winter_and_two_digit_or_four_digit_years() -> None:
    body = _tracing(
        "81",
        _row("PRISE EN CHARGE EN AGENCE", "15/07/26", "12:00"),
        _row("PRISE EN CHARGE EN AGENCE", "15/01/2026", "12:00"),
        _row("PRISE EN CHARGE EN AGENCE", "29/03/26", "02:30"),  # in the spring-forward gap
        _row("PRISE EN CHARGE EN AGENCE", "32/01/26", "12:00"),
        _row("PRISE EN CHARGE EN AGENCE", "15/01/26", ""),
    )
    [update] = mr.parse(body)
    assert isinstance(update, ShipmentUpdate)
    offsets = [e.occurred_at.utcoffset() for e in update.events]
    # The gap time is the carrier's: kept, with the offset in force just before the change.
    assert offsets == [SUMMER, WINTER, WINTER]  # the impossible day and the missing hour: out


@pytest.mark.parametrize(
    "body",
    [b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>',
     b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://127.0.0.1/x.dtd"><a/>',
     UTF16_DOCTYPE],
)  # fmt: skip
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    [error] = mr.parse(body)
    assert isinstance(error, TrackingError) and "refused" in error.message


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502</html>", b"<a", b"\xff\xfe", b"<" * 100_000, _load("malformed.xml"),
     _load("rate_limited.html"), _answer(""), _answer("<STAT>81</STAT><Tracing>x</Tracing>"),
     _answer("<STAT>81</STAT><Tracing><ret_WSI2_sub_TracingColisDetaille/></Tracing>"),
     _tracing("81", _row("COLIS LIVRÉ", "hier", "midi")), _tracing("83"),
     _answer("<STAT><b>81</b></STAT>"),
     b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
     b"<soap:Fault><faultstring>Server was unable to process request.</faultstring></soap:Fault>"
     b"</soap:Body></soap:Envelope>"],
)  # fmt: skip
def test_bad_carrier_data_never_raises(body: bytes) -> None:
    results = mr.parse(body)
    assert results and all(isinstance(r, ShipmentUpdate | TrackingError) for r in results)
    for result in results:
        if isinstance(result, ShipmentUpdate):
            assert result.events == ()  # nothing readable is never guessed
    mr.unmapped_codes(body)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    mr.parse(body)
    mr.unmapped_codes(body)


@given(st.text(max_size=300))
def test_arbitrary_text_in_the_envelope_never_raises(inner: str) -> None:
    body = _answer(inner)
    mr.parse(body)
    mr.unmapped_codes(body)


_field = st.text(max_size=20)


@given(
    st.sampled_from([*mr.STATS, *mr.ERROR_STATS, "0", "87", ""]) | _field,
    st.lists(
        st.tuples(
            st.sampled_from(["COLIS LIVRÉ", "Disponible au Point Relais", ""]) | _field,
            st.sampled_from(["01/02/26", "31/12/2026"]) | _field,
            st.sampled_from(["10:00", "23:59"]) | _field,
            _field,
            _field,
            st.sampled_from(["FR", "BE", "ES", ""]) | _field,
        ),
        max_size=5,
    ),
)
def test_arbitrary_answers_never_raise(stat: str, rows: list[tuple[str, ...]]) -> None:
    body = _tracing(escape(stat), *(_row(*row) for row in rows))
    for result in mr.parse(body):
        assert isinstance(result, ShipmentUpdate | TrackingError)
    mr.unmapped_codes(body)


# --- Request and fetch over HTTP --------------------------------------------------------


def test_the_security_key_is_the_uppercase_md5_of_the_parameters_and_the_key() -> None:
    # Computed independently: printf '%s' BDTEST1331231652FRPrivateK | md5sum
    assert mr.security_key("BDTEST13", NUMBER, "FR", "PrivateK") == (
        "22F9780CFE4FD28C01A788C5DBA30C8A"
    )


@pytest.fixture
def carrier() -> Iterator[FakeCarrier]:
    with FakeCarrier() as fake:
        yield fake


def _account(fake: FakeCarrier, key: str = "PrivateK", timeout: float = 2.0) -> Account:
    return Account(
        base_url=fake.url,
        credentials={"enseigne": "BDTEST13", "private_key": key},
        timeout=timeout,
    )


def _xml(name: str, status: int = 200) -> Reply:
    return Reply(status, _load(name), content_type="text/xml; charset=utf-8")


def test_fetch_sends_the_signed_soap_request(carrier: FakeCarrier) -> None:
    carrier.enqueue(_xml("relay_point.xml"))
    [update] = mr.fetch([NUMBER], _account(carrier))
    [request] = carrier.requests
    assert (request.method, request.path) == ("POST", "/Web_Services.asmx")
    assert (
        request.headers["soapaction"]
        == '"http://www.mondialrelay.fr/webservice/WSI2_TracingColisDetaille"'
    )
    assert request.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(request.body)  # noqa: S314 — our own request
    call = root.find(f".//{{{mr.NAMESPACE}}}WSI2_TracingColisDetaille")
    assert call is not None
    assert [(el.tag.split("}")[1], el.text) for el in call] == [
        ("Enseigne", "BDTEST13"), ("Expedition", NUMBER), ("Langue", "FR"),
        ("Security", "22F9780CFE4FD28C01A788C5DBA30C8A"),
    ]  # fmt: skip
    assert isinstance(update, ShipmentUpdate) and update.tracking_number == NUMBER
    assert {e.tracking_number for e in update.events} == {NUMBER}


def test_request_values_are_escaped() -> None:
    root = ElementTree.fromstring(mr.request_envelope("A&B<", "1</Expedition>", "k"))  # noqa: S314
    texts = {el.tag.split("}")[1]: el.text for el in root.iter()}
    assert (texts["Enseigne"], texts["Expedition"]) == ("A&B<", "1</Expedition>")


def test_an_unknown_number_is_an_error_for_that_number(carrier: FakeCarrier) -> None:
    carrier.enqueue(_xml("unknown_number.xml"))
    [error] = mr.fetch(["00000000"], _account(carrier))
    assert isinstance(error, TrackingError)
    assert (error.tracking_number, error.code) == ("00000000", "unknown_number")


@pytest.mark.parametrize("stat", ["97", "95", "1", "2"])
def test_a_refused_account_or_key_is_an_authentication_failure(
    carrier: FakeCarrier, stat: str
) -> None:
    carrier.enqueue(Reply(200, _tracing(stat), content_type="text/xml"))
    with pytest.raises(AuthenticationFailed, match=f"STAT {stat}") as caught:
        mr.fetch([NUMBER], _account(carrier, key="wrong"))
    assert not caught.value.retryable


@pytest.mark.parametrize("stat", ["90", "98"])
def test_a_service_down_stat_is_unavailable(carrier: FakeCarrier, stat: str) -> None:
    carrier.enqueue(Reply(200, _tracing(stat), content_type="text/xml"))
    with pytest.raises(CarrierUnavailable):
        mr.fetch([NUMBER], _account(carrier))


def test_missing_credentials_are_refused_before_any_call(carrier: FakeCarrier) -> None:
    with pytest.raises(AuthenticationFailed):
        mr.fetch([NUMBER], _account(carrier, key=""))
    assert carrier.requests == []


def test_http_failures(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(429, _load("rate_limited.html"), {"Retry-After": "90"}, "text/html"))
    with pytest.raises(RateLimited) as limited:
        mr.fetch([NUMBER], _account(carrier))
    assert limited.value.retry_after == 90.0
    carrier.enqueue(Reply(401, b"Unauthorized", content_type="text/plain"))
    with pytest.raises(AuthenticationFailed):
        mr.fetch([NUMBER], _account(carrier))
    fault = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Server was unable to "
        b"process request.</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    )
    carrier.enqueue(Reply(500, fault, content_type="text/xml"))
    with pytest.raises(CarrierUnavailable):
        mr.fetch([NUMBER], _account(carrier))
    carrier.enqueue(Reply(503, b"maintenance", {"Retry-After": "300"}, "text/plain"))
    with pytest.raises(CarrierUnavailable) as unavailable:
        mr.fetch([NUMBER], _account(carrier))
    assert unavailable.value.retry_after == 300.0


def test_cut_connections_and_hangs_are_unavailable(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(200, _load("delivered.xml"), truncate=True, content_type="text/xml"))
    with pytest.raises(CarrierUnavailable):
        mr.fetch([NUMBER], _account(carrier))
    carrier.enqueue(Reply(200, _load("delivered.xml"), delay=1.5, content_type="text/xml"))
    with pytest.raises(CarrierUnavailable, match="timeout"):
        mr.fetch([NUMBER], _account(carrier, timeout=0.5))


@pytest.mark.parametrize("body", [_load("malformed.xml"), b"{}", b"<a/>"])
def test_wrong_xml_is_an_error_for_the_number(carrier: FakeCarrier, body: bytes) -> None:
    carrier.enqueue(Reply(200, body, content_type="text/xml"))
    [error] = mr.fetch([NUMBER], _account(carrier))
    assert isinstance(error, TrackingError)
    assert (error.tracking_number, error.code) == (NUMBER, "carrier_error")


def test_exactly_one_number_per_call() -> None:
    account = Account(
        base_url="http://127.0.0.1:9", credentials={"enseigne": "a", "private_key": "b"}
    )
    with pytest.raises(ValueError):
        mr.fetch([NUMBER, "31231653"], account)
    with pytest.raises(ValueError):
        mr.fetch([], account)
    assert mr.CONNECTOR.max_numbers_per_call == 1


def test_the_connector_declares_its_settings() -> None:
    assert mr.CONNECTOR.code == "mondial_relay"
    assert mr.CONNECTOR.credential_names == ("enseigne", "private_key")
    assert mr.CONNECTOR.codes is mr.CODES
    assert mr.CONNECTOR.public_url(NUMBER).endswith(f"numeroExpedition={NUMBER}")
