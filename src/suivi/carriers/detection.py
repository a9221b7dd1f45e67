"""Which carrier a tracking number belongs to, from the number alone.

Formats are data (:data:`FORMATS`): a pattern, a check-digit rule where the format has one,
and valid and invalid examples that the tests run. :func:`detect` returns every candidate,
ranked — a number whose check digit verifies comes before one that only has the right
shape — and never a single guess where several carriers share a shape (a 12-digit number
may be FedEx or GLS: both are returned). An empty list means "no known format": the caller
asks for the carrier instead of guessing.

Check digits implemented (each from the carrier's or the standard's published rule):
- UPU S10 (international postal items): weights 8 6 4 2 3 5 9 7 on the 8 serial digits,
  r = sum mod 11, check = 11 − r, with r = 0 → 5 and r = 1 → 0; the last two letters are the
  ISO country of the issuing postal operator;
- UPS ``1Z``: the 15 characters after ``1Z``, letters converted (A→2 … cycling mod 10), odd
  positions summed plus twice the even positions, check = (10 − total mod 10) mod 10;
- DPD parcel numbers: ISO 7064 hybrid MOD 37,36 check character over the 14 digits;
- USPS IMpb (GS1-based, 20–22 digits starting 9[1-5]): GS1 mod 10 (weights 3, 1 from the
  right).
Formats without a published check digit (Colissimo domestic, FedEx, DHL, GLS, Mondial Relay)
match on shape only and rank below verified ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

# ISO country of an S10 number → the postal operator(s) whose tracking covers it.
S10_OPERATORS: dict[str, tuple[str, ...]] = {
    "FR": ("laposte", "chronopost"),
    "DE": ("dhl",),
    "GB": ("royal_mail",),
    "US": ("usps",),
    "BE": ("bpost",),
    "NL": ("postnl",),
    "ES": ("correos",),
    "IT": ("poste_italiane",),
    "CH": ("swiss_post",),
    "CN": ("china_post",),
}


def _s10_check(serial: str) -> int:
    total = sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    r = total % 11
    return 5 if r == 0 else 0 if r == 1 else 11 - r


def s10_valid(number: str) -> bool:
    """UPU S10: ``AA`` + 8 digits + check digit + ISO country."""
    return _s10_check(number[2:10]) == int(number[10])


def _ups_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    return (ord(char) - ord("A") + 2) % 10


def ups_valid(number: str) -> bool:
    """UPS ``1Z`` + 15 characters + check digit."""
    body = number[2:17]
    odd = sum(_ups_value(c) for c in body[0::2])
    even = sum(_ups_value(c) for c in body[1::2])
    return (10 - (odd + 2 * even) % 10) % 10 == int(number[17])


_MOD37_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def iso7064_mod37_36(data: str) -> str:
    """ISO 7064 hybrid MOD 37,36: the check character of *data* (digits and capitals)."""
    modulus = 36
    product = modulus
    for char in data:
        total = (product + _MOD37_ALPHABET.index(char)) % modulus
        product = ((total or modulus) * 2) % (modulus + 1)
    return _MOD37_ALPHABET[(modulus + 1 - product) % modulus]


def dpd_valid(number: str) -> bool:
    """DPD: 14 digits followed by their ISO 7064 MOD 37,36 check character."""
    return iso7064_mod37_36(number[:14]) == number[14]


def gs1_mod10(digits: str) -> int:
    """GS1 check digit of *digits* (weights 3 and 1 from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def usps_valid(number: str) -> bool:
    return gs1_mod10(number[:-1]) == int(number[-1])


@dataclass(frozen=True)
class Format:
    """One tracking-number format: its carriers, shape, check rule and examples."""

    name: str
    carriers: tuple[str, ...]
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None
    valid_examples: tuple[str, ...] = field(default=())
    invalid_examples: tuple[str, ...] = field(default=())
    carriers_for: Callable[[str], tuple[str, ...]] | None = None


@dataclass(frozen=True)
class Candidate:
    carrier: str
    format: str
    check_digit_verified: bool  # False: the shape matches, the format has no check digit

    @property
    def rank(self) -> int:
        return 0 if self.check_digit_verified else 1


def _s10_carriers(number: str) -> tuple[str, ...]:
    return S10_OPERATORS.get(number[-2:], (f"post_{number[-2:].lower()}",))


FORMATS: tuple[Format, ...] = (
    Format(
        "upu_s10", ("laposte",), re.compile(r"^[A-Z]{2}\d{9}[A-Z]{2}$"), s10_valid,
        valid_examples=("RR123456785FR", "LA000000005FR", "CP123456785DE"),
        invalid_examples=("RR123456784FR", "RR12345678FR"),
        carriers_for=_s10_carriers,
    ),
    Format(
        "ups", ("ups",), re.compile(r"^1Z[0-9A-Z]{16}$"), ups_valid,
        # UPS's own documentation samples (1Z12345E0205271688…) fail their check digit on
        # purpose; this one is a commonly used valid number.
        valid_examples=("1Z999AA10123456784",),
        invalid_examples=("1Z999AA10123456785", "1Z12345E0205271688"),
    ),
    Format(
        "dpd", ("dpd",), re.compile(r"^\d{14}[0-9A-Z]$"), dpd_valid,
        valid_examples=("012345678901233", "09999999999999O"),
        invalid_examples=("012345678901234",),
    ),
    Format(
        "usps_impb", ("usps",), re.compile(r"^9[1-5]\d{18,20}$"), usps_valid,
        valid_examples=("9400111899223197428497",),
        invalid_examples=("9400111899223197428490",),
    ),
    Format(
        "colissimo", ("colissimo", "laposte"), re.compile(r"^\d[A-Z]\d{11}$"),
        valid_examples=("6A12345678901", "8D00432154798"),
        invalid_examples=("6A1234567890", "AA12345678901"),
    ),
    Format("dhl_express", ("dhl",), re.compile(r"^\d{10}$"), valid_examples=("1234567890",)),
    Format("dhl_ecommerce", ("dhl",), re.compile(r"^JJD\d{16,20}$"),
           valid_examples=("JJD0099999999999999",)),
    Format("fedex", ("fedex",), re.compile(r"^(\d{12}|\d{15}|\d{20}|\d{22})$"),
           valid_examples=("123456789012",)),
    Format("gls", ("gls",), re.compile(r"^\d{11,12}$"), valid_examples=("12345678901",)),
    Format("mondial_relay", ("mondial_relay",), re.compile(r"^\d{8}$"),
           valid_examples=("12345678",)),
)  # fmt: skip


def normalise(number: str) -> str:
    """Upper case, without the spaces and dashes people type or print."""
    return re.sub(r"[\s\-.]", "", number).upper()


def detect(number: str) -> list[Candidate]:
    """Every carrier the number may belong to, best first (verified check digits first)."""
    value = normalise(number)
    found: list[Candidate] = []
    for fmt in FORMATS:
        if not fmt.pattern.match(value):
            continue
        verified = False
        if fmt.check is not None:
            if not fmt.check(value):
                continue  # the right shape with a wrong check digit: a typo, not this format
            verified = True
        carriers = fmt.carriers_for(value) if fmt.carriers_for else fmt.carriers
        for carrier in carriers:
            if not any(c.carrier == carrier for c in found):
                found.append(Candidate(carrier, fmt.name, verified))
    return sorted(found, key=lambda c: c.rank)
