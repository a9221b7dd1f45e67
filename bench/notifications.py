#!/usr/bin/env python3
"""Notifications benchmark: messages/s from the outbox to a local SMTP sink and to a local
webhook receiver with 1 and 2 workers, and event → handed-to-SMTP latency under load.

For each database (PostgreSQL by default, SQLite with ``--db sqlite``) the script makes a
fresh database, migrates it and, with every receiving end in a process of its own:

1. **Throughput**: a backlog of N queued messages (see "backlog" below) is released at
   once (one UPDATE, committed at t0) while 1, then 2, ``suivi worker`` processes run
   (warmed up first on a batch of their own); the rate is N / (last arrival at the sink −
   t0). Email goes to a real aiosmtpd SMTP server (``_notif_sinks.py``), webhooks to a
   threaded HTTP/1.1 receiver answering 204.
2. **Latency**: with 2 workers running, producer processes apply ``confirm_payment`` to
   pre-created unpaid orders at a fixed rate (open loop), through the real services: its
   ``order.confirmed`` event plans one email in the same transaction. Latency = arrival at
   the SMTP sink (matched on the ``X-Suivi-Order`` header) − the producer's commit. Phases
   ``RATExBATCH`` (``--latency``, default ``200x1,200x20,50x1``): events/s, and events per
   transaction (1: ``order_apply_action``, as one API request per event; K:
   ``order_apply_actions`` with K, as ``POST /orders/actions`` does for a feed).
3. **Breakdown**, in process, no worker running: ``dispatch.run_once`` until the backlog
   is empty, each stage timed in wall and CPU time (claim, load, context, render, MIME,
   SMTP or HTTP, record…), and the SQL statements per message counted.
4. **Planning**: ``confirm_payment`` with the planner subscribed to the event bus and
   without it (1 and 20 per transaction): what planning costs per event.
5. **Baselines**, once per run in the same sinks: raw ``smtplib`` over one reused
   connection (small messages, then the bytes of a real rendered email), and raw
   ``httpx`` over one reused connection.

Backlog: the orders are bulk-inserted (``_django_side.raw_inserts``, the orders
benchmark's rows); the outbox rows are bulk-inserted as copies of the rows the planner
wrote for a real paid order (same event, locale, events record), one per order, each
with its own idempotency key. Planning itself runs in the latency and planning phases.

CPU is read from ``/proc`` for the workers, the PostgreSQL processes of the run, the sinks
and the producers; what the machine spent besides (other processes) is ``other_cpu_share``.

Checked, or the run is invalid (exit status 1): every message arrived exactly once (the
sinks count Message-IDs / webhook-ids, which the engine derives from idempotency keys),
the database says ``sent`` for each, none ``dead``, and the workers logged no warning.

    python bench/notifications.py --quick            # PostgreSQL, about 3 minutes on 2 cores
    python bench/notifications.py --quick --db both  # about 5 minutes
    python bench/notifications.py --smoke --db sqlite
    python bench/notifications.py --profile /tmp/prof   # + cProfile of a worker and in-process
    python bench/notifications.py --quick --pg-setting synchronous_commit=off

Ctrl-C stops every process started and drops the databases. The last output line is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _harness import (  # noqa: E402
    HOST,
    PYTHON,
    ROOT,
    JsonChild,
    _admin_dsn,
    base_env,
    cores,
    load_average,
    machine_busy_seconds,
    percentile,
    postgres_backend_pids,
    postgres_database,
    proc_cpu_seconds,
    proc_status_kb,
    python_speed_ms,
)
from _notif_sinks import (  # noqa: E402
    SinkProcess,
    http_baseline,
    resized_email,
    small_email,
    smtplib_baseline,
)

TARGETS = {"emails_per_s_2_workers": 1000, "latency_p99_ms": 1000, "latency_events_per_s": 200}
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/suivi_bench_notif"

# emails, webhooks (per worker count), latency phases (events/s x events per transaction),
# seconds per latency phase, breakdown messages (email; webhooks get half), baseline
# messages, seconds per baseline at most.
SIZES = {
    "full": (20_000, 10_000, "200x1,200x20,50x1", 30.0, 2_000, 10_000, 10.0),
    "quick": (3_000, 2_000, "200x1,200x20,50x1", 10.0, 1_000, 5_000, 3.0),
    "smoke": (40, 30, "20x1,20x5", 2.0, 30, 200, 2.0),
}
HELD = "held"  # backlog rows wait with not_before a day ahead until released

# The worker process: ``suivi worker``, optionally under cProfile (SUIVI_BENCH_PROFILE, set
# by this benchmark only, names the file the profile is written to when the worker stops).
WORKER_BOOT = """
import os, sys
from suivi.cli import main
path = os.environ.get("SUIVI_BENCH_PROFILE")
if not path:
    sys.exit(main(["worker"]))
import cProfile
profile = cProfile.Profile()
profile.enable()
try:
    code = main(["worker"])
finally:
    profile.disable()
    profile.dump_stats(path)
sys.exit(code)
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="postgres")
    p.add_argument("--sqlite", action="store_true", help="same as --db sqlite")
    p.add_argument("--database-url", default=DEFAULT_URL, help="created and dropped by the run")
    p.add_argument("--quick", action="store_true", help="a few minutes at most on 2 cores")
    p.add_argument("--smoke", action="store_true", help="tiny counts: checks that it works")
    p.add_argument("--emails", type=int, help="queued emails per throughput phase")
    p.add_argument("--webhooks", type=int, help="queued webhooks per throughput phase")
    p.add_argument("--workers", default="1,2", help="worker counts of the throughput phases")
    p.add_argument(
        "--latency",
        help="latency phases, RATExBATCH comma-separated (default 200x1,200x20,50x1): events/s"
        " and events per transaction (1: one order_apply_action per event, as one API request"
        " each; K: order_apply_actions with K, as POST /orders/actions)",
    )
    p.add_argument("--seconds", type=float, help="seconds of events per latency phase")
    p.add_argument("--latency-workers", type=int, default=2)
    p.add_argument("--producers", type=int, default=2, help="latency phase: event processes")
    p.add_argument("--batch", type=int, default=0, help="SUIVI_OUTBOX_BATCH (default: engine's)")
    p.add_argument("--breakdown", type=int, help="messages delivered in process, timed by stage")
    p.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="ALTER DATABASE … SET for the run's database, e.g. synchronous_commit=off",
    )
    p.add_argument(
        "--skip",
        default="",
        help="comma-separated phases to leave out: email,webhook (throughput), latency,"
        " breakdown, planning (in process)",
    )
    p.add_argument(
        "--profile", default="", help="write cProfile output here (a worker, in-process)"
    )
    args = p.parse_args(argv)
    if args.sqlite:
        args.db = "sqlite"
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    emails, webhooks, latency, seconds, breakdown, base_n, base_s = SIZES[mode]
    args.mode = mode
    args.emails = args.emails or emails
    args.webhooks = args.webhooks or webhooks
    args.seconds = args.seconds or seconds
    args.breakdown = args.breakdown if args.breakdown is not None else breakdown
    args.baseline = (base_n, base_s)
    args.worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    args.latency_specs = []
    for spec in (args.latency or latency).split(","):
        rate, _, batch = spec.strip().partition("x")
        key = "latency" if not args.latency_specs else f"latency_{float(rate):g}x{int(batch or 1)}"
        args.latency_specs.append((float(rate), int(batch or 1), key))
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    return args


# ==========================================================================================
# Driver side (no Django)
# ==========================================================================================


def log(text: str) -> None:
    print(text, flush=True)


