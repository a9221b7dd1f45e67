"""Shared pieces of Suivi's benchmarks: the server, a lean HTTP/1.1 client, the load
driver, process accounting and throw-away databases.

Nothing here imports Django: the driver process stays light, and each database's Django
side runs in a child process (see ``_django_side.py``) with its own environment.
Only loopback traffic; every loop is bounded by a request count or a deadline.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import queue as queue_module
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"

# --- statistics -------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Return the *q* percentile (0-100) of already sorted values, nearest-rank."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(q / 100 * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def cores() -> int:
    """Return the number of cores this process may run on."""
    return len(os.sched_getaffinity(0))


# --- /proc accounting ---------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds used so far by *pid* (0 if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kb(pid: int, key: str) -> int:
    """Return a kB figure (VmRSS, VmHWM) from /proc/<pid>/status, 0 if unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_of(pid: int) -> list[int]:
    """Return the direct children of *pid*."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        if int(raw[raw.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def machine_busy_seconds() -> float:
    """Return CPU seconds spent not idle by the whole machine since boot (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    steal = values[7] if len(values) > 7 else 0
    return (sum(values[:8]) - idle - steal) / CLK_TCK


def python_speed_ms() -> float:
    """Return the CPU milliseconds of a fixed pure-Python loop (best of 3): tells how fast
    this machine runs Python right now, to compare runs and machines."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for i in range(1_000_000):
            total += i * i
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)


def load_average() -> float:
    """Return the one-minute load average (to spot other work on the machine)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """Granian serving ``suivi.wsgi`` (the production entry point) on a free loopback port."""

    def __init__(self, env: dict[str, str], *, workers: int = 2, extra: Sequence[str] = ()):
        self.env = env
        self.workers = workers
        self.extra = list(extra)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkstemp(prefix="suivi-bench-granian-", suffix=".log")[1])

    @property
    def command(self) -> list[str]:
        return [
            PYTHON,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--workers",
            str(self.workers),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--no-ws",
            "--log-level",
            "warning",
            *self.extra,
            "suivi.wsgi:application",
        ]

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until every worker answers ``/healthz``."""
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"granian exited ({self.proc.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                status, _ = HttpConnection(HOST, self.port, timeout=2).request(
                    get_request("/healthz", self.port)
                )
                if status == 200 and len(self.worker_pids()) >= self.workers:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"granian did not answer /healthz in {timeout}s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        return children_of(self.proc.pid) if self.proc else []

    def pids(self) -> list[int]:
        return [self.proc.pid, *self.worker_pids()] if self.proc else []

    def cpu_seconds(self) -> float:
        return sum(proc_cpu_seconds(pid) for pid in self.pids())

    def rss_mb(self) -> dict[str, float]:
        """Return the RSS now and the peak RSS (VmHWM), summed over granian's processes."""
        pids = self.pids()
        return {
            "rss_mb": sum(proc_status_kb(p, "VmRSS") for p in pids) / 1024,
            "peak_rss_mb": sum(proc_status_kb(p, "VmHWM") for p in pids) / 1024,
            "worker_rss_mb": max(
                (proc_status_kb(p, "VmRSS") for p in self.worker_pids()), default=0
            )
            / 1024,
        }

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop granian (SIGINT, then SIGKILL after 10 s) and remove its log."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                for pid in self.worker_pids():
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                self.proc.kill()
                self.proc.wait(timeout=10)
        with contextlib.suppress(OSError):
            self.log_path.unlink()


# --- a lean HTTP/1.1 client ---------------------------------------------------------------
# http.client parses headers through the email package: several times the CPU of this
# client, CPU the server needs since both share the machine's two cores.


def post_request(
    path: str, port: int, body: bytes, bearer: str, idempotency_key: str = ""
) -> bytes:
    """Return the bytes of a keep-alive JSON POST."""
    extra = f"Idempotency-Key: {idempotency_key}\r\n" if idempotency_key else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {bearer}\r\n"
        f"{extra}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def get_request(path: str, port: int, bearer: str = "") -> bytes:
    """Return the bytes of a keep-alive GET."""
    auth = f"Authorization: Bearer {bearer}\r\n" if bearer else ""
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{auth}\r\n".encode()


