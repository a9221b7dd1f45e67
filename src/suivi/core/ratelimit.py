"""Fixed-window counters on the shared cache (the database cache by default, so that every
web process sees the same counts): how many times a key was hit in the current window.

Used against enumeration on the public lookup: failures are counted per client address and
per order reference; once a key reaches its limit, every attempt is refused until the
window ends, right or wrong (an attacker learns nothing by trying on).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    """*count* hits per *seconds* for keys under *scope*."""

    scope: str
    count: int
    seconds: int

    def _key(self, subject: str) -> str:
        window = int(time.time() // self.seconds)
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        return f"rl:{self.scope}:{window}:{digest}"

    def exceeded(self, subject: str) -> bool:
        """Has *subject* already used its hits in this window?"""
        return int(cache.get(self._key(subject), 0)) >= self.count

    def hit(self, subject: str) -> int:
        """Count one hit for *subject*; return the count in this window."""
        key = self._key(subject)
        if cache.add(key, 1, self.seconds + 1):
            return 1
        try:
            return int(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.add(key, 1, self.seconds + 1)
            return 1

    def retry_after(self) -> int:
        """Seconds until the current window ends."""
        return self.seconds - int(time.time()) % self.seconds


def client_address(request: object) -> str:
    """The client's address (the proxy's X-Forwarded-For is trusted only when the operator
    says so; by default the socket's address)."""
    from django.conf import settings

    meta = getattr(request, "META", {})
    if getattr(settings, "SUIVI_TRUST_X_FORWARDED_FOR", False):
        forwarded = str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")[0].strip()
        if forwarded:
            return forwarded
    return str(meta.get("REMOTE_ADDR", ""))
