"""Every connector, by code: adding a carrier is one module and one line here."""

from __future__ import annotations

from collections.abc import Mapping

from .base import Connector
from .connectors import laposte

CONNECTORS: Mapping[str, Connector] = {
    connector.code: connector for connector in (laposte.CONNECTOR,)
}


def get(code: str) -> Connector | None:
    """Return the connector for *code*, or None when Suivi has none (push-only carriers)."""
    return CONNECTORS.get(code)
