"""Staff builders for the back-office tests: real users, memberships and (for owners) a
real TOTP authenticator through allauth, as the sign-in flow would leave them."""

from __future__ import annotations

import itertools
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth import get_user_model
from django.test import Client

from suivi.shops.models import Membership, Shop

PASSWORD = "correct horse battery staple 42"
_counter = itertools.count(1)


def staff_user(shop: Shop, role: str, *, email: str | None = None, mfa: bool | None = None) -> Any:
    """A verified user with *role* in *shop*; owners get a TOTP authenticator unless
    ``mfa=False``. The TOTP secret is kept on ``user.totp_secret`` for sign-in tests."""
    email = email or f"{role}.{next(_counter)}@{shop.slug}.example"
    user = get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    Membership.objects.create(shop=shop, user=user, role=role)
    user.totp_secret = ""
    if mfa if mfa is not None else role == Membership.Role.OWNER:
        user.totp_secret = generate_totp_secret()
        TOTP.activate(user, user.totp_secret)
    return user


def totp_code(secret: str) -> str:
    """The current code of an authenticator app holding *secret*, read early enough in its
    period that the server still accepts it (allauth allows no drift by default): in the
    last 5 seconds of a period, wait for the next one."""
    import time

    from allauth.mfa import app_settings

    period = app_settings.TOTP_PERIOD
    left = period - time.time() % period
    if left < 5:
        time.sleep(left + 0.2)
    return format_hotp_value(hotp_value(secret, int(time.time()) // period))


def client_for(user: Any) -> Client:
    """A test client signed in as *user* (the session allauth's sign-in would leave)."""
    client = Client()
    client.force_login(user)
    return client
