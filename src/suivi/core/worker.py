"""The background worker: a loop that runs periodic jobs registered by the apps.

An app plugs a job in with one line, usually from its ``AppConfig.ready()``::

    register_job("notifications.drain_outbox", every_seconds=1, func=outbox_drain)

The loop runs each job when it is due, one after the other in one thread; a job that raises
is logged and the loop goes on. Database connections are released between rounds like
Django does between requests, so a worker survives a database restart. SIGINT or SIGTERM
stops the loop after the running job; jobs must therefore be short (a batch of work, not a
queue to empty) and safe to run in several workers at once (claim rows, never assume).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger("suivi.worker")

JobFunc = Callable[[], object]


@dataclass(frozen=True)
class Job:
    """A function the worker calls every *every_seconds*."""

    name: str
    every_seconds: float
    func: JobFunc


_jobs: dict[str, Job] = {}


def register_job(name: str, every_seconds: float, func: JobFunc) -> None:
    """Run *func* every *every_seconds* in each worker; registering a name again replaces it.

    Replacing (rather than refusing) keeps ``AppConfig.ready()`` safe to run twice, as it
    does in some test set-ups.
    """
    if every_seconds <= 0:
        raise ValueError(f"Job {name!r}: every_seconds must be positive, not {every_seconds}.")
    _jobs[name] = Job(name=name, every_seconds=float(every_seconds), func=func)


def unregister_job(name: str) -> None:
    """Remove the job called *name* if it is registered."""
    _jobs.pop(name, None)


def registered_jobs() -> list[Job]:
    """Return the registered jobs in registration order."""
    return list(_jobs.values())


class Worker:
    """Run *jobs* when they are due until :meth:`stop` is called or a stop signal arrives.

    *clock* and *poll_seconds* are there for tests and tuning; the loop never sleeps longer
    than *poll_seconds*, and wakes at once on :meth:`stop`.
    """

    def __init__(
        self,
        jobs: Iterable[Job] | None = None,
        *,
        poll_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jobs = list(registered_jobs() if jobs is None else jobs)
        self.poll_seconds = (
            settings.SUIVI_WORKER_POLL_SECONDS if poll_seconds is None else poll_seconds
        )
        self.clock = clock
        self._stopping = threading.Event()
        self._stop_requested = False
        # Every job is due at start: a worker that restarts catches up at once.
        now = clock()
        self._next_run = {job.name: now for job in self.jobs}
        self.rounds = 0

    @property
    def stopping(self) -> bool:
        """Tell whether a stop was requested."""
        return self._stop_requested or self._stopping.is_set()

    def stop(self) -> None:
        """Ask the loop to end after the running job (from any thread)."""
        self._stop_requested = True
        self._stopping.set()

    def stop_from_signal_handler(self) -> None:
        """Ask the loop to end; safe inside a signal handler (see :func:`wake_from_signal`)."""
        self._stop_requested = True
        wake_from_signal(self._stopping)

    def run_once(self) -> list[str]:
        """Run every job that is due now; return the names of the jobs that ran."""
        ran = []
        for job in self.jobs:
            if self.stopping:
                break
            if self.clock() < self._next_run[job.name]:
                continue
            close_old_connections()
            started = time.perf_counter()
            try:
                job.func()
            except Exception:
                logger.exception("job %s failed; the worker goes on", job.name)
            else:
                logger.debug("job %s done in %.3f s", job.name, time.perf_counter() - started)
            finally:
                # Scheduled from the end of the run: a slow job never piles up behind itself.
                self._next_run[job.name] = self.clock() + job.every_seconds
                close_old_connections()
            ran.append(job.name)
        self.rounds += 1
        return ran

    def seconds_until_due(self) -> float:
        """Return how long the loop may sleep before a job is due (at most *poll_seconds*)."""
        if not self.jobs:
            return self.poll_seconds
        wait = min(self._next_run.values()) - self.clock()
        return max(0.0, min(wait, self.poll_seconds))

    def run(self, *, handle_signals: bool = True) -> None:
        """Loop until stopped; with *handle_signals*, SIGINT and SIGTERM stop it gracefully."""
        names = ", ".join(f"{job.name} (every {job.every_seconds:g} s)" for job in self.jobs)
        logger.info("worker started with jobs: %s", names or "none")
        with self._signals() if handle_signals else _nothing():
            while not self.stopping:
                self.run_once()
                self._stopping.wait(self.seconds_until_due())
        close_old_connections()
        logger.info("worker stopped")

    @contextmanager
    def _signals(self) -> Iterator[None]:
        def handle(signum: int, frame: FrameType | None) -> None:
            if self.stopping:
                logger.info("already stopping, finishing the current job")
                return
            logger.info("%s received: stopping after the current job", signal.Signals(signum).name)
            self.stop_from_signal_handler()

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def wake_from_signal(event: threading.Event) -> None:
    """Set *event* from a signal handler.

    ``Event.set()`` takes a lock that the interrupted main thread may be holding (inside
    ``Event.wait()``), which would deadlock; a short-lived thread waits for it instead.
    """
    threading.Thread(target=event.set, name="wake-from-signal", daemon=True).start()
