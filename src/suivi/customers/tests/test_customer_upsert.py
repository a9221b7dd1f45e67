"""Customers are known per shop by their email; contact details are updated, never erased."""

from __future__ import annotations

import pytest

from suivi.core.errors import InvalidInput
from suivi.customers.models import Customer
from suivi.customers.services import customer_upsert
from suivi.orders.models import Order
from suivi.shops.models import Shop
from suivi.testing import make_order


def test_the_same_email_is_one_customer_per_shop(shop_a: Shop, shop_b: Shop) -> None:
    first = customer_upsert(shop=shop_a, email="Claire.Martin@Example.FR ")
    again = customer_upsert(shop=shop_a, email="claire.martin@example.fr")
    elsewhere = customer_upsert(shop=shop_b, email="claire.martin@example.fr")
    assert first.pk == again.pk != elsewhere.pk
    assert first.email == "claire.martin@example.fr"
    assert Customer.objects.filter(email="claire.martin@example.fr").count() == 2


def test_new_details_update_the_customer_and_blank_ones_keep_what_was_known(
    shop_a: Shop, shop_b: Shop
) -> None:
    customer_upsert(
        shop=shop_a, email="claire@example.fr", phone="+33612345678", first_name="Claire"
    )
    customer_upsert(shop=shop_b, email="claire@example.fr", first_name="C.")
    # when shop A hears of her again with a new phone and no first name
    updated = customer_upsert(
        shop=shop_a, email="claire@example.fr", phone="+33700000000", last_name="Martin"
    )
    # then the phone and the last name changed, the first name stayed
    stored = Customer.objects.get(pk=updated.pk)
    assert (stored.phone, stored.first_name, stored.last_name) == (
        "+33700000000",
        "Claire",
        "Martin",
    )
    assert stored.full_name == "Claire Martin"
    # and shop B's customer with the same email did not change
    other = Customer.objects.get(shop=shop_b)
    assert (other.phone, other.first_name, other.last_name) == ("", "C.", "")


def test_an_order_stores_the_customers_phone_in_e164(shop_a: Shop, shop_b: Shop) -> None:
    order = make_order(shop_a, phone="06 12 34 56 78")
    make_order(shop_b, phone="")
    assert Order.objects.get(pk=order.pk).phone == "+33612345678"
    assert Customer.objects.get(shop=shop_a).phone == "+33612345678"
    assert Customer.objects.get(shop=shop_b).phone == ""


def test_an_order_with_an_invalid_phone_is_refused_and_writes_nothing(
    shop_a: Shop, shop_b: Shop
) -> None:
    make_order(shop_b, phone="06 12 34 56 78")
    with pytest.raises(InvalidInput) as caught:
        make_order(shop_a, phone="06 12")
    assert caught.value.field == "customer.phone"
    assert not Order.objects.filter(shop=shop_a).exists()
    assert not Customer.objects.filter(shop=shop_a).exists()