class HttpConnection:
    """One persistent HTTP/1.1 connection sending pre-encoded requests."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self.address = (host, port)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buffer = b""

    def _fill(self, sock: socket.socket) -> None:
        chunk = sock.recv(262144)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send *raw* and return (status, body); reconnects if the connection was closed."""
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self.sock
        try:
            sock.sendall(raw)
            while (end := self.buffer.find(b"\r\n\r\n")) < 0:
                self._fill(sock)
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            lines = head.split(b"\r\n")
            status = int(lines[0][9:12])
            length, chunked, close = -1, False, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif name == b"connection":
                    close = b"close" in value.lower()
            if chunked:
                body = self._read_chunked(sock)
            elif length >= 0:
                while len(self.buffer) < length:
                    self._fill(sock)
                body, self.buffer = self.buffer[:length], self.buffer[length:]
            elif status in (204, 304) or 100 <= status < 200:
                body = b""
            else:  # no framing: the body runs to the end of the connection
                with contextlib.suppress(ConnectionError):
                    while True:
                        self._fill(sock)
                body, close = self.buffer, True
        except Exception:
            self.close()
            raise
        if close:
            self.close()
        return status, body

    def _read_chunked(self, sock: socket.socket) -> bytes:
        parts = []
        while True:
            while (end := self.buffer.find(b"\r\n")) < 0:
                self._fill(sock)
            size = int(self.buffer[:end].split(b";")[0], 16)
            self.buffer = self.buffer[end + 2 :]
            while len(self.buffer) < size + 2:
                self._fill(sock)
            parts.append(self.buffer[:size])
            self.buffer = self.buffer[size + 2 :]
            if size == 0:
                # Trailers are not used by granian; the empty line was consumed above.
                return b"".join(parts)


