"""Money: Decimal quantised to each currency's minor unit, formatted per locale by babel."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suivi.core.errors import InvalidInput
from suivi.core.money import format_money, minor_unit, quantize

NBSP = "\u00a0"  # no-break space: babel puts it between the amount and "€" in French
NNBSP = "\u202f"  # narrow no-break space: babel's French thousands separator


@pytest.mark.parametrize(
    ("currency", "unit"),
    [
        ("EUR", Decimal("0.01")),
        ("USD", Decimal("0.01")),
        ("JPY", Decimal("1")),
        ("TND", Decimal("0.001")),
    ],
)
def test_the_minor_unit_follows_the_currency(currency: str, unit: Decimal) -> None:
    assert minor_unit(currency) == unit


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("12.345", "EUR", "12.35"),  # half up, not banker's rounding
        ("12.335", "EUR", "12.34"),
        ("0.005", "EUR", "0.01"),
        ("49.9", "EUR", "49.90"),
        ("1200.5", "JPY", "1201"),
        ("1199.4", "JPY", "1199"),
        ("7.0005", "TND", "7.001"),
    ],
)
def test_amounts_are_rounded_half_up_to_the_minor_unit(
    amount: str, currency: str, rounded: str
) -> None:
    result = quantize(Decimal(amount), currency)
    assert result == Decimal(rounded)
    # the exponent is the currency's, so str() shows exactly the minor digits
    assert str(result) == rounded


def test_sums_of_prices_stay_exact() -> None:
    # 0.10 + 0.20 is 0.30 with Decimal, not 0.30000000000000004
    assert quantize(Decimal("0.10") + Decimal("0.20"), "EUR") == Decimal("0.30")
    assert quantize(Decimal("49.90") * 2 + Decimal("15.00") + Decimal("4.90"), "EUR") == Decimal(
        "119.70"
    )


@pytest.mark.parametrize("currency", ["XXZ", "EURO", "€", ""])
def test_an_unknown_currency_is_refused(currency: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        quantize(Decimal("1"), currency)
    assert caught.value.field == "currency"


def test_a_currency_code_in_lower_case_is_the_same_currency() -> None:
    assert minor_unit("jpy") == Decimal("1")
    assert quantize(Decimal("1200.5"), "jpy") == Decimal("1201")


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        ("12.50", "EUR", "fr", f"12,50{NBSP}€"),
        ("12.50", "EUR", "fr_FR", f"12,50{NBSP}€"),
        ("1234.50", "EUR", "fr", f"1{NNBSP}234,50{NBSP}€"),
        ("12.50", "EUR", "en", "€12.50"),
        ("1234.50", "EUR", "en", "€1,234.50"),
        ("1234", "JPY", "en", "¥1,234"),
        ("1234", "JPY", "fr", f"1{NNBSP}234{NBSP}JPY"),
        ("0", "EUR", "fr", f"0,00{NBSP}€"),
    ],
)
def test_amounts_are_formatted_the_way_each_language_writes_them(
    amount: str, currency: str, locale: str, text: str
) -> None:
    assert format_money(Decimal(amount), currency, locale) == text
