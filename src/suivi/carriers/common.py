"""Helpers the connectors share: reading carrier JSON and XML, times, bearer tokens.

Each connector stays one file of its own (its code table, its parsing, its requests); what
several of them did the same way lives here, once:

- JSON values read defensively (:func:`as_dict`, :func:`as_list`, :func:`text`,
  :func:`read_json`);
- times: ISO 8601 with its offset or placed by :func:`~.base.localize` (:func:`aware_time`),
  UTC offsets written out (:func:`parse_offset`) or derived from a GMT time
  (:func:`offset_from_gmt`);
- XML read safely, never a DTD or an entity (:func:`safe_xml`), and SOAP faults;
- results relabelled to the number asked (:func:`for_number`);
- bearer tokens cached per account (:class:`TokenCache`), with the OAuth 2.0
  client-credentials request and answer (:func:`client_credentials`, :func:`read_token`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar
from xml.etree import ElementTree
from xml.parsers import expat

import httpx

from .base import Account, AuthenticationFailed, CarrierUnavailable, Result, call, localize
from .vocabulary import ShipmentUpdate, TrackingError

T = TypeVar("T")

# --- JSON values ------------------------------------------------------------------------


def as_dict(value: Any) -> dict[str, Any]:
    """*value* if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """*value* if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def text(value: Any, *, numbers: bool = False) -> str:
    """A JSON string, stripped; with *numbers*, a JSON number written out too (``5`` →
    ``"5"``, never a boolean); anything else is ``""``."""
    if isinstance(value, str):
        return value.strip()
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def read_json(body: bytes, what: str = "the answer") -> tuple[Any, str]:
    """``(data, "")``, or ``(None, why)`` when *body* is not usable JSON (bad JSON, bad
    UTF-8, absurd nesting); *what* names the body in that message."""
    try:
        return json.loads(body), ""
    except (ValueError, RecursionError) as exc:
        return None, f"{what} is not usable JSON: {exc}"


# --- Times ------------------------------------------------------------------------------


def parse_iso(value: Any) -> datetime | None:
    """An ISO 8601 date or time from a JSON string, as written (aware or naive), else None."""
    written = text(value)
    if not written:
        return None
    try:
        return datetime.fromisoformat(written)
    except ValueError:
        return None


def aware_time(value: Any, *, country: str = "", default_zone: str = "") -> datetime | None:
    """An ISO 8601 time with the offset the carrier wrote; a bare local time gets the zone of
    *country*, else *default_zone* (:func:`~.base.localize`); None rather than a guess."""
    parsed = parse_iso(value)
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        return parsed if parsed.utcoffset() is not None else None
    return localize(parsed, country=country, default_zone=default_zone)


_OFFSET = re.compile(r"([+-])(\d{1,2})(?::?(\d{2}))?")
_MAX_OFFSET = timedelta(hours=14)
_QUARTER_HOUR = 900  # seconds: every civil offset in use is a whole number of quarters


def parse_offset(value: str) -> timezone | None:
    """A UTC offset written ``-05:00``, ``-0500``, ``-5:00`` or ``-05``; None when it is not
    one (beyond ±14 h, or 60 minutes or more)."""
    match = _OFFSET.fullmatch(value.strip())
    if match is None:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    delta = timedelta(hours=hours, minutes=minutes)
    if minutes >= 60 or delta > _MAX_OFFSET:
        return None
    return timezone(-delta if sign == "-" else delta)


def offset_from_gmt(local: datetime, gmt: datetime) -> timezone | None:
    """The offset of the naive wall-clock time *local*, given the same moment in GMT (naive
    UTC, or aware), rounded to the quarter hour; None beyond ±14 h."""
    if gmt.tzinfo is not None:
        gmt = gmt.astimezone(UTC).replace(tzinfo=None)
    quarters = round((local - gmt).total_seconds() / _QUARTER_HOUR)
    if abs(quarters * _QUARTER_HOUR) > _MAX_OFFSET.total_seconds():
        return None
    return timezone(timedelta(seconds=quarters * _QUARTER_HOUR))


# --- XML, read safely -------------------------------------------------------------------


class _Refused(Exception):
    """A DTD or entity declaration: refused before anything is expanded."""


def _refuse(*_: object) -> None:
    raise _Refused


# What reading arbitrary bytes as XML can raise: malformed input, an unknown declared
# encoding, absurd nesting.
_XML_ERRORS = (expat.ExpatError, ElementTree.ParseError, ValueError, LookupError, RecursionError)
XML_REFUSED = "the answer declares a DOCTYPE or an ENTITY; refused"


def safe_xml(body: bytes) -> ElementTree.Element | str:
    """The parsed document, or why it is refused: no DOCTYPE or ENTITY (in any encoding,
    UTF-16 included), nothing but well-formed XML. Never raises."""
    lowered = body.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        return XML_REFUSED
    # The byte check above misses other encodings: expat itself refuses any declaration.
    guard = expat.ParserCreate()
    guard.StartDoctypeDeclHandler = _refuse
    guard.EntityDeclHandler = _refuse
    try:
        guard.Parse(body, True)
        # Safe: no DTD (checked just above, by expat itself), so no entity to expand.
        return ElementTree.fromstring(body)  # noqa: S314
    except _Refused:
        return XML_REFUSED
    except _XML_ERRORS as exc:
        return f"the answer is not usable XML: {exc}"


def local_name(tag: Any) -> str:
    """An element's name without its namespace (``{ns}Fault`` → ``Fault``)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def find(root: ElementTree.Element, name: str) -> ElementTree.Element | None:
    """The first element called *name* (any namespace) in *root*, itself included."""
    return next((el for el in root.iter() if local_name(el.tag) == name), None)


