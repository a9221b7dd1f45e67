"""Stores and warehouses: opening hours checked in the domain, codes unique per shop, and a
location that orders use is deactivated rather than deleted."""

from __future__ import annotations

import pytest

from suivi.core.errors import InvalidInput, NotFound
from suivi.orders.lifecycle import Mode
from suivi.shops.locations import (
    LocationInput,
    location_add,
    location_get,
    location_remove,
    location_update,
    opening_hours_clean,
)
from suivi.shops.models import Location
from suivi.testing import make_order

pytestmark = pytest.mark.django_db


def test_opening_hours_are_normalised_with_every_weekday_and_sorted_ranges() -> None:
    clean = opening_hours_clean({"mon": [["14:00", "19:00"], ["09:00", "12:30"]], "sat": []})
    assert clean["mon"] == [["09:00", "12:30"], ["14:00", "19:00"]]
    assert clean["sat"] == [] and clean["sun"] == []
    assert list(clean) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    # One range may start when the previous one ends.
    assert opening_hours_clean({"tue": [["09:00", "12:00"], ["12:00", "18:00"]]})["tue"] == [
        ["09:00", "12:00"], ["12:00", "18:00"]
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("hours", "field", "words"),
    [
        ({"mon": [["09:00", "12:00"], ["11:00", "18:00"]]}, "opening_hours.mon", "overlap"),
        ({"tue": [["19:00", "09:00"]]}, "opening_hours.tue", "after the opening"),
        ({"wed": [["10:00", "10:00"]]}, "opening_hours.wed", "after the opening"),
        ({"thu": [["9h", "18:00"]]}, "opening_hours.thu", "HH:MM"),
        ({"fri": [["24:00", "25:00"]]}, "opening_hours.fri", "HH:MM"),
        ({"sat": [["08:00", "09:00"], ["10:00", "11:00"], ["12:00", "13:00"]]},
         "opening_hours.sat", "At most 2"),
        ({"sun": [["08:00"]]}, "opening_hours.sun", "[open, close]"),
        ({"lundi": []}, "opening_hours", "Unknown weekday"),
    ],
)  # fmt: skip
def test_bad_opening_hours_are_refused_naming_the_day(hours, field, words) -> None:
    with pytest.raises(InvalidInput) as caught:
        opening_hours_clean(hours)
    assert caught.value.field == field and words in caught.value.message


def _data(**changes) -> LocationInput:
    values = {
        "kind": "store",
        "code": "paris-marais",
        "name": "Paris Marais",
        "address_line1": "5 rue des Francs-Bourgeois",
        "postcode": "75004",
        "city": "Paris",
        "phone": "01 42 72 00 00",
        "opening_hours": {"mon": [["10:00", "19:00"]]},
    }
    return LocationInput(**(values | changes))


def test_a_store_is_added_with_its_phone_in_e164(shop_a) -> None:
    location = location_add(shop=shop_a, data=_data())
    assert location.phone == "+33142720000"
    assert location.opening_hours["mon"] == [["10:00", "19:00"]]
    assert location.opening_hours["sun"] == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"code": "boutique"}, "code"),  # taken by make_shop's store
        ({"code": "bad code!"}, "code"),
        ({"kind": "depot"}, "kind"),
        ({"name": "  "}, "name"),
        ({"country": "France"}, "country"),
        ({"opening_hours": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}}, "opening_hours.mon"),
    ],
)
def test_bad_details_add_nothing(shop_a, changes, field) -> None:
    before = Location.objects.count()
    with pytest.raises(InvalidInput) as caught:
        location_add(shop=shop_a, data=_data(**changes))
    assert caught.value.field == field
    assert Location.objects.count() == before


def test_an_update_replaces_the_details_and_keeps_codes_unique(shop_a) -> None:
    location = location_add(shop=shop_a, data=_data())
    updated = location_update(
        shop=shop_a,
        location_id=location.pk,
        data=_data(name="Paris 4e", is_active=False, opening_hours={}),
    )
    assert (updated.name, updated.is_active, updated.opening_hours["mon"]) == (
        "Paris 4e",
        False,
        [],
    )
    with pytest.raises(InvalidInput):
        location_update(shop=shop_a, location_id=location.pk, data=_data(code="entrepot"))
    location.refresh_from_db()
    assert location.code == "paris-marais"


def test_another_shops_location_is_not_found(shop_a, shop_b) -> None:
    other = Location.objects.filter(shop=shop_b).first()
    with pytest.raises(NotFound):
        location_get(shop=shop_a, location_id=other.pk)
    with pytest.raises(NotFound):
        location_update(shop=shop_a, location_id=other.pk, data=_data())
    with pytest.raises(NotFound):
        location_remove(shop=shop_a, location_id=other.pk)
    assert Location.objects.filter(pk=other.pk, is_active=True).exists()


def test_an_unused_location_is_deleted_a_used_one_deactivated(shop_a) -> None:
    unused = location_add(shop=shop_a, data=_data())
    assert location_remove(shop=shop_a, location_id=unused.pk) is True
    assert not Location.objects.filter(pk=unused.pk).exists()
    make_order(shop_a, mode=Mode.CLICK_AND_COLLECT)  # picks up at "boutique"
    store = Location.objects.get(shop=shop_a, code="boutique")
    assert location_remove(shop=shop_a, location_id=store.pk) is False
    store.refresh_from_db()
    assert store.is_active is False
