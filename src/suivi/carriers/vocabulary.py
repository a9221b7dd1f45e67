"""The normalised tracking vocabulary every connector maps onto.

A status says where the parcel is; a reason says why, for exceptions. Every event keeps the
carrier's own code and label and its time **with the UTC offset the carrier gave** (a
carrier reports local times; we never turn them into a bare "Z" or a naive time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    FAILED_ATTEMPT = "failed_attempt"
    EXCEPTION = "exception"
    RETURNING = "returning"
    RETURNED = "returned"
    EXPIRED = "expired"


class Reason(StrEnum):
    NONE = ""
    DELAY = "delay"
    CUSTOMS_HOLD = "customs_hold"
    DAMAGED = "damaged"
    LOST = "lost"
    REFUSED = "refused"
    ADDRESS_PROBLEM = "address_problem"
    WEATHER = "weather"
    RECIPIENT_ABSENT = "recipient_absent"
    OTHER = "other"


TERMINAL = frozenset({Status.DELIVERED, Status.RETURNED, Status.EXPIRED})


@dataclass(frozen=True)
class TrackingEvent:
    """One carrier scan, normalised; ``occurred_at`` is timezone-aware with the carrier's
    own offset (``utcoffset()`` tells it)."""

    tracking_number: str
    status: Status
    occurred_at: datetime
    raw_code: str
    raw_label: str
    reason: Reason = Reason.NONE
    location: str = ""
    country: str = ""
    latitude: float | None = None
    longitude: float | None = None
    customs: str = ""  # "entered", "released" or "held" for customs scans

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError("a tracking event needs its time with its UTC offset")
        if not self.customs and self.reason is Reason.CUSTOMS_HOLD:
            object.__setattr__(self, "customs", "held")  # every connector's hold is one


@dataclass(frozen=True)
class Handoff:
    """The number a destination carrier gave the parcel after a cross-border hand-off."""

    carrier: str
    tracking_number: str


@dataclass(frozen=True)
class ShipmentUpdate:
    """What a carrier said about one number: its events (any order) and extras."""

    tracking_number: str
    events: tuple[TrackingEvent, ...] = field(default=())
    estimated_delivery: datetime | None = None
    carrier_product: str = ""
    is_final: bool = False
    pickup_deadline: datetime | None = None
    # Where to collect it: name, address, postcode, city, country, id, opening_hours.
    relay_point: Mapping[str, Any] | None = None
    handoff: Handoff | None = None


@dataclass(frozen=True)
class TrackingError:
    """A number the carrier could not answer for (unknown, malformed request…)."""

    tracking_number: str
    code: str  # "unknown_number", "invalid_number", "carrier_error"
    message: str
