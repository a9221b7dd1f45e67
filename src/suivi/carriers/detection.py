"""Which carrier a tracking number belongs to, from the number alone.

Formats are data (:data:`FORMATS`): a pattern, a check-digit rule where the format has one,
and valid and invalid examples that the tests run. :func:`detect` returns every candidate,
ranked, and never a single guess where several carriers share a shape (a 12-digit number
may be FedEx, GLS or DHL Paket: every one whose check digit verifies is returned). An
empty list means "no known format": the caller asks for the carrier instead of guessing.

Ranking (:func:`detect`):

1. a candidate whose check digit verifies comes before one that only has the right shape;
2. then the more specific format first: :attr:`Format.specificity` counts the characters
   the format pins (a literal prefix or suffix such as ``1Z``, ``96``, ``0034043``, and
   every position that must be a letter); formats defined by length alone score 0;
3. then the order of :data:`FORMATS`, and within a format the order of its carriers;
4. a carrier appears once, at its best place.

A number with the shape of a checked format but a wrong check digit is not that format
(a typo): it is dropped rather than offered unverified, so a 12-digit number that fails
the FedEx, GLS and DHL checks returns ``[]``.

Check digits implemented (each from the carrier's or the standard's published rule):

- UPU S10 (international postal items): weights 8 6 4 2 3 5 9 7 on the 8 serial digits,
  r = sum mod 11, check = 11 − r, with r = 0 → 5 and r = 1 → 0; the last two letters are the
  ISO country of the issuing postal operator. Chronopost's Shop2Shop numbers (suffix ``TS``)
  use the same check;
- UPS ``1Z``: the 15 characters after ``1Z``, letters converted (A→2 … cycling mod 10), odd
  positions summed plus twice the even positions, check = (10 − total mod 10) mod 10;
- DPD parcel numbers: ISO 7064 hybrid MOD 37,36 check character over the 14 digits;
- GS1 mod 10 (weights 3, 1 from the right, check = (10 − sum mod 10) mod 10): USPS IMpb,
  FedEx Ground (15 digits, and the last 15 of the 22-digit "96" barcode), FedEx SmartPost
  (20 digits: computed over ``92`` + the first 19), DHL Paket 20-digit SSCC (AI ``00``);
- FedEx Express (12 digits, and the last 14 of the 34-digit barcodes): weights 1, 3, 7
  repeated from the right over the digits before the check, sum mod 11, then mod 10;
- DHL Express waybill (10 digits): the first 9 digits as a number, mod 7;
- DHL Paket Identcode (12 digits, Deutsche Post): weights 4, 9 alternately from the left
  over 11 digits, check = (10 − sum mod 10) mod 10;
- GLS parcel number (12 digits, GLS Uni-Box technical documentation §3.2.1): GS1 weights
  over the 11 digits, plus 1, check = (10 − total mod 10) mod 10.

Shape only (no published check digit): Colissimo domestic, DHL piece IDs (``JJD…``) and DHL
eCommerce (``GM…``), the 11-digit GLS number printed without its check digit, and Mondial
Relay's 8-digit shipment number (Mondial Relay's label specification puts mod-11 control
digits only in the 26-character label barcode, not in the shipment number).
"""

from __future__ import annotations

import re
import unicodedata
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


def _gs1_sum(digits: str) -> int:
    return sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))


def gs1_mod10(digits: str) -> int:
    """GS1 check digit of *digits* (weights 3 and 1 from the right)."""
    return (10 - _gs1_sum(digits) % 10) % 10


def gs1_valid(number: str) -> bool:
    """The last digit is the GS1 check digit of the others (SSCC, IMpb, GTIN…)."""
    return gs1_mod10(number[:-1]) == int(number[-1])


usps_valid = gs1_valid  # USPS IMpb: GS1 mod 10 over the whole number


def fedex_mod11(digits: str) -> int:
    """FedEx Express check digit: weights 1, 3, 7 from the right, sum mod 11, then mod 10."""
    weights = (1, 3, 7)
    return sum(int(d) * weights[i % 3] for i, d in enumerate(reversed(digits))) % 11 % 10


def fedex_express_valid(number: str) -> bool:
    """FedEx Express: 11 digits + check digit (the rule also covers 12-digit Ground)."""
    return fedex_mod11(number[:11]) == int(number[11])


def fedex_34_valid(number: str) -> bool:
    """FedEx 34-digit barcodes: the 13-digit serial before the last digit, mod 11 rule."""
    return fedex_mod11(number[-14:-1]) == int(number[-1])


def fedex_ground_valid(number: str) -> bool:
    """FedEx Ground: 14 digits + GS1 check digit (the last 15 digits of a 96 barcode)."""
    return gs1_valid(number[-15:])


def fedex_smartpost_valid(number: str) -> bool:
    """FedEx SmartPost, 20 digits as FedEx prints them: GS1 over ``92`` + the first 19."""
    return gs1_mod10("92" + number[:-1]) == int(number[-1])


