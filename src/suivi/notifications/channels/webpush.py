"""Web Push (RFC 8030) with VAPID (RFC 8292) and payload encryption (RFC 8291).

The payload is encrypted end to end to the browser's subscription keys (``p256dh``,
``auth``) with ``aes128gcm`` (RFC 8188), so the push service (Google, Mozilla, Apple)
relays bytes it cannot read. http_ece does the encryption; the request goes through
:mod:`suivi.core.http` like every outbound call — never through pywebpush's sender.

Endpoints come from browsers via our subscribe API, i.e. from anyone: they are checked
and the connection is pinned to the checked address (:func:`suivi.core.http.request_public`),
so a subscription cannot make us POST to an internal host.

Size: a push service need not accept more than 4096 bytes of body. aes128gcm adds 86
bytes of header (salt 16, record size 4, key id length 1, sender key 65) and 17 per
record (delimiter 1, tag 16), and RFC 8291 wants a single record, so the JSON plaintext
is at most 3993 bytes. When it would be longer the notification ``body`` is shortened
(and ends with "…"), then the ``title``; title, url and tag are otherwise never cut,
because a truncated URL or tag is wrong rather than merely short.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from typing import Any, ClassVar

import http_ece
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from suivi.core import http
from suivi.notifications import vapid

from .base import Channel, Outcome, Outgoing, retry_after

MAX_BODY_BYTES = 4096
_AES128GCM_HEADER = 16 + 4 + 1 + 65
_RECORD_OVERHEAD = 1 + 16
MAX_PLAINTEXT_BYTES = MAX_BODY_BYTES - _AES128GCM_HEADER - _RECORD_OVERHEAD  # 3993
DEFAULT_TTL = 86400
ELLIPSIS = "…"
TOPIC_LENGTH = 32  # RFC 8030 §5.4: at most 32 characters of the base64url alphabet


class BadSubscription(ValueError):
    """The stored subscription cannot be encrypted to; no browser could read a message."""


class PayloadTooLarge(ValueError):
    """Even with an empty body and title the payload exceeds one record."""


def _decode_subscription(target: dict[str, Any]) -> tuple[str, ec.EllipticCurvePublicKey, bytes]:
    """Return (endpoint, browser public key, auth secret) or raise :class:`BadSubscription`."""
    endpoint = target.get("endpoint")
    p256dh = target.get("p256dh")
    auth = target.get("auth")
    if not isinstance(endpoint, str) or not endpoint:
        raise BadSubscription("The subscription has no endpoint.")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise BadSubscription("The subscription lacks its p256dh or auth key.")
    try:
        point = vapid.b64url_decode(p256dh)
        secret = vapid.b64url_decode(auth)
    except ValueError as exc:
        raise BadSubscription(f"The subscription keys are not base64url: {exc}") from exc
    if len(point) != 65 or point[0] != 0x04:
        raise BadSubscription("p256dh must be an uncompressed P-256 point (65 bytes, 0x04).")
    if len(secret) != 16:  # RFC 8291 §3.2: the authentication secret is 16 octets
        raise BadSubscription("auth must be 16 bytes.")
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise BadSubscription("p256dh is not a point on P-256.") from exc
    return endpoint, key, secret


def _json(payload: dict[str, str]) -> bytes:
    # ensure_ascii=False: "é" costs 2 bytes in UTF-8 against 6 as \u00e9.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _shorten(payload: dict[str, str], field: str) -> bytes | None:
    """Longest prefix of ``payload[field]`` (plus "…") that fits; None if none does.

    A binary search over characters: JSON escaping makes bytes per character vary (a
    quote is 2, a control character 6, an emoji 4), so the size is measured, not guessed.
    """
    text = payload[field][:MAX_PLAINTEXT_BYTES]  # every character costs at least a byte

    def encoded(length: int) -> bytes:
        cut = text[:length].rstrip() + ELLIPSIS if length else ""
        return _json({**payload, field: cut})

    low, high = 0, len(text)
    if len(encoded(low)) > MAX_PLAINTEXT_BYTES:
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if len(encoded(middle)) <= MAX_PLAINTEXT_BYTES:
            low = middle
        else:
            high = middle - 1
    return encoded(low)


def build_payload(content: dict[str, Any]) -> bytes:
    """The JSON the service worker reads: title, body, url, tag — shortened to fit."""
    payload = {key: str(content.get(key) or "") for key in ("title", "body", "url", "tag")}
    data = _json(payload)
    if len(data) <= MAX_PLAINTEXT_BYTES:
        return data
    shortened = _shorten(payload, "body")
    if shortened is None:
        shortened = _shorten({**payload, "body": ""}, "title")
    if shortened is None:
        raise PayloadTooLarge(
            f"The push payload exceeds {MAX_PLAINTEXT_BYTES} bytes even without body and "
            "title (url or tag too long)."
        )
    return shortened


def encrypt(data: bytes, receiver: ec.EllipticCurvePublicKey, auth_secret: bytes) -> bytes:
    """aes128gcm-encrypt *data* to a subscription (RFC 8291), as one record.

    A fresh sender key pair per message (the spec requires it); its public half travels
    as the key id in the content-coding header, where the browser finds it.
    """
    sender = ec.generate_private_key(ec.SECP256R1())
    receiver_point = receiver.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    body: bytes = http_ece.encrypt(
        data,
        private_key=sender,
        dh=receiver_point,
        auth_secret=auth_secret,
        version="aes128gcm",
        rs=MAX_BODY_BYTES,
    )
    return body


def topic(tag: str) -> str:
    """A Topic header (RFC 8030 §5.4) for *tag*, so a newer message about the same order
    replaces an older one still waiting at the push service.

    The Topic travels in clear to the push service (only the body is encrypted), so it is
    an HMAC of the tag under the site's secret, not the tag itself: Google, Mozilla and
    Apple need not learn order numbers. 32 base64url characters = 192 bits.
    """
    digest = hmac.new(
        settings.SECRET_KEY.encode("utf-8"),
        b"suivi.webpush.topic:" + tag.encode("utf-8"),
        hashlib.sha256,
    ).digest()
    return vapid.b64url(digest)[:TOPIC_LENGTH]


def _ttl(value: Any) -> int:
    try:
        ttl = int(value)
    except (TypeError, ValueError):
        return DEFAULT_TTL
    return max(0, ttl)


def _answer(response: httpx.Response) -> str:
    return f"HTTP {response.status_code}: {response.text[:1000]}".strip()


def classify(response: httpx.Response) -> Outcome:
    """Map a push service's answer to an outcome (RFC 8030 §5, plus vendor practice)."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome.ok(response.headers.get("Location", ""), status, _answer(response))
    if status in (404, 410):
        # The subscription expired or the user revoked it: it will never work again.
        return Outcome.permanent(_answer(response), status, invalidate=True)
    if status == 429 or status >= 500:
        return Outcome.temporary(
            _answer(response), status, retry_after(response.headers.get("Retry-After"))
        )
    # 401/403 mean "your VAPID credentials are refused". That is not proof the subscription
    # is gone: the same answer comes for a fault on our side that hits every subscription at
    # once — a clock off by hours, a SUIVI_VAPID_SUBJECT Apple rejects (…@localhost gives
    # 403 BadJwtToken), a key file restored from the wrong backup. Invalidating there would
    # erase the whole subscriber base irreversibly over a fixable setting. So: permanent for
    # this message, subscription kept. A subscription truly orphaned by a key change costs
    # one refused request per message until the page re-subscribes with the new key.
    # 400 (malformed request), 413 (too large) and other 4xx are ours to fix, not the
    # subscription's; 3xx is not followed (the HTTP seam never follows redirects).
    return Outcome.permanent(_answer(response), status)


