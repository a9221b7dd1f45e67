"""Carrier detection from the number alone: formats are data, each with examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suivi.carriers.detection import (
    _MOD37_ALPHABET,
    FORMATS,
    detect,
    gs1_mod10,
    iso7064_mod37_36,
    s10_valid,
)

VALID = [(f.name, n) for f in FORMATS for n in f.valid_examples]
INVALID = [(f.name, n) for f in FORMATS for n in f.invalid_examples]


@pytest.mark.parametrize(("format_name", "number"), VALID)
def test_every_valid_example_is_detected_as_its_format(format_name: str, number: str) -> None:
    assert format_name in {c.format for c in detect(number)}


@pytest.mark.parametrize(("format_name", "number"), INVALID)
def test_no_invalid_example_is_detected_as_its_format(format_name: str, number: str) -> None:
    assert format_name not in {c.format for c in detect(number)}


def test_every_format_has_valid_examples_and_check_formats_have_invalid_ones() -> None:
    for fmt in FORMATS:
        assert fmt.valid_examples, fmt.name
        if fmt.check is not None:
            assert fmt.invalid_examples, fmt.name


def test_the_upu_example_of_the_issue_and_its_operator() -> None:
    # weights 8 6 4 2 3 5 9 7 on 12345678: 204, 204 mod 11 = 6, check 11 - 6 = 5
    assert s10_valid("RR123456785FR")
    assert [c.carrier for c in detect("RR123456785FR")] == ["laposte", "chronopost"]
    assert [c.carrier for c in detect("CP123456785DE")] == ["dhl"]


@pytest.mark.parametrize(
    ("serial", "check"), [("00000000", 5), ("00000001", 4), ("00000008", 0), ("12345678", 5)]
)
def test_s10_check_digit_special_cases(serial: str, check: int) -> None:
    # r = 0 gives 5, r = 1 gives 0, else 11 - r
    assert s10_valid(f"RR{serial}{check}FR")
    assert not s10_valid(f"RR{serial}{(check + 1) % 10}FR")


def test_typing_noise_is_ignored() -> None:
    assert detect(" rr 123-456-785 fr ") == detect("RR123456785FR")


def test_an_ambiguous_number_returns_every_candidate_verified_first() -> None:
    candidates = detect("012345678901233")  # DPD (check verified) and the FedEx 15-digit shape
    assert [(c.carrier, c.check_digit_verified) for c in candidates] == [
        ("dpd", True),
        ("fedex", False),
    ]
    assert {c.carrier for c in detect("123456789012")} == {"fedex", "gls"}


def test_an_unknown_shape_returns_nothing_rather_than_a_guess() -> None:
    assert detect("HELLO") == []
    assert detect("") == []


@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_dpd_check_character_verifies_per_iso_7064(data: str) -> None:
    """ISO 7064 hybrid systems: running the recursion over data + check ends on 1."""
    check = iso7064_mod37_36(data)
    product = 36
    total = 0
    for char in data + check:
        total = (product + _MOD37_ALPHABET.index(char)) % 36
        product = ((total or 36) * 2) % 37
    assert total == 1
    assert any(c.format == "dpd" for c in detect(data + check))


@given(st.text(alphabet="0123456789", min_size=19, max_size=21))
def test_gs1_check_digit_makes_the_weighted_sum_a_multiple_of_ten(data: str) -> None:
    digits = data + str(gs1_mod10(data))
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(reversed(digits)))
    assert total % 10 == 0