def soap_fault(response: httpx.Response) -> bool:
    """Whether *response* is an HTTP 500 carrying a SOAP fault: a SOAP service's way of
    answering an error, to be read (``call(..., read_error=soap_fault)``)."""
    if response.status_code != 500:
        return False
    root = safe_xml(response.content)
    return not isinstance(root, str) and find(root, "Fault") is not None


# --- Results ----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def same_number(a: str, b: str) -> bool:
    """Tracking numbers compared as people write them (spaces and case ignored)."""
    return a.replace(" ", "").upper() == b.replace(" ", "").upper()


def for_number(results: list[Result], number: str) -> list[Result]:
    """One result for the one number asked, under that number: the update whose number it
    is (else the first update: a piece number answered by its shipment), or else the first
    error (a whole-call ``carrier_error`` keeps its empty number)."""
    updates = [r for r in results if isinstance(r, ShipmentUpdate)]
    if not updates:
        return [
            dataclasses.replace(r, tracking_number=number)
            if isinstance(r, TrackingError) and r.code != "carrier_error"
            else r
            for r in results
        ][:1]
    chosen = next((u for u in updates if same_number(u.tracking_number, number)), updates[0])
    events = tuple(dataclasses.replace(e, tracking_number=number) for e in chosen.events)
    return [dataclasses.replace(chosen, tracking_number=number, events=events)]


def last_moved(update: ShipmentUpdate) -> datetime:
    """When *update* last moved (its newest event; the epoch without events): the key to
    keep, among several shipments a carrier answers for one number, the most recent."""
    return max((e.occurred_at for e in update.events), default=_EPOCH)


# --- Bearer tokens ----------------------------------------------------------------------