def dhl_express_valid(number: str) -> bool:
    """DHL Express waybill: 9 digits + (those 9 digits as a number mod 7)."""
    return int(number[:9]) % 7 == int(number[9])


def deutsche_post_mod10(digits: str) -> int:
    """Deutsche Post Identcode/Leitcode check digit: weights 4, 9 alternately from the left."""
    total = sum(int(d) * (4 if i % 2 == 0 else 9) for i, d in enumerate(digits))
    return (10 - total % 10) % 10


def dhl_identcode_valid(number: str) -> bool:
    """DHL Paket 12-digit Identcode: 11 digits + Deutsche Post check digit."""
    return deutsche_post_mod10(number[:11]) == int(number[11])


def gls_check(digits: str) -> int:
    """GLS parcel-number check digit: GS1 weighted sum of the 11 digits, plus 1, mod 10."""
    return (10 - (_gs1_sum(digits) + 1) % 10) % 10


def gls_valid(number: str) -> bool:
    """GLS: 11 digits + GLS check digit."""
    return gls_check(number[:11]) == int(number[11])


@dataclass(frozen=True)
class Format:
    """One tracking-number format: its carriers, shape, check rule and examples.

    ``specificity`` counts the characters the format pins (literal prefix/suffix characters
    and positions that must be letters); it orders formats of the same verification status.
    ``check_position`` is where the check character sits (the tests alter it).
    """

    name: str
    carriers: tuple[str, ...]
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None
    valid_examples: tuple[str, ...] = field(default=())
    invalid_examples: tuple[str, ...] = field(default=())
    carriers_for: Callable[[str], tuple[str, ...]] | None = None
    specificity: int = 0
    check_position: int = -1


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


def _impb_carriers(number: str) -> tuple[str, ...]:
    # FedEx SmartPost / Ground Economy parcels are delivered by USPS under a 92 IMpb number.
    return ("usps", "fedex") if number.startswith("92") else ("usps",)


def _p(pattern: str) -> re.Pattern[str]:
    """Anchored, ASCII-only pattern (``\\d`` must not match other scripts' digits)."""
    return re.compile(f"^(?:{pattern})$", re.ASCII)


