"""What every connector is: pure parsing plus one fetch through the HTTP seam.

A connector is one module under :mod:`suivi.carriers.connectors` that defines a
:class:`Connector` named ``CONNECTOR`` and one line in :mod:`suivi.carriers.registry`.
It knows no models: bytes in, :class:`~.vocabulary.ShipmentUpdate` /
:class:`~.vocabulary.TrackingError` out.

Failure contract (the polling layer relies on it):

- bad carrier data never raises: ``parse`` returns ``TrackingError`` items (a body that is
  not usable at all gives one error with an empty number, which the caller applies to every
  number of the call);
- a call that fails as a whole raises a :class:`CarrierFailure`: :class:`RateLimited` (429,
  with ``retry_after`` seconds when the carrier said), :class:`CarrierUnavailable` (5xx,
  timeouts, connection errors) or :class:`AuthenticationFailed` (401/403, missing
  credentials: retrying will not help until the merchant fixes the account).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from suivi.core import http

from .vocabulary import Reason, ShipmentUpdate, Status, TrackingError

Result = ShipmentUpdate | TrackingError


class CarrierFailure(Exception):
    """A call to the carrier failed as a whole; nothing was learnt about its numbers."""

    retryable = True

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


class RateLimited(CarrierFailure):
    """429: slow down (``retry_after`` seconds when the carrier said how long)."""


class CarrierUnavailable(CarrierFailure):
    """5xx, timeout or connection error: try again later."""


class AuthenticationFailed(CarrierFailure):
    """401/403 or missing credentials: the merchant must fix the carrier account."""

    retryable = False


@dataclass(frozen=True)
class Account:
    """What a connector needs to call its carrier for one carrier account (decrypted)."""

    base_url: str
    credentials: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    # A merchant-set URL (sandbox): called through the SSRF guard like any merchant URL.
    guarded: bool = False

    def credential(self, name: str) -> str:
        value = self.credentials.get(name, "")
        if not value:
            raise AuthenticationFailed(f"the carrier account has no {name!r}")
        return value


@dataclass(frozen=True)
class Connector:
    """One carrier: its identity, its limits, its code table and its functions."""

    code: str  # registry key, also Parcel.carrier ("laposte", "dhl", …)
    name: str  # shown to people
    default_base_url: str  # the production API; tests and sandboxes override per account
    max_numbers_per_call: int
    codes: Mapping[str, tuple[Status, Reason]]  # every raw code, mapped on purpose
    parse: Callable[[bytes], list[Result]]
    fetch: Callable[[Sequence[str], Account], list[Result]]
    unmapped_codes: Callable[[bytes], set[str]]
    credential_names: tuple[str, ...] = ()
    requests_per_minute: int = 60  # the carrier's documented limit for one account
    requests_per_day: int | None = None  # a daily quota, where the carrier has one
    tracking_url: str = ""  # public tracking page, "{number}" replaced
    # Carriers that push (UPS Track Alert, AfterShip webhooks): parse a pushed body, and
    # check its signature with the account's push secret (body, headers, secret).
    parse_push: Callable[[bytes], list[Result]] | None = None
    verify_push: Callable[[bytes, Mapping[str, str], str], bool] | None = None
    # Carriers that push only for numbers registered with them (UPS Track Alert
    # subscriptions, AfterShip trackings): register(numbers, account, callback_url,
    # push_secret) -> errors for the numbers refused (empty: all registered); raises a
    # CarrierFailure when the call fails as a whole. At most max_numbers_per_registration.
    register: Callable[[Sequence[str], Account, str, str], list[TrackingError]] | None = None
    max_numbers_per_registration: int = 1
    registration_days: int | None = None  # a registration expires after this many days

    def public_url(self, number: str) -> str:
        return self.tracking_url.replace("{number}", number) if self.tracking_url else ""


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), else None."""
    return http.retry_after_seconds(value)


def rate_limit_reset(value: str | None) -> float | None:
    """Seconds until a rate window resets, from an ``X-RateLimit-Reset``-style header: a Unix
    time (anything after 2001-09-09) or a number of seconds; None when unreadable."""
    try:
        reset = float(value) if value else None
    except ValueError:
        return None
    if reset is None or not math.isfinite(reset):
        return None
    return max(0.0, reset - time.time()) if reset > 10**9 else max(0.0, reset)


