"""Adaptive polling of carriers that do not push.

**Claim** (:func:`claim`): due legs are taken by pushing their ``next_poll_at`` forward by a
lease in one statement — ``UPDATE … WHERE id IN (SELECT id … WHERE next_poll_at <= now
ORDER BY next_poll_at LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING id`` — so several workers
never take the same legs, and legs of a worker that died come due again when the lease ends.
The partial index on ``next_poll_at`` keeps this a bounded index range scan with a million
active parcels. Carriers whose circuit breaker is open are left out.

**Poll** (:func:`poll`): the claimed legs are grouped by carrier account and asked in calls
of the connector's size (La Poste: 10 numbers). Per account, a rate limit window (calls per
minute) is taken by compare-and-set before each call; an account out of calls puts its legs
off to the next window. Answers are ingested per shop (:mod:`.ingest`); each leg then gets
its next time from :mod:`.schedule` (state-dependent, jittered).

**Failures** never stop the batch: a 429 or 5xx backs the call's legs off exponentially,
never sooner than ``Retry-After``; 5xx, timeouts and cut connections count towards the
carrier's circuit breaker (open after :data:`BREAKER_THRESHOLD` consecutive failures, for
a period that doubles up to :data:`BREAKER_MAX_OPEN`); an authentication error pauses the
account's legs and is shown on the account; bad data (truncated or wrong JSON/XML) and
unknown numbers are recorded on the leg (``last_error``) and retried later. Every error is
visible on the leg or the account; none reaches the parcel's status.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from suivi.carriers import registry
from suivi.carriers.base import (
    AuthenticationFailed,
    CarrierFailure,
    CarrierUnavailable,
    RateLimited,
)
from suivi.carriers.vocabulary import TERMINAL, Reason, ShipmentUpdate, Status, TrackingError
from suivi.carriers.vocabulary import TrackingEvent as Scan
from suivi.shops.models import Shop

from . import schedule
from .ingest import IngestReport, ingest
from .models import CarrierAccount, CarrierHealth, Parcel, ParcelLeg
from .services import account_config

logger = logging.getLogger("suivi.shipments")

LEASE = timedelta(minutes=5)
BREAKER_THRESHOLD = 5
BREAKER_BASE_OPEN = timedelta(minutes=1)
BREAKER_MAX_OPEN = timedelta(minutes=30)
WINDOW = timedelta(minutes=1)
DAY = timedelta(days=1)
ERROR_TEXT = 500


@dataclass
class PollReport:
    claimed: int = 0
    calls: int = 0
    updates: int = 0
    errors: int = 0
    deferred: int = 0
    ingest: IngestReport = field(default_factory=IngestReport)


def _open_carriers(now: datetime) -> list[str]:
    return list(CarrierHealth.objects.filter(open_until__gt=now).values_list("carrier", flat=True))


def claim(limit: int, *, now: datetime | None = None) -> list[int]:
    """Take up to *limit* due legs (oldest due first) for :data:`LEASE`; return their ids."""
    now = now or timezone.now()
    table = ParcelLeg._meta.db_table
    excluded = _open_carriers(now)
    skip = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    not_open = ""
    params: list[datetime | str | int] = [now + LEASE, now]
    if excluded:
        not_open = f" AND carrier NOT IN ({', '.join(['%s'] * len(excluded))})"
        params.extend(excluded)
    params.append(limit)
    # The table name is ours and every value a parameter.
    inner = f"SELECT id FROM {table} WHERE next_poll_at IS NOT NULL AND next_poll_at <= %s"  # noqa: S608
    sql = (
        f"UPDATE {table} SET next_poll_at = %s WHERE id IN ("  # noqa: S608
        f"{inner}{not_open} ORDER BY next_poll_at LIMIT %s{skip}) RETURNING id"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


# --- the circuit breaker and the rate limit ----------------------------------------------


def breaker_open(carrier: str, *, now: datetime) -> bool:
    return CarrierHealth.objects.filter(carrier=carrier, open_until__gt=now).exists()


def _breaker_failure(carrier: str, error: str, now: datetime) -> None:
    health, _ = CarrierHealth.objects.get_or_create(carrier=carrier)
    CarrierHealth.objects.filter(pk=health.pk).update(
        consecutive_failures=F("consecutive_failures") + 1,
        last_error=error[:ERROR_TEXT],
        last_error_at=now,
    )
    health.refresh_from_db()
    over = health.consecutive_failures - BREAKER_THRESHOLD
    if over >= 0:
        open_for = min(BREAKER_MAX_OPEN, BREAKER_BASE_OPEN * (2 ** min(over, 10)))
        CarrierHealth.objects.filter(pk=health.pk).update(open_until=now + open_for)
        logger.warning("circuit open for %s for %s: %s", carrier, open_for, error)


def _breaker_success(carrier: str, now: datetime) -> None:
    updated = (
        CarrierHealth.objects.filter(carrier=carrier)
        .exclude(consecutive_failures=0, open_until__isnull=True)
        .update(consecutive_failures=0, open_until=None, last_success_at=now)
    )
    if not updated:
        CarrierHealth.objects.filter(carrier=carrier).update(last_success_at=now)


@dataclass(frozen=True)
class Limits:
    per_minute: int
    per_day: int | None = None


def take_call(account: CarrierAccount, limits: Limits, *, now: datetime) -> datetime | None:
    """Take one call from the account's budgets — calls per minute and, where the carrier
    has one, per day — by compare-and-set (several workers share them). Returns None when
    the call is taken, else when the next call may be made."""
    fields = ("window_started_at", "window_calls", "day_started_at", "day_calls")
    for _attempt in range(5):
        current = CarrierAccount.objects.filter(pk=account.pk).values(*fields).first()
        if current is None:
            return now + WINDOW
        minute_start: datetime | None = current["window_started_at"]
        day_start: datetime | None = current["day_started_at"]
        minute_calls: int = current["window_calls"]
        day_calls: int = current["day_calls"]
        if minute_start is None or now - minute_start >= WINDOW:
            minute_start, minute_calls = now, 0
        if day_start is None or now - day_start >= DAY:
            day_start, day_calls = now, 0
        if limits.per_day is not None and day_calls >= limits.per_day:
            return day_start + DAY
        if minute_calls >= limits.per_minute:
            return minute_start + WINDOW
        updated = CarrierAccount.objects.filter(pk=account.pk, **current).update(
            window_started_at=minute_start,
            window_calls=minute_calls + 1,
            day_started_at=day_start,
            day_calls=day_calls + 1,
        )
        if updated:
            return None
    return now + timedelta(seconds=5)  # contended: try again shortly


# --- one batch ------------------------------------------------------------------------------


@dataclass
class _Outcome:
    """What happened to each leg of a batch; written at the end in a few statements."""

    next_at: dict[int, datetime | None] = field(default_factory=dict)
    failures: dict[int, int] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)


def poll(leg_ids: Sequence[int], *, now: datetime | None = None) -> PollReport:
    """Ask the carriers about the claimed legs and ingest what they say (see module doc)."""
    now = now or timezone.now()
    report = PollReport(claimed=len(leg_ids))
    legs = list(
        ParcelLeg.objects.filter(pk__in=leg_ids)
        .select_related("account", "parcel")
        .order_by("account_id", "pk")
    )
    groups: dict[int, list[ParcelLeg]] = defaultdict(list)
    outcome = _Outcome()
    for leg in legs:
        if leg.account is None or not leg.account.is_active or registry.get(leg.carrier) is None:
            outcome.next_at[leg.pk] = None  # nothing to poll with: stop (push only)
            continue
        groups[leg.account_id].append(leg)  # type: ignore[index]
    shops: dict[int, Shop] = {}
    for group in groups.values():
        account = group[0].account
        assert account is not None
        _poll_account(account, group, now, outcome, report, shops)
    _write(legs, outcome, now)
    return report


def _poll_account(
    account: CarrierAccount,
    legs: list[ParcelLeg],
    now: datetime,
    outcome: _Outcome,
    report: PollReport,
    shops: dict[int, Shop],
) -> None:
    connector = registry.get(account.carrier)
    assert connector is not None
    try:
        config = account_config(account)
    except Exception as exc:  # undecryptable credentials (rotated keys): visible, paused
        _pause(account, legs, f"credentials unusable: {exc}", now, outcome)
        return
    limits = Limits(
        per_minute=account.requests_per_minute or connector.requests_per_minute,
        per_day=account.requests_per_day or connector.requests_per_day,
    )
    size = connector.max_numbers_per_call
    due = [leg for leg in legs if not _expire_if_stale(leg, now, outcome, report, shops)]
    for start in range(0, len(due), size):
        chunk = due[start : start + size]
        if breaker_open(account.carrier, now=now):
            for leg in chunk:
                outcome.next_at[leg.pk] = schedule.backoff(1, now=now)
            report.deferred += len(chunk)
            continue
        end = take_call(account, limits, now=now)
        if end is not None:
            for leg in due[start:]:
                outcome.next_at[leg.pk] = end + schedule.jittered(timedelta(seconds=5))
            report.deferred += len(due) - start
            return
        report.calls += 1
        try:
            results = connector.fetch([leg.tracking_number for leg in chunk], config)
        except AuthenticationFailed as exc:
            _pause(account, due[start:], exc.message, now, outcome)
            report.errors += len(due) - start
            return
        except CarrierFailure as exc:
            if isinstance(exc, CarrierUnavailable):
                _breaker_failure(account.carrier, exc.message, now)
            _back_off(chunk, exc, now, outcome)
            report.errors += len(chunk)
            if isinstance(exc, RateLimited):  # the rest would be refused too
                for leg in due[start + size :]:
                    outcome.next_at[leg.pk] = schedule.backoff(
                        1, now=now, retry_after=exc.retry_after
                    )
                report.deferred += max(0, len(due) - start - size)
                return
            continue
        except Exception as exc:  # a connector bug: the batch goes on, the error is shown
            logger.exception("connector %s failed", connector.code)
            _back_off(chunk, CarrierFailure(f"{type(exc).__name__}: {exc}"), now, outcome)
            report.errors += len(chunk)
            continue
        _breaker_success(account.carrier, now)
        _apply_results(account, chunk, results, now, outcome, report, shops)
    CarrierAccount.objects.filter(pk=account.pk).exclude(last_error="").update(
        last_error="", last_error_at=None
    )


def _apply_results(
    account: CarrierAccount,
    chunk: list[ParcelLeg],
    results: list[ShipmentUpdate | TrackingError],
    now: datetime,
    outcome: _Outcome,
    report: PollReport,
    shops: dict[int, Shop],
) -> None:
    by_number = {leg.tracking_number: leg for leg in chunk}
    answered: set[int] = set()
    updates: list[tuple[str, ShipmentUpdate]] = []
    for result in results:
        if isinstance(result, TrackingError) and not result.tracking_number:
            # The whole answer was unusable: every number of the call shares the error.
            _back_off(chunk, CarrierFailure(result.message), now, outcome)
            report.errors += len(chunk)
            return
        leg = by_number.get(result.tracking_number)
        if leg is None:
            continue  # an answer about a number we did not ask: ignored
        answered.add(leg.pk)
        if isinstance(result, TrackingError):
            outcome.errors[leg.pk] = f"{result.code}: {result.message}"
            outcome.failures[leg.pk] = (
                0 if result.code == "unknown_number" else leg.poll_failures + 1
            )
            outcome.next_at[leg.pk] = (
                now + schedule.jittered(schedule.UNKNOWN_NUMBER_INTERVAL)
                if result.code == "unknown_number"
                else schedule.backoff(leg.poll_failures + 1, now=now)
            )
            report.errors += 1
        else:
            updates.append((leg.carrier, result))
            outcome.errors[leg.pk] = ""
            outcome.failures[leg.pk] = 0
    for leg in chunk:
        if leg.pk not in answered:  # the carrier said nothing about it: ask again later
            outcome.errors[leg.pk] = "no answer for this number"
            outcome.next_at[leg.pk] = schedule.backoff(leg.poll_failures + 1, now=now)
    if updates:
        _ingest(account.shop_id, updates, now, report, shops, chunk, outcome)


def _ingest(
    shop_id: int,
    updates: list[tuple[str, ShipmentUpdate]],
    now: datetime,
    report: PollReport,
    shops: dict[int, Shop],
    chunk: list[ParcelLeg],
    outcome: _Outcome,
) -> None:
    shop = shops.get(shop_id) or Shop.objects.get(pk=shop_id)
    shops[shop_id] = shop
    report.updates += len(updates)
    try:
        report.ingest.merge(ingest(shop, updates, source="poll", now=now))
    except Exception as exc:  # never lose the batch over one bad write
        logger.exception("ingesting a poll answer failed")
        _back_off(chunk, CarrierFailure(f"ingestion failed: {exc}"), now, outcome)
        report.errors += len(chunk)
        return
    states = {
        pk: (status, moved)
        for pk, status, moved in Parcel.objects.filter(
            pk__in={leg.parcel_id for leg in chunk}
        ).values_list("pk", "status", "last_event_at")
    }
    for leg in chunk:
        if leg.pk in outcome.next_at or leg.parcel_id not in states:
            continue
        status, moved = states[leg.parcel_id]
        outcome.next_at[leg.pk] = schedule.next_poll(
            status, now=now, last_movement=moved or leg.parcel.shipped_at
        )


def _expire_if_stale(
    leg: ParcelLeg,
    now: datetime,
    outcome: _Outcome,
    report: PollReport,
    shops: dict[int, Shop],
) -> bool:
    """A parcel silent for 60 days gets an ``expired`` event (our own, code SUIVI-EXP)."""
    parcel = leg.parcel
    last = parcel.last_event_at or parcel.shipped_at
    if Status(parcel.status) in TERMINAL or now - last < schedule.EXPIRE_AFTER:
        return False
    scan = Scan(
        tracking_number=leg.tracking_number,
        status=Status.EXPIRED,
        reason=Reason.NONE,
        occurred_at=now,
        raw_code="SUIVI-EXP",
        raw_label=f"No carrier movement for {schedule.EXPIRE_AFTER.days} days",
    )
    _ingest(
        leg.shop_id,
        [(leg.carrier, ShipmentUpdate(leg.tracking_number, (scan,)))],
        now,
        report,
        shops,
        [leg],
        outcome,
    )
    outcome.next_at[leg.pk] = None
    return True


def _back_off(legs: list[ParcelLeg], exc: CarrierFailure, now: datetime, outcome: _Outcome) -> None:
    for leg in legs:
        failures = leg.poll_failures + 1
        outcome.failures[leg.pk] = failures
        outcome.errors[leg.pk] = exc.message
        outcome.next_at[leg.pk] = schedule.backoff(failures, now=now, retry_after=exc.retry_after)


def _pause(
    account: CarrierAccount, legs: list[ParcelLeg], error: str, now: datetime, outcome: _Outcome
) -> None:
    CarrierAccount.objects.filter(pk=account.pk).update(
        last_error=error[:ERROR_TEXT], last_error_at=now
    )
    for leg in legs:
        outcome.errors[leg.pk] = f"account: {error}"
        outcome.next_at[leg.pk] = now + schedule.jittered(schedule.AUTH_FAILURE_PAUSE)


def _write(legs: list[ParcelLeg], outcome: _Outcome, now: datetime) -> None:
    """Record each leg's next time, failures and error (a few grouped statements)."""
    for leg in legs:
        if leg.pk in outcome.next_at:
            leg.next_poll_at = outcome.next_at[leg.pk]
        leg.poll_failures = outcome.failures.get(leg.pk, leg.poll_failures)
        error = outcome.errors.get(leg.pk)
        if error is not None:
            leg.last_error = error[:ERROR_TEXT]
            leg.last_error_at = now if error else None
        leg.last_polled_at = now
    if legs:
        ParcelLeg.objects.bulk_update(
            legs, ["next_poll_at", "poll_failures", "last_error", "last_error_at", "last_polled_at"]
        )


def run_once(limit: int = 100, *, now: datetime | None = None) -> PollReport:
    """Claim one batch of due legs and poll it (the embedded worker's job)."""
    ids = claim(limit, now=now)
    return poll(ids, now=now) if ids else PollReport()
