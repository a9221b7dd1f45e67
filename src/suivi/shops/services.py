"""Writes for shops, staff and API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from suivi.core.errors import InvalidInput

from .models import ApiKey, Location, Membership, Shop

KEY_PREFIX = "sk_"


@dataclass(frozen=True)
class IssuedApiKey:
    """An API key as issued: ``secret`` is the only copy of the full key."""

    api_key: ApiKey
    secret: str


def api_key_digest(secret: str) -> str:
    """Return the stored digest of a full API key (keys are random, so SHA-256 suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def shop_create(
    *,
    name: str,
    slug: str | None = None,
    locales: list[str] | None = None,
    timezone_name: str = "Europe/Paris",
    currency: str = "EUR",
    invoicing_enabled: bool = False,
    sender_name: str = "",
) -> Shop:
    """Create a shop; the slug defaults to the slugified name and must be unused."""
    slug = slug or slugify(name)
    if not slug:
        raise InvalidInput("A shop needs a name or a slug.", field="slug")
    if Shop.objects.filter(slug=slug).exists():
        raise InvalidInput(f"The slug {slug!r} is taken.", field="slug")
    locales = locales or ["fr", "en"]
    return Shop.objects.create(
        name=name,
        slug=slug,
        locales=locales,
        default_locale=locales[0],
        timezone=timezone_name,
        currency=currency,
        invoicing_enabled=invoicing_enabled,
        sender_name=sender_name,
    )


def location_create(
    *,
    shop: Shop,
    kind: str,
    code: str,
    name: str,
    address_line1: str = "",
    postcode: str = "",
    city: str = "",
    opening_hours: dict[str, list[list[str]]] | None = None,
) -> Location:
    """Add a store or a warehouse to *shop*."""
    if kind not in Location.Kind.values:
        raise InvalidInput(f"Unknown location kind {kind!r}.", field="kind")
    return Location.objects.create(
        shop=shop,
        kind=kind,
        code=code,
        name=name,
        address_line1=address_line1,
        postcode=postcode,
        city=city,
        opening_hours=opening_hours or {},
    )


def staff_add(*, shop: Shop, email: str, password: str | None, role: str) -> Membership:
    """Give the user with *email* (created if needed) a *role* in *shop*."""
    if role not in Membership.Role.values:
        raise InvalidInput(f"Unknown role {role!r}.", field="role")
    user_model = get_user_model()
    with transaction.atomic():
        user: AbstractBaseUser
        try:
            user = user_model.objects.get(username=email)
        except user_model.DoesNotExist:
            user = user_model.objects.create_user(username=email, email=email, password=password)
        membership, _ = Membership.objects.update_or_create(
            shop=shop, user=user, defaults={"role": role}
        )
    return membership


def api_key_create(*, shop: Shop, name: str) -> IssuedApiKey:
    """Issue a new API key for *shop*; the returned secret is never stored."""
    prefix = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        shop=shop, name=name, prefix=prefix, digest=api_key_digest(secret)
    )
    return IssuedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke *api_key* at once; later requests with it are refused."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """Return the active key matching *secret*, touching its last-used time at most once a minute."""
    if not secret.startswith(KEY_PREFIX):
        return None
    try:
        # get(), not first(): no ORDER BY to compile or sort on this per-request query.
        api_key = ApiKey.objects.select_related("shop").get(
            digest=api_key_digest(secret), revoked_at__isnull=True
        )
    except ApiKey.DoesNotExist:
        return None
    now = timezone.now()
    touch_every = timedelta(seconds=settings.SUIVI_API_KEY_TOUCH_SECONDS)
    if api_key.last_used_at is None or now - api_key.last_used_at >= touch_every:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
