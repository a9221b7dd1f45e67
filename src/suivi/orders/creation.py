"""Building a new order: the shop's rules on an input, and the rows it becomes.

Shared by :func:`services.order_create` (one order) and :mod:`.batch` (bulk INSERTs), so
both paths write the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from suivi.core.errors import InvalidInput
from suivi.core.money import quantize
from suivi.core.phones import normalize_phone
from suivi.customers.models import Customer
from suivi.shops.models import Location, Shop

from .inputs import OrderInput
from .lifecycle import Mode, Status
from .models import Order, OrderLine

# Amount columns are numeric(12, 2).
_MAX_AMOUNT = Decimal("10000000000")


def line_amounts(
    lines: Sequence[OrderLine], shipping: Decimal, currency: str
) -> dict[str, Decimal]:
    """Return the lines, shipping and total amounts of an order with these *lines*."""
    lines_amount = quantize(
        sum((line.unit_price * line.quantity_active for line in lines), Decimal("0")), currency
    )
    return {
        "lines_amount": lines_amount,
        "shipping_amount": shipping,
        "total_amount": lines_amount + shipping,
    }


def _validate_new_order(
    shop: Shop, data: OrderInput, stores: Mapping[str, Location] | None = None
) -> Location | None:
    if not data.lines:
        raise InvalidInput("An order needs at least one line.", field="lines")
    for index, line in enumerate(data.lines):
        if line.quantity < 1:
            raise InvalidInput("A quantity must be at least 1.", field=f"lines.{index}.quantity")
        if line.unit_price < 0:
            raise InvalidInput(
                "A unit price cannot be negative.", field=f"lines.{index}.unit_price"
            )
    if data.shipping_amount < 0:
        raise InvalidInput("The shipping amount cannot be negative.", field="shipping_amount")
    if data.fulfilment_mode is Mode.DELIVERY:
        if data.shipping_address is None:
            raise InvalidInput("A delivery needs a shipping address.", field="shipping_address")
        if data.pickup_location_code:
            raise InvalidInput("A delivery has no pickup store.", field="pickup_location_code")
        return None
    if not data.pickup_location_code:
        raise InvalidInput("Click & Collect needs the store's code.", field="pickup_location_code")
    if stores is not None:
        store = stores.get(data.pickup_location_code)
    else:
        store = Location.objects.filter(
            shop=shop, kind=Location.Kind.STORE, code=data.pickup_location_code, is_active=True
        ).first()
    if store is None:
        raise InvalidInput(
            f"The shop has no active store {data.pickup_location_code!r}.",
            field="pickup_location_code",
        )
    return store


def shop_language(shop: Shop) -> str:
    """Return the shop's default language if the platform offers it, else the platform's."""
    offered = {code for code, _name in settings.LANGUAGES}
    return shop.default_locale if shop.default_locale in offered else settings.LANGUAGE_CODE


def _check_total_fits(data: OrderInput, currency: str, shipping: Decimal) -> None:
    """Refuse an order whose total would not fit the amount columns (12 digits, 2 places)."""
    total = shipping + sum(
        (quantize(line.unit_price, currency) * line.quantity for line in data.lines), Decimal("0")
    )
    if total >= _MAX_AMOUNT:
        raise InvalidInput(f"The order total must be below {_MAX_AMOUNT}.", field="lines")


@dataclass
class PreparedOrder:
    """An order input checked against the shop's rules, with its rows built but unsaved."""

    data: OrderInput
    store: Location | None
    phone: str
    currency: str
    language: str
    lines: list[OrderLine]
    amounts: dict[str, Decimal]

    @property
    def email(self) -> str:
        return self.data.customer.email.strip().lower()


def order_prepare(
    *, shop: Shop, data: OrderInput, stores: Mapping[str, Location] | None = None
) -> PreparedOrder:
    """Check *data* against the shop's rules and build its unsaved lines and totals.

    *stores* (the shop's active stores by code) saves a query per order in batches.
    Raises :class:`InvalidInput` for what the rules refuse; reads nothing else.
    """
    store = _validate_new_order(shop, data, stores)
    phone = (
        normalize_phone(data.customer.phone, default_region=shop.country, field="customer.phone")
        if data.customer.phone
        else ""
    )
    currency = (data.currency or shop.currency).upper()
    shipping = quantize(data.shipping_amount, currency)
    _check_total_fits(data, currency, shipping)
    lines = [
        OrderLine(
            position=position,
            sku=line.sku,
            name=line.name,
            unit_price=quantize(line.unit_price, currency),
            tax_rate=line.tax_rate,
            quantity_ordered=line.quantity,
        )
        for position, line in enumerate(data.lines, start=1)
    ]
    return PreparedOrder(
        data=data,
        store=store,
        phone=phone,
        currency=currency,
        language=data.language or shop_language(shop),
        lines=lines,
        # Totals are known before the first write: one INSERT, no UPDATE after the lines.
        amounts=line_amounts(lines, shipping, currency),
    )


def new_order_row(shop: Shop, prepared: PreparedOrder, customer: Customer) -> Order:
    """Return the unsaved order row of *prepared* for *customer*."""
    data = prepared.data
    address = data.shipping_address
    return Order(
        shop=shop,
        reference=data.reference,
        customer=customer,
        email=customer.email,
        phone=prepared.phone,
        language=prepared.language,
        fulfilment_mode=data.fulfilment_mode.value,
        status=Status.AWAITING_PAYMENT.value,
        ship_name=address.name if address else "",
        ship_line1=address.line1 if address else "",
        ship_line2=address.line2 if address else "",
        ship_postcode=address.postcode if address else "",
        ship_city=address.city if address else "",
        ship_country=(address.country or shop.country).upper() if address else "",
        pickup_location=prepared.store,
        currency=prepared.currency,
        promised_delivery_date=data.promised_delivery_date,
        placed_at=data.placed_at or timezone.now(),
        **prepared.amounts,
    )


def created_event_payload(order: Order, prepared: PreparedOrder) -> dict[str, Any]:
    """Return the payload of the ``order.created`` event of *order*."""
    metadata = prepared.data.metadata
    return {
        "reference": order.reference,
        "fulfilment_mode": order.fulfilment_mode,
        "total_amount": str(order.total_amount),
        "currency": order.currency,
        **({"metadata": metadata} if metadata else {}),
    }
