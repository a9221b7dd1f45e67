"""Secrets at rest (webhook signing secrets, provider credentials), encrypted with Fernet.

Keys come from ``SUIVI_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first, so a
key can be rotated: old ciphertexts still decrypt, new ones use the first key) or, on a
single machine, from ``<data dir>/encryption_key`` created on first use with mode 0600 —
never from the repository.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(ValueError):
    """A ciphertext that no configured key can open (rotated away, or tampered with)."""


def _key_file() -> Path:
    return Path(settings.DATA_DIR) / "encryption_key"


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys: list[str] = list(getattr(settings, "SUIVI_ENCRYPTION_KEYS", []))
    if not keys:
        path = _key_file()
        if not path.exists():
            _create_private_file(path, Fernet.generate_key())
        keys = [path.read_text().strip()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _create_private_file(path: Path, content: bytes) -> None:
    """Write *content* to a new file readable by its owner only, from the first byte on.

    Created exclusively: when two processes start together, the second reads the first's
    key instead of replacing it.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def encrypt(plaintext: str) -> str:
    """Return an opaque, authenticated ciphertext of *plaintext*."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Return the plaintext of *ciphertext*; :class:`DecryptionError` if it cannot be opened."""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("This secret cannot be decrypted with the configured keys.") from exc


def reset_cache() -> None:
    """Forget the loaded keys (tests that change the settings)."""
    _fernet.cache_clear()