class StdlibConnection:
    """The same interface over ``http.client`` (to compare client costs)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        import http.client

        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def request(self, raw: bytes) -> tuple[int, bytes]:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        method, path, _ = lines[0].split(" ")
        headers = dict(line.split(": ", 1) for line in lines[1:] if not line.startswith("Host"))
        self.conn.request(method, path, body=body or None, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


# --- the load driver ----------------------------------------------------------------------


@dataclass
class PhaseResult:
    """What one load phase measured."""

    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: Counter[str]
    bodies: list[list[bytes]]  # per connection, 2xx bodies in order (when collected)
    sent: list[int]  # per connection, requests sent
    error_samples: list[str]
    client_cpu_s: float
    server_cpu_s: float = 0.0
    db_cpu_s: float = 0.0
    machine_busy_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("2"))

    @property
    def errors(self) -> dict[str, int]:
        return {status: n for status, n in self.statuses.items() if not status.startswith("2")}

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        n = max(self.requests, 1)
        other = max(
            0.0, self.machine_busy_s - self.server_cpu_s - self.db_cpu_s - self.client_cpu_s
        )
        capacity = self.seconds * cores()
        spent = self.server_cpu_s + self.db_cpu_s + self.client_cpu_s
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.ok / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(percentile(lat, 50), 2),
            "p95_ms": round(percentile(lat, 95), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "max_ms": round(lat[-1], 2) if lat else 0.0,
            "errors": self.errors,
            "server_cpu_ms_per_req": round(self.server_cpu_s * 1000 / n, 3),
            "db_cpu_ms_per_req": round(self.db_cpu_s * 1000 / n, 3),
            "client_cpu_ms_per_req": round(self.client_cpu_s * 1000 / n, 3),
            "machine_cpu_busy_pct": round(100 * self.machine_busy_s / (self.seconds * cores()), 1)
            if self.seconds
            else 0.0,
            # CPU used meanwhile by processes outside the benchmark (others' work).
            "other_cpu_s": round(other, 2),
            "other_cpu_share": round(other / capacity, 3) if capacity else 0.0,
            # The rate if the machine's cores did nothing else: cores / CPU per request.
            "cpu_bound_rps": round(cores() * n / spent, 1) if spent else 0.0,
        }


def _connection_loop(
    conn: HttpConnection | StdlibConnection,
    requests: Sequence[bytes],
    collect: bool,
    out: dict[str, Any],
    deadline: float,
    unit: int,
) -> None:
    """Send *requests* in order, *unit* at a time (a unit is never cut), until the deadline."""
    latencies = array("d")
    statuses: Counter[str] = Counter()
    bodies: list[bytes] = []
    samples: list[str] = []
    clock = time.perf_counter
    sent = 0
    for index, raw in enumerate(requests):
        if index % unit == 0 and clock() > deadline:
            break
        sent += 1
        start = clock()
        try:
            status, body = conn.request(raw)
        except (OSError, ValueError) as exc:
            statuses["conn_error"] += 1
            if len(samples) < 3:
                samples.append(f"{type(exc).__name__}: {exc}")
            continue
        latencies.append((clock() - start) * 1000)
        statuses[str(status)] += 1
        if 200 <= status < 300:
            if collect:
                bodies.append(body)
        elif len(samples) < 3:
            samples.append(f"{status} {raw.split(b' ', 2)[1].decode()}: {body[:300]!r}")
    out.update(latencies=latencies, statuses=statuses, bodies=bodies, samples=samples, sent=sent)


def _client_process(
    index: int,
    port: int,
    slices: list[Sequence[bytes]],
    collect: bool,
    client: str,
    barrier: Any,
    queue: Any,
    max_seconds: float,
    unit: int,
) -> None:
    conn_class = HttpConnection if client == "raw" else StdlibConnection
    conns = [conn_class(HOST, port) for _ in slices]
    for conn in conns:  # open every connection before the clock starts
        conn.request(get_request("/healthz", port))
    outs: list[dict[str, Any]] = [{} for _ in slices]
    barrier.wait(timeout=60)
    cpu0 = time.process_time()
    started = time.perf_counter()
    deadline = started + max_seconds
    threads = [
        threading.Thread(target=_connection_loop, args=(conn, reqs, collect, out, deadline, unit))
        for conn, reqs, out in zip(conns, slices, outs, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = time.perf_counter()
    cpu = time.process_time() - cpu0
    for conn in conns:
        conn.close()
    queue.put((index, started, ended, cpu, outs))


def run_phase(
    name: str,
    port: int,
    per_connection: list[Sequence[bytes]],
    *,
    processes: int,
    collect_bodies: bool = False,
    client: str = "raw",
    server: Server | None = None,
    db_pids: Callable[[], list[int]] | None = None,
    max_seconds: float = 600.0,
    unit: int = 1,
) -> PhaseResult:
    """Send each connection's requests in order, connections in parallel across *processes*
    client processes (one thread per connection), and measure.

    A connection stops starting new units of *unit* requests after *max_seconds*; what it
    did not send is not counted (``sent`` per connection says how far each got).
    *db_pids* lists the database server's processes, asked before and after the phase
    (connections may open meanwhile).
    """
    processes = max(1, min(processes, len(per_connection)))
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(processes + 1)
    queue = ctx.Queue()
    groups = [list(range(i, len(per_connection), processes)) for i in range(processes)]
    workers = [
        ctx.Process(
            target=_client_process,
            args=(
                index,
                port,
                [per_connection[i] for i in group],
                collect_bodies,
                client,
                barrier,
                queue,
                max_seconds,
                unit,
            ),
            daemon=True,
        )
        for index, group in enumerate(groups)
    ]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=60)
    server_cpu0 = server.cpu_seconds() if server else 0.0
    db_cpu0 = {p: proc_cpu_seconds(p) for p in (db_pids() if db_pids else [])}
    busy0 = machine_busy_seconds()
    results = []
    deadline = time.monotonic() + max_seconds + 120
    while len(results) < len(workers) and time.monotonic() < deadline:
        with contextlib.suppress(queue_module.Empty):
            results.append(queue.get(timeout=1))
            continue
        if not any(worker.is_alive() for worker in workers) and queue.empty():
            break
    if len(results) < len(workers):
        for worker in workers:
            worker.kill()
        raise RuntimeError(f"{len(workers) - len(results)} client process(es) failed")
    busy = machine_busy_seconds() - busy0
    server_cpu = (server.cpu_seconds() - server_cpu0) if server else 0.0
    db_cpu = sum(
        proc_cpu_seconds(p) - db_cpu0.get(p, 0.0)
        for p in set(db_cpu0) | set(db_pids() if db_pids else [])
    )
    for worker in workers:
        worker.join(timeout=30)
    # Put each connection's output back in its original position.
    outs: list[dict[str, Any]] = [{} for _ in per_connection]
    for index, _, _, _, group_outs in results:
        for i, out in zip(groups[index], group_outs, strict=True):
            outs[i] = out
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    samples: list[str] = []
    for out in outs:
        latencies.extend(out.get("latencies", ()))
        statuses.update(out.get("statuses", {}))
        samples.extend(out.get("samples", ()))
    latencies.sort()
    return PhaseResult(
        name=name,
        requests=sum(out.get("sent", 0) for out in outs),
        sent=[out.get("sent", 0) for out in outs],
        seconds=max(r[2] for r in results) - min(r[1] for r in results),
        latencies_ms=latencies,
        statuses=statuses,
        bodies=[out.get("bodies", []) for out in outs],
        error_samples=samples[:5],
        client_cpu_s=sum(r[3] for r in results),
        server_cpu_s=server_cpu,
        db_cpu_s=db_cpu,
        machine_busy_s=busy,
    )


# --- throw-away databases -----------------------------------------------------------------

BENCH_DB_PREFIX = "suivi_bench"


def _admin_dsn(url: str) -> tuple[str, str]:
    """Split a postgres:// URL into (DSN of the maintenance database, database name)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"unexpected database name {name!r}")
    return urlunsplit(parts._replace(scheme="postgresql", path="/postgres")), name