def check_status(response: httpx.Response, *, reset_headers: Sequence[str] = ()) -> None:
    """Raise the :class:`CarrierFailure` an HTTP status means; other answers are the
    connector's to read (a 404 can be "unknown number" with a body).

    A 429 without ``Retry-After`` takes its wait from the first of *reset_headers* present
    (read by :func:`rate_limit_reset`), for carriers that only say when their window resets.
    """
    status = response.status_code
    wait = retry_after(response.headers.get("Retry-After"))
    if status == 429 and wait is None and reset_headers:
        reset = next((v for name in reset_headers if (v := response.headers.get(name))), None)
        wait = rate_limit_reset(reset)
    excerpt = response.text[:200] if response.content else ""
    if status == 429:
        raise RateLimited(f"rate limited: {excerpt}", status=status, retry_after=wait)
    if status >= 500:
        raise CarrierUnavailable(
            f"carrier error {status}: {excerpt}", status=status, retry_after=wait
        )
    if status in (401, 403):
        raise AuthenticationFailed(f"authentication refused ({status}): {excerpt}", status=status)


def call(
    method: str,
    url: str,
    *,
    account: Account,
    reset_headers: Sequence[str] = (),
    read_error: Callable[[httpx.Response], bool] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request to the carrier through the seam, with failures as :class:`CarrierFailure`.

    *reset_headers*: see :func:`check_status`. *read_error*: an answer for which it returns
    True is returned to be read instead of raised (DPD answers its errors as SOAP faults
    with HTTP 500: :func:`suivi.carriers.common.soap_fault`).
    """
    try:
        if account.guarded:
            response = _guarded(method, url, account, **kwargs)
        else:
            response = http.request(method, url, timeout=account.timeout, **kwargs)
    except http.UnsafeURL as exc:
        raise AuthenticationFailed(f"the account's URL is refused: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise CarrierUnavailable(f"timeout: {exc}") from exc
    except httpx.HTTPError as exc:  # connection refused, reset, protocol error, bad chunking
        raise CarrierUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if read_error is not None and read_error(response):
        return response
    check_status(response, reset_headers=reset_headers)
    return response


def _guarded(method: str, url: str, account: Account, **kwargs: Any) -> httpx.Response:
    """The same request through :func:`suivi.core.http.request_public` (checked at connect)."""
    headers = dict(kwargs.pop("headers", None) or {})
    auth = kwargs.pop("auth", None)
    if auth is not None:
        headers["Authorization"] = httpx.BasicAuth(*auth)._auth_header
    built = http.client().build_request(method, url, headers=headers, **kwargs)
    sent = {k: v for k, v in built.headers.items() if k.lower() not in ("host", "content-length")}
    return http.request_public(
        method, str(built.url), headers=sent, content=built.content, timeout=account.timeout
    )


def unusable(message: str) -> list[Result]:
    """The answer for a body that cannot be read at all (applies to every number asked)."""
    return [TrackingError("", "carrier_error", message)]


# Countries with one civil time zone, for carriers that give a bare local time and the
# event's country (never a guessed "Z"): the offset comes from the zone at that moment.
_COUNTRY_ZONES: Mapping[str, str] = {
    "FR": "Europe/Paris", "BE": "Europe/Brussels", "LU": "Europe/Luxembourg",
    "DE": "Europe/Berlin", "NL": "Europe/Amsterdam", "CH": "Europe/Zurich",
    "IT": "Europe/Rome", "ES": "Europe/Madrid", "AT": "Europe/Vienna", "GB": "Europe/London",
    "IE": "Europe/Dublin", "PL": "Europe/Warsaw", "CZ": "Europe/Prague",
    "DK": "Europe/Copenhagen", "SE": "Europe/Stockholm", "NO": "Europe/Oslo",
    "FI": "Europe/Helsinki", "GR": "Europe/Athens", "HU": "Europe/Budapest",
    "RO": "Europe/Bucharest", "SK": "Europe/Bratislava", "SI": "Europe/Ljubljana",
    "HR": "Europe/Zagreb", "MC": "Europe/Monaco", "CN": "Asia/Shanghai",
    "HK": "Asia/Hong_Kong", "JP": "Asia/Tokyo", "KR": "Asia/Seoul", "SG": "Asia/Singapore",
    "IN": "Asia/Kolkata", "AE": "Asia/Dubai", "IL": "Asia/Jerusalem", "TR": "Europe/Istanbul",
    "MA": "Africa/Casablanca", "TN": "Africa/Tunis", "DZ": "Africa/Algiers",
}  # fmt: skip


def zone_for_country(country: str) -> ZoneInfo | None:
    """The time zone of a single-zone country (ISO 3166 alpha-2), else None."""
    name = _COUNTRY_ZONES.get(country.strip().upper())
    return ZoneInfo(name) if name else None


def localize(naive: datetime, *, country: str = "", default_zone: str = "") -> datetime | None:
    """Give a carrier's bare local time its offset: the event country's zone when it has one,
    else *default_zone* (the carrier's documented home zone); None when neither applies —
    the caller keeps the event out rather than invent an offset."""
    if naive.tzinfo is not None:
        return naive
    zone = zone_for_country(country) if country else None
    if zone is None and default_zone:
        zone = ZoneInfo(default_zone)
    return naive.replace(tzinfo=zone) if zone is not None else None
