"""Errors raised by return services; each has a stable code for the API and the pages."""

from __future__ import annotations

from suivi.core.errors import DomainError, InvalidInput


class NotReturnable(InvalidInput):
    """The order cannot be returned now; ``details["reason"]`` says why.

    Reasons: ``not-delivered``, ``cancelled``, ``window-closed``, ``returns-disabled``,
    ``no-delivery-date``, ``nothing-left``.
    """

    code = "not-returnable"


class InvalidReturnQuantity(InvalidInput):
    """A quantity is not positive or exceeds what can still be returned of the line."""

    code = "invalid-return-quantity"


class InvalidReturnTransition(DomainError):
    """The return is not in a status that allows this change (or it changed meanwhile)."""

    code = "invalid-return-transition"
    status = 409


class InvalidLabel(InvalidInput):
    """The label document is too large or not a PDF, PNG or JPEG."""

    code = "invalid-label"
