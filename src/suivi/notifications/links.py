"""Signed links carried by every message: the order's tracking page and the customer's
notification choices. The token proves the holder received a message about that order (or
for that customer); it carries no personal data and cannot be forged without SECRET_KEY.
Messages may also link to the order in the customer space (:func:`order_space_url`): no
token there, the page asks the customer to sign in.

Tokens are short (they go into SMS): the id in base 36, a dot, 16 characters of a salted
HMAC. They do not expire (an old email's link must still open the page).
"""

from __future__ import annotations

import hmac
from hashlib import sha256

from django.conf import settings
from django.urls import reverse
from django.utils.encoding import force_bytes

_TRACK = "suivi.notifications.track"
_PREFS = "suivi.notifications.preferences"
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _ALPHABET[r] + out
        if n == 0:
            return out


def _mac(salt: str, value: str) -> str:
    import base64

    digest = hmac.new(force_bytes(salt + settings.SECRET_KEY), force_bytes(value), sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:16]


def make_token(salt: str, object_id: int) -> str:
    ident = _b36(object_id)
    return f"{ident}.{_mac(salt, ident)}"


def read_token(salt: str, token: str) -> int | None:
    """Return the id a token was made for, or None if it was not made by us."""
    ident, _, mac = token.partition(".")
    if not ident or not mac or len(ident) > 13:
        return None
    if not hmac.compare_digest(mac, _mac(salt, ident)):
        return None
    try:
        return int(ident, 36)
    except ValueError:
        return None


def base_url() -> str:
    return (settings.BASE_URL or "http://127.0.0.1:8000").rstrip("/")


def tracking_token(order_id: int) -> str:
    return make_token(_TRACK, order_id)


def order_from_tracking_token(token: str) -> int | None:
    return read_token(_TRACK, token)


def preferences_token(customer_id: int) -> str:
    return make_token(_PREFS, customer_id)


def customer_from_preferences_token(token: str) -> int | None:
    return read_token(_PREFS, token)


def tracking_url(order_id: int) -> str:
    return base_url() + reverse("customer:track", args=[tracking_token(order_id)])


def preferences_url(customer_id: int) -> str:
    return base_url() + reverse("notifications:preferences", args=[preferences_token(customer_id)])


def order_space_url(order_id: int) -> str:
    """The order's page in the customer space (signed-in owner only: it carries no token)."""
    return base_url() + reverse("customer:order", args=[order_id])
