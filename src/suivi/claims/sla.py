"""When the shop owes an answer: the end of the 2nd business day after the customer wrote.

Business days are Monday to Friday minus the public holidays of the shop's country (the
``holidays`` calendar, shared with stalled-parcel detection), counted in the shop's time
zone. A claim sent on Friday at 15:00 in France is due by Tuesday 23:59:59; one sent on
Saturday, by Tuesday too. ``SUIVI_CLAIM_ANSWER_BUSINESS_DAYS`` changes the 2.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from suivi.shipments.stalled import is_business_day

DEFAULT_BUSINESS_DAYS = 2


def answer_business_days() -> int:
    """Business days the shop has to answer (read at call time, never at import)."""
    return int(getattr(settings, "SUIVI_CLAIM_ANSWER_BUSINESS_DAYS", DEFAULT_BUSINESS_DAYS))


def answer_due(
    written_at: datetime, *, country: str = "FR", tz: str = "Europe/Paris", days: int | None = None
) -> datetime:
    """Return the end of the *days*-th business day after the local day of *written_at*."""
    days = answer_business_days() if days is None else days
    try:
        zone = ZoneInfo(tz or "Europe/Paris")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Europe/Paris")
    day = written_at.astimezone(zone).date()
    counted = 0
    while counted < max(days, 0):
        day += timedelta(days=1)
        if is_business_day(day, country or "FR"):
            counted += 1
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone)
