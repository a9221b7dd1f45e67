"""Shops, their locations and staff roles."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from suivi.core.errors import InvalidInput
from suivi.shops.models import Location, Membership, Shop
from suivi.shops.services import location_create, shop_create, staff_add


def test_a_shop_gets_its_slug_from_its_name(shop_a: Shop, shop_b: Shop) -> None:
    assert shop_a.slug == "maison-lumiere"
    assert shop_b.slug == "epicerie-bleue"
    assert shop_a.locales == ["fr", "en"] and shop_a.default_locale == "fr"
    assert shop_a.invoicing_enabled and not shop_b.invoicing_enabled


def test_a_slug_is_used_once_on_the_platform(shop_a: Shop, shop_b: Shop) -> None:
    with pytest.raises(InvalidInput) as caught:
        shop_create(name="Maison Lumière")
    assert caught.value.field == "slug"
    with pytest.raises(InvalidInput):
        shop_create(name="Autre nom", slug="epicerie-bleue")
    # a different slug for the same name is fine
    twin = shop_create(name="Maison Lumière", slug="maison-lumiere-paris")
    assert Shop.objects.filter(name="Maison Lumière").count() == 2
    assert twin.slug == "maison-lumiere-paris"


def test_the_database_also_refuses_a_duplicate_slug(shop_a: Shop, shop_b: Shop) -> None:
    # Two requests checking at the same time both pass the service's check; the unique
    # index stops the second.
    with pytest.raises(IntegrityError), transaction.atomic():
        Shop.objects.create(name="Copie", slug=shop_a.slug)


def test_a_shop_needs_a_name_that_makes_a_slug(shop_a: Shop, shop_b: Shop) -> None:
    with pytest.raises(InvalidInput):
        shop_create(name="???")
    assert Shop.objects.count() == 2


def test_the_shop_chooses_its_languages(shop_a: Shop, shop_b: Shop) -> None:
    shop = shop_create(name="London Tea", locales=["en", "fr"], currency="GBP")
    assert (shop.default_locale, shop.currency) == ("en", "GBP")


def test_each_shop_has_its_own_location_codes(shop_a: Shop, shop_b: Shop) -> None:
    # both test shops have a "boutique" and an "entrepot"
    assert set(shop_a.locations.values_list("code", flat=True)) == {"boutique", "entrepot"}
    assert set(shop_b.locations.values_list("code", flat=True)) == {"boutique", "entrepot"}
    with pytest.raises(IntegrityError), transaction.atomic():
        location_create(shop=shop_a, kind=Location.Kind.STORE, code="boutique", name="Doublon")


def test_a_location_is_a_store_or_a_warehouse(shop_a: Shop, shop_b: Shop) -> None:
    with pytest.raises(InvalidInput) as caught:
        location_create(shop=shop_a, kind="depot", code="x", name="X")
    assert caught.value.field == "kind"
    assert shop_a.locations.count() == 2


def test_staff_get_a_role_per_shop(shop_a: Shop, shop_b: Shop) -> None:
    # given the same person working for both shops
    owner_a = staff_add(shop=shop_a, email="lea@example.fr", password="s3cret-pass", role="owner")
    agent_b = staff_add(shop=shop_b, email="lea@example.fr", password=None, role="customer_service")
    # then one user, two memberships with different roles
    assert owner_a.user_id == agent_b.user_id
    roles = dict(Membership.objects.filter(user_id=owner_a.user_id).values_list("shop", "role"))
    assert roles == {shop_a.pk: "owner", shop_b.pk: "customer_service"}
    user = get_user_model().objects.get(pk=owner_a.user_id)
    assert user.check_password("s3cret-pass")


def test_adding_a_staff_member_again_changes_their_role(shop_a: Shop, shop_b: Shop) -> None:
    staff_add(shop=shop_a, email="marc@example.fr", password=None, role="logistics")
    staff_add(shop=shop_b, email="marc@example.fr", password=None, role="logistics")
    again = staff_add(shop=shop_a, email="marc@example.fr", password=None, role="owner")
    assert again.role == Membership.Role.OWNER
    assert Membership.objects.filter(user_id=again.user_id).count() == 2
    assert Membership.objects.get(shop=shop_b, user_id=again.user_id).role == "logistics"


def test_a_staff_member_without_a_password_cannot_log_in_with_one(
    shop_a: Shop, shop_b: Shop
) -> None:
    member = staff_add(shop=shop_b, email="nina@example.fr", password=None, role="logistics")
    assert not get_user_model().objects.get(pk=member.user_id).has_usable_password()


def test_an_unknown_role_is_refused(shop_a: Shop, shop_b: Shop) -> None:
    with pytest.raises(InvalidInput) as caught:
        staff_add(shop=shop_a, email="x@example.fr", password=None, role="admin")
    assert caught.value.field == "role"
    assert not get_user_model().objects.filter(username="x@example.fr").exists()
    assert set(Membership.Role.values) == {"owner", "logistics", "customer_service"}
