"""Test a carrier account: one harmless call with its credentials, the way polling calls.

The call asks the carrier about a number no parcel carries (:data:`PROBE_NUMBERS`) through
the connector's own ``fetch`` — so OAuth carriers get (or reuse) their token first, and a
merchant-set URL goes through the SSRF guard exactly as when polling. Whatever the carrier
says about the number ("unknown", an error body) proves the account works; a call that
fails as a whole raises the connector's :class:`~.base.CarrierFailure` (authentication
refused, rate limited, unreachable…), which the caller classifies. Nothing is created at
the carrier (every ``fetch`` only reads).
"""

from __future__ import annotations

from collections.abc import Mapping

from . import registry
from .base import Account, Result

# A well-formed number no real parcel is expected to carry, per connector (some carriers
# refuse a malformed number before looking at the credentials).
PROBE_NUMBERS: Mapping[str, str] = {
    "laposte": "6A00000000000",
    "dhl": "0000000000",
    "ups": "1Z0000000000000000",
    "gls": "00000000000",
    "dpd": "00000000000000",
    "mondial_relay": "00000000",
    "fedex": "000000000000",
    "usps": "9400100000000000000000",
    "aftership": "SUIVICHECK0000",
}
DEFAULT_PROBE = "SUIVICHECK0000"


def probe_number(code: str) -> str:
    """The number the check asks about for carrier *code*."""
    return PROBE_NUMBERS.get(registry.connector_code(code), DEFAULT_PROBE)


def supported(code: str) -> bool:
    """Whether Suivi calls this carrier (push-only carriers have no connector to test)."""
    return registry.get(code) is not None


def check(code: str, account: Account) -> list[Result]:
    """Make the harmless call for carrier *code* with *account*; return what it answered.

    Raises :class:`~.base.CarrierFailure` subclasses as ``fetch`` does, and ``LookupError``
    for a carrier Suivi has no connector for.
    """
    connector = registry.get(code)
    if connector is None:
        raise LookupError(f"Suivi has no connector for {code!r}")
    return connector.fetch([probe_number(code)], account)