def controller(env: dict[str, str], log_dir: Path) -> JsonChild:
    """The Django side of one database: a child process answering JSON commands."""
    return JsonChild(
        [PYTHON, str(Path(__file__).resolve()), "--child", "controller"],
        env,
        log_dir / "controller.log",
        name="controller",
        echo=log,
    )


class Workers:
    """``suivi worker`` processes (the production worker, its registered jobs)."""

    def __init__(self, env: dict[str, str], count: int, log_dir: Path, profile: str = ""):
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        for i in range(count):
            worker_env = dict(env, SUIVI_LOG_LEVEL="INFO")
            if profile and i == 0:
                worker_env["SUIVI_BENCH_PROFILE"] = profile
            path = log_dir / f"worker-{secrets.token_hex(3)}.log"
            with path.open("wb") as out:
                self.procs.append(
                    subprocess.Popen(
                        [PYTHON, "-c", WORKER_BOOT],
                        env=worker_env,
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            self.logs.append(path)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        pending = set(range(len(self.procs)))
        while pending and time.monotonic() < deadline:
            for i in list(pending):
                if self.procs[i].poll() is not None:
                    raise RuntimeError(f"worker exited:\n{self.log_tail(i)}")
                if "worker started" in self.logs[i].read_text(errors="replace"):
                    pending.discard(i)
            time.sleep(0.05)
        if pending:
            raise RuntimeError(f"workers not ready in {timeout}s:\n{self.log_tail(min(pending))}")

    def log_tail(self, i: int, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.logs[i].read_text(errors="replace").splitlines()[-lines:])
        return ""

    def errors(self) -> list[str]:
        """Log lines of level WARNING and above (none expected)."""
        found = []
        for path in self.logs:
            with contextlib.suppress(OSError):
                found += [
                    line
                    for line in path.read_text(errors="replace").splitlines()
                    if " WARNING " in line or " ERROR " in line or "Traceback" in line
                ]
        return found

    def rss_mb(self) -> dict[str, float]:
        return {
            "worker_rss_mb": round(
                max((proc_status_kb(p, "VmRSS") for p in self.pids), default=0) / 1024, 1
            ),
            "worker_peak_rss_mb": round(
                max((proc_status_kb(p, "VmHWM") for p in self.pids), default=0) / 1024, 1
            ),
        }

    def stop(self) -> None:
        """SIGTERM (the worker ends after its running job), SIGKILL after 20 s."""
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


class CpuMeter:
    """CPU seconds of groups of processes and of the whole machine over a phase."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]):
        self.groups = groups

    def start(self) -> None:
        self.before = {
            name: {pid: proc_cpu_seconds(pid) for pid in pids()}
            for name, pids in self.groups.items()
        }
        self.busy0 = machine_busy_seconds()
        self.t0 = time.perf_counter()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        busy = machine_busy_seconds() - self.busy0
        out: dict[str, float] = {}
        for name, pids in self.groups.items():
            before = self.before[name]
            now = {pid: proc_cpu_seconds(pid) for pid in set(pids()) | set(before)}
            out[name] = sum(max(0.0, now[p] - before.get(p, 0.0)) for p in now)
        ours = sum(out.values())
        out["machine_busy"] = busy
        out["other"] = max(0.0, busy - ours)
        out["wall"] = wall
        return out


def cpu_figures(cpu: dict[str, float], n: int, engine: tuple[str, ...]) -> dict[str, Any]:
    """CPU per message by process group, and the rate if the cores did nothing else."""
    n = max(1, n)
    capacity = cpu["wall"] * cores()
    out: dict[str, Any] = {
        f"{name}_cpu_ms_per_msg": round(value * 1000 / n, 3)
        for name, value in cpu.items()
        if name not in ("machine_busy", "other", "wall")
    }
    spent = sum(v for k, v in cpu.items() if k not in ("machine_busy", "other", "wall"))
    engine_cpu = sum(cpu.get(k, 0.0) for k in engine)
    out.update(
        machine_cpu_busy_pct=round(100 * cpu["machine_busy"] / capacity, 1) if capacity else 0.0,
        other_cpu_share=round(cpu["other"] / capacity, 3) if capacity else 0.0,
        # The rate if the machine's cores did only this (sink included / engine only).
        cpu_bound_per_s=round(cores() * n / spent, 1) if spent else 0.0,
        engine_cpu_bound_per_s=round(cores() * n / engine_cpu, 1) if engine_cpu else 0.0,
    )
    return out


def spread(arrivals: list[tuple[str, str, float]], t0: float) -> dict[str, Any]:
    """Rates from arrival times: overall, and steady (between the 10th and 90th percent)."""
    times = sorted(at for _, _, at in arrivals)
    n = len(times)
    if not n:
        return {"first_ms": None, "steady_per_s": 0.0}
    lo, hi = times[n // 10], times[min(n - 1, (9 * n) // 10)]
    steady = (((9 * n) // 10) - n // 10) / (hi - lo) if hi > lo else 0.0
    return {"first_ms": round((times[0] - t0) * 1000, 1), "steady_per_s": round(steady, 1)}


def throughput_phase(
    kind: str,
    ctl: JsonChild,
    env: dict[str, str],
    sink: SinkProcess,
    channel: str,
    n: int,
    workers: int,
    args: argparse.Namespace,
    log_dir: Path,
    db_pids: Callable[[], list[int]],
    profile: str = "",
) -> dict[str, Any]:
    tag = f"{channel[0]}{workers}w"
    warm = max(1, min(n, args.batch_size * workers))
    made = ctl.call("backlog", tag=tag, channel=channel, n=warm + n, held=True)
    group = Workers(env, workers, log_dir, profile)
    try:
        group.wait_ready()
        sink.reset()
        ctl.call("release", tag=tag, count=warm)
        got = sink.wait_for(warm, timeout=60, stalled=30)
        if got["count"] < warm:
            raise RuntimeError(
                f"warm-up: {got['count']}/{warm} {channel} messages arrived; "
                f"{ctl.call('check', tag=tag)}\n{group.log_tail(0)}"
            )
        sink.reset()
        meter = CpuMeter(
            {
                "workers": lambda: group.pids,
                "sink": lambda: [sink.pid],
                "db": db_pids,
                "controller": lambda: [ctl.pid],
            }
        )
        meter.start()
        t0 = float(ctl.call("release", tag=tag)["at"])
        stats = sink.wait_for(n, timeout=max(60.0, n / 20), stalled=30)
        cpu = meter.stop()
        memory = group.rss_mb()
    finally:
        group.stop()
    arrivals = sink.arrivals(log_dir / "arrivals.json")
    seconds = (stats["last_at"] - t0) if stats["count"] else 0.0
    check = ctl.call("check", tag=tag)
    sent_ok = check["by_status"].get("sent", 0) == warm + n
    out: dict[str, Any] = {
        "messages": n,
        "arrived": stats["count"],
        "unique": stats["unique"],
        "duplicates": stats["duplicates"],
        "lost": max(0, n - stats["unique"]),
        "seconds": round(seconds, 3),
        "per_s": round(stats["count"] / seconds, 1) if seconds > 0 else 0.0,
        **spread(arrivals, t0),
        **cpu_figures(cpu, stats["count"], ("workers", "db")),
        **memory,
        "database": check,
        "backlog_insert_s": made["seconds"],
        "worker_log_problems": group.errors()[:5],
    }
    out["valid"] = (
        out["lost"] == 0
        and out["duplicates"] == 0
        and sent_ok
        and not check["by_status"].get("dead")
        and not out["worker_log_problems"]
    )
    log(
        f"{kind:<9} {channel:<8} {workers} worker{'s' if workers > 1 else ' '} "
        f"{n:>6} msgs {out['seconds']:>7.2f}s {out['per_s']:>8.1f}/s (steady "
        f"{out['steady_per_s']:.0f}/s)  CPU ms/msg workers {out['workers_cpu_ms_per_msg']:.2f} "
        f"db {out['db_cpu_ms_per_msg']:.2f} sink {out['sink_cpu_ms_per_msg']:.2f}  "
        f"busy {out['machine_cpu_busy_pct']}% other {out['other_cpu_share']:.2f}  "
        f"RSS {out['worker_rss_mb']} MB  lost {out['lost']} dup {out['duplicates']}"
        f"{'' if out['valid'] else '  INVALID'}"
    )
    for line in out["worker_log_problems"]:
        log(f"    worker: {line[:300]}")
    return out


def latency_phase(
    kind: str,
    ctl: JsonChild,
    env: dict[str, str],
    sink: SinkProcess,
    args: argparse.Namespace,
    log_dir: Path,
    db_pids: Callable[[], list[int]],
    rate: float,
    batch: int,
) -> dict[str, Any]:
    seconds, producers = args.seconds, max(1, args.producers)
    total = max(producers, int(rate * seconds))
    prepared = ctl.call(
        "prepare_latency", n=total, warm=producers, path=str(log_dir / "latency-orders.json")
    )
    warm = max(1, args.batch_size * args.latency_workers)
    tag = f"lat{rate:g}x{batch}"
    ctl.call("backlog", tag=tag, channel="email", n=warm, held=True)
    group = Workers(env, args.latency_workers, log_dir)
    procs: list[subprocess.Popen[str]] = []
    try:
        group.wait_ready()
        sink.reset()
        ctl.call("release", tag=tag)
        outs = [log_dir / f"producer-{i}.json" for i in range(producers)]
        for i in range(producers):
            procs.append(
                subprocess.Popen(
                    [
                        PYTHON,
                        str(Path(__file__).resolve()),
                        "--child",
                        "producer",
                        "--orders",
                        prepared["path"],
                        "--index",
                        str(i),
                        "--of",
                        str(producers),
                        "--rate",
                        str(rate),
                        "--batch",
                        str(batch),
                        "--out",
                        str(outs[i]),
                    ],
                    env=env,
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=(log_dir / f"producer-{i}.log").open("wb"),
                    text=True,
                    bufsize=1,
                    start_new_session=True,
                )
            )
        for i, proc in enumerate(procs):
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("READY"):
                raise RuntimeError(
                    f"producer {i} failed: {line!r}\n"
                    + (log_dir / f"producer-{i}.log").read_text(errors="replace")[-3000:]
                )
        # Worker warm-up and the producers' own warm-up events (one each), then measure.
        got = sink.wait_for(warm + producers, timeout=60, stalled=30)
        if got["count"] < warm + producers:
            raise RuntimeError(
                f"latency warm-up: {got['count']}/{warm + producers} arrived; "
                f"{ctl.call('check', tag=tag)}\n{group.log_tail(0)}"
            )
        sink.reset()
        meter = CpuMeter(
            {
                "workers": lambda: group.pids,
                "producers": lambda: [p.pid for p in procs],
                "sink": lambda: [sink.pid],
                "db": db_pids,
            }
        )
        meter.start()
        start = time.time() + 0.3
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{start}\n")
            proc.stdin.flush()
        for i, proc in enumerate(procs):
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("DONE"):
                raise RuntimeError(
                    f"producer {i} failed: {line!r}\n"
                    + (log_dir / f"producer-{i}.log").read_text(errors="replace")[-3000:]
                )
        sink.wait_for(total, timeout=60, stalled=20)
        cpu = meter.stop()
        memory = group.rss_mb()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("EXIT\n")
            proc.stdin.flush()
            proc.wait(timeout=30)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
            for stream in (proc.stdin, proc.stdout):
                with contextlib.suppress(Exception):
                    if stream:
                        stream.close()
        group.stop()
    arrivals = sink.arrivals(log_dir / "arrivals.json")
    produced = [json.loads(path.read_text()) for path in outs]
    records = [tuple(r) for p in produced for r in p["records"]]
    committed = {ref: (float(due), float(at)) for ref, due, at in records}
    arrived: dict[str, float] = {}
    dup = 0
    for _key, ref, at in arrivals:
        if ref in arrived:
            dup += 1
        arrived[ref] = at
    lat = sorted((arrived[ref] - at) * 1000 for ref, (_, at) in committed.items() if ref in arrived)
    from_due = sorted(
        (arrived[ref] - due) * 1000 for ref, (due, _) in committed.items() if ref in arrived
    )
    lag = sorted((at - due) * 1000 for due, at in committed.values())
    first_due = min(due for due, _ in committed.values())
    last_commit = max(at for _, at in committed.values())
    check = ctl.call("check_shop", shop_id=prepared["shop_id"])
    unknown = [ref for _, ref, _ in arrivals if ref not in committed]
    out: dict[str, Any] = {
        "events": len(committed),
        "target_events_per_s": rate,
        "achieved_events_per_s": round(len(committed) / (last_commit - first_due), 1)
        if last_commit > first_due
        else 0.0,
        "producers": producers,
        "events_per_transaction": batch,
        "producer_cpu_ms_per_event": round(
            sum(p["cpu_s"] for p in produced) * 1000 / max(1, len(committed)), 3
        ),
        "workers": args.latency_workers,
        "arrived": len(lat),
        "lost": len(committed) - len(lat),
        "duplicates": dup,
        "unexpected": len(unknown),
        "p50_ms": round(percentile(lat, 50), 1),
        "p90_ms": round(percentile(lat, 90), 1),
        "p99_ms": round(percentile(lat, 99), 1),
        "max_ms": round(lat[-1], 1) if lat else 0.0,
        "from_schedule_p99_ms": round(percentile(from_due, 99), 1),
        "producer_lag_p99_ms": round(percentile(lag, 99), 1),
        **cpu_figures(cpu, len(committed), ("workers", "db", "producers")),
        **memory,
        "database": check,
        "worker_log_problems": group.errors()[:5],
    }
    out["valid"] = (
        out["lost"] == 0
        and dup == 0
        and not check["by_status"].get("dead")
        and not out["worker_log_problems"]
    )
    log(
        f"{kind:<9} latency  {out['workers']} workers {out['events']:>6} events "
        f"({batch}/transaction) at "
        f"{out['achieved_events_per_s']:.0f}/s (target {rate:.0f}/s): commit → SMTP p50 "
        f"{out['p50_ms']:.0f} p90 {out['p90_ms']:.0f} p99 {out['p99_ms']:.0f} max "
        f"{out['max_ms']:.0f} ms  producer lag p99 {out['producer_lag_p99_ms']:.0f} ms  "
        f"busy {out['machine_cpu_busy_pct']}%  lost {out['lost']} dup {dup}"
        f"{'' if out['valid'] else '  INVALID'}"
    )
    return out


@contextlib.contextmanager
def database(kind: str, url: str, data_dir: str) -> Iterator[dict[str, str]]:
    if kind == "postgres":
        with postgres_database(url):
            yield base_env("postgres", data_dir, url)
    else:
        yield base_env("sqlite", data_dir)


def apply_pg_settings(url: str, settings: list[str]) -> None:
    """Set configuration parameters on the run's database (new connections get them)."""
    import re

    import psycopg
    from psycopg import sql

    dsn, name = _admin_dsn(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for item in settings:
            key, _, value = item.partition("=")
            if not re.fullmatch(r"[a-z_]+", key.strip()):
                raise ValueError(f"unexpected setting {item!r}")
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    sql.Identifier(name), sql.Identifier(key.strip()), sql.Literal(value.strip())
                )
            )
    log(f"database settings: {', '.join(settings)}")


def run_database(
    kind: str,
    args: argparse.Namespace,
    run: str,
    smtp: SinkProcess,
    http: SinkProcess,
    log_dir: Path,
) -> dict[str, Any]:
    log(f"\n== {kind} ==")
    started = time.perf_counter()
    url = args.database_url
    if kind == "postgres" and args.smoke and url == DEFAULT_URL:
        url = f"{DEFAULT_URL}_smoke_{run.lower()}"
    with (
        tempfile.TemporaryDirectory(prefix=f"suivi-bench-notif-{kind}-") as data_dir,
        database(kind, url, data_dir) as env,
    ):
        env.update(
            SUIVI_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            SUIVI_EMAIL_HOST=HOST,
            SUIVI_EMAIL_PORT=str(smtp.port),
            SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS="127.0.0.0/8",
            SUIVI_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            SUIVI_TASKS="embedded",
        )
        if args.batch:
            env["SUIVI_OUTBOX_BATCH"] = str(args.batch)
        if kind == "postgres" and args.pg_setting:
            apply_pg_settings(url, args.pg_setting)

        def db_pids() -> list[int]:
            return postgres_backend_pids(url) if kind == "postgres" else []

        ctl = controller(env, log_dir)
        out: dict[str, Any] = {}
        try:
            orders = max(args.emails, args.webhooks)
            setup = ctl.call(
                "setup",
                run=run,
                webhook_url=f"http://{HOST}:{http.port}/hooks/suivi",
                orders=orders,
            )
            args.batch_size = setup["batch"]
            out["setup"] = {
                k: setup[k] for k in ("migrate_s", "orders", "orders_insert_s", "vendor", "batch")
            }
            args.sample_email = base64.b64decode(setup["sample_email"])
            log(
                f"migrated in {setup['migrate_s']}s; {setup['orders']} orders bulk-inserted in "
                f"{setup['orders_insert_s']}s; batch {setup['batch']}; sample email "
                f"{len(args.sample_email)} bytes; load average {load_average():.2f}"
            )
            profile_dir = Path(args.profile) if args.profile else None
            for channel, sink, n in (
                ("email", smtp, args.emails),
                ("webhook", http, args.webhooks),
            ):
                if channel in args.skip:
                    continue
                for workers in args.worker_counts:
                    prof = ""
                    if profile_dir and workers == max(args.worker_counts):
                        prof = str(profile_dir / f"{kind}-worker-{channel}.prof")
                    out[f"{channel}_{workers}w"] = throughput_phase(
                        kind, ctl, env, sink, channel, n, workers, args, log_dir, db_pids, prof
                    )
                    if prof and Path(prof).exists():
                        out[f"{channel}_{workers}w"]["profile"] = profile_text(Path(prof))
            if "latency" not in args.skip:
                for rate, batch, name in args.latency_specs:
                    out[name] = latency_phase(
                        kind, ctl, env, smtp, args, log_dir, db_pids, rate, batch
                    )
            if "breakdown" not in args.skip and args.breakdown:
                for channel, sink, n in (
                    ("email", smtp, args.breakdown),
                    ("webhook", http, max(10, args.breakdown // 2)),
                ):
                    sink.reset()
                    prof = (
                        str(profile_dir / f"{kind}-inprocess-{channel}.prof") if profile_dir else ""
                    )
                    result = ctl.call("breakdown", channel=channel, n=n, profile=prof)
                    stats = sink.wait_for(result["delivered_in_all"], timeout=30, stalled=10)
                    result["arrived"] = stats["count"]
                    result["lost"] = max(0, result["delivered_in_all"] - stats["unique"])
                    result["duplicates"] = stats["duplicates"]
                    result["valid"] = not result["lost"] and not result["duplicates"]
                    out[f"breakdown_{channel}"] = result
                    print_breakdown(kind, channel, result)
            if "planning" not in args.skip and args.breakdown:
                out["planning"] = plan = ctl.call("planning", n=max(20, args.breakdown // 4))
                for label in ("one_per_transaction", "twenty_per_transaction"):
                    p = plan[label]
                    log(
                        f"{kind:<9} planning, confirm_payment {label.replace('_', ' ')}: "
                        f"{p['with_planning']['per_s']:.0f}/s with the planner, "
                        f"{p['without_planning']['per_s']:.0f}/s without; planning costs "
                        f"{p['planning_cpu_ms_per_event']:.2f} ms CPU + "
                        f"{p['planning_db_cpu_ms_per_event']:.2f} ms database CPU per event; "
                        f"SQL per event {p['sql_per_event_with']} vs {p['sql_per_event_without']}"
                    )
        finally:
            ctl.close()
    out["seconds"] = round(time.perf_counter() - started, 1)
    return flatten(out)


def flatten(out: dict[str, Any]) -> dict[str, Any]:
    """Put the headline figures at the top level of one database's results."""
    flat: dict[str, Any] = {}
    for channel, name in (("email", "emails"), ("webhook", "webhooks")):
        for key, phase in out.items():
            if key.startswith(f"{channel}_") and key.endswith("w"):
                w = key[len(channel) + 1 : -1]
                flat[f"{name}_per_s_{w}w"] = phase["per_s"]
                flat[f"{name}_steady_per_s_{w}w"] = phase["steady_per_s"]
                flat[f"{name}_worker_cpu_ms_{w}w"] = phase["workers_cpu_ms_per_msg"]
                flat[f"{name}_db_cpu_ms_{w}w"] = phase["db_cpu_ms_per_msg"]
    for key, lat in out.items():
        if key.startswith("latency"):
            flat.update(
                {
                    f"{key}_p50_ms": lat["p50_ms"],
                    f"{key}_p99_ms": lat["p99_ms"],
                    f"{key}_max_ms": lat["max_ms"],
                    f"{key}_events_per_s": lat["achieved_events_per_s"],
                }
            )
    phases = [v for k, v in out.items() if isinstance(v, dict) and "lost" in v]
    flat["lost"] = sum(p["lost"] for p in phases)
    flat["duplicates"] = sum(p["duplicates"] for p in phases)
    flat["worker_rss_mb"] = max((p.get("worker_rss_mb", 0) for p in phases), default=0)
    flat["worker_peak_rss_mb"] = max((p.get("worker_peak_rss_mb", 0) for p in phases), default=0)
    flat["other_cpu_share"] = max((p.get("other_cpu_share", 0) for p in phases), default=0)
    flat["disturbed"] = flat["other_cpu_share"] > 0.1
    flat["valid"] = all(p["valid"] for p in phases) and bool(phases)
    flat.update(out)
    return flat


def profile_text(path: Path, lines: int = 35) -> str:
    """Write the text report next to a cProfile file; return the text file's path."""
    import io
    import pstats

    stream = io.StringIO()
    stats = pstats.Stats(str(path), stream=stream)
    stats.sort_stats("tottime").print_stats(lines)
    stats.sort_stats("cumulative").print_stats(lines + 15)
    text = path.with_suffix(".txt")
    text.write_text(stream.getvalue())
    return str(text)


def print_breakdown(kind: str, channel: str, result: dict[str, Any]) -> None:
    per = result["ms_per_msg"]
    parts = "  ".join(f"{k} {v:.3f}" for k, v in per.items())
    log(
        f"{kind:<9} in-process {channel}: {result['sent']} msgs, {result['per_s']:.0f}/s "
        f"(CPU {result['cpu_ms_per_msg']:.2f} ms/msg, {result['queries_per_msg']} SQL/msg)"
    )
    log(f"    wall ms per message by stage: {parts}")
    cpu = result["cpu_ms_per_msg_by_stage"]
    log("    CPU ms per message by stage:  " + "  ".join(f"{k} {v:.3f}" for k, v in cpu.items()))


def baselines(
    args: argparse.Namespace, smtp: SinkProcess, http: SinkProcess, run: str, sample: bytes
) -> dict[str, Any]:
    """Raw clients into the same sinks, best of 3 short rounds each (the machine is shared:
    the best round is the one least disturbed by other processes)."""
    n, seconds = args.baseline
    rounds = 3
    per_round = max(1, n // rounds)
    out: dict[str, Any] = {}
    body = json.dumps(
        {
            "type": "order.confirmed",
            "timestamp": "2026-11-22T10:00:00+00:00",
            "data": {"event": {"type": "order.confirmed"}, "order": {"reference": "BASE-1"}},
        }
    ).encode()
    variants: list[tuple[str, SinkProcess, Callable[[int], dict[str, Any]]]] = [
        (
            "smtplib_small",
            smtp,
            lambda r: smtplib_baseline(
                smtp.port,
                [small_email(i, f"{run}S{r}") for i in range(per_round)],
                seconds / rounds,
            ),
        )
    ]
    if sample:
        variants.append(
            (
                "smtplib_real_size",
                smtp,
                lambda r: smtplib_baseline(
                    smtp.port,
                    [resized_email(sample, i, f"{run}R{r}") for i in range(per_round)],
                    seconds / rounds,
                ),
            )
        )
    variants.append(
        (
            "httpx_one_connection",
            http,
            lambda r: http_baseline(http.port, [body] * per_round, seconds / rounds),
        )
    )
    for name, sink, send in variants:
        best: dict[str, Any] = {}
        for r in range(rounds):
            sink.reset()
            sink0, busy0 = proc_cpu_seconds(sink.pid), machine_busy_seconds()
            result = send(r)
            stats = sink.wait_for(result["messages"], timeout=30)
            result["sink_cpu_ms"] = round(
                (proc_cpu_seconds(sink.pid) - sink0) * 1000 / max(1, result["messages"]), 3
            )
            result["machine_cpu_busy_pct"] = round(
                100 * (machine_busy_seconds() - busy0) / max(1e-9, result["seconds"] * cores()), 1
            )
            result["arrived"] = stats["count"]
            if not best or result["per_s"] > best["per_s"]:
                best = result
        best["rounds"] = rounds
        if name.startswith("smtplib"):
            best["bytes_per_msg"] = len(
                small_email(0, run) if name == "smtplib_small" else resized_email(sample, 0, run)
            )
        out[name] = best
        log(
            f"baseline {name:<20} {best['per_s']:>8.1f}/s (best of {rounds})  client CPU "
            f"{best['client_cpu_ms']:.3f} ms  receiving end CPU {best['sink_cpu_ms']:.3f} ms/msg"
            + (f"  {best['bytes_per_msg']} bytes" if "bytes_per_msg" in best else "")
        )
    smtp.reset()
    http.reset()
    return out


def fmt(value: Any, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(
    results: dict[str, dict[str, Any]], base: dict[str, Any], args: argparse.Namespace
) -> None:
    log(
        f"\nNotifications benchmark ({args.mode}): {cores()} cores shared by the workers "
        f"(`suivi worker`), the database, the sinks (own processes) and the event producers."
    )
    rows: list[tuple[str, Any, str]] = []
    for w in args.worker_counts:
        rows.append((f"emails/s, {w} worker{'s' if w > 1 else ''}", f"emails_per_s_{w}w", ".0f"))
    for w in args.worker_counts:
        rows.append(
            (
                f"  worker / db CPU ms per email ({w}w)",
                (f"emails_worker_cpu_ms_{w}w", f"emails_db_cpu_ms_{w}w"),
                ".2f",
            )
        )
    for w in args.worker_counts:
        rows.append(
            (f"webhooks/s, {w} worker{'s' if w > 1 else ''}", f"webhooks_per_s_{w}w", ".0f")
        )
    for w in args.worker_counts:
        rows.append(
            (
                f"  worker / db CPU ms per webhook ({w}w)",
                (f"webhooks_worker_cpu_ms_{w}w", f"webhooks_db_cpu_ms_{w}w"),
                ".2f",
            )
        )
    for rate, batch, key in args.latency_specs:
        rows += [
            (f"events/s (target {rate:g}, {batch} per transaction)", f"{key}_events_per_s", ".0f"),
            (
                "  commit → SMTP p50 / p99 / max ms",
                (f"{key}_p50_ms", f"{key}_p99_ms", f"{key}_max_ms"),
                ".0f",
            ),
        ]
    rows += [
        ("emails 2w / raw smtplib (small)", "ratio_2w_vs_smtplib_small", ".2f"),
        ("emails 2w / raw smtplib (same size)", "ratio_2w_vs_smtplib_real_size", ".2f"),
        ("worker RSS MB (now / peak)", ("worker_rss_mb", "worker_peak_rss_mb"), ".0f"),
        ("other load (share of cores)", "other_cpu_share", ".2f"),
        ("lost / duplicates", ("lost", "duplicates"), ".0f"),
        ("valid", "valid", ""),
    ]
    kinds = list(results)
    log(f"{'':<38}" + "".join(f"{k:>22}" for k in kinds))
    for label, key, spec in rows:
        cells = []
        for kind in kinds:
            r = results[kind]
            if isinstance(key, tuple):
                cell = " / ".join(fmt(r.get(k), spec) for k in key)
            elif spec:
                cell = fmt(r.get(key), spec)
            else:
                cell = str(r.get(key))
            cells.append(f"{cell:>22}")
        log(f"{label:<38}" + "".join(cells))
    for name, b in base.items():
        log(f"baseline {name}: {b['per_s']:.0f}/s")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    kinds = ["postgres", "sqlite"] if args.db == "both" else [args.db]
    run = "N" + secrets.token_hex(3).upper()
    started = time.perf_counter()
    speed = python_speed_ms()
    load = load_average()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Ctrl-C or SIGTERM: stop every process we started and drop the databases (the
    # children run in sessions of their own, so the terminal's Ctrl-C reaches us only).
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    results: dict[str, dict[str, Any]] = {}
    base: dict[str, Any] = {}
    sinks: list[SinkProcess] = []
    try:
        with tempfile.TemporaryDirectory(prefix="suivi-bench-notif-logs-") as logs:
            log_dir = Path(logs)
            smtp = SinkProcess("smtp")
            sinks.append(smtp)
            http = SinkProcess("http")
            sinks.append(http)
            log(
                f"SMTP sink (aiosmtpd) on {HOST}:{smtp.port}, webhook receiver on {HOST}:{http.port};"
                f" {cores()} cores, load average {load:.2f}, python loop {speed} ms"
            )
            args.sample_email = b""
            for kind in kinds:
                results[kind] = run_database(kind, args, run, smtp, http, log_dir)
                if not base:
                    base = baselines(args, smtp, http, run, args.sample_email)
    except KeyboardInterrupt:
        log("interrupted: processes stopped, databases dropped")
        return 130
    finally:
        for sink in sinks:
            sink.close()
    for r in results.values():
        for name in ("smtplib_small", "smtplib_real_size"):
            raw = base.get(name, {}).get("per_s")
            two = r.get("emails_per_s_2w")
            r[f"ratio_2w_vs_{name}"] = round(two / raw, 3) if raw and two else None
        raw = base.get("httpx_one_connection", {}).get("per_s")
        two = r.get("webhooks_per_s_2w")
        r["ratio_webhooks_2w_vs_httpx"] = round(two / raw, 3) if raw and two else None
    print_table(results, base, args)

    def latency_met(r: dict[str, Any], key: str) -> bool | None:
        if f"{key}_p99_ms" not in r:
            return None
        return (
            r[f"{key}_p99_ms"] < TARGETS["latency_p99_ms"]
            and r[f"{key}_events_per_s"] >= 0.95 * TARGETS["latency_events_per_s"]
        )

    met = {
        kind: {
            "emails_per_s_2_workers": (r.get("emails_per_s_2w") or 0)
            >= TARGETS["emails_per_s_2_workers"],
            **{
                f"{key}_p99": latency_met(r, key)
                for rate, _, key in args.latency_specs
                if f"{key}_p99_ms" in r and rate >= TARGETS["latency_events_per_s"]
            },
        }
        for kind, r in results.items()
    }
    summary = {
        "benchmark": "notifications",
        "mode": args.mode,
        "results": results,
        "baseline": base,
        "targets": TARGETS,
        "targets_met": met,
        "backlog": "orders bulk-inserted; outbox rows bulk-inserted as copies of planned rows",
        "valid": all(r["valid"] for r in results.values()) and bool(results),
        "cores": cores(),
        "machine": {"python_loop_ms": speed, "load_average_at_start": load},
        "seconds": round(time.perf_counter() - started, 1),
    }
    for kind, m in met.items():
        r = results[kind]
        text = (
            f"targets on {kind}: {fmt(r.get('emails_per_s_2w'))} emails/s with 2 workers vs "
            f"{TARGETS['emails_per_s_2_workers']} "
            f"({'met' if m['emails_per_s_2_workers'] else 'missed'})"
        )
        for name, ok in m.items():
            if name.startswith("latency"):
                key = name[: -len("_p99")]
                text += (
                    f"; {key}: p99 {fmt(r.get(f'{key}_p99_ms'))} ms at "
                    f"{fmt(r.get(f'{key}_events_per_s'))} events/s vs < "
                    f"{TARGETS['latency_p99_ms']} ms at {TARGETS['latency_events_per_s']}/s "
                    f"({'met' if ok else 'missed'})"
                )
        log(text)
    if any(r.get("disturbed") for r in results.values()):
        log(
            "warning: other processes used over 10% of the cores during a phase (see"
            " other_cpu_share): the rates are understated; the CPU figures still hold."
        )
    log(f"total {summary['seconds']}s")
    print(json.dumps(summary, separators=(",", ":"), default=str))
    return 0 if summary["valid"] else 1


# ==========================================================================================
# Django side: the controller and the producers (child processes)
# ==========================================================================================


def child_controller() -> int:
    import django

    django.setup()
    state: dict[str, Any] = {}
    commands = {
        "setup": c_setup,
        "backlog": c_backlog,
        "release": c_release,
        "check": c_check,
        "check_shop": c_check_shop,
        "prepare_latency": c_prepare_latency,
        "breakdown": c_breakdown,
        "planning": c_planning,
    }
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        name = request.pop("cmd")
        try:
            reply = commands[name](state, **request)
        except Exception as exc:  # reported to the driver, which stops the run
            import traceback

            traceback.print_exc()
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print("@@ " + json.dumps(reply, default=str), flush=True)
    return 0


def c_setup(state: dict[str, Any], run: str, webhook_url: str, orders: int) -> dict[str, Any]:
    from _django_side import raw_inserts
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from suivi.core import crypto
    from suivi.notifications import dispatch
    from suivi.notifications.channels.email import build_message
    from suivi.notifications.models import OutboxMessage, WebhookEndpoint
    from suivi.notifications.webhook_signing import generate_secret
    from suivi.orders.models import Order
    from suivi.testing import make_order, make_shop

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrate_s = time.perf_counter() - started
    slug = run.lower()
    shop = make_shop(f"Maison Lumière {run}", slug=f"bench-{slug}-a")
    quiet = make_shop(f"Épicerie Bleue {run}", slug=f"bench-{slug}-b")  # no webhook: latency
    endpoint = WebhookEndpoint.objects.create(
        shop=shop,
        url=webhook_url,
        description="benchmark receiver",
        secret_encrypted=crypto.encrypt(generate_secret()),
        event_types=["order.confirmed"],
    )
    proto = make_order(shop, paid=True, email=f"prototype.{slug}@example.fr", phone="0611223344")
    planned = {m.channel: m for m in OutboxMessage.objects.filter(order=proto)}
    if "email" not in planned or "webhook" not in planned:
        raise RuntimeError(f"a paid order planned {sorted(planned)}, not email and webhook")
    # A real rendered email, for the same-size smtplib baseline.
    builder = dispatch._Builder([planned["email"]])
    sample = build_message(builder.outgoing(planned["email"])).message().as_bytes(linesep="\r\n")
    state["proto"] = {
        channel: {
            "locale": m.locale,
            "event_key": m.event_key,
            "event_type": m.event_type,
            "events": m.events,
        }
        for channel, m in planned.items()
    }
    OutboxMessage.objects.filter(order=proto).delete()
    started = time.perf_counter()
    _, _, ids = raw_inserts(shop, f"{run}Q", orders)
    insert_s = time.perf_counter() - started
    state["orders"] = list(
        Order.objects.filter(id__in=ids).order_by("id").values_list("id", "customer_id", "email")
    )
    state.update(shop_id=shop.pk, quiet_shop_id=quiet.pk, endpoint=endpoint, run=run)
    return {
        "migrate_s": round(migrate_s, 2),
        "orders": len(state["orders"]),
        "orders_insert_s": round(insert_s, 2),
        "vendor": connection.vendor,
        "batch": settings.SUIVI_OUTBOX_BATCH,
        "sample_email": base64.b64encode(sample).decode(),
    }


def _outbox_rows(
    state: dict[str, Any], tag: str, channel: str, n: int, not_before: Any, shop_id: int
) -> list[Any]:
    from django.utils import timezone

    from suivi.notifications.models import OutboxMessage

    proto = state["proto"][channel]
    endpoint = state["endpoint"]
    orders = state["orders"]
    now = timezone.now()
    rows = []
    for i in range(n):
        order_id, customer_id, email = orders[i % len(orders)]
        common = dict(
            shop_id=shop_id,
            order_id=order_id,
            channel=channel,
            locale=proto["locale"],
            event_key=proto["event_key"],
            event_type=proto["event_type"],
            events=proto["events"],
            idempotency_key=f"bench:{tag}:{i}",
            status=OutboxMessage.Status.PENDING,
            not_before=not_before,
            created_at=now,
        )
        if channel == "webhook":
            rows.append(OutboxMessage(endpoint_id=endpoint.pk, recipient=endpoint.url, **common))
        else:
            rows.append(OutboxMessage(customer_id=customer_id, recipient=email, **common))
    return rows


def c_backlog(state: dict[str, Any], tag: str, channel: str, n: int, held: bool) -> dict[str, Any]:
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from suivi.notifications.models import OutboxMessage

    started = time.perf_counter()
    not_before = timezone.now() + (dt.timedelta(days=1) if held else dt.timedelta(0))
    rows = _outbox_rows(state, tag, channel, n, not_before, state["shop_id"])
    with transaction.atomic():
        for start in range(0, len(rows), 1000):
            OutboxMessage.objects.bulk_create(rows[start : start + 1000])
    return {"created": n, "seconds": round(time.perf_counter() - started, 3)}


def c_release(state: dict[str, Any], tag: str, count: int | None = None) -> dict[str, Any]:
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from suivi.notifications.models import OutboxMessage

    now = timezone.now()
    held = OutboxMessage.objects.filter(
        idempotency_key__startswith=f"bench:{tag}:",
        status=OutboxMessage.Status.PENDING,
        not_before__gt=now + dt.timedelta(hours=1),
    )
    with transaction.atomic():
        if count is not None:
            ids = list(held.order_by("id").values_list("id", flat=True)[:count])
            held = held.filter(id__lte=ids[-1]) if ids else held.none()
        released = held.update(not_before=now)
    return {"released": released, "at": time.time()}


def c_check(state: dict[str, Any], tag: str) -> dict[str, Any]:
    from django.db.models import Count

    from suivi.notifications.models import DeliveryAttempt, OutboxMessage

    messages = OutboxMessage.objects.filter(idempotency_key__startswith=f"bench:{tag}:")
    return _check(messages, DeliveryAttempt, Count)


def c_check_shop(state: dict[str, Any], shop_id: int) -> dict[str, Any]:
    from django.db.models import Count

    from suivi.notifications.models import DeliveryAttempt, OutboxMessage

    return _check(OutboxMessage.objects.filter(shop_id=shop_id), DeliveryAttempt, Count)


def _check(messages: Any, attempt_model: Any, count: Any) -> dict[str, Any]:
    by_status = dict(Counter(messages.values_list("status", flat=True)))
    attempts = attempt_model.objects.filter(message__in=messages)
    per_worker = dict(attempts.values("worker").annotate(n=count("id")).values_list("worker", "n"))
    outcomes = dict(Counter(attempts.values_list("outcome", flat=True)))
    errors = list(
        messages.exclude(last_error="").values_list("last_error", flat=True).distinct()[:3]
    )
    return {
        "by_status": by_status,
        "attempts": sum(outcomes.values()),
        "outcomes": outcomes,
        "attempts_per_worker": sorted(per_worker.values(), reverse=True),
        "error_samples": errors,
    }


def c_prepare_latency(state: dict[str, Any], n: int, warm: int, path: str) -> dict[str, Any]:
    from _django_side import raw_inserts

    from suivi.orders.models import Order
    from suivi.shops.models import Shop

    shop = Shop.objects.get(pk=state["quiet_shop_id"])
    state["latency_runs"] = state.get("latency_runs", 0) + 1
    _, _, ids = raw_inserts(shop, f"{state['run']}L{state['latency_runs']}", n + warm)
    rows = list(Order.objects.filter(id__in=ids).order_by("id").values_list("id", "reference"))
    Path(path).write_text(
        json.dumps({"shop_id": shop.pk, "warm": rows[:warm], "orders": rows[warm:]})
    )
    return {"path": path, "shop_id": shop.pk, "orders": len(rows) - warm}


class _Stages:
    """Wall and CPU time spent in named functions (nested ones are subtracted afterwards)."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.cpu: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        original = getattr(owner, attr)
        seconds, cpu, calls = self.seconds, self.cpu, self.calls
        clock, cpu_clock = time.perf_counter, time.thread_time

        def timed(*a: Any, **k: Any) -> Any:
            t, c = clock(), cpu_clock()
            try:
                return original(*a, **k)
            finally:
                seconds[name] += clock() - t
                cpu[name] += cpu_clock() - c
                calls[name] += 1

        setattr(owner, attr, timed)
        self.undo.append((owner, attr, original))

    def restore(self) -> None:
        for owner, attr, original in reversed(self.undo):
            setattr(owner, attr, original)
        self.undo = []


def _exclusive(s: Counter[str], total: float, channel: str) -> dict[str, float]:
    """Each stage's time without the stages nested in it."""
    excl = {
        "claim": s["claim"],
        "load_messages": s["deliver"] - s["batch_prefetch"] - s["prepare"] - s["channel"],
        "batch_prefetch": s["batch_prefetch"],
        "context": s["context"],
        "render": s["render"],
        "prepare_other": s["prepare"] - s["context"] - s["render"],
    }
    if channel == "email":
        nested = ("email_object", "mime_build", "smtp_io", "smtp_connect", "smtp_close", "record")
        excl.update(
            email_object=s["email_object"],
            mime_build=s["mime_build"],
            # EmailBackend.send_messages less the above: as_bytes (the MIME serialisation),
            # sanitize_address, the backend's lock.
            smtp_io=s["smtp_io"],
            smtp_connect_close=s["smtp_connect"] + s["smtp_close"],
            record=s["record"],
            channel_other=s["channel"] - sum(s[k] for k in nested),
        )
    else:
        excl.update(
            sign=s["sign"],
            http_io=s["http_io"],
            record=s["record"],
            channel_other=s["channel"] - s["sign"] - s["http_io"] - s["record"],
        )
    excl["outside_deliver"] = total - s["deliver"] - s["claim"]
    return excl


def c_breakdown(state: dict[str, Any], channel: str, n: int, profile: str = "") -> dict[str, Any]:
    """Deliver *n* messages in this process with ``dispatch.run_once``, each stage timed."""
    import cProfile
    import smtplib

    from django.core.mail.backends.smtp import EmailBackend
    from django.core.mail.message import EmailMessage
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from suivi.core import http as core_http
    from suivi.notifications import context as context_mod
    from suivi.notifications import dispatch, outbox, rendering
    from suivi.notifications.channels import email as email_mod

    # Warm-up (imports, templates, connections), not timed.
    c_backlog(state, f"bw{channel}", channel, 10, held=False)
    delivered = 0
    while report := dispatch.run_once():
        if not report.claimed:
            break
        delivered += report.sent
    tag = f"b{channel}"
    c_backlog(state, tag, channel, n, held=False)
    stages = _Stages()
    stages.wrap(outbox, "claim", "claim")
    stages.wrap(dispatch, "deliver", "deliver")
    stages.wrap(dispatch._Builder, "__init__", "batch_prefetch")
    stages.wrap(dispatch._Builder, "outgoing", "prepare")
    stages.wrap(context_mod, "order_context", "context")
    stages.wrap(rendering, "render", "render")
    stages.wrap(outbox, "record", "record")
    if channel == "email":
        stages.wrap(email_mod.EmailChannel, "send_batch", "channel")
        stages.wrap(email_mod, "build_message", "email_object")
        stages.wrap(EmailMessage, "message", "mime_build")
        stages.wrap(EmailBackend, "open", "smtp_connect")
        stages.wrap(EmailBackend, "close", "smtp_close")
        stages.wrap(smtplib.SMTP, "sendmail", "smtp_io")
    else:
        from suivi.notifications.channels import webhook as webhook_mod

        stages.wrap(webhook_mod.WebhookChannel, "send_batch", "channel")
        stages.wrap(webhook_mod, "headers_for", "sign")
        stages.wrap(core_http, "request_public", "http_io")
    prof = cProfile.Profile() if profile else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sent = 0
    try:
        if prof:
            prof.enable()
        while True:
            report = dispatch.run_once()
            if not report.claimed:
                break
            sent += report.sent
    finally:
        if prof:
            prof.disable()
        stages.restore()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    excl = _exclusive(stages.seconds, wall, channel)
    excl_cpu = _exclusive(stages.cpu, cpu, channel)
    count = max(1, sent)
    ms = {k: round(v * 1000 / count, 3) for k, v in excl.items()}
    cpu_ms = {k: round(v * 1000 / count, 3) for k, v in excl_cpu.items()}
    # SQL statements per message, on one more batch (the capture itself costs time).
    c_backlog(state, f"bq{channel}", channel, 50, held=False)
    with CaptureQueriesContext(connection) as ctx:
        counted = 0
        while report := dispatch.run_once():
            if not report.claimed:
                break
            counted += report.claimed
            delivered += report.sent
    kinds = Counter(q["sql"].split(None, 1)[0].upper() for q in ctx.captured_queries)
    out = {
        "sent": sent,
        "delivered_in_all": delivered + sent,  # with the warm-up and the SQL count
        "per_s": round(sent / wall, 1) if wall else 0.0,
        "cpu_ms_per_msg": round(cpu * 1000 / count, 3),
        "wall_ms_per_msg": round(wall * 1000 / count, 3),
        "ms_per_msg": ms,  # wall time
        "cpu_ms_per_msg_by_stage": cpu_ms,
        "share": {k: round(v / wall, 3) for k, v in excl.items()} if wall else {},
        "queries_per_msg": round(len(ctx.captured_queries) / max(1, counted), 2),
        "query_kinds_per_msg": {k: round(v / max(1, counted), 2) for k, v in kinds.most_common()},
        "batch_claims": stages.calls["claim"],
    }
    if prof:
        prof.dump_stats(profile)
        out["profile"] = profile_text(Path(profile))
    return out


def c_planning(state: dict[str, Any], n: int) -> dict[str, Any]:
    """The cost of planning: ``confirm_payment`` on *n* orders with the planner subscribed
    to the event bus and on *n* others without it, one event per transaction and then 20
    per transaction; CPU here and in the database server, SQL statements per event."""
    from _django_side import raw_inserts
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from suivi.core import events as bus
    from suivi.notifications.models import OutboxMessage
    from suivi.orders.batch import ActionItem, order_apply_actions
    from suivi.orders.lifecycle import Action
    from suivi.orders.services import order_apply_action
    from suivi.shops.models import Shop

    shop = Shop.objects.get(pk=state["quiet_shop_id"])
    state["latency_runs"] = state.get("latency_runs", 0) + 1
    _, _, ids = raw_inserts(shop, f"{state['run']}P{state['latency_runs']}", 4 * n + 60)
    pid = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = int(cursor.fetchone()[0])

    def one(order_ids: list[int]) -> None:
        for order_id in order_ids:
            order_apply_action(
                shop=shop, order_id=order_id, action="confirm_payment", actor="bench"
            )

    def twenty(order_ids: list[int]) -> None:
        for first in range(0, len(order_ids), 20):
            order_apply_actions(
                shop=shop,
                items=[
                    ActionItem(i, Action.CONFIRM_PAYMENT) for i in order_ids[first : first + 20]
                ],
                actor="bench",
            )

    def measure(run: Callable[[list[int]], None], order_ids: list[int]) -> dict[str, float]:
        db0 = proc_cpu_seconds(pid) if pid else 0.0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        run(order_ids)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        db = (proc_cpu_seconds(pid) - db0) if pid else 0.0
        count = max(1, len(order_ids))
        return {
            "per_s": round(count / wall, 1),
            "cpu_ms": round(cpu * 1000 / count, 3),
            "db_cpu_ms": round(db * 1000 / count, 3),
        }

    def statements(run: Callable[[list[int]], None], order_ids: list[int]) -> float:
        with CaptureQueriesContext(connection) as ctx:
            run(order_ids)
        return round(len(ctx.captured_queries) / max(1, len(order_ids)), 2)

    chunks = [ids[k * n : (k + 1) * n] for k in range(4)]
    spare = ids[4 * n :]
    out: dict[str, Any] = {"events": n}
    for label, run, with_plan, without, sql_with, sql_without in (
        ("one_per_transaction", one, chunks[0], chunks[1], spare[0:10], spare[10:20]),
        ("twenty_per_transaction", twenty, chunks[2], chunks[3], spare[20:40], spare[40:60]),
    ):
        planned = measure(run, with_plan)
        planned_sql = statements(run, sql_with)
        # Detach the planner from the event bus, however it subscribed (one event or a
        # list per call), and put it back afterwards.
        saved = {
            name: list(getattr(bus, name))
            for name in ("_subscribers", "_batch_subscribers")
            if hasattr(bus, name)
        }
        for name, entries in saved.items():
            getattr(bus, name)[:] = [
                entry
                for entry in entries
                if getattr(entry[1], "__module__", "") != "suivi.notifications.planning"
            ]
        try:
            bare = measure(run, without)
            bare_sql = statements(run, sql_without)
        finally:
            for name, entries in saved.items():
                getattr(bus, name)[:] = entries
        out[label] = {
            "with_planning": planned,
            "without_planning": bare,
            "planning_cpu_ms_per_event": round(planned["cpu_ms"] - bare["cpu_ms"], 3),
            "planning_db_cpu_ms_per_event": round(planned["db_cpu_ms"] - bare["db_cpu_ms"], 3),
            "sql_per_event_with": planned_sql,
            "sql_per_event_without": bare_sql,
        }
    OutboxMessage.objects.filter(order_id__in=ids).delete()  # never sent: no worker runs
    return out


def child_producer(argv: list[str]) -> int:
    """Apply ``confirm_payment`` to this producer's share of the orders on a fixed schedule
    (open loop: a late call is made at once, never skipped) and record each commit time.

    ``--batch 1``: one ``order_apply_action`` (one transaction) per event, as one API
    request per event does. ``--batch K``: the events gather and ``order_apply_actions``
    applies K at once (one transaction) when the last one is due, as ``POST
    /orders/actions`` does for a feed; an event's latency then starts at that commit."""
    p = argparse.ArgumentParser()
    p.add_argument("--orders", required=True)
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--of", type=int, required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    import django

    django.setup()
    from suivi.orders.batch import ActionItem, order_apply_actions
    from suivi.orders.lifecycle import Action
    from suivi.orders.services import order_apply_action
    from suivi.shops.models import Shop

    data = json.loads(Path(args.orders).read_text())
    shop = Shop.objects.get(pk=data["shop_id"])
    mine = data["orders"][args.index :: args.of]
    warm_id, _ = data["warm"][args.index]
    if args.batch > 1:
        order_apply_actions(
            shop=shop, items=[ActionItem(warm_id, Action.CONFIRM_PAYMENT)], actor="bench"
        )
    else:
        order_apply_action(shop=shop, order_id=warm_id, action="confirm_payment", actor="bench")
    print("READY", flush=True)
    start = float(sys.stdin.readline())
    cpu0 = time.process_time()
    records = []
    size = max(1, args.batch)
    for first in range(0, len(mine), size):
        chunk = mine[first : first + size]
        dues = [start + ((first + k) * args.of + args.index) / args.rate for k in range(len(chunk))]
        delay = dues[-1] - time.time()
        if delay > 0:
            time.sleep(delay)
        if size == 1:
            order_apply_action(
                shop=shop, order_id=chunk[0][0], action="confirm_payment", actor="bench"
            )
        else:
            results = order_apply_actions(
                shop=shop,
                items=[ActionItem(order_id, Action.CONFIRM_PAYMENT) for order_id, _ in chunk],
                actor="bench",
            )
            failed = [r for r in results if isinstance(r, Exception)]
            if failed:
                raise RuntimeError(f"{len(failed)} actions refused: {failed[0]}")
        at = time.time()
        records += [(reference, due, at) for (_, reference), due in zip(chunk, dues, strict=True)]
    Path(args.out).write_text(json.dumps({"records": records, "cpu_s": time.process_time() - cpu0}))
    print("DONE", flush=True)
    sys.stdin.readline()  # stay alive until the driver has read our CPU and our backend's
    return 0


def child_main(argv: list[str]) -> int:
    kind = argv[0]
    if kind == "controller":
        return child_controller()
    if kind == "producer":
        return child_producer(argv[1:])
    raise SystemExit(f"unknown child {kind!r}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child_main(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
