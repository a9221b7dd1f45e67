"""La Poste Suivi v2 parsing on recorded response shapes: statuses, offsets kept, errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suivi.carriers.connectors import laposte
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError

FIXTURES = Path(__file__).parent / "fixtures" / "laposte"


def _load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_a_delivered_parcel_keeps_every_step_and_its_offsets() -> None:
    [update] = laposte.parse(_load("delivered.json"))
    assert isinstance(update, ShipmentUpdate) and update.is_final
    assert [e.raw_code for e in update.events] == ["DI1", "MD2", "ET1", "PC1", "DR1"]
    assert [e.status for e in update.events] == [
        Status.DELIVERED, Status.OUT_FOR_DELIVERY, Status.IN_TRANSIT, Status.IN_TRANSIT,
        Status.INFO_RECEIVED,
    ]  # fmt: skip
    delivered = update.events[0]
    assert delivered.occurred_at.utcoffset() == timedelta(hours=1)  # never turned into Z
    assert delivered.occurred_at.isoformat() == "2026-11-18T11:02:00+01:00"
    assert delivered.raw_label == "Votre colis est livré."


def test_et1_is_in_transit_not_out_for_delivery() -> None:
    assert laposte.CODES["ET1"] == (Status.IN_TRANSIT, Reason.NONE)
    assert laposte.CODES["MD2"][0] is Status.OUT_FOR_DELIVERY


def test_a_multi_status_answer_gives_each_number_its_own_result() -> None:
    customs, relay, unknown = laposte.parse(_load("multi_207.json"))
    assert isinstance(customs, ShipmentUpdate)
    held = customs.events[0]
    assert (held.status, held.reason, held.country) == (Status.EXCEPTION, Reason.CUSTOMS_HOLD, "CA")
    assert held.occurred_at.utcoffset() == timedelta(hours=-5)  # the destination's local time
    assert customs.estimated_delivery is not None
    assert isinstance(relay, ShipmentUpdate)
    assert [e.status for e in relay.events] == [Status.AVAILABLE_FOR_PICKUP, Status.FAILED_ATTEMPT]
    assert isinstance(unknown, TrackingError)
    assert (unknown.tracking_number, unknown.code) == ("6A00000000000", "unknown_number")


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_code_in_the_fixtures_is_mapped_on_purpose(name: str) -> None:
    assert laposte.unmapped_codes(_load(name)) == set()


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502 Bad Gateway</html>", b"{", b"[1, 2]", b'{"returnCode": 200, "shipment": 3}',
     b'{"returnCode": 200, "shipment": {"idShip": "X", "event": [{"code": "DI1", "date": "hier"}]}}',
     b'{"returnCode": 200, "shipment": {"idShip": "X", "event": [{"code": "DI1", "date": "2026-11-18T11:02:00"}]}}',
     b'{"returnCode": 200, "shipment": {"idShip": "X", "event": [{"code": "ZZ9", "date": "2026-11-18T11:02:00+01:00"}]}}',
     b"[" * 100_000, b"\xff\xfe"],
)  # fmt: skip
def test_bad_carrier_data_never_raises(body: bytes) -> None:
    results = laposte.parse(body)
    assert results
    for result in results:
        assert isinstance(result, ShipmentUpdate | TrackingError)
        if isinstance(result, ShipmentUpdate):
            # a time without offset or an unknown code is left out, never guessed
            assert result.events == ()


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    laposte.parse(body)


def test_every_documented_code_is_mapped() -> None:
    documented = {
        "DR1", "PC1", "PC2", "ET1", "ET2", "ET3", "ET4", "EP1", "DO1", "DO2", "DO3", "PB1",
        "PB2", "MD2", "ND1", "AG1", "RE1", "DI1", "DI2",
    }  # fmt: skip
    assert set(laposte.CODES) == documented
