"""Errors raised by shipment services."""

from __future__ import annotations

from suivi.core.errors import DomainError


class CarrierNotDetected(DomainError):
    """The carrier was not given and the number does not tell it (unknown or ambiguous)."""

    code = "carrier-not-detected"
    status = 422


class DuplicateParcel(DomainError):
    """The shop already follows this tracking number with this carrier."""

    code = "duplicate-parcel"
    status = 409


class NotShippable(DomainError):
    """The order cannot take a parcel now (Click & Collect, cancelled, not yet paid…)."""

    code = "not-shippable"
    status = 409
