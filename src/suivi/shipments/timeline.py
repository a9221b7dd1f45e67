"""A parcel's status as a fold over its timeline — pure, order-independent by construction.

Carriers send scans late, twice, out of order, and through several paths (polling, push,
an aggregator). The status is therefore never "the last thing we heard" but the result of
folding **every distinct event sorted by the instant it happened** (ties broken by how far
along the status is, then by code and place, so any arrival order sorts the same way):

- a later event sets the status — except that **terminal states stay** (delivered,
  returned, expired) unless the carrier truly reverses: delivered → returning / returned
  (refused or sent back after a delivery scan), and expired → delivered / returned
  (the carrier spoke again after we gave up);
- a late *declaration* (pending, info received) never pulls a moving parcel back;
- once returning, in-transit and delivery scans are the trip back: the parcel stays
  returning, and a delivery then means returned to the sender.

Because the fold only looks at the sorted sequence, any permutation and duplication of the
same events gives the same status and the same timeline (property-tested). Ingestion folds
incrementally when every new event is later than the last one folded, else from scratch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from suivi.carriers.vocabulary import TERMINAL, Reason, Status

# How far along each status is: the tie-break between events at the same instant.
PROGRESS: dict[Status, int] = {
    Status.PENDING: 0,
    Status.INFO_RECEIVED: 1,
    Status.IN_TRANSIT: 2,
    Status.EXCEPTION: 3,
    Status.FAILED_ATTEMPT: 4,
    Status.OUT_FOR_DELIVERY: 5,
    Status.AVAILABLE_FOR_PICKUP: 6,
    Status.RETURNING: 7,
    Status.DELIVERED: 8,
    Status.RETURNED: 9,
    Status.EXPIRED: 10,
}

_DECLARATIONS = frozenset({Status.PENDING, Status.INFO_RECEIVED})
_REVERSALS: dict[Status, frozenset[Status]] = {
    Status.DELIVERED: frozenset({Status.RETURNING, Status.RETURNED}),
    Status.EXPIRED: frozenset({Status.DELIVERED, Status.RETURNED}),
    Status.RETURNED: frozenset(),
}


class Scan(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def raw_code(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def customs(self) -> str: ...


@dataclass(frozen=True)
class State:
    status: Status = Status.PENDING
    reason: str = ""
    status_at: datetime | None = None
    last_event_at: datetime | None = None
    delivered_at: datetime | None = None
    customs: str = ""


def sort_key(scan: Scan) -> tuple[datetime, int, str, str]:
    return (scan.occurred_at, PROGRESS[Status(scan.status)], scan.raw_code, scan.location)


def step(state: State, scan: Scan) -> State:
    """Fold one scan (the next in time order) into *state*."""
    incoming = Status(scan.status)
    when = scan.occurred_at
    state = replace(
        state,
        last_event_at=when if state.last_event_at is None else max(state.last_event_at, when),
        customs=scan.customs or state.customs,
    )
    current = state.status
    if current in TERMINAL:
        if incoming not in _REVERSALS[current]:
            return state
    elif current is Status.RETURNING:
        if incoming is Status.DELIVERED:
            incoming = Status.RETURNED  # delivered on the way back: back with the sender
        elif incoming not in (Status.RETURNED, Status.EXCEPTION):
            return state
    elif incoming in _DECLARATIONS and PROGRESS[current] > PROGRESS[incoming]:
        return state
    reason = scan.reason if incoming in (Status.EXCEPTION, Status.FAILED_ATTEMPT) else ""
    # Kept through a reversal: the customer had it (a return follows, not an undelivery).
    delivered_at = when if incoming is Status.DELIVERED else state.delivered_at
    return replace(
        state,
        status=incoming,
        reason=reason or (Reason.NONE.value if incoming is not Status.EXCEPTION else "other"),
        status_at=when,
        delivered_at=delivered_at,
    )


def fold(scans: Iterable[Scan], start: State | None = None) -> State:
    """The state after *scans* (any order; duplicates must already be merged) from *start*."""
    state = start or State()
    for scan in sorted(scans, key=sort_key):
        state = step(state, scan)
    return state


def can_continue(state: State, scans: Iterable[Scan]) -> bool:
    """Whether folding *scans* onto *state* equals folding everything from scratch: every
    new scan must come strictly after the last one folded."""
    if state.last_event_at is None:
        return True
    return all(scan.occurred_at > state.last_event_at for scan in scans)