FORMATS: tuple[Format, ...] = (
    Format(
        "upu_s10", ("laposte",), _p(r"[A-Z]{2}\d{9}(?!TS)[A-Z]{2}"), s10_valid,
        valid_examples=("RR123456785FR", "LA000000005FR", "CP123456785DE", "XA987654326FR"),
        invalid_examples=("RR123456784FR", "RR12345678FR", "R1123456785FR", "RR123456785F1"),
        carriers_for=_s10_carriers, specificity=4, check_position=10,
    ),
    Format(
        # Chronopost Shop2Shop (e.g. Vinted parcels): S10 layout and check, suffix TS
        # instead of a country.
        "chronopost_shop2shop", ("chronopost",), _p(r"[A-Z]{2}\d{9}TS"), s10_valid,
        valid_examples=("XW123456785TS", "XW987654326TS"),
        invalid_examples=("XW123456784TS", "XW12345678TS", "XW123456785TT"),
        specificity=4, check_position=10,
    ),
    Format(
        "ups", ("ups",), _p(r"1Z[0-9A-Z]{16}"), ups_valid,
        # UPS's own documentation samples (1Z12345E0205271688…) fail their check digit on
        # purpose; this one is a commonly used valid number.
        valid_examples=("1Z999AA10123456784",),
        invalid_examples=("1Z999AA10123456785", "1Z12345E0205271688", "1Z999AA1012345678"),
        specificity=2,
    ),
    Format(
        "usps_impb", ("usps",), _p(r"9[1-5]\d{18,20}"), usps_valid,
        valid_examples=("9400111899223197428497", "9212345678901234567891"),
        invalid_examples=("9400111899223197428490", "9212345678901234567890"),
        carriers_for=_impb_carriers, specificity=1,
    ),
    Format(
        # FedEx Express (10/12 prefix) and Ground GSN (96 prefix) 34-digit barcodes: the
        # tracking number is the end of the barcode.
        "fedex_34", ("fedex",), _p(r"(?:1[02]|96)\d{32}"), fedex_34_valid,
        valid_examples=(
            "1001921334250001000301234567890129",
            "9622001560000000000001234567890129",
        ),
        invalid_examples=(
            "1001921334250001000301234567890120",
            "100192133425000100030123456789012",
        ),
        specificity=2,
    ),
    Format(
        # FedEx Ground "96" barcode: 96 + 2-digit SCNC + 3-digit service + 15-digit number.
        "fedex_ground_96", ("fedex",), _p(r"96\d{20}"), fedex_ground_valid,
        valid_examples=("9611020123456712345678",),
        invalid_examples=("9611020123456712345677", "961102012345671234567"),
        specificity=2,
    ),
    Format(
        "dhl_paket_sscc", ("dhl",), _p(r"0034043\d{13}"), gs1_valid,
        valid_examples=("00340431234567890122",),
        invalid_examples=("00340431234567890123", "0034043123456789012"),
        specificity=7,
    ),
    Format(
        "fedex_smartpost", ("fedex",), _p(r"\d{20}"), fedex_smartpost_valid,
        valid_examples=("12345678901234567891",),
        invalid_examples=("12345678901234567892",),
    ),
    Format(
        "dpd", ("dpd",), _p(r"\d{14}[0-9A-Z]"), dpd_valid,
        valid_examples=("012345678901233", "09999999999999O", "05012345678901H"),
        invalid_examples=("012345678901234", "05012345678901G"),
    ),
    Format(
        "fedex_ground", ("fedex",), _p(r"\d{15}"), fedex_ground_valid,
        valid_examples=("123456789012343", "050123456789147"),
        invalid_examples=("123456789012344", "12345678901234"),
    ),
    Format(
        "fedex_express", ("fedex",), _p(r"\d{12}"), fedex_express_valid,
        valid_examples=("123456789012", "876543210010"),
        invalid_examples=("123456789013", "12345678901"),
    ),
    Format(
        "gls", ("gls",), _p(r"\d{12}"), gls_valid,
        valid_examples=("123456789011", "876543210010"),
        invalid_examples=("123456789012",),
    ),
    Format(
        "dhl_paket_identcode", ("dhl",), _p(r"\d{12}"), dhl_identcode_valid,
        valid_examples=("123456789016", "314159266811"),
        invalid_examples=("123456789012",),
    ),
    Format(
        "dhl_express", ("dhl",), _p(r"\d{10}"), dhl_express_valid,
        valid_examples=("1234567891", "9876543213"),
        invalid_examples=("1234567890", "1234567898", "123456789"),
    ),
    Format(
        "colissimo", ("colissimo", "laposte"), _p(r"\d[A-Z]\d{11}"),
        valid_examples=("6A12345678901", "8D00432154798"),
        invalid_examples=("6A1234567890", "AA12345678901"),
        specificity=1,
    ),
    Format(
        # DHL piece IDs (JJD…, JVGL…): no published check digit.
        "dhl_piece_id", ("dhl",), _p(r"J[A-Z]{2,3}\d{9,21}"),
        valid_examples=("JJD0099999999999999", "JJD1410302937991", "JVGL0999999990"),
        invalid_examples=("XJD0099999998", "JJD12345678"),
        specificity=3,
    ),
    Format(
        # DHL eCommerce (Global Mail and Asia): prefix + 10 to 39 digits, no check digit.
        "dhl_ecommerce", ("dhl",), _p(r"(?:GM|LX|RX|UV|CN|SG|TH|IN|HK|MY)\d{10,39}"),
        valid_examples=("GM1234567890123456",),
        invalid_examples=("GS1234567890123456", "GM123456789"),
        specificity=2,
    ),
    Format(
        # GLS prints and returns the parcel number without its check digit (11 digits).
        "gls_unchecked", ("gls",), _p(r"\d{11}"),
        valid_examples=("12345678901",),
        invalid_examples=("1234567890",),
    ),
    Format(
        # The 8-digit shipment number; no check digit (tracking also asks the postcode).
        "mondial_relay", ("mondial_relay",), _p(r"\d{8}"),
        valid_examples=("12345678",),
        invalid_examples=("1234567", "1234567A"),
    ),
)  # fmt: skip

_REMOVED = re.compile(r"[\s\-.\u2010-\u2015\u2212]")


def normalise(number: str) -> str:
    """Upper case, without the spaces, dashes and dots people type or print.

    NFKC first, so full-width digits and letters (from some keyboards) become ASCII.
    """
    return _REMOVED.sub("", unicodedata.normalize("NFKC", number)).upper()


def detect(number: str) -> list[Candidate]:
    """Every carrier the number may belong to, best first (see the module's ranking rule)."""
    value = normalise(number)
    ranked: list[tuple[tuple[int, int, int, int], Candidate]] = []
    for index, fmt in enumerate(FORMATS):
        if not fmt.pattern.match(value):
            continue
        verified = False
        if fmt.check is not None:
            if not fmt.check(value):
                continue  # the right shape with a wrong check digit: a typo, not this format
            verified = True
        carriers = fmt.carriers_for(value) if fmt.carriers_for else fmt.carriers
        for position, carrier in enumerate(carriers):
            key = (0 if verified else 1, -fmt.specificity, index, position)
            ranked.append((key, Candidate(carrier, fmt.name, verified)))
    found: list[Candidate] = []
    for _, candidate in sorted(ranked, key=lambda item: item[0]):
        if not any(c.carrier == candidate.carrier for c in found):
            found.append(candidate)
    return found
