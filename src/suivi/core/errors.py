"""Domain errors: each has a stable machine-readable code the API exposes as a problem type."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule refused the operation; nothing was changed."""

    code = "domain-error"
    status = 409

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """The object does not exist in this shop (existence in another shop is never revealed)."""

    code = "not-found"
    status = 404


class InvalidInput(DomainError):
    """The input breaks a rule a schema cannot express (e.g. a phone number, a quantity)."""

    code = "invalid-input"
    status = 422

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.field = field
