"""Phone numbers: normalised to E.164, invalid ones refused with the field named."""

from __future__ import annotations

import pytest

from suivi.core.errors import InvalidInput
from suivi.core.phones import format_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("06.12.34.56.78", "FR", "+33612345678"),
        ("+33 6 12 34 56 78", "FR", "+33612345678"),
        ("0033612345678", "FR", "+33612345678"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("+44 20 7946 0958", "FR", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+1 415 555 2671", "FR", "+14155552671"),
    ],
)
def test_numbers_are_stored_in_e164(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, default_region=region) == e164


@pytest.mark.parametrize(
    "raw",
    ["", "abc", "0612", "06 12 34 56", "12345678901234567", "+33 6 12 34 56 78 90", "+999 123"],
)
def test_things_that_are_not_valid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_phone(raw, field="customer.phone")
    assert caught.value.field == "customer.phone"
    assert caught.value.status == 422


def test_a_national_number_depends_on_the_region_it_is_read_in() -> None:
    # "020 7946 0958" is a London number read in Great Britain, and nothing valid in France
    assert normalize_phone("020 7946 0958", default_region="GB") == "+442079460958"
    with pytest.raises(InvalidInput):
        normalize_phone("020 7946 0958", default_region="FR")


def test_numbers_are_shown_nationally_at_home_and_internationally_abroad() -> None:
    assert format_phone("+33612345678", region="FR") == "06 12 34 56 78"
    assert format_phone("+33612345678", region="BE") == "+33 6 12 34 56 78"
    assert format_phone("+442079460958", region="FR") == "+44 20 7946 0958"
