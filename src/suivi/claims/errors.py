"""Errors of the claim services (each with the stable code the API would expose)."""

from __future__ import annotations

from suivi.core.errors import DomainError


class ClaimClosed(DomainError):
    """The claim is closed: no more messages until the shop reopens it."""

    code = "claim-closed"
    status = 409


class InvalidClaimTransition(DomainError):
    """The claim cannot move to that status from the one it is in."""

    code = "invalid-claim-transition"
    status = 409
