"""Who gets in: sign-in, membership (404 otherwise), role (readable 403), MFA for owners."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from suivi.backoffice.permissions import RIGHTS, allowed
from suivi.shops.models import Membership, Shop

from .support import client_for, staff_user

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_sign_in(shop_a: Shop) -> None:
    url = reverse("backoffice:home", args=[shop_a.slug])
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=" in response["Location"]


def test_a_member_of_another_shop_gets_the_same_404_as_for_a_missing_shop(
    shop_a: Shop, owner_b: Any
) -> None:
    client = client_for(owner_b)
    assert client.get(reverse("backoffice:home", args=[shop_a.slug])).status_code == 404
    assert client.get(reverse("backoffice:home", args=["no-such-shop"])).status_code == 404
    assert (
        client.get(
            reverse("backoffice:home", args=[owner_b.memberships.get().shop.slug])
        ).status_code
        == 200
    )


def test_a_customer_account_reaches_no_shop(shop_a: Shop) -> None:
    from django.contrib.auth import get_user_model

    customer = get_user_model().objects.create_user(username="c@example.com", email="c@example.com")
    client = client_for(customer)
    assert client.get(reverse("backoffice:home", args=[shop_a.slug])).status_code == 404
    page = client.get(reverse("backoffice:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "not a member of any shop" in page


def test_an_owner_without_a_second_factor_is_sent_to_set_one_up(shop_a: Shop) -> None:
    owner = staff_user(shop_a, Membership.Role.OWNER, mfa=False)
    response = client_for(owner).get(reverse("backoffice:home", args=[shop_a.slug]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_activate_totp"))


def test_an_owner_with_totp_gets_in(shop_a: Shop, owner_a: Any) -> None:
    response = client_for(owner_a).get(reverse("backoffice:home", args=[shop_a.slug]))
    assert response.status_code == 200


def test_other_roles_need_no_second_factor(shop_a: Shop, logistics_a: Any, service_a: Any) -> None:
    for user in (logistics_a, service_a):
        assert (
            client_for(user).get(reverse("backoffice:home", args=[shop_a.slug])).status_code == 200
        )


def test_the_shop_list_goes_straight_to_the_only_shop(shop_a: Shop, logistics_a: Any) -> None:
    response = client_for(logistics_a).get(reverse("backoffice:index"))
    assert response.status_code == 302
    assert response["Location"] == reverse("backoffice:home", args=[shop_a.slug])


def test_the_shop_list_shows_every_shop_of_a_member_of_two(shop_a: Shop, shop_b: Shop) -> None:
    user = staff_user(shop_a, Membership.Role.LOGISTICS)
    Membership.objects.create(shop=shop_b, user=user, role=Membership.Role.CUSTOMER_SERVICE)
    page = client_for(user).get(reverse("backoffice:index")).content.decode()
    assert shop_a.name in page and shop_b.name in page


@pytest.mark.parametrize("right", sorted(RIGHTS))
def test_owners_hold_every_right(right: str) -> None:
    assert allowed(Membership.Role.OWNER, right)


def test_the_role_table() -> None:
    """The rights that differ between roles, stated once here as the product decision."""
    logistics, service = Membership.Role.LOGISTICS, Membership.Role.CUSTOMER_SERVICE
    assert allowed(logistics, "orders.fulfil") and not allowed(service, "orders.fulfil")
    assert allowed(service, "claims.handle") and not allowed(logistics, "claims.handle")
    assert allowed(service, "returns.refund") and not allowed(logistics, "returns.refund")
    assert allowed(logistics, "returns.receive")
    for right in ("notifications.configure", "settings.api_keys", "settings.webhooks",
                  "settings.policies"):  # fmt: skip
        assert not allowed(logistics, right) and not allowed(service, right)


def test_the_rights_table_of_the_docs_is_the_code() -> None:
    """docs/backoffice.md shows the table the views enforce: every right, every role."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[4] / "docs" / "backoffice.md").read_text()
    roles = [Membership.Role.OWNER, Membership.Role.LOGISTICS, Membership.Role.CUSTOMER_SERVICE]
    documented: dict[str, set[str]] = {}
    for row in re.findall(r"^\| (`[a-z_.]+`.*?) \|(.*)\|$", doc, flags=re.M):
        names, cells = row
        ticks = [cell.strip() == "✓" for cell in cells.split("|")]
        for right in re.findall(r"`([a-z_]+\.[a-z_]+)`", names.split(" — ")[0]):
            documented[right] = {role for role, tick in zip(roles, ticks, strict=True) if tick}
    assert documented == {right: set(holders) for right, holders in RIGHTS.items()}


def test_a_code_from_the_previous_step_still_signs_in_but_not_an_older_one() -> None:
    import time

    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        generate_totp_secret,
        hotp_value,
        validate_totp_code,
    )

    secret = generate_totp_secret()
    if 30 - time.time() % 30 < 2:  # not across a step change
        time.sleep(2.1)
    step = int(time.time()) // 30
    assert validate_totp_code(secret, format_hotp_value(hotp_value(secret, step - 1)))
    assert not validate_totp_code(secret, format_hotp_value(hotp_value(secret, step - 2)))
