"""Errors raised by order services."""

from __future__ import annotations

from suivi.core.errors import DomainError


class InvalidTransition(DomainError):
    """The lifecycle table does not allow this change from the current status."""

    code = "invalid-transition"
    status = 409


class ConcurrentChange(DomainError):
    """Someone else changed the order between our read and our write; retry with fresh data."""

    code = "concurrent-change"
    status = 409


class InvalidQuantity(DomainError):
    """A quantity to cancel exceeds what is left on the line, or is not positive."""

    code = "invalid-quantity"
    status = 422


class DuplicateReference(DomainError):
    """The shop already has an order with this sales-channel reference."""

    code = "duplicate-reference"
    status = 409


class InvoicingError(DomainError):
    """The order cannot be invoiced now (disabled, unpaid, cancelled or already invoiced)."""

    code = "invoicing-not-allowed"
    status = 409
