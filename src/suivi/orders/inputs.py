"""What callers give the order services: plain, immutable inputs (no ORM objects)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .lifecycle import Mode


@dataclass(frozen=True)
class LineInput:
    """One line of a new order."""

    sku: str
    name: str
    unit_price: Decimal
    quantity: int
    tax_rate: Decimal = Decimal("20.00")


@dataclass(frozen=True)
class AddressInput:
    """A delivery address."""

    name: str
    line1: str
    postcode: str
    city: str
    country: str | None = None  # the shop's country when not given
    line2: str = ""


@dataclass(frozen=True)
class CustomerInput:
    """Who ordered and how to reach them; the phone is normalised to E.164."""

    email: str
    phone: str = ""
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class LineCancellation:
    """Cancel *quantity* of the line at *position*."""

    position: int
    quantity: int


@dataclass(frozen=True)
class OrderInput:
    """Everything needed to create an order."""

    reference: str
    customer: CustomerInput
    fulfilment_mode: Mode
    lines: Sequence[LineInput]
    currency: str | None = None  # the shop's currency when not given
    language: str | None = None  # the shop's default language when not given
    shipping_amount: Decimal = Decimal("0")
    shipping_address: AddressInput | None = None
    pickup_location_code: str | None = None
    promised_delivery_date: date | None = None
    placed_at: datetime | None = None
    paid: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
