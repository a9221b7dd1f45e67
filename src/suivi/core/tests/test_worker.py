"""The worker loop: due jobs run, a failing job does not stop the others, signals stop it.

The worker releases database connections around every job, for real: these tests use
transactional_db (no wrapping transaction for it to break).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from suivi.core.worker import Job, Worker, register_job, registered_jobs, unregister_job
from suivi.shops.models import Shop

pytestmark = pytest.mark.django_db(transaction=True)


class FakeClock:
    """A clock the test moves by hand, so no test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_every_job_is_due_when_the_worker_starts() -> None:
    calls: list[str] = []
    clock = FakeClock()
    worker = Worker(
        [Job("a", 60, lambda: calls.append("a")), Job("b", 5, lambda: calls.append("b"))],
        clock=clock,
    )

    assert worker.run_once() == ["a", "b"]
    assert calls == ["a", "b"]


def test_a_job_runs_again_only_after_its_interval() -> None:
    calls: list[str] = []
    clock = FakeClock()
    worker = Worker(
        [
            Job("slow", 60, lambda: calls.append("slow")),
            Job("fast", 5, lambda: calls.append("fast")),
        ],
        clock=clock,
    )
    worker.run_once()

    clock.now += 4.9
    assert worker.run_once() == []
    clock.now += 0.1
    assert worker.run_once() == ["fast"]
    clock.now += 55
    assert worker.run_once() == ["slow", "fast"]
    assert calls == ["slow", "fast", "fast", "slow", "fast"]


def test_the_loop_sleeps_until_the_next_job_is_due_but_never_longer_than_the_poll() -> None:
    clock = FakeClock()
    worker = Worker(
        [Job("a", 3, lambda: None), Job("b", 10, lambda: None)], clock=clock, poll_seconds=5
    )
    worker.run_once()

    assert worker.seconds_until_due() == 3
    clock.now += 2
    assert worker.seconds_until_due() == 1
    assert (
        Worker([Job("c", 60, lambda: None)], clock=clock, poll_seconds=5).seconds_until_due() == 0
    )
    idle = Worker([Job("c", 60, lambda: None)], clock=clock, poll_seconds=5)
    idle.run_once()
    assert idle.seconds_until_due() == 5


def test_a_failing_job_is_logged_and_the_next_job_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    def broken() -> None:
        raise ValueError("carrier API down")

    worker = Worker(
        [Job("broken", 1, broken), Job("healthy", 1, lambda: calls.append("healthy"))],
        clock=FakeClock(),
    )

    with caplog.at_level(logging.ERROR, logger="suivi.worker"):
        ran = worker.run_once()

    assert ran == ["broken", "healthy"]
    assert calls == ["healthy"]
    assert "job broken failed" in caplog.text
    assert "carrier API down" in caplog.text


def test_a_failing_job_is_retried_at_its_next_interval_not_in_a_tight_loop() -> None:
    attempts: list[float] = []
    clock = FakeClock()

    def broken() -> None:
        attempts.append(clock.now)
        raise RuntimeError("boom")

    worker = Worker([Job("broken", 30, broken)], clock=clock)
    worker.run_once()
    worker.run_once()
    clock.now += 30
    worker.run_once()

    assert attempts == [1000.0, 1030.0]


def test_sigterm_stops_the_loop_after_the_running_job() -> None:
    calls: list[str] = []

    def job() -> None:
        calls.append("ran")
        # The signal arrives while a job runs: the job finishes, then the loop ends.
        os.kill(os.getpid(), signal.SIGTERM)
        calls.append("finished")

    worker = Worker([Job("job", 0.01, job)], poll_seconds=0.01)
    previous = signal.getsignal(signal.SIGTERM)

    worker.run()

    assert calls == ["ran", "finished"]
    assert worker.stopping
    assert signal.getsignal(signal.SIGTERM) is previous


def test_sigint_stops_a_sleeping_loop_at_once() -> None:
    worker = Worker([Job("rare", 3600, lambda: None)], poll_seconds=30)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        started = timezone.now()
        worker.run()
    finally:
        timer.cancel()

    assert worker.stopping
    # It was sleeping for up to 30 s: the signal woke it up.
    assert timezone.now() - started < timedelta(seconds=5)
    assert worker.rounds == 1


def test_an_obsolete_database_connection_is_closed_after_a_job() -> None:
    from django.db import connection

    def job() -> None:
        Shop.objects.count()
        # As if CONN_MAX_AGE had passed while the job ran.
        connection.close_at = time.monotonic() - 1

    Worker([Job("query", 1, job)], clock=FakeClock()).run_once()

    assert connection.connection is None


def test_registering_a_job_twice_replaces_it() -> None:
    try:
        register_job("tests.replaced", 10, lambda: "first")
        register_job("tests.replaced", 20, lambda: "second")
        jobs = [job for job in registered_jobs() if job.name == "tests.replaced"]

        assert len(jobs) == 1
        assert jobs[0].every_seconds == 20
        assert jobs[0].func() == "second"
    finally:
        unregister_job("tests.replaced")


def test_a_job_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="every_seconds must be positive"):
        register_job("tests.bad", 0, lambda: None)
    assert "tests.bad" not in {job.name for job in registered_jobs()}
