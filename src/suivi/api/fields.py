"""Input types shared by the request schemas.

Every bound here exists so that a request the schema accepts can always be stored: text
fits its column and holds no NUL or lone surrogate (PostgreSQL refuses both), decimals fit
``numeric(12, 2)``, integers fit the database's integer types, dates stay where Python and
the database agree. A value outside them is a 422 naming the field, never a 500.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from babel import Locale
from babel.numbers import is_currency
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

# Largest value of a signed 64-bit integer column (ids); larger ids would overflow it.
MAX_ID = 2**63 - 1
# numeric(12, 2): ten digits before the point.
MAX_AMOUNT = Decimal("9999999999.99")
MAX_QUANTITY = 1_000_000
MAX_LINES = 500
# OrderLine.position is a PositiveSmallIntegerField.
MAX_POSITION = 32767
MAX_NOTE = 2000
# Metadata travels in the order.created event payload: keep it small and shallow.
MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 8
# Dates outside this window are typos; far ones also overflow when moved to UTC.
EARLIEST = date(1970, 1, 1)
LATEST = date(2099, 12, 31)


def clean_text(value: str) -> str:
    """Refuse text a database cannot store: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError("must be an email address") from None
    return value


def _currency(value: str) -> str:
    value = value.upper()
    if not is_currency(value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


def _country(value: str) -> str:
    value = value.upper()
    # "ZZ" is CLDR's "unknown region", not a country.
    if value == "ZZ" or value not in Locale("en").territories:
        raise ValueError(f"{value!r} is not an ISO 3166 country code")
    return value


def _amount(value: Decimal) -> Decimal:
    # "-0" passes ge=0; store it as plain zero.
    return value + Decimal(0)


def _date_in_range(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return value


def _datetime_in_range(value: datetime) -> datetime:
    earliest = datetime(EARLIEST.year, EARLIEST.month, EARLIEST.day, tzinfo=UTC)
    latest = datetime(LATEST.year, LATEST.month, LATEST.day, 23, 59, 59, tzinfo=UTC)
    if not earliest <= value <= latest:
        raise ValueError(f"must be between {earliest.isoformat()} and {latest.isoformat()}")
    return value


def _check_json(value: Any, depth: int) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"must not nest deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, str):
        clean_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must not contain infinite numbers")
    elif isinstance(value, dict):
        for key, item in value.items():
            clean_text(key)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    _check_json(value, 1)
    if len(json.dumps(value, ensure_ascii=True)) > MAX_METADATA_BYTES:
        raise ValueError(f"must not exceed {MAX_METADATA_BYTES} bytes once serialised")
    return value


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=254),
    AfterValidator(clean_text),
    AfterValidator(_email),
    Field(examples=["claire.martin@example.fr"], json_schema_extra={"format": "email"}),
]
CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z]{3}$"),
    AfterValidator(_currency),
    Field(examples=["EUR"]),
]
CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z]{2}$"),
    AfterValidator(_country),
    Field(examples=["FR"]),
]
Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False, examples=["49.90"]),
    AfterValidator(_amount),
]
TaxRate = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2, allow_inf_nan=False, examples=["20.00"]),
    AfterValidator(_amount),
]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Position = Annotated[int, Field(ge=1, le=MAX_POSITION)]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]
Day = Annotated[date, AfterValidator(_date_in_range)]
Moment = Annotated[AwareDatetime, AfterValidator(_datetime_in_range)]
Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]
LocationCode = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")
]

# Text types, one per column they end up in (the max length is the column's).
_STORABLE = AfterValidator(clean_text)
Reference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), _STORABLE
]
Sku = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), _STORABLE
]
LineName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), _STORABLE
]
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), _STORABLE]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32), _STORABLE]
AddressName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _STORABLE
]
AddressLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _STORABLE
]
OptionalAddressLine = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), _STORABLE
]
Postcode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16), _STORABLE
]
City = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), _STORABLE
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE), _STORABLE]
# Carrier names and tracking numbers: free text kept in event payloads.
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), _STORABLE
]
