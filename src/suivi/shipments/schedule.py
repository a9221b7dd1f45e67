"""When to ask a carrier again — pure functions of the parcel's state and the clock.

Minutes when the parcel is out for delivery (the customer is waiting at home), hours in
transit, a slow pace while a number is not yet known to the carrier, never after a terminal
state, and not at all once a parcel has not moved for :data:`EXPIRE_AFTER`. Every interval
carries ±15 % jitter so that parcels shipped together do not come due together. Failures
back off exponentially (with equal jitter), never sooner than the carrier's ``Retry-After``.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from suivi.carriers.vocabulary import TERMINAL, Status

INTERVALS: dict[Status, timedelta] = {
    Status.PENDING: timedelta(hours=4),
    Status.INFO_RECEIVED: timedelta(hours=4),
    Status.IN_TRANSIT: timedelta(hours=3),
    Status.OUT_FOR_DELIVERY: timedelta(minutes=20),
    Status.FAILED_ATTEMPT: timedelta(hours=1),
    Status.EXCEPTION: timedelta(hours=2),
    Status.AVAILABLE_FOR_PICKUP: timedelta(hours=6),
    Status.RETURNING: timedelta(hours=6),
}
UNKNOWN_NUMBER_INTERVAL = timedelta(hours=6)  # labels reach carriers' systems late
EXPIRE_AFTER = timedelta(days=60)
FIRST_POLL_DELAY = timedelta(minutes=5)
JITTER = 0.15
BACKOFF_BASE = timedelta(minutes=2)
BACKOFF_MAX = timedelta(hours=6)
AUTH_FAILURE_PAUSE = timedelta(hours=6)


def jittered(delay: timedelta, rng: random.Random | None = None) -> timedelta:
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return delay * factor


def next_poll(
    status: Status | str,
    *,
    now: datetime,
    last_movement: datetime | None,
    rng: random.Random | None = None,
) -> datetime | None:
    """The next time to poll a leg whose parcel is *status*, or None to stop polling."""
    status = Status(status)
    if status in TERMINAL:
        return None
    if last_movement is not None and now - last_movement >= EXPIRE_AFTER:
        return now  # due now: the poller expires it (see polling.expire)
    return now + jittered(INTERVALS[status], rng)


def backoff(
    failures: int,
    *,
    now: datetime,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """The next try after *failures* consecutive failures (1 = the first)."""
    ceiling = min(BACKOFF_MAX, BACKOFF_BASE * (2 ** max(0, min(failures, 20) - 1)))
    half = ceiling / 2
    delay = half + half * (rng or random).random()  # "equal jitter"
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, BACKOFF_MAX.total_seconds())))
    moment: datetime = now + delay
    return moment
