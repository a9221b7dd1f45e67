"""Every connector, by code: adding a carrier is one module and one line here."""

from __future__ import annotations

from collections.abc import Mapping

from .base import Connector
from .connectors import aftership, dhl, dpd, fedex, gls, laposte, mondial_relay, ups, usps

_ALL: tuple[Connector, ...] = (
    laposte.CONNECTOR,
    dhl.CONNECTOR,
    ups.CONNECTOR,
    gls.CONNECTOR,
    dpd.CONNECTOR,
    mondial_relay.CONNECTOR,
    fedex.CONNECTOR,
    usps.CONNECTOR,
    aftership.CONNECTOR,
)
CONNECTORS: Mapping[str, Connector] = {connector.code: connector for connector in _ALL}


# Brands another connector answers for: La Poste's Suivi v2 covers Colissimo and Chronopost.
ALIASES: Mapping[str, str] = {"colissimo": "laposte", "chronopost": "laposte"}


def connector_code(code: str) -> str:
    """The connector that follows *code*'s numbers (the code itself unless an alias)."""
    return ALIASES.get(code, code)


def codes_of(connector: str) -> list[str]:
    """Every carrier code one connector follows: its own and its brands'."""
    return [connector, *sorted(alias for alias, target in ALIASES.items() if target == connector)]


def get(code: str) -> Connector | None:
    """Return the connector for *code*, or None when Suivi has none (push-only carriers)."""
    return CONNECTORS.get(connector_code(code))
