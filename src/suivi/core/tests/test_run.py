"""``suivi run``: the supervisor of the two children, and the whole command end to end.

These tests start real processes (no mock): the supervisor's with tiny Python children,
the end-to-end ones with ``python -m suivi.cli run`` on a private SQLite database.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from suivi.cli import Child, Supervisor

PYTHON = sys.executable
SLEEPER = [PYTHON, "-c", "import time; time.sleep(60)"]


def alive(pid: int) -> bool:
    """Tell whether *pid* is a running (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def descendants_of(pid: int) -> list[int]:
    found = []
    for child in children_of(pid):
        found += [child, *descendants_of(child)]
    return found


# --- the supervisor -----------------------------------------------------------------------


def test_when_one_child_dies_the_supervisor_reports_it_and_stops_the_other() -> None:
    crashing = Child("worker", [PYTHON, "-c", "import sys, time; time.sleep(0.3); sys.exit(3)"])
    steady = Child("web server", SLEEPER)
    supervisor = Supervisor([steady, crashing], stop_timeout=5)
    supervisor.start(dict(os.environ))
    try:
        dead = supervisor.watch(poll_seconds=0.05)
    finally:
        supervisor.stop()

    assert dead is crashing and crashing.exit_code == 3
    assert steady.exit_code == -signal.SIGTERM


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    stubborn = Child(
        "stubborn",
        [PYTHON, "-c", "import pathlib, signal, sys, time; "
                       "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                       "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)", str(ready)],
    )  # fmt: skip
    supervisor = Supervisor([stubborn], stop_timeout=0.5)
    supervisor.start(dict(os.environ))
    deadline = time.monotonic() + 20
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists()

    started = time.monotonic()
    supervisor.stop()

    assert stubborn.exit_code == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_stopping_a_child_also_stops_the_processes_it_started() -> None:
    parent = Child(
        "web server",
        [PYTHON, "-c", "import subprocess, sys, time; "
                       "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
                       "time.sleep(60)"],
    )  # fmt: skip
    supervisor = Supervisor([parent], stop_timeout=5)
    supervisor.start(dict(os.environ))
    assert parent.process is not None
    deadline = time.monotonic() + 10
    while not children_of(parent.process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchildren = children_of(parent.process.pid)
    assert grandchildren

    supervisor.stop()

    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in grandchildren) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in grandchildren)


# --- suivi run, end to end ------------------------------------------------------------------


def free_port() -> int:
    """Return a port that is free, with the next one (``suivi run``'s live port) free too.

    Chosen below the kernel's ephemeral range (32768-60999): a port the kernel handed out
    and released can be taken again by any outgoing connection (a PostgreSQL client of a
    parallel test) before ``suivi run`` binds it, and so can the port after it.
    """
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        try:
            for candidate in (port, port + 1):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free pair of ports between 20000 and 32000")


class Running:
    """``suivi run`` in a child process, its output collected line by line."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "SUIVI_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "",  # SQLite in tmp_path, whatever database the tests use
            "PYTHONUNBUFFERED": "1",
            "SUIVI_LOG_LEVEL": "WARNING",
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)  # main() sets it
        self.log = tmp_path / "run.log"
        self.handle = self.log.open("w")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "suivi.cli", "run", "--port", str(self.port), "--workers", "1", *args],
            env=env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.process.poll() is not None:
                pytest.fail(f"suivi run exited ({self.process.returncode}):\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {text!r} after {timeout} s:\n{self.output}")
            time.sleep(0.1)

    def get(self, path: str, key: str | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()  # its children get SIGTERM: see the test below
                self.process.wait()
        self.handle.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for run in started:
        run.close()


@pytest.mark.slow
def test_suivi_run_serves_the_demo_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, running: list[Running]
) -> None:
    run = Running(tmp_path, "--demo")
    running.append(run)
    run.wait_for("Press Ctrl-C to stop.")
    family = [run.process.pid, *descendants_of(run.process.pid)]
    output = run.output

    assert len(family) >= 3  # suivi run, granian (and its worker), the suivi worker
    assert f"Suivi is running on http://127.0.0.1:{run.port}/" in output
    assert f"http://127.0.0.1:{run.port}/api/v1/openapi.json" in output
    assert "admin@suivi.example" in output
    keys = re.findall(r"\b(sk_\S+)", output)
    assert len(keys) == 2
    assert run.get("/healthz") == (200, b'{"status": "ok"}')
    status, body = run.get("/api/v1/openapi.json")
    assert status == 200 and json.loads(body)["openapi"].startswith("3.")
    assert run.get("/admin/login/")[0] == 200
    status, body = run.get("/api/v1/orders", key=keys[0])
    assert status == 200 and json.loads(body)["items"]

    os.kill(run.process.pid, signal.SIGINT)

    assert run.process.wait(timeout=30) == 0
    assert "Stopped." in run.output
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in family) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in family if alive(pid)] == []


@pytest.mark.slow
def test_suivi_run_prints_the_demo_credentials_again_on_the_next_start(
    tmp_path: Path, running: list[Running]
) -> None:
    first = Running(tmp_path, "--demo")
    running.append(first)
    first.wait_for("Press Ctrl-C to stop.")
    keys = re.findall(r"\b(sk_\S+)", first.output)
    os.kill(first.process.pid, signal.SIGTERM)
    assert first.process.wait(timeout=30) == 0

    second = Running(tmp_path, "--demo")
    running.append(second)
    second.wait_for("Press Ctrl-C to stop.")

    assert "First run" not in second.output
    assert re.findall(r"\b(sk_\S+)", second.output) == keys


@pytest.mark.slow
def test_suivi_run_stops_everything_and_fails_when_the_worker_dies(
    tmp_path: Path, running: list[Running]
) -> None:
    run = Running(tmp_path)
    running.append(run)
    run.wait_for("Press Ctrl-C to stop.")
    family = [run.process.pid, *descendants_of(run.process.pid)]
    worker = next(
        pid for pid in children_of(run.process.pid)
        if b"suivi.cli\x00worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    )  # fmt: skip

    os.kill(worker, signal.SIGKILL)

    assert run.process.wait(timeout=30) == 1
    assert "The worker stopped unexpectedly" in run.output
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in family) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in family if alive(pid)] == []


@pytest.mark.slow
def test_suivi_run_says_when_the_port_is_taken(tmp_path: Path) -> None:
    env = {**os.environ, "SUIVI_DATA_DIR": str(tmp_path), "DATABASE_URL": ""}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [PYTHON, "-m", "suivi.cli", "run", "--port", str(port)],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    assert result.returncode == 2
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_servers_stop_even_when_suivi_run_is_killed_outright(
    tmp_path: Path, running: list[Running]
) -> None:
    run = Running(tmp_path)
    running.append(run)
    run.wait_for("Press Ctrl-C to stop.")
    family = descendants_of(run.process.pid)
    assert len(family) >= 3

    run.process.kill()  # SIGKILL: suivi run cannot stop anything itself
    run.process.wait()

    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in family) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in family if alive(pid)] == []
