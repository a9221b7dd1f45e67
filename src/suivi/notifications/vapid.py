"""The operator's VAPID identity (RFC 8292) for web push.

A browser subscription is bound to the application server key it was created with
(``pushManager.subscribe({applicationServerKey})``); push services refuse requests
signed with any other key. So the key must be stable: it comes from
``SUIVI_VAPID_PRIVATE_KEY`` (PEM, or the raw 32-byte scalar in base64url as printed by
the usual ``web-push generate-vapid-keys`` tools), or else it is generated once and kept
in ``<DATA_DIR>/vapid_private.pem`` (mode 0600). Losing that file silently orphans every
subscription, which is why an existing but unreadable file is an error, never replaced.

Signing is done by py_vapid (``Vapid02``), which emits the RFC 8292 form
``vapid t=<JWT>,k=<public key>``; the claims are built here.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from py_vapid import Vapid02, VapidException

logger = logging.getLogger(__name__)

KEY_FILE_NAME = "vapid_private.pem"
# RFC 8292 §2: exp at most 24 h ahead. Half of that leaves room for clock skew either way.
TOKEN_LIFETIME_SECONDS = 12 * 3600
_DEFAULT_PORTS = {"http": 80, "https": 443}


def b64url(data: bytes) -> str:
    """Base64url without padding, the encoding every Web Push field uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding (browsers omit it); also accepts the
    standard alphabet, which some subscription stores produce. Raises ``ValueError``."""
    cleaned = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    if len(cleaned) % 4 == 1:
        raise ValueError("not base64url: impossible length")
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64url: {exc}") from exc


def _parse_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """Read a P-256 private key from PEM (PKCS#8 or SEC1), raw base64url, or DER base64url."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            raw = b64url_decode(text)
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"The VAPID private key cannot be read: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImproperlyConfigured("The VAPID private key must be an EC key on P-256.")
    return key


def _create_key_file(path: Path) -> None:
    """Write a new key to *path* atomically, readable by the owner only.

    The PEM goes to a private temporary file first, then is hard-linked into place: a
    concurrent worker either wins (and we keep its key) or sees a complete file, never a
    half-written one, and the key is never world-readable, even for an instant.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
            logger.warning(
                "Generated a new VAPID key in %s: back it up, push subscriptions depend on it.",
                path,
            )
        except FileExistsError:
            pass  # another process created it first; its key is the one to use
    finally:
        temporary.unlink(missing_ok=True)


@lru_cache(maxsize=4)
def _load(configured: str, data_dir: str) -> ec.EllipticCurvePrivateKey:
    if configured.strip():
        return _parse_private_key(configured)
    path = Path(data_dir) / KEY_FILE_NAME
    if not path.exists():
        _create_key_file(path)
    try:
        return _parse_private_key(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(f"The VAPID key file {path} cannot be read: {exc}") from exc


def private_key() -> ec.EllipticCurvePrivateKey:
    """Return the VAPID private key (cached per configured value and data directory)."""
    return _load(
        str(getattr(settings, "SUIVI_VAPID_PRIVATE_KEY", "") or ""), str(settings.DATA_DIR)
    )


def reset_cache() -> None:
    """Forget loaded keys (tests that change the settings or the data directory)."""
    _load.cache_clear()


def application_server_key() -> str:
    """The public key for ``pushManager.subscribe({applicationServerKey})``: the
    uncompressed P-256 point (65 bytes, 0x04 prefix), base64url without padding."""
    point = (
        private_key()
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return b64url(point)


def audience(endpoint: str) -> str:
    """The JWT ``aud``: the origin of the push endpoint (scheme://host[:port]), with the
    default port left out as in an origin's serialisation."""
    parts = urlsplit(endpoint)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(f"Not an http(s) push endpoint: {endpoint!r}")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def subject() -> str:
    """``SUIVI_VAPID_SUBJECT``: how the push service can reach the operator."""
    return str(getattr(settings, "SUIVI_VAPID_SUBJECT", "") or "")


def authorization_header(endpoint: str, *, now: float | None = None) -> dict[str, str]:
    """Return ``{"Authorization": "vapid t=<JWT>,k=<key>"}`` for a request to *endpoint*.

    Raises ``ValueError`` for an endpoint without an http(s) origin and
    ``ImproperlyConfigured`` when the key or ``SUIVI_VAPID_SUBJECT`` is unusable (py_vapid
    wants a ``mailto:`` address or an ``https:`` URL; Apple also rejects ``@localhost``).
    """
    claims = {
        "aud": audience(endpoint),
        "exp": int(now if now is not None else time.time()) + TOKEN_LIFETIME_SECONDS,
        "sub": subject(),
    }
    try:
        signed: dict[str, str] = Vapid02(private_key()).sign(claims)
    except VapidException as exc:
        raise ImproperlyConfigured(f"VAPID claims refused: {exc}") from exc
    return {"Authorization": signed["Authorization"]}
