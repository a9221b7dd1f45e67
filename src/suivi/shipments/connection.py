""" "Test connection" of a carrier account: one harmless call with its stored credentials.

:func:`account_test` decrypts the account's credentials (:func:`.services.account_config`,
so a merchant-set sandbox URL goes through the SSRF guard like polling), takes one call from
the account's rate budget like polling does, asks the carrier about a number no parcel
carries (:func:`suivi.carriers.check.check`) and classifies what happened. The credentials
never appear in the result: carriers' error excerpts are not echoed either, only the HTTP
status.

Side effects, as polling's: a working account gets its ``last_error`` cleared; a refused
one records it (the back office shows it as "authentication error"). Legs are not touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from django.utils import timezone

from suivi.carriers import check as carrier_check
from suivi.carriers import registry
from suivi.carriers.base import (
    AuthenticationFailed,
    CarrierFailure,
    CarrierUnavailable,
    RateLimited,
)
from suivi.carriers.vocabulary import TrackingError
from suivi.core import http
from suivi.core.errors import NotFound
from suivi.shops.models import Shop

from .models import CarrierAccount
from .polling import ERROR_TEXT, Limits, take_call
from .services import account_config

logger = logging.getLogger("suivi.shipments")


class Outcome(StrEnum):
    OK = "ok"
    AUTH_REFUSED = "auth_refused"
    RATE_LIMITED = "rate_limited"
    UNREACHABLE = "unreachable"  # timeout, connection refused or cut
    CARRIER_ERROR = "carrier_error"  # 5xx, or an answer that cannot be read
    URL_REFUSED = "url_refused"  # the sandbox URL is refused by the SSRF guard
    CREDENTIALS_UNUSABLE = "credentials_unusable"  # cannot be decrypted (rotated keys)
    NOT_SUPPORTED = "not_supported"  # a push-only carrier: Suivi never calls it


@dataclass(frozen=True)
class ConnectionResult:
    """What the test call found: ``ok``, a sentence for the merchant, the HTTP status."""

    ok: bool
    message: str
    status_code: int | None = None
    outcome: Outcome = Outcome.OK


def _record(account: CarrierAccount, result: ConnectionResult) -> None:
    if result.ok:
        CarrierAccount.objects.filter(pk=account.pk).exclude(last_error="").update(
            last_error="", last_error_at=None
        )
    elif result.outcome in (Outcome.AUTH_REFUSED, Outcome.CREDENTIALS_UNUSABLE):
        CarrierAccount.objects.filter(pk=account.pk).update(
            last_error=result.message[:ERROR_TEXT], last_error_at=timezone.now()
        )


def _classify(exc: CarrierFailure) -> ConnectionResult:
    status = exc.status
    if isinstance(exc, AuthenticationFailed):
        if isinstance(exc.__cause__, http.UnsafeURL):
            return ConnectionResult(
                False,
                f"The account's URL is refused: {exc.__cause__}",
                None,
                Outcome.URL_REFUSED,
            )
        if status is None:
            return ConnectionResult(
                False,
                "The account lacks a credential the carrier needs.",
                None,
                Outcome.AUTH_REFUSED,
            )
        return ConnectionResult(
            False,
            f"The carrier refused the credentials (HTTP {status}).",
            status,
            Outcome.AUTH_REFUSED,
        )
    if isinstance(exc, RateLimited):
        wait = f" Try again in {int(exc.retry_after)} seconds." if exc.retry_after else ""
        return ConnectionResult(
            False,
            f"The carrier asks to slow down (HTTP 429): the account works.{wait}",
            status,
            Outcome.RATE_LIMITED,
        )
    if isinstance(exc, CarrierUnavailable) and status is None:
        detail = "timed out" if exc.message.startswith("timeout") else "could not be reached"
        return ConnectionResult(False, f"The carrier {detail}.", None, Outcome.UNREACHABLE)
    what = f" (HTTP {status})" if status else ""
    return ConnectionResult(
        False, f"The carrier answered with an error{what}.", status, Outcome.CARRIER_ERROR
    )


def account_test(shop: Shop, account_id: int) -> ConnectionResult:
    """Test one of the shop's carrier accounts (another shop's id: :class:`NotFound`)."""
    account = CarrierAccount.objects.filter(shop=shop, pk=account_id).first()
    if account is None:
        raise NotFound("No such carrier account.", account_id=account_id)
    connector = registry.get(account.carrier)
    if connector is None:
        return ConnectionResult(
            False,
            "Suivi does not call this carrier: it only receives its pushes.",
            None,
            Outcome.NOT_SUPPORTED,
        )
    try:
        config = account_config(account)
    except Exception:  # undecryptable credentials (rotated keys)
        result = ConnectionResult(
            False,
            "The stored credentials cannot be read: enter them again.",
            None,
            Outcome.CREDENTIALS_UNUSABLE,
        )
        _record(account, result)
        return result
    limits = Limits(
        per_minute=account.requests_per_minute or connector.requests_per_minute,
        per_day=account.requests_per_day or connector.requests_per_day,
    )
    if take_call(account, limits, now=timezone.now()) is not None:
        return ConnectionResult(
            False,
            "The account used its calls for now (rate limit): try again in a minute.",
            None,
            Outcome.RATE_LIMITED,
        )
    try:
        results = carrier_check.check(account.carrier, config)
    except CarrierFailure as exc:
        result = _classify(exc)
    except Exception:  # a connector bug must not become a 500 page
        logger.exception("test connection of carrier account %s failed", account.pk)
        result = ConnectionResult(
            False, "The test failed unexpectedly.", None, Outcome.CARRIER_ERROR
        )
    else:
        unreadable = any(isinstance(r, TrackingError) and not r.tracking_number for r in results)
        if unreadable:
            result = ConnectionResult(
                False,
                "The carrier accepted the call but its answer could not be read.",
                None,
                Outcome.CARRIER_ERROR,
            )
        else:
            result = ConnectionResult(
                True, f"Connected to {connector.name}: the credentials work.", None, Outcome.OK
            )
    _record(account, result)
    return result
