"""Signing outbound webhooks the Standard Webhooks way (https://www.standardwebhooks.com).

Every webhook we send carries three headers:

- ``webhook-id``: the message's identifier. It stays the same on every retry and manual
  replay, so a receiver can use it as an idempotency key (process each id once);
- ``webhook-timestamp``: when this *attempt* was made, in integer seconds since the Unix
  epoch (a fresh one per attempt);
- ``webhook-signature``: ``v1,<signature>``, where the signature is the base64 of the
  HMAC-SHA256 of ``{webhook-id}.{webhook-timestamp}.{body}`` (the exact bytes of the body
  as received, before any JSON parsing) keyed with the endpoint's secret. The secret is
  shown as ``whsec_<base64>``; the key is the base64-decoded part after ``whsec_``. The
  header may hold several space-separated signatures (during a secret rotation, one per
  secret): a receiver accepts the message if any ``v1`` one matches.

:func:`verify` is how a receiver checks a message; its code is meant to be read as such.
A receiver should also keep the ids it has processed for at least the tolerance window
(five minutes here) and ignore a repeated one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's marker, not a secret)
SECRET_BYTES = 32  # the specification asks for 24 to 64 random bytes
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """A webhook that must not be trusted; the message says why."""


def generate_secret() -> str:
    """Return a new endpoint secret, ``whsec_`` followed by 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of *secret* (``whsec_<base64>``; the prefix may be left out).

    Raises ``ValueError`` if the rest is not base64."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("A webhook secret is 'whsec_' followed by base64.") from exc
    if not key:
        raise ValueError("The webhook secret is empty.")
    return key


def _as_bytes(body: str | bytes) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: str | bytes) -> str:
    """Return ``v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">``.

    A *body* given as text is signed as its UTF-8 bytes, which must be the bytes sent."""
    if not msg_id or "." in msg_id:
        # The three parts are joined with "."; an id holding one would make two different
        # (id, timestamp) pairs sign the same text.
        raise ValueError("A webhook id must be non-empty and must not contain '.'.")
    digest = _digest(secret_key(secret), msg_id, int(timestamp), _as_bytes(body))
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers_for(
    secret: str | Sequence[str], msg_id: str, body: str | bytes, timestamp: int | None = None
) -> dict[str, str]:
    """Return the three Standard Webhooks headers for one attempt at sending *body*.

    *timestamp* defaults to now. *secret* may be a list (current secret first, then the
    previous one during a rotation): the header then carries one signature per secret."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    keys = [secret] if isinstance(secret, str) else list(secret)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(sign(key, msg_id, ts, body) for key in keys),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: str | bytes,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check a received webhook; raise :class:`SignatureError` unless it is authentic and
    recent. *headers* are the request's headers (any letter case); *body* is the raw body.

    1. The three headers must be there.
    2. ``webhook-timestamp`` must be an integer within *tolerance_seconds* of now, either
       way (an old message may be a replay).
    3. One of the space-separated ``v1,<base64>`` entries of ``webhook-signature`` must
       equal the signature we compute, compared in constant time. Entries of other
       versions (``v1a`` is the asymmetric scheme) are ignored.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    timestamp_text = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (msg_id and timestamp_text and signatures):
        raise SignatureError("Missing webhook-id, webhook-timestamp or webhook-signature header.")

    if not timestamp_text.isascii() or not timestamp_text.isdigit():
        raise SignatureError("webhook-timestamp is not an integer number of seconds.")
    timestamp = int(timestamp_text)
    current = time.time() if now is None else now
    if timestamp < current - tolerance_seconds:
        raise SignatureError("webhook-timestamp is too old (possible replay).")
    if timestamp > current + tolerance_seconds:
        raise SignatureError("webhook-timestamp is too far in the future.")

    try:
        key = secret_key(secret)
    except ValueError as exc:
        raise SignatureError(str(exc)) from exc
    expected = _digest(key, msg_id, timestamp, _as_bytes(body))
    matched = False
    for entry in signatures.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Check every entry (no early exit): the time taken does not depend on which matched.
        matched |= hmac.compare_digest(candidate, expected)
    if not matched:
        raise SignatureError("No webhook-signature matches this body with this secret.")
