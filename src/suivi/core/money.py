"""Money as ``Decimal`` quantised to the currency's minor unit; never floats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision, is_currency

from .errors import InvalidInput


@lru_cache(maxsize=512)  # babel looks the currency up on every call; amounts are hot
def minor_unit(currency: str) -> Decimal:
    """Return the smallest amount of *currency* (0.01 for EUR, 1 for JPY)."""
    code = currency.upper()
    # babel answers 2 digits for any code it does not know (and for "jpy" in lower case),
    # so an unknown currency must be refused here, not by catching an error.
    if not is_currency(code):
        raise InvalidInput(f"Unknown currency {currency!r}.", field="currency")
    return Decimal(1).scaleb(-get_currency_precision(code))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round *amount* half-up to the minor unit of *currency*."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """Format *amount* for display in *locale* (``12,50 €`` in fr, ``€12.50`` in en)."""
    return str(format_currency(amount, currency, locale=locale))