def lifetime(value: Any) -> float:
    """Seconds from an ``expires_in`` (a number, or a numeric string as USPS and UPS send);
    0 when unreadable, not positive or absurd (ten million seconds or more)."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            return 0.0
    else:
        return 0.0
    return seconds if 0 < seconds < 10**7 else 0.0


def client_credentials(
    account: Account, path: str, *, basic_auth: bool = False, scope: str = ""
) -> httpx.Response:
    """POST an OAuth 2.0 client-credentials request to the account's *path*: ``client_id``
    and ``client_secret`` in HTTP Basic (*basic_auth*) or in the form."""
    client_id = account.credential("client_id")
    secret = account.credential("client_secret")
    form = {"grant_type": "client_credentials"}
    if not basic_auth:
        form |= {"client_id": client_id, "client_secret": secret}
    if scope:
        form["scope"] = scope
    return call(
        "POST",
        f"{account.base_url.rstrip('/')}{path}",
        account=account,
        data=form,
        headers={"Accept": "application/json"},
        auth=(client_id, secret) if basic_auth else None,
    )


def read_token(response: httpx.Response) -> tuple[str, float]:
    """``access_token`` and its lifetime (:func:`lifetime` of ``expires_in``) from an OAuth
    token answer; :class:`CarrierUnavailable` when there is no token to read."""
    data, problem = read_json(response.content, "the token answer")
    if problem:
        raise CarrierUnavailable(problem, status=response.status_code)
    token = text(as_dict(data).get("access_token"))
    if not token:
        raise CarrierUnavailable(
            "the token answer has no access_token", status=response.status_code
        )
    return token, lifetime(as_dict(data).get("expires_in"))


@dataclasses.dataclass(frozen=True)
class _Token:
    value: str
    usable_until: float  # on TokenCache.clock


def _401(exc: AuthenticationFailed) -> bool:
    return exc.status == 401


class TokenCache:
    """Bearer tokens (OAuth, or a carrier's own login token), cached per account in this
    process.

    *fetch* gets a new token for an account: ``(token, lifetime in seconds)``. A token is
    reused until *margin* seconds before its lifetime ends (a lifetime is capped at
    *max_lifetime*); a lifetime of 0 serves one call. Tokens are keyed by base URL, the
    first of *credentials* (the identity) and a digest of the second (the secret), so a
    changed secret gets a new token.

    :meth:`authorized` makes a call with the token; when the carrier refuses it (*refused*
    says which :class:`AuthenticationFailed` means that: by default a 401), the token is
    dropped and the call made once more with a new one — unless the refused token had just
    been issued and *retry_fresh* is False (a fresh token refused means the account is
    wrong, not the token stale).
    """

    def __init__(
        self,
        fetch: Callable[[Account], tuple[str, float]],
        *,
        credentials: tuple[str, str] = ("client_id", "client_secret"),
        margin: float = 60.0,
        max_lifetime: float = math.inf,
        refused: Callable[[AuthenticationFailed], bool] = _401,
        retry_fresh: bool = True,
    ) -> None:
        self.fetch = fetch
        self.credentials = credentials
        self.margin = margin
        self.max_lifetime = max_lifetime
        self.refused = refused
        self.retry_fresh = retry_fresh
        self.clock: Callable[[], float] = time.monotonic  # tests replace it to pass an expiry
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._lock = threading.Lock()

    def _key(self, account: Account) -> tuple[str, str, str]:
        identity, secret = (account.credential(name) for name in self.credentials)
        digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
        return (account.base_url.rstrip("/"), identity, digest)

    def get(self, account: Account) -> tuple[str, bool]:
        """A usable token for *account* and whether it was just issued."""
        key = self._key(account)
        with self._lock:
            cached = self._tokens.get(key)
        if cached is not None and cached.usable_until > self.clock():
            return cached.value, False
        started = self.clock()
        value, seconds = self.fetch(account)
        usable_until = started + min(seconds, self.max_lifetime) - self.margin
        with self._lock:
            self._tokens[key] = _Token(value, usable_until)
        return value, True

    def token(self, account: Account) -> str:
        """A usable token for *account*, fetched when none is cached or it is about to end."""
        return self.get(account)[0]

    def forget(self, account: Account) -> None:
        """Drop the cached token of *account* (the carrier refused it)."""
        with self._lock:
            self._tokens.pop(self._key(account), None)

    def clear(self) -> None:
        """Drop every cached token (tests, credential rotation)."""
        with self._lock:
            self._tokens.clear()

    def authorized(self, account: Account, send: Callable[[str], T]) -> T:
        """``send(token)``; after a refusal (see the class), once more with a new token."""
        token, fresh = self.get(account)  # a refusal here is the credentials': it raises
        try:
            return send(token)
        except AuthenticationFailed as exc:
            if not self.refused(exc):
                raise
            self.forget(account)
            if fresh and not self.retry_fresh:
                raise
        try:
            return send(self.token(account))
        except AuthenticationFailed as exc:
            if self.refused(exc):
                self.forget(account)  # a refused token is never reused
            raise
