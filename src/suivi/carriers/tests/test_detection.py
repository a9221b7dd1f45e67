"""Carrier detection from the number alone: formats are data, each with examples."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suivi.carriers.detection import (
    _MOD37_ALPHABET,
    FORMATS,
    S10_OPERATORS,
    Candidate,
    Format,
    detect,
    deutsche_post_mod10,
    fedex_mod11,
    gls_check,
    gs1_mod10,
    iso7064_mod37_36,
    s10_valid,
)

BY_NAME = {f.name: f for f in FORMATS}
VALID = [(f.name, n) for f in FORMATS for n in f.valid_examples]
INVALID = [(f.name, n) for f in FORMATS for n in f.invalid_examples]
CHECKED_VALID = [(f.name, n) for f in FORMATS if f.check is not None for n in f.valid_examples]

KNOWN_CARRIERS = {
    "laposte",
    "chronopost",
    "colissimo",
    "ups",
    "fedex",
    "usps",
    "dhl",
    "dpd",
    "gls",
    "mondial_relay",
} | {carrier for operators in S10_OPERATORS.values() for carrier in operators}


def _carriers(fmt: Format, number: str) -> tuple[str, ...]:
    return fmt.carriers_for(number) if fmt.carriers_for else fmt.carriers


def test_format_names_are_unique() -> None:
    assert len(BY_NAME) == len(FORMATS)


@pytest.mark.parametrize(("format_name", "number"), VALID)
def test_every_valid_example_is_detected_as_its_format(format_name: str, number: str) -> None:
    fmt = BY_NAME[format_name]
    candidates = detect(number)
    assert format_name in {c.format for c in candidates}
    by_carrier = {c.carrier: c for c in candidates}
    for carrier in _carriers(fmt, number):
        assert carrier in by_carrier
        # verified exactly when the format has a check digit
        assert by_carrier[carrier].check_digit_verified is (fmt.check is not None)


@pytest.mark.parametrize(("format_name", "number"), INVALID)
def test_no_invalid_example_is_detected_as_its_format(format_name: str, number: str) -> None:
    fmt = BY_NAME[format_name]
    candidates = detect(number)
    assert format_name not in {c.format for c in candidates}
    if fmt.check is not None:
        # …and none of the format's carriers comes out verified through another format
        assert not any(c.carrier in fmt.carriers and c.check_digit_verified for c in candidates)


def test_every_format_has_valid_examples_and_check_formats_have_invalid_ones() -> None:
    for fmt in FORMATS:
        assert fmt.valid_examples, fmt.name
        if fmt.check is not None:
            assert fmt.invalid_examples, fmt.name


@pytest.mark.parametrize(("format_name", "number"), CHECKED_VALID)
def test_only_the_right_check_character_verifies(format_name: str, number: str) -> None:
    """Every other digit in the check position breaks the check (a one-character typo)."""
    fmt = BY_NAME[format_name]
    position = fmt.check_position % len(number)
    for digit in "0123456789":
        if digit == number[position]:
            continue
        altered = number[:position] + digit + number[position + 1 :]
        assert format_name not in {c.format for c in detect(altered)}, altered


def test_the_upu_example_of_the_issue_and_its_operator() -> None:
    # weights 8 6 4 2 3 5 9 7 on 12345678: 204, 204 mod 11 = 6, check 11 - 6 = 5
    assert s10_valid("RR123456785FR")
    assert [c.carrier for c in detect("RR123456785FR")] == ["laposte", "chronopost"]
    assert [c.carrier for c in detect("CP123456785DE")] == ["dhl"]
    assert [c.carrier for c in detect("RR123456785XX")] == ["post_xx"]


@pytest.mark.parametrize(
    ("serial", "check"), [("00000000", 5), ("00000001", 4), ("00000008", 0), ("12345678", 5)]
)
def test_s10_check_digit_special_cases(serial: str, check: int) -> None:
    # r = 0 gives 5, r = 1 gives 0, else 11 - r
    assert s10_valid(f"RR{serial}{check}FR")
    assert not s10_valid(f"RR{serial}{(check + 1) % 10}FR")


def test_chronopost_shop2shop_is_chronopost_only() -> None:
    assert [(c.carrier, c.check_digit_verified) for c in detect("XW123456785TS")] == [
        ("chronopost", True)
    ]


# Worked examples, computed by hand from each published rule.


def test_fedex_express_check_digit() -> None:
    # 1 2 3 4 5 6 7 8 9 0 1 with weights 3 1 7 3 1 7 3 1 7 3 1 (1 3 7 from the right):
    # 3+2+21+12+5+42+21+8+63+0+1 = 178; 178 mod 11 = 2; 2 mod 10 = 2
    assert fedex_mod11("12345678901") == 2
    # …31 from the right: 1x1 + 3x3 = 10; remainder 10 gives the check digit 0, not 10
    assert fedex_mod11("00000000031") == 0


def test_gls_check_digit() -> None:
    # GS1 weights on 12345678901 from the left: 3 1 3 1 …: 3+2+9+4+15+6+21+8+27+0+3 = 98;
    # 98 + 1 = 99; (10 - 99 mod 10) mod 10 = 1
    assert gls_check("12345678901") == 1


def test_deutsche_post_identcode_check_digit() -> None:
    # weights 4 9 4 9 …: 4+18+12+36+20+54+28+72+36+0+4 = 284; (10 - 4) mod 10 = 6
    assert deutsche_post_mod10("12345678901") == 6


def test_dhl_express_check_digit_is_the_number_mod_7() -> None:
    assert 123456789 % 7 == 1
    assert [c.format for c in detect("1234567891")] == ["dhl_express"]
    # 7, 8 and 9 can never be a mod-7 check digit
    for last in "789":
        assert detect(f"123456789{last}") == []


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_exactly_one_check_digit_completes_each_12_digit_format(body: str) -> None:
    for name in ("fedex_express", "gls", "dhl_paket_identcode"):
        check = BY_NAME[name].check
        assert check is not None
        assert sum(check(body + d) for d in "0123456789") == 1, name


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_exactly_one_mod_7_digit_completes_a_dhl_waybill(body: str) -> None:
    check = BY_NAME["dhl_express"].check
    assert check is not None
    assert sum(check(body + d) for d in "0123456789") == 1


# Ranking and ambiguity.


def test_an_ambiguous_number_returns_every_candidate_verified_first() -> None:
    # DPD (check character "7") and FedEx Ground (GS1 check digit 7) both verify
    candidates = detect("050123456789147")
    assert [(c.carrier, c.check_digit_verified) for c in candidates] == [
        ("dpd", True),
        ("fedex", True),
    ]
    # DPD only: the FedEx Ground check of the same shape fails
    assert [c.carrier for c in detect("012345678901233")] == ["dpd"]


@pytest.mark.parametrize(
    ("number", "carriers"),
    [
        ("876543210010", ["fedex", "gls"]),  # FedEx mod 11 and GLS both give 0
        ("314159266811", ["fedex", "gls", "dhl"]),  # the three 12-digit checks give 1
        ("9212345678901234567891", ["usps", "fedex"]),  # IMpb 92: USPS delivers SmartPost
        ("RR123456785FR", ["laposte", "chronopost"]),
    ],
)
def test_numbers_several_carriers_verify_return_them_all(number: str, carriers: list[str]) -> None:
    candidates = detect(number)
    assert [c.carrier for c in candidates] == carriers
    assert all(c.check_digit_verified for c in candidates)


def test_a_12_digit_number_failing_every_check_is_not_guessed() -> None:
    # FedEx would want 4, GLS 1 and DHL 9 after 31415926535: a final 0 is nobody's
    assert detect("314159265350") == []


def test_verified_candidates_rank_before_shape_only_ones() -> None:
    def key(c: Candidate) -> tuple[int, int]:
        fmt = BY_NAME[c.format]
        return (c.rank, -fmt.specificity)

    for _, number in VALID:
        candidates = detect(number)
        assert [key(c) for c in candidates] == sorted(key(c) for c in candidates), number
        assert len({c.carrier for c in candidates}) == len(candidates), number


def test_more_specific_formats_come_first_among_verified() -> None:
    # A DHL Paket SSCC is also a GS1-valid 20-digit number; the 0034043 prefix ranks it.
    candidates = detect("00340431234567890122")
    assert candidates[0] == Candidate("dhl", "dhl_paket_sscc", True)


def test_mondial_relay_is_shape_only() -> None:
    assert detect("12345678") == [Candidate("mondial_relay", "mondial_relay", False)]


def test_the_11_digit_gls_number_without_its_check_digit_is_shape_only() -> None:
    assert detect("12345678901") == [Candidate("gls", "gls_unchecked", False)]


# Normalisation and robustness.


def test_typing_noise_is_ignored() -> None:
    assert detect(" rr 123-456-785 fr ") == detect("RR123456785FR")
    assert detect("1z 999 aa1 0123 4567 84") == detect("1Z999AA10123456784")
    assert detect("1234.5678.9012") == detect("123456789012")
    assert detect("１２３４５６７８９０１２") == detect("123456789012")  # full-width digits
    assert detect("1234–5678–9012") == detect("123456789012")  # en dashes


@pytest.mark.parametrize(
    "number",
    ["", "HELLO", "1234567", "1Z", "ABCDEFGHIJKLM", "1Z999AA1012345678!", "٣١٤١٥٩٢٦", "12 34"],
)
def test_an_unknown_shape_returns_nothing_rather_than_a_guess(number: str) -> None:
    assert detect(number) == []


@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    candidates = detect(text)
    assert len({c.carrier for c in candidates}) == len(candidates)
    for candidate in candidates:
        assert candidate.carrier in KNOWN_CARRIERS or re.fullmatch(
            r"post_[a-z]{2}", candidate.carrier
        )
        assert candidate.format in BY_NAME


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ -.", max_size=40))
def test_tracking_like_text_never_raises_and_verified_means_the_check_passes(text: str) -> None:
    value = "".join(ch for ch in text if ch not in " -.")
    for candidate in detect(text):
        check = BY_NAME[candidate.format].check
        assert candidate.check_digit_verified is (check is not None)
        if check is not None:
            assert check(value)


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
