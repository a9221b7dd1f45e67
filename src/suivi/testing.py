"""Builders for tests, benchmarks and demo data: always through the real services."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from suivi.orders.lifecycle import Mode
from suivi.orders.models import Order
from suivi.orders.services import AddressInput, CustomerInput, LineInput, OrderInput, order_create
from suivi.shops.models import Location, Shop
from suivi.shops.services import location_create, shop_create

_counter = itertools.count(1)


def make_shop(name: str, **kwargs: Any) -> Shop:
    """Create a shop with one warehouse and one store."""
    shop = shop_create(name=name, **kwargs)
    location_create(shop=shop, kind=Location.Kind.WAREHOUSE, code="entrepot", name="Entrepôt")
    location_create(
        shop=shop,
        kind=Location.Kind.STORE,
        code="boutique",
        name=f"{name} — boutique",
        address_line1="12 rue de la République",
        postcode="69002",
        city="Lyon",
        opening_hours={"mon": [["10:00", "19:00"]], "sun": []},
    )
    return shop


def order_input(
    *,
    mode: Mode = Mode.DELIVERY,
    reference: str | None = None,
    email: str = "claire.martin@example.fr",
    lines: list[tuple[str, str, str, int]] | None = None,
    shipping: str = "4.90",
    paid: bool = False,
    phone: str = "",
) -> OrderInput:
    """Return a valid order input; *lines* are (sku, name, unit price, quantity)."""
    lines = lines or [("PULL-M", "Pull marin", "49.90", 2), ("BONNET", "Bonnet", "15.00", 1)]
    return OrderInput(
        reference=reference or f"CMD-{next(_counter):06d}",
        customer=CustomerInput(email=email, phone=phone, first_name="Claire", last_name="Martin"),
        fulfilment_mode=mode,
        lines=[LineInput(sku, name, Decimal(price), qty) for sku, name, price, qty in lines],
        shipping_amount=Decimal(shipping) if mode is Mode.DELIVERY else Decimal("0"),
        shipping_address=(
            AddressInput("Claire Martin", "3 place Bellecour", "69002", "Lyon")
            if mode is Mode.DELIVERY
            else None
        ),
        pickup_location_code="boutique" if mode is Mode.CLICK_AND_COLLECT else None,
        paid=paid,
    )


def make_order(shop: Shop, **kwargs: Any) -> Order:
    """Create an order in *shop* through :func:`order_create`."""
    return order_create(shop=shop, data=order_input(**kwargs), actor="test")
