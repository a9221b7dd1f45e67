"""Every registered connector meets the same contract, on its own recorded fixtures:
the full fixture set exists, every carrier code seen is mapped on purpose, the statuses come
out as named, times keep an offset, and bad bodies give errors instead of exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from suivi.carriers import registry
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError

FIXTURES = Path(__file__).parent / "fixtures"
REQUIRED = {
    "in_transit": {Status.IN_TRANSIT},
    "out_for_delivery": {Status.OUT_FOR_DELIVERY},
    "delivered": {Status.DELIVERED},
    "relay_point": {Status.AVAILABLE_FOR_PICKUP},
    "exception": {Status.EXCEPTION, Status.FAILED_ATTEMPT},
    "unknown_number": set(),
    "auth_error": set(),
    "rate_limited": set(),
    "malformed": set(),
}
CODES = sorted(registry.CONNECTORS)


def _fixtures(code: str) -> dict[str, Path]:
    return {path.stem: path for path in (FIXTURES / code).iterdir() if path.is_file()}


@pytest.mark.parametrize("code", CODES)
def test_every_connector_has_the_full_fixture_set(code: str) -> None:
    assert set(REQUIRED) <= set(_fixtures(code)), sorted(set(REQUIRED) - set(_fixtures(code)))


@pytest.mark.parametrize("code", CODES)
def test_every_code_seen_in_the_fixtures_is_mapped_on_purpose(code: str) -> None:
    connector = registry.CONNECTORS[code]
    for name, path in _fixtures(code).items():
        if name == "malformed":
            continue
        assert connector.unmapped_codes(path.read_bytes()) == set(), name
    assert all(isinstance(status, Status) for status, _reason in connector.codes.values())


@pytest.mark.parametrize("code", CODES)
def test_statuses_offsets_and_errors(code: str) -> None:
    connector = registry.CONNECTORS[code]
    fixtures = _fixtures(code)
    for name, expected in REQUIRED.items():
        results = connector.parse(fixtures[name].read_bytes())
        assert isinstance(results, list), name
        statuses = {
            event.status
            for result in results
            if isinstance(result, ShipmentUpdate)
            for event in result.events
        }
        assert expected <= statuses or expected & statuses, (name, statuses)
        for result in results:
            if isinstance(result, ShipmentUpdate):
                assert all(e.occurred_at.utcoffset() is not None for e in result.events)
                # A customs hold is a customs milestone too, whatever the carrier.
                assert all(
                    e.customs == "held" for e in result.events if e.reason is Reason.CUSTOMS_HOLD
                )
    unknown = connector.parse(fixtures["unknown_number"].read_bytes())
    assert any(isinstance(r, TrackingError) and r.code == "unknown_number" for r in unknown)
    malformed = connector.parse(fixtures["malformed"].read_bytes())
    assert malformed and all(isinstance(r, TrackingError) for r in malformed)


@pytest.mark.parametrize("code", CODES)
def test_connector_identity(code: str) -> None:
    connector = registry.CONNECTORS[code]
    assert connector.code == code and connector.name
    assert connector.max_numbers_per_call >= 1 and connector.requests_per_minute >= 1
    assert connector.default_base_url.startswith("https://")
    assert (connector.parse_push is None) == (connector.verify_push is None)


def test_the_docs_describe_every_connector() -> None:
    page = (Path(__file__).parents[4] / "docs" / "carriers.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"`{code}`" in page, code
