"""The French reference tables and the people drawn from them look real."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from suivi.core.phones import normalize_phone
from suivi.demo.data import BOOKSHOP, CUSTOMER_EMAIL_DOMAINS, HOME_GOODS, REGIONS
from suivi.demo.generator import french_address, mobile_number, person

# Departments of each region (INSEE), written independently of the postcode table so that
# a postcode filed under the wrong region fails.
DEPARTMENTS = {
    "Île-de-France": {"75", "77", "78", "91", "92", "93", "94", "95"},
    "Auvergne-Rhône-Alpes": {
        "01",
        "03",
        "07",
        "15",
        "26",
        "38",
        "42",
        "43",
        "63",
        "69",
        "73",
        "74",
    },
    "Provence-Alpes-Côte d'Azur": {"04", "05", "06", "13", "83", "84"},
    "Occitanie": {"09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"},
    "Nouvelle-Aquitaine": {"16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"},
    "Hauts-de-France": {"02", "59", "60", "62", "80"},
    "Grand Est": {"08", "10", "51", "52", "54", "55", "57", "67", "68", "88"},
    "Pays de la Loire": {"44", "49", "53", "72", "85"},
    "Bretagne": {"22", "29", "35", "56"},
    "Normandie": {"14", "27", "50", "61", "76"},
    "Centre-Val de Loire": {"18", "28", "36", "37", "41", "45"},
    "Bourgogne-Franche-Comté": {"21", "25", "39", "58", "70", "71", "89", "90"},
    "Corse": {"20"},  # 2A and 2B share the 20xxx postcodes
}


def test_every_region_of_mainland_france_is_represented() -> None:
    assert set(REGIONS) == set(DEPARTMENTS)


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_each_postcode_belongs_to_a_department_of_its_region(region: str) -> None:
    _, places = REGIONS[region]
    for postcode, city in places:
        assert len(postcode) == 5 and postcode.isdigit(), (postcode, city)
        assert postcode[:2] in DEPARTMENTS[region], (postcode, city)


def test_paris_postcodes_name_an_arrondissement() -> None:
    paris = [code for code, city in REGIONS["Île-de-France"][1] if city == "Paris"]
    assert paris
    assert all(code.startswith("750") and 1 <= int(code[3:]) <= 20 for code in paris)


def test_generated_mobile_numbers_are_valid_french_mobiles() -> None:
    rng = random.Random(42)
    for _ in range(2000):
        raw = mobile_number(rng)
        e164 = normalize_phone(raw, default_region="FR")
        parsed = phonenumbers.parse(e164)
        assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE, raw
        assert e164[:4] in ("+336", "+337"), raw


def test_addresses_use_real_postcode_city_pairs() -> None:
    pairs = {pair for _, places in REGIONS.values() for pair in places}
    rng = random.Random(7)
    for _ in range(500):
        address = french_address(rng, "Claire Martin")
        assert (address.postcode, address.city) in pairs
        assert address.country == "FR"
        assert address.line1[0].isdigit()


def test_customers_spread_over_many_regions() -> None:
    region_of = {pair: name for name, (_, places) in REGIONS.items() for pair in places}
    people = [person(1, index) for index in range(400)]
    seen = {region_of[(p.address.postcode, p.address.city)] for p in people}
    assert len(seen) >= 10


def test_customer_emails_use_domains_reserved_for_documentation() -> None:
    for index in range(300):
        email = person(3, index).email
        local, domain = email.split("@")
        assert domain in CUSTOMER_EMAIL_DOMAINS
        assert local.isascii() and " " not in local


def test_the_same_seed_and_index_give_the_same_person_and_another_seed_another() -> None:
    assert person(5, 17) == person(5, 17)
    assert [person(5, i) for i in range(20)] != [person(6, i) for i in range(20)]


def test_catalogue_skus_are_unique_and_prices_positive() -> None:
    for catalogue in (HOME_GOODS, BOOKSHOP):
        skus = [product.sku for product in catalogue]
        assert len(skus) == len(set(skus))
        assert all(product.price > 0 for product in catalogue)


def test_books_carry_a_valid_isbn_13_and_the_reduced_vat_rate() -> None:
    books = [p for p in BOOKSHOP if p.sku.startswith("978")]
    assert len(books) >= 15
    for book in books:
        digits = [int(d) for d in book.sku]
        assert len(digits) == 13
        assert sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0
        assert str(book.tax_rate) == "5.50"
