"""Accounts on django-allauth: sign-up with email verification joins a guest's orders; the
sign-in code email carries a link; TOTP is offered."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from suivi.customers.models import Customer

from .support import ready_order, shipped_order


@pytest.fixture(autouse=True)
def _fresh(db: None, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    cache.clear()


def _link(message: str) -> str:
    return re.search(r"https?://[^\s]+", message).group(0)


def test_signing_up_and_verifying_the_email_joins_past_orders_of_every_shop(shop_a, shop_b) -> None:
    first = shipped_order(shop_a)
    second = ready_order(shop_b)
    client = Client()
    response = client.post("/accounts/signup/", {
        "email": first.email, "password1": "Une-phrase-longue-42", "password2": "Une-phrase-longue-42",
    })  # fmt: skip
    assert response.status_code == 302
    # Not verified yet: no order in the account.
    assert not Customer.objects.filter(user__isnull=False).exists()
    confirm = _link(mail.outbox[-1].body)
    path = confirm.split("testserver", 1)[-1]
    client.post(path)
    assert set(Customer.objects.filter(user__email=first.email).values_list("pk", flat=True)) == {
        first.customer_id, second.customer_id}  # fmt: skip
    client.login(username=first.email, password="Une-phrase-longue-42")
    html = client.get("/space/").content.decode()
    assert first.reference in html and second.reference in html


def test_an_unverified_address_does_not_take_someone_else_s_orders(shop_a) -> None:
    victim = shipped_order(shop_a)
    Client().post("/accounts/signup/", {
        "email": victim.email, "password1": "Une-phrase-longue-42", "password2": "Une-phrase-longue-42",
    })  # fmt: skip
    client = Client()
    assert (
        not client.login(username=victim.email, password="Une-phrase-longue-42")
        or victim.reference not in client.get("/space/").content.decode()
    )
    assert Customer.objects.get(pk=victim.customer_id).user is None


def _verified_user(client: Client, email: str, password: str = "Une-phrase-longue-42") -> None:  # noqa: S107
    client.post("/accounts/signup/", {"email": email, "password1": password, "password2": password})
    client.post(_link(mail.outbox[-1].body).split("testserver", 1)[-1])


def test_the_sign_in_code_email_carries_a_link_that_fills_the_form(shop_a) -> None:
    order = shipped_order(shop_a)
    client = Client()
    _verified_user(client, order.email)
    client.logout()
    mail.outbox.clear()
    client.post("/accounts/login/code/", {"email": order.email})
    body = mail.outbox[-1].body
    link = re.search(r"https?://\S+/accounts/login/code/confirm/\?code=(\S+)", body)
    assert link, body
    page = client.get(link.group(0).split("testserver", 1)[-1]).content.decode()
    assert f'value="{link.group(1)}"' in page
    assert client.post("/accounts/login/code/confirm/", {"code": link.group(1)}).status_code == 302
    assert order.reference in client.get("/space/").content.decode()
    # The same link in another browser (no pending sign-in there) signs nobody in.
    other = Client()
    other.post("/accounts/login/code/confirm/", {"code": link.group(1)})
    assert other.get("/space/").status_code == 302


def test_totp_two_factor_authentication_is_then_required_to_sign_in(shop_a) -> None:
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    def totp(secret: str) -> str:
        return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))

    order = shipped_order(shop_a)
    client = Client()
    _verified_user(client, order.email)
    client.post("/accounts/login/", {"login": order.email, "password": "Une-phrase-longue-42"})
    page = client.get("/accounts/2fa/totp/activate/")
    if page.status_code == 302 and "reauthenticate" in page["Location"]:
        client.post(page["Location"], {"password": "Une-phrase-longue-42"})
        page = client.get("/accounts/2fa/totp/activate/")
    html = page.content.decode()
    secret = re.search(
        r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"|value="([A-Z2-7]+)"[^>]*id="authenticator_secret"',
        html,
    )
    assert secret, (page.status_code, page.get("Location"), html[html.find("<main") :][:2500])
    secret = secret.group(1) or secret.group(2)
    assert client.post("/accounts/2fa/totp/activate/", {"code": totp(secret)}).status_code == 302
    client.post("/accounts/logout/")
    fresh = Client()
    step = fresh.post(
        "/accounts/login/", {"login": order.email, "password": "Une-phrase-longue-42"}
    )
    assert step.status_code == 302 and "2fa/authenticate" in step["Location"]
    assert fresh.get("/space/").status_code == 302  # not signed in before the second factor
    wrong = fresh.post(step["Location"], {"code": "000000"})
    assert wrong.status_code == 200 and fresh.get("/space/").status_code == 302
    fresh.post(step["Location"], {"code": totp(secret)})
    assert order.reference in fresh.get("/space/").content.decode()
