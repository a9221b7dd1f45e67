"""Registering numbers with carriers that push only for numbers they were told about.

UPS sends Track Alert webhooks only for subscribed numbers; AfterShip follows (and pushes)
only trackings created in it. A leg of such a carrier with an account gets ``register_at``
when it is created; this worker job claims due legs like the poller does (the time pushed
forward by a lease in one statement), asks the connector to register them in calls of its
size with Suivi's webhook address and the account's push secret, and records the outcome:
``registered_at`` on success, the carrier's refusal in ``last_error`` (an invalid number
is not retried), a backoff with ``Retry-After`` on 429/5xx. Nothing here is needed for
correctness — those carriers are polled too — it makes their news arrive sooner.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from suivi.carriers import registry
from suivi.carriers.base import CarrierFailure

from . import schedule
from .models import ParcelLeg
from .services import account_config, push_secret, registers

logger = logging.getLogger("suivi.shipments")
LEASE = timedelta(minutes=5)


def callback_url(account_id: int) -> str:
    base = settings.BASE_URL.rstrip("/")
    return f"{base}{reverse('api-v1:tracking_webhook', kwargs={'account_id': account_id})}"


def renew_expiring(*, now: datetime | None = None) -> int:
    """Registrations that expire (UPS: 14 days) are made again a day before, for parcels
    still followed (a terminal parcel's legs have no next poll). An hourly worker job."""
    now = now or timezone.now()
    renewed = 0
    for code, connector in registry.CONNECTORS.items():
        if connector.register is None or not connector.registration_days:
            continue
        before = now - timedelta(days=connector.registration_days - 1)
        renewed += ParcelLeg.objects.filter(
            carrier__in=registry.codes_of(code),
            registered_at__lt=before,
            register_at__isnull=True,
            next_poll_at__isnull=False,
        ).update(register_at=now)
    return renewed


def claim(limit: int = 100, *, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            ParcelLeg.objects.select_for_update(skip_locked=True)
            .filter(register_at__lte=now)
            .order_by("register_at")
            .values_list("pk", flat=True)[:limit]
        )
        ParcelLeg.objects.filter(pk__in=ids).update(register_at=now + LEASE)
    return ids


def register(ids: list[int], *, now: datetime | None = None) -> int:
    """Register the claimed legs; return how many the carriers accepted."""
    now = now or timezone.now()
    if not settings.BASE_URL:
        ParcelLeg.objects.filter(pk__in=ids).update(
            register_at=now + timedelta(hours=1),
            last_error="registration waits for SUIVI_BASE_URL (the webhook address)",
        )
        return 0
    groups: dict[int, list[ParcelLeg]] = defaultdict(list)
    for leg in ParcelLeg.objects.filter(pk__in=ids).select_related("account"):
        if leg.account is None or not registers(leg.carrier, leg.account):
            ParcelLeg.objects.filter(pk=leg.pk).update(register_at=None)
            continue
        groups[leg.account.pk].append(leg)
    accepted = 0
    for legs in groups.values():
        account = legs[0].account
        assert account is not None
        connector = registry.get(account.carrier)
        assert connector is not None and connector.register is not None
        config = account_config(account)
        size = connector.max_numbers_per_registration
        for start in range(0, len(legs), size):
            chunk = legs[start : start + size]
            try:
                errors = connector.register(
                    [leg.tracking_number for leg in chunk],
                    config,
                    callback_url(account.pk),
                    push_secret(account),
                )
            except CarrierFailure as exc:
                wait = schedule.backoff(1, now=now, retry_after=exc.retry_after)
                ParcelLeg.objects.filter(pk__in=[leg.pk for leg in chunk]).update(
                    register_at=wait if exc.retryable else None,
                    last_error=f"registration: {exc.message}"[:500],
                )
                continue
            except Exception as exc:  # a connector bug: recorded, the batch goes on
                logger.exception("registration with %s failed", account.carrier)
                ParcelLeg.objects.filter(pk__in=[leg.pk for leg in chunk]).update(
                    register_at=schedule.backoff(2, now=now),
                    last_error=f"registration: {type(exc).__name__}: {exc}"[:500],
                )
                continue
            refused = {error.tracking_number: error for error in errors}
            for leg in chunk:
                error = refused.get(leg.tracking_number)
                ParcelLeg.objects.filter(pk=leg.pk).update(
                    register_at=None,
                    registered_at=None if error else now,
                    last_error=f"registration: {error.code}: {error.message}"[:500]
                    if error
                    else leg.last_error,
                )
                accepted += 0 if error else 1
    return accepted


def run_once(limit: int = 100) -> int:
    ids = claim(limit)
    return register(ids) if ids else 0