class WebPushChannel(Channel):
    """Send a notification to one browser subscription."""

    name: ClassVar[str] = "push"

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = timeout

    def send(self, item: Outgoing) -> Outcome:
        try:
            endpoint, receiver, auth_secret = _decode_subscription(item.target)
        except BadSubscription as exc:
            return Outcome.permanent(str(exc), invalidate=True)
        try:
            data = build_payload(item.content)
        except PayloadTooLarge as exc:
            return Outcome.permanent(str(exc))
        try:
            headers = vapid.authorization_header(endpoint)
        except ValueError as exc:
            return Outcome.permanent(f"Unusable push endpoint: {exc}", invalidate=True)
        except ImproperlyConfigured as exc:
            # The operator's setup, not this subscription: retry once it is fixed.
            return Outcome.temporary(str(exc))
        headers.update(self._headers(item.content))
        body = encrypt(data, receiver, auth_secret)
        try:
            response = http.request_public(
                "POST", endpoint, headers=headers, content=body, timeout=self.timeout
            )
        except http.UnsafeURL as exc:
            if isinstance(exc.__cause__, socket.gaierror):
                # A resolver hiccup must not erase a valid FCM/Mozilla/Apple subscription.
                return Outcome.temporary(str(exc))
            return Outcome.permanent(str(exc), invalidate=True)
        except httpx.InvalidURL as exc:
            return Outcome.permanent(f"Unusable push endpoint: {exc}", invalidate=True)
        except httpx.HTTPError as exc:  # timeouts, refused connections, broken TLS, …
            return Outcome.temporary(f"{type(exc).__name__}: {exc}")
        return classify(response)

    @staticmethod
    def _headers(content: dict[str, Any]) -> dict[str, str]:
        headers = {
            "TTL": str(_ttl(content.get("ttl", DEFAULT_TTL))),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Urgency": "high" if content.get("urgency") == "high" else "normal",
        }
        tag = str(content.get("tag") or "")
        if tag:
            headers["Topic"] = topic(tag)
        return headers
