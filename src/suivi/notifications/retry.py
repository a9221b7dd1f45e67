"""When to try again: schedules as data, exponential with jitter.

Customer channels retry quickly at first (a provider blip), then back off to an hour: after
12 attempts (~7 hours) the message is dead — a shipping email a day late is worse than a
clear "failed" in the merchant's log. Webhooks follow the Standard Webhooks practice and
keep trying for about three days, so a merchant's system down for a weekend still gets
everything once it is back.

Jitter is "equal jitter": half the delay fixed, half random, so retries of a whole batch
after an outage spread out without ever coming back sooner than half the schedule.
"""

from __future__ import annotations

import random
from datetime import timedelta

from .catalog import WEBHOOK

CUSTOMER_SCHEDULE_SECONDS: tuple[int, ...] = (
    10,
    30,
    60,
    120,
    300,
    600,
    1200,
    1800,
    3600,
    3600,
    3600,
    3600,
)
WEBHOOK_SCHEDULE_SECONDS: tuple[int, ...] = (
    5,
    300,
    1800,
    7200,
    18000,
    36000,
    36000,
    36000,
    36000,
    36000,
    36000,
    36000,
)  # 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h: ~3 days in all


def schedule(channel: str) -> tuple[int, ...]:
    return WEBHOOK_SCHEDULE_SECONDS if channel == WEBHOOK else CUSTOMER_SCHEDULE_SECONDS


def max_attempts(channel: str) -> int:
    """Attempts in all (the first one included) before a message is dead."""
    return len(schedule(channel)) + 1


def next_delay(
    channel: str,
    attempts_done: int,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> timedelta | None:
    """Delay before the next try after *attempts_done* failed ones; None when exhausted."""
    steps = schedule(channel)
    if attempts_done >= len(steps) + 1:
        return None
    base = steps[min(attempts_done, len(steps)) - 1] if attempts_done >= 1 else steps[0]
    r = (rng or random).random()
    seconds = base / 2 + r * base / 2
    if retry_after is not None:
        seconds = max(seconds, min(retry_after, 24 * 3600))
    return timedelta(seconds=seconds)
