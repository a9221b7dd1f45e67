"""The harmless call of a carrier account's test: one probe number per connector."""

from __future__ import annotations

import pytest

from suivi.carriers import check, registry
from suivi.carriers.base import Account, AuthenticationFailed
from suivi.carriers.testing import FakeCarrier, Reply
from suivi.carriers.vocabulary import TrackingError


def test_every_connector_has_a_probe_number() -> None:
    assert set(check.PROBE_NUMBERS) >= set(registry.CONNECTORS)
    assert check.probe_number("colissimo") == check.PROBE_NUMBERS["laposte"]


def test_a_carrier_without_connector_cannot_be_checked() -> None:
    assert not check.supported("other")
    with pytest.raises(LookupError):
        check.check("other", Account(base_url="http://127.0.0.1:9"))


def test_the_check_asks_about_the_probe_number_and_raises_refusals() -> None:
    with FakeCarrier() as fake:
        fake.enqueue(
            Reply(
                404, b'{"returnCode":404,"returnMessage":"Numero inconnu","idShip":"6A00000000000"}'
            ),
            Reply(401, b"{}"),
        )
        account = Account(base_url=fake.url, credentials={"api_key": "k"}, timeout=2.0)
        [result] = check.check("laposte", account)
        assert isinstance(result, TrackingError) and result.code == "unknown_number"
        assert fake.requests[0].path == "/suivi/v2/idships/6A00000000000"
        with pytest.raises(AuthenticationFailed):
            check.check("laposte", account)
