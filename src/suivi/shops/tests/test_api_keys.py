"""API keys: shown once, stored as a digest, revocable, touched sparingly."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from suivi.shops.models import ApiKey, Shop
from suivi.shops.services import (
    IssuedApiKey,
    api_key_authenticate,
    api_key_create,
    api_key_digest,
    api_key_revoke,
)


def test_a_new_key_is_shown_once_and_only_its_digest_is_kept(shop_a: Shop, shop_b: Shop) -> None:
    # when a key is issued
    issued = api_key_create(shop=shop_a, name="Shopify")
    # then the secret starts with the public prefix, and the database holds only its digest
    assert issued.secret.startswith(f"sk_{issued.api_key.prefix}_")
    assert len(issued.secret) > 40
    stored = ApiKey.objects.get(pk=issued.api_key.pk)
    assert stored.shop_id == shop_a.pk
    assert stored.digest == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert stored.digest == api_key_digest(issued.secret)
    row = ApiKey.objects.filter(pk=stored.pk).values().get()
    assert not any(issued.secret in str(value) for value in row.values())
    assert stored.is_active and stored.last_used_at is None


def test_every_key_is_different(shop_a: Shop, shop_b: Shop) -> None:
    keys = [api_key_create(shop=shop, name="k") for shop in (shop_a, shop_b) for _ in range(5)]
    assert len({key.secret for key in keys}) == 10
    assert len({key.api_key.prefix for key in keys}) == 10


def test_a_key_authenticates_its_own_shop_only(
    key_a: IssuedApiKey, key_b: IssuedApiKey, shop_a: Shop, shop_b: Shop
) -> None:
    found_a = api_key_authenticate(secret=key_a.secret)
    found_b = api_key_authenticate(secret=key_b.secret)
    assert found_a is not None and found_b is not None
    assert (found_a.pk, found_a.shop) == (key_a.api_key.pk, shop_a)
    assert (found_b.pk, found_b.shop) == (key_b.api_key.pk, shop_b)


def test_wrong_or_malformed_secrets_authenticate_nothing(key_a: IssuedApiKey) -> None:
    for secret in (
        "",
        "sk_",
        key_a.secret[:-1],
        key_a.secret + "x",
        key_a.secret.upper(),
        key_a.secret.removeprefix("sk_"),
        key_a.api_key.digest,
        key_a.api_key.prefix,
    ):
        assert api_key_authenticate(secret=secret) is None, secret


def test_a_revoked_key_stops_working_at_once_and_the_others_keep_working(
    key_a: IssuedApiKey, key_b: IssuedApiKey
) -> None:
    other_a = api_key_create(shop=key_a.api_key.shop, name="second")
    api_key_revoke(api_key=key_a.api_key)
    assert api_key_authenticate(secret=key_a.secret) is None
    assert api_key_authenticate(secret=other_a.secret) is not None
    assert api_key_authenticate(secret=key_b.secret) is not None
    revoked = ApiKey.objects.get(pk=key_a.api_key.pk)
    assert not revoked.is_active
    # revoking twice keeps the first revocation time
    first_time = revoked.revoked_at
    api_key_revoke(api_key=revoked)
    assert ApiKey.objects.get(pk=revoked.pk).revoked_at == first_time


@override_settings(SUIVI_API_KEY_TOUCH_SECONDS=60)
def test_last_use_is_written_at_most_once_a_touch_period(
    key_a: IssuedApiKey, key_b: IssuedApiKey
) -> None:
    # given a first use, which records the time
    first = api_key_authenticate(secret=key_a.secret)
    assert first is not None and first.last_used_at is not None
    touched = ApiKey.objects.get(pk=key_a.api_key.pk).last_used_at
    assert touched == first.last_used_at
    # when it is used again within the period
    with CaptureQueriesContext(connection) as queries:
        again = api_key_authenticate(secret=key_a.secret)
    # then no write happened
    assert again is not None
    assert [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")] == []
    assert ApiKey.objects.get(pk=key_a.api_key.pk).last_used_at == touched
    # when the period has passed
    assert touched is not None
    ApiKey.objects.filter(pk=key_a.api_key.pk).update(last_used_at=touched - timedelta(seconds=61))
    later = api_key_authenticate(secret=key_a.secret)
    # then the time is written again; the other shop's key was never touched
    assert later is not None and later.last_used_at is not None
    assert later.last_used_at > touched - timedelta(seconds=61)
    assert ApiKey.objects.get(pk=key_a.api_key.pk).last_used_at == later.last_used_at
    assert ApiKey.objects.get(pk=key_b.api_key.pk).last_used_at is None


@override_settings(SUIVI_API_KEY_TOUCH_SECONDS=0)
def test_a_touch_period_of_zero_writes_every_use(key_a: IssuedApiKey, key_b: IssuedApiKey) -> None:
    api_key_authenticate(secret=key_a.secret)
    with CaptureQueriesContext(connection) as queries:
        api_key_authenticate(secret=key_a.secret)
    assert sum(q["sql"].lstrip().upper().startswith("UPDATE") for q in queries) == 1