@contextlib.contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """Create the database named by *url* for the run and drop it afterwards.

    A leftover database whose name starts with ``suivi_bench`` (an interrupted run) is
    replaced; any other existing database is refused, never dropped.
    """
    import psycopg

    dsn, name = _admin_dsn(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not name.startswith(BENCH_DB_PREFIX):
            raise RuntimeError(f"database {name!r} exists and is not a benchmark database")
        if exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_backend_pids(url: str) -> list[int]:
    """Return the PostgreSQL processes working for the database of *url*: its backends and
    the cluster's background processes (WAL writer, checkpointer, autovacuum...)."""
    import psycopg

    dsn, name = _admin_dsn(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND (datname = %s OR (datname IS NULL AND backend_type <> 'client backend'))",
            (name,),
        ).fetchall()
    return [int(row[0]) for row in rows]


def base_env(database: str, data_dir: str, database_url: str = "") -> dict[str, str]:
    """Return the environment for the server and the Django-side children."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="suivi.settings",
        SUIVI_DATA_DIR=data_dir,
        SUIVI_SECRET_KEY=secrets.token_urlsafe(40),
        SUIVI_DEBUG="0",
        SUIVI_LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join(
            p for p in (str(BENCH_DIR), str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
        ),
    )
    if database == "postgres":
        env["DATABASE_URL"] = database_url
    return env


class JsonChild:
    """A child process answering JSON commands, one per line (the Django side of a bench).

    Each command is ``{"cmd": …, …}`` on stdin; the child prints progress lines (passed to
    *echo*) and one ``@@ {json}`` reply; an ``error`` in the reply raises here with the
    tail of its log. Closing stdin ends the child.
    """

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        name: str,
        echo: Callable[[str], None] = print,
    ):
        self.log_path, self.name, self.echo = log_path, name, echo
        with log_path.open("wb") as err:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                bufsize=1,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def call(self, cmd: str, **kwargs: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the {self.name} stopped during {cmd}:\n{self.log_tail()}")
            if line.startswith("@@ "):
                reply = dict(json.loads(line[3:]))
                if "error" in reply:
                    raise RuntimeError(
                        f"{self.name} {cmd}: {reply['error']}\n"
                        f"{reply.get('traceback', '')}{self.log_tail()}"
                    )
                return reply
            self.echo("    " + line.rstrip())

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def memory_mb(self) -> dict[str, float]:
        return {
            "rss_mb": round(proc_status_kb(self.pid, "VmRSS") / 1024, 1),
            "peak_rss_mb": round(proc_status_kb(self.pid, "VmHWM") / 1024, 1),
        }

    def close(self, timeout: float = 30) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        with contextlib.suppress(Exception):
            assert self.proc.stdout is not None
            self.proc.stdout.close()


def run_child(env: dict[str, str], *args: str, timeout: float = 900) -> dict[str, Any]:
    """Run ``_django_side.py`` with *args* and return the JSON of its last output line."""
    proc = subprocess.run(
        [PYTHON, str(BENCH_DIR / "_django_side.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"_django_side.py {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    for line in lines[:-1]:
        print("   ", line)
    return dict(json.loads(lines[-1]))


def serve_commands(commands: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> int:
    """The child side of :class:`JsonChild`: one JSON command per line on standard input
    (``{"cmd": name, ...}``; ``exit`` ends), one ``@@ <json>`` reply per command; an
    exception becomes ``{"error", "traceback"}`` and the loop goes on."""
    for line in iter(sys.stdin.readline, ""):
        cmd = json.loads(line)
        if cmd.get("cmd") == "exit":
            break
        try:
            reply = commands[cmd["cmd"]](cmd)
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        print("@@ " + json.dumps(reply, default=str), flush=True)
    return 0
