"""Idempotency keys on write requests (the IETF ``Idempotency-Key`` header draft).

The first request with a key claims it by inserting a record, committed before the
handler runs: the unique constraint on (shop, key) lets one of two racing requests in and
sends the other away with 409 ``idempotency-key-in-use``. The handler then runs in one
transaction with the write of its response into the record, so the change and the
stored response commit together. A later request with the same key and the same
method, path and body gets the stored response again (``Idempotent-Replayed: true``);
with anything else, 422 ``idempotency-key-reused``. Server errors are never stored: the
claim is released so the client can retry.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja.params import functions as params

from suivi.core.errors import DomainError
from suivi.shops.models import Shop

from .models import IdempotencyRecord
from .parser import parsed_body
from .problems import domain_problem

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# A claim older than this whose request never finished belongs to a dead process (the
# handler's transaction rolled back with it): a retry may take it over. Far longer than
# any request may run (SQLite's lock wait is 20 s).
STALE_CLAIM_AFTER = timedelta(minutes=2)

# The header as a parameter: printable ASCII, as HTTP header values should be.
IdempotencyKey: Any = params.Header(
    None,
    alias=HEADER,
    min_length=1,
    max_length=255,
    pattern=r"^[\x21-\x7e]+$",
    description=(
        "Any unique string (a UUID is fine): repeating a write with the same key and "
        "body returns the first response instead of acting twice."
    ),
)


class IdempotencyKeyReused(DomainError):
    """The key was already used for another request (other method, path or body)."""

    code = "idempotency-key-reused"
    status = 422


class IdempotencyKeyInUse(DomainError):
    """A request with this key is still being processed."""

    code = "idempotency-key-in-use"
    status = 409


class _DoNotStore(Exception):
    """Roll the handler back and answer *response* without storing it (a server error)."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def body_fingerprint(request: HttpRequest) -> str:
    """Return the SHA-256 of the body, canonicalised when it is JSON.

    Key order and whitespace do not change what a JSON body asks for, so the same
    request re-serialised by a retrying client still matches.
    """
    data = parsed_body(request)
    if data is not None:
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()
    return hashlib.sha256(request.body).hexdigest()


@contextmanager
def _savepoint_if_in_transaction() -> Iterator[None]:
    # Outside a transaction the INSERT commits on its own (one round trip) and becomes
    # visible to racing requests at once; inside one (tests, ATOMIC_REQUESTS) a failed
    # INSERT must only roll back to a savepoint.
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        record.response_body,
        status=record.response_status,
        content_type=record.response_content_type,
    )
    response[REPLAYED_HEADER] = "true"
    return response


def _claim(
    *, shop: Shop, key: str, method: str, path: str, fingerprint: str
) -> IdempotencyRecord | HttpResponse:
    """Claim *key* for this request, or return the stored response to replay."""
    # Three attempts: the record we collided with may be released meanwhile.
    for _attempt in range(3):
        now = timezone.now()
        record = IdempotencyRecord(
            shop=shop,
            key=key,
            method=method,
            path=path,
            body_sha256=fingerprint,
            lock_token=secrets.token_hex(16),
            claimed_at=now,
            created_at=now,
        )
        try:
            with _savepoint_if_in_transaction():
                record.save(force_insert=True)
            return record
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(shop=shop, key=key).first()
        if existing is None:
            continue
        if (existing.method, existing.path, existing.body_sha256) != (method, path, fingerprint):
            raise IdempotencyKeyReused(
                f"The {HEADER} {key!r} was used for another request; use a new key."
            )
        if not existing.in_flight:
            return _replay(existing)
        if existing.claimed_at > now - STALE_CLAIM_AFTER:
            break
        token = secrets.token_hex(16)
        taken = IdempotencyRecord.objects.filter(
            pk=existing.pk, response_status__isnull=True, lock_token=existing.lock_token
        ).update(lock_token=token, claimed_at=now)
        if taken:
            existing.lock_token = token
            return existing
    raise IdempotencyKeyInUse(
        f"A request with the {HEADER} {key!r} is still being processed; retry later."
    )


def _release(record: IdempotencyRecord) -> None:
    """Drop our in-flight claim (after a server error) so that a retry runs again."""
    IdempotencyRecord.objects.filter(
        pk=record.pk, lock_token=record.lock_token, response_status__isnull=True
    ).delete()


def _complete(record: IdempotencyRecord, response: HttpResponse) -> None:
    stored = IdempotencyRecord.objects.filter(
        pk=record.pk, lock_token=record.lock_token, response_status__isnull=True
    ).update(
        response_status=response.status_code,
        response_content_type=response.get("Content-Type", ""),
        response_body=response.content.decode("utf-8"),
        completed_at=timezone.now(),
    )
    if not stored:
        # Our claim went stale and a retry took it over: it owns the key now, so what we
        # did must not commit.
        raise IdempotencyKeyInUse(f"The {HEADER} was taken over by a retry of this request.")


def idempotent(
    request: HttpRequest,
    *,
    shop: Shop,
    key: str | None,
    handler: Callable[[], HttpResponse],
) -> HttpResponse:
    """Run *handler* at most once per *key* of *shop*; without a key, just run it.

    *handler* returns the response or raises a :class:`DomainError`, rendered and stored
    like a response (it wrote nothing). Server errors and other exceptions are not stored.
    """
    if key is None:
        return handler()
    method = request.method or ""
    claim = _claim(
        shop=shop,
        key=key,
        method=method,
        path=request.path,
        fingerprint=body_fingerprint(request),
    )
    if isinstance(claim, HttpResponse):
        return claim
    try:
        with transaction.atomic():
            try:
                response = handler()
            except DomainError as exc:
                response = domain_problem(exc)
            if response.status_code >= 500:
                raise _DoNotStore(response)
            _complete(claim, response)
    except _DoNotStore as exc:
        _release(claim)
        return exc.response
    except BaseException:
        _release(claim)
        raise
    return response


def idempotency_purge(older_than: timedelta) -> int:
    """Delete idempotency records created more than *older_than* ago; return how many."""
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
