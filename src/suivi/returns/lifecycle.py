"""The return lifecycle, declared once (pure Python, no database).

Statuses, what the merchant and the customer read for each, the reasons a customer may give
per line, and the transitions the services allow. The back office, the customer pages and the
docs read this module; none re-declares a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ReturnStatus(StrEnum):
    """Every status a return request can have."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    RECEIVED = "received"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class ReturnReason(StrEnum):
    """Why the customer sends an item back (one per returned line)."""

    CHANGED_MIND = "changed_mind"
    WRONG_SIZE = "wrong_size"
    DAMAGED = "damaged"
    NOT_AS_DESCRIBED = "not_as_described"
    WRONG_ITEM = "wrong_item"
    OTHER = "other"


S = ReturnStatus

# from-status -> allowed to-statuses. A merchant may refund as soon as the return is approved
# (an item not worth shipping back, a goodwill refund) or once the goods are received.
TRANSITIONS: Mapping[ReturnStatus, frozenset[ReturnStatus]] = {
    S.REQUESTED: frozenset({S.APPROVED, S.REFUSED, S.CANCELLED}),
    S.APPROVED: frozenset({S.RECEIVED, S.REFUNDED}),
    S.RECEIVED: frozenset({S.REFUNDED}),
    S.REFUSED: frozenset(),
    S.REFUNDED: frozenset(),
    S.CANCELLED: frozenset(),
}

# Returns in these statuses no longer hold the items: they can be asked for again.
RELEASED: frozenset[ReturnStatus] = frozenset({S.REFUSED, S.CANCELLED})

# The event type recorded (on the order's timeline) when a return enters each status.
EVENT_TYPES: Mapping[ReturnStatus, str] = {
    S.REQUESTED: "return.requested",
    S.APPROVED: "return.approved",
    S.REFUSED: "return.refused",
    S.RECEIVED: "return.received",
    S.REFUNDED: "return.refunded",
    S.CANCELLED: "return.cancelled",
}

STATUS_LABELS: Mapping[ReturnStatus, Promise] = {
    S.REQUESTED: _("Requested"),
    S.APPROVED: _("Approved"),
    S.REFUSED: _("Refused"),
    S.RECEIVED: _("Received"),
    S.REFUNDED: _("Refunded"),
    S.CANCELLED: _("Cancelled"),
}

# What the customer reads under the status: what happens next.
CUSTOMER_HINTS: Mapping[ReturnStatus, Promise] = {
    S.REQUESTED: _("The shop will review your request and tell you how to send the items."),
    S.APPROVED: _("Your return is approved: follow the instructions below to send the items."),
    S.REFUSED: _("The shop refused this return."),
    S.RECEIVED: _("The shop received the items; the refund follows."),
    S.REFUNDED: _("The items were refunded."),
    S.CANCELLED: _("You cancelled this request."),
}

REASON_LABELS: Mapping[ReturnReason, Promise] = {
    ReturnReason.CHANGED_MIND: _("I changed my mind"),
    ReturnReason.WRONG_SIZE: _("Wrong size"),
    ReturnReason.DAMAGED: _("Damaged or defective"),
    ReturnReason.NOT_AS_DESCRIBED: _("Not as described"),
    ReturnReason.WRONG_ITEM: _("Wrong item received"),
    ReturnReason.OTHER: _("Other reason"),
}

STATUS_CHOICES = [(s.value, STATUS_LABELS[s]) for s in ReturnStatus]
REASON_CHOICES = [(r.value, REASON_LABELS[r]) for r in ReturnReason]


def can_transition(current: ReturnStatus | str, target: ReturnStatus | str) -> bool:
    """Tell whether a return may move from *current* to *target*."""
    return ReturnStatus(target) in TRANSITIONS[ReturnStatus(current)]


def sources_of(target: ReturnStatus | str) -> frozenset[ReturnStatus]:
    """Return the statuses from which a return may move to *target*."""
    wanted = ReturnStatus(target)
    return frozenset(s for s, targets in TRANSITIONS.items() if wanted in targets)
