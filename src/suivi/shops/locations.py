"""Stores and warehouses: their details and opening hours, checked before anything is written.

Opening hours are stored as ``{"mon": [["09:00", "12:30"], ["14:00", "19:00"]], "sun": []}``:
every weekday present, up to :data:`MAX_RANGES` ranges a day, each ``[open, close]`` in
24-hour ``HH:MM`` with open before close, ranges in order and not overlapping (one may
start when the previous ends); an empty list is a closed day.

A location that orders refer to (pickup store, shipping warehouse) is never deleted —
:func:`location_remove` deactivates it instead, so the orders keep their history.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q

from suivi.core.errors import InvalidInput, NotFound
from suivi.core.phones import normalize_phone

from .models import Location, Shop

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_RANGES = 2
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_CODE = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")

OpeningHours = dict[str, list[list[str]]]


def _minutes(value: object, field: str) -> int:
    text = value.strip() if isinstance(value, str) else ""
    match = _TIME.match(text)
    if match is None:
        raise InvalidInput(f"{value!r} is not a time like 09:30 (HH:MM, 24-hour).", field=field)
    return int(match.group(1)) * 60 + int(match.group(2))


def opening_hours_clean(raw: Mapping[str, object] | None) -> OpeningHours:
    """Check *raw* opening hours and return them normalised (every weekday, ranges sorted).

    Raises :class:`InvalidInput` (field ``opening_hours.<day>``) for an unknown day, more
    than :data:`MAX_RANGES` ranges, a time that is not ``HH:MM``, a range that does not
    close after it opens, or ranges that overlap.
    """
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise InvalidInput("Opening hours are given per weekday.", field="opening_hours")
    unknown = sorted(str(day) for day in raw if day not in WEEKDAYS)
    if unknown:
        raise InvalidInput(
            f"Unknown weekday {unknown[0]!r} (use {', '.join(WEEKDAYS)}).", field="opening_hours"
        )
    clean: OpeningHours = {}
    for day in WEEKDAYS:
        field_name = f"opening_hours.{day}"
        spans = raw.get(day) or []
        if not isinstance(spans, list | tuple):
            raise InvalidInput("Give a list of [open, close] ranges.", field=field_name)
        if len(spans) > MAX_RANGES:
            raise InvalidInput(f"At most {MAX_RANGES} ranges a day.", field=field_name)
        ranges: list[tuple[int, int, str, str]] = []
        for span in spans:
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise InvalidInput("A range is [open, close].", field=field_name)
            opens, closes = _minutes(span[0], field_name), _minutes(span[1], field_name)
            if opens >= closes:
                raise InvalidInput(
                    f"{span[0]}–{span[1]}: the closing time must come after the opening time.",
                    field=field_name,
                )
            ranges.append((opens, closes, str(span[0]).strip(), str(span[1]).strip()))
        ranges.sort()
        for before, after in itertools.pairwise(ranges):
            if after[0] < before[1]:
                raise InvalidInput(
                    f"{before[2]}–{before[3]} and {after[2]}–{after[3]} overlap.",
                    field=field_name,
                )
        clean[day] = [[opens, closes] for _o, _c, opens, closes in ranges]
    return clean


@dataclass(frozen=True)
class LocationInput:
    """A store's or a warehouse's details as the merchant edits them."""

    kind: str
    code: str
    name: str
    address_line1: str = ""
    address_line2: str = ""
    postcode: str = ""
    city: str = ""
    country: str = "FR"
    phone: str = ""
    opening_hours: Mapping[str, object] = field(default_factory=dict)
    is_active: bool = True


def _checked(data: LocationInput) -> dict[str, object]:
    if data.kind not in Location.Kind.values:
        raise InvalidInput(f"Unknown location kind {data.kind!r}.", field="kind")
    code = data.code.strip()
    if not _CODE.match(code):
        raise InvalidInput(
            "A code has 1 to 40 letters, digits, hyphens or underscores.", field="code"
        )
    name = data.name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("A location needs a name (at most 200 characters).", field="name")
    country = data.country.strip().upper()
    if not _COUNTRY.match(country):
        raise InvalidInput("A country is a two-letter code such as FR.", field="country")
    texts = {
        "address_line1": (data.address_line1, 200),
        "address_line2": (data.address_line2, 200),
        "postcode": (data.postcode, 16),
        "city": (data.city, 100),
    }
    values: dict[str, object] = {}
    for name_, (value, limit) in texts.items():
        value = value.strip()
        if len(value) > limit:
            raise InvalidInput(f"At most {limit} characters.", field=name_)
        values[name_] = value
    phone = data.phone.strip()
    if phone:
        phone = normalize_phone(phone, default_region=country, field="phone")
    return {
        **values,
        "kind": data.kind,
        "code": code,
        "name": name,
        "country": country,
        "phone": phone,
        "opening_hours": opening_hours_clean(data.opening_hours),
        "is_active": bool(data.is_active),
    }


def _code_taken(shop: Shop, code: str, exclude: int | None = None) -> bool:
    rows = Location.objects.filter(shop=shop, code=code)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.exists()


def location_get(*, shop: Shop, location_id: int) -> Location:
    """One store or warehouse of *shop*."""
    location = Location.objects.filter(shop=shop, pk=location_id).first()
    if location is None:
        raise NotFound("No such location.", location_id=location_id)
    return location


def location_list(*, shop: Shop) -> list[Location]:
    """The shop's stores then warehouses, active first, by name."""
    return list(Location.objects.filter(shop=shop).order_by("kind", "-is_active", "name", "pk"))


def location_add(*, shop: Shop, data: LocationInput) -> Location:
    """Add a store or a warehouse; the code is unique in the shop."""
    values = _checked(data)
    if _code_taken(shop, str(values["code"])):
        raise InvalidInput("Another location of the shop has this code.", field="code")
    try:
        with transaction.atomic():
            return Location.objects.create(shop=shop, **values)
    except IntegrityError:
        raise InvalidInput("Another location of the shop has this code.", field="code") from None


def location_update(*, shop: Shop, location_id: int, data: LocationInput) -> Location:
    """Replace a location's details (all of them, as the edit form gives them)."""
    values = _checked(data)
    with transaction.atomic():
        location = Location.objects.select_for_update().filter(shop=shop, pk=location_id).first()
        if location is None:
            raise NotFound("No such location.", location_id=location_id)
        if _code_taken(shop, str(values["code"]), exclude=location.pk):
            raise InvalidInput("Another location of the shop has this code.", field="code")
        for name, value in values.items():
            setattr(location, name, value)
        try:
            with transaction.atomic():
                location.save()
        except IntegrityError:
            raise InvalidInput(
                "Another location of the shop has this code.", field="code"
            ) from None
    return location


def location_in_use(location: Location) -> bool:
    """Whether any order names this location as its pickup store or its warehouse."""
    from suivi.orders.models import Order

    return Order.objects.filter(
        Q(pickup_location=location) | Q(warehouse=location), shop_id=location.shop_id
    ).exists()


def location_remove(*, shop: Shop, location_id: int) -> bool:
    """Delete a location no order refers to; deactivate it otherwise.

    Returns True when it was deleted, False when it was deactivated instead.
    """
    with transaction.atomic():
        location = Location.objects.select_for_update().filter(shop=shop, pk=location_id).first()
        if location is None:
            raise NotFound("No such location.", location_id=location_id)
        if not location_in_use(location):
            try:
                with transaction.atomic():
                    location.delete()
                return True
            except ProtectedError:  # another table protects it: keep it, inactive
                pass
        if location.is_active:
            location.is_active = False
            location.save(update_fields=["is_active"])
    return False
