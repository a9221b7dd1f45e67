#!/usr/bin/env python3
"""Tracking ingestion benchmark: carrier events/s through the ingestion service and through
``POST /api/v1/tracking/events``, next to raw ``executemany`` of the same rows, and the
due-poll (claim) query with many legs.

For each database (PostgreSQL by default, SQLite with ``--db sqlite``) the script makes a
fresh database, migrates it, creates one shop with a La Poste carrier account and shipped
orders (``order_create_many`` then ``confirm_payment`` and ``ship`` through
``order_apply_actions``, 100 per call), then bulk-inserts one parcel with one leg per order
(setup, not measured). Then, in the same run:

1. **Service**: ``ingest(shop, items, source="push")`` called in process, one call (one
   transaction) per batch of 100 events. The feed: every parcel goes through 12 scans
   (information received, ten in-transit scans, out for delivery with an ETA, delivered);
   about 40 parcels are on their way at any time, their scans sorted by the time they
   happened, so a batch spans 40-60 parcels and mostly continues what earlier batches
   said; 2 % of mid-life scans come 1-4 batches late (the parcel is folded again from its
   whole timeline). A third of the scans change their parcel's status (4 per parcel: one
   ``shipment.*`` event each, planned for notification), a quarter move the order
   (shipped → in transit → out for delivery → delivered through ``order_apply_actions``).
   Reported: events/s, batch p50/p99, CPU here and in PostgreSQL per event, statements
   per batch, order transitions, messages planned.
2. **Duplicates**: the same batches again (everything already stored).
3. **Breakdown**: a pass over other parcels with each stage of ``ingest()`` timed
   (exclusive wall time, SQL statements and their wall time per stage).
4. **Raw**: the same kind of TrackingEvent rows (same feed shape and size, other parcels)
   inserted with psycopg ``executemany`` (pipelined), one transaction per 100 rows, on a
   connection of its own: the floor of what storing the events costs.
5. **HTTP**: the real server (granian WSGI, ``--workers``, production settings) on
   loopback; ``--concurrency`` keep-alive connections from ``--client-procs`` processes
   POST batches of 100 events with valid ``X-Suivi-Signature`` headers, each connection
   over parcels of its own (no two requests wait on the same parcel or order lock).
6. **Due poll**: ``--legs`` more parcels with one leg each, generated in the database
   (10 % due in the past hour, 30 % due within 6 hours, 60 % delivered: not polled,
   ``next_poll_at`` NULL), ``VACUUM (ANALYZE)``; then ``EXPLAIN (ANALYZE, BUFFERS)`` of the
   claim query's inner SELECT (must be an index scan on ``leg_due_poll``) and
   ``polling.claim(100)`` timed over ``--claim-runs`` successive claims.

Memory: peak RSS of this driver, of the Django side (the service passes run there) and
of the server. CPU is read from /proc; ``other_cpu_share`` is what other processes took
from the machine's cores meanwhile (over 0.1: the rates are understated). On SQLite the
database works inside the calling process: its CPU counts as Python there, "db" is 0.

    python bench/ingest.py --quick              # PostgreSQL, a few minutes on 2 cores
    python bench/ingest.py                      # 60,000 events per phase, 1M legs
    python bench/ingest.py --smoke --db sqlite  # seconds: does it still work?
    python bench/ingest.py --quick --profile /tmp/prof   # + cProfile of a service pass
    python bench/ingest.py --quick --keep       # leave the database for a look

Checked, or the run is invalid (exit status 1): every event stored once, every order of the
service and HTTP sets delivered, the duplicates pass stored nothing, no HTTP error, the
claim query's plan uses ``leg_due_poll``. The last output line is one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import os
import resource
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _harness import (  # noqa: E402
    BENCH_DB_PREFIX,
    HOST,
    PYTHON,
    JsonChild,
    PhaseResult,
    Server,
    _admin_dsn,
    base_env,
    cores,
    load_average,
    postgres_backend_pids,
    python_speed_ms,
    run_phase,
)

TARGETS = {"service_events_per_s": 10_000, "http_events_per_s": 3_000}
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/suivi_bench_ingest"
LIFE_EVENTS = 12  # scans per parcel (ingest_support.LIFE)
PUSH_PATH = "/api/v1/tracking/events"
MAX_HTTP_SECONDS = 270.0  # requests are signed before the phase; signatures last 300 s

# service events, breakdown events, HTTP events, raw rows, legs, claim runs, HTTP seconds max
SIZES = {
    "full": (60_000, 15_000, 60_000, 60_000, 1_000_000, 50, 240.0),
    "quick": (20_000, 6_000, 20_000, 20_000, 200_000, 50, 120.0),
    "smoke": (600, 600, 1_200, 600, 5_000, 5, 60.0),
}
PHASES = ("service", "duplicates", "breakdown", "raw", "http", "due_poll")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="postgres")
    p.add_argument("--sqlite", action="store_true", help="same as --db sqlite")
    p.add_argument("--database-url", default=DEFAULT_URL, help="created and dropped by the run")
    p.add_argument("--quick", action="store_true", help="a few minutes at most on 2 cores")
    p.add_argument("--smoke", action="store_true", help="tiny counts: checks that it works")
    p.add_argument("--events", type=int, help="events through the service (and duplicates)")
    p.add_argument("--breakdown-events", type=int, help="events of the timed-stages pass")
    p.add_argument("--http-events", type=int, help="events POSTed to the server")
    p.add_argument("--raw-events", type=int, help="rows of the raw executemany baseline")
    p.add_argument("--legs", type=int, help="legs (parcels) loaded for the due-poll query")
    p.add_argument("--claim-runs", type=int, help="successive claim(100) calls timed")
    p.add_argument("--batch-size", type=int, default=100, help="events per call / request")
    p.add_argument("--concurrency", type=int, default=4, help="HTTP connections in all")
    p.add_argument("--client-procs", type=int, default=2, help="HTTP client processes")
    p.add_argument("--workers", type=int, default=2, help="granian workers")
    p.add_argument("--granian-arg", action="append", default=[], help="extra granian option")
    p.add_argument("--duration", type=float, help="seconds of the HTTP phase at most")
    p.add_argument("--seed", type=int, default=20261118, help="the feeds' random seed")
    p.add_argument("--profile", default="", help="directory: cProfile of one more service pass")
    p.add_argument("--keep", action="store_true", help="leave the database(s) behind")
    p.add_argument("--skip", default="", help=f"phases to leave out: {','.join(PHASES)}")
    args = p.parse_args(argv)
    if args.sqlite:
        args.db = "sqlite"
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    events, breakdown, http, raw, legs, runs, seconds = SIZES[mode]
    args.mode = mode
    args.events = args.events or events
    args.breakdown_events = (
        args.breakdown_events if args.breakdown_events is not None else breakdown
    )
    args.http_events = args.http_events if args.http_events is not None else http
    args.raw_events = args.raw_events if args.raw_events is not None else raw
    args.legs = args.legs if args.legs is not None else legs
    args.claim_runs = args.claim_runs or runs
    args.duration = args.duration or seconds
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = args.skip - set(PHASES)
    if unknown:
        p.error(f"unknown phases in --skip: {', '.join(sorted(unknown))}")
    return args


def log(text: str = "") -> None:
    print(text, flush=True)


def parcels_for(events: int) -> int:
    return -(-events // LIFE_EVENTS) if events > 0 else 0


# --- processes ----------------------------------------------------------------------------


def controller(env: dict[str, str], log_dir: Path) -> JsonChild:
    """The Django side of one database (``ingest_support.py``), answering JSON commands."""
    return JsonChild(
        [PYTHON, str(BENCH_DIR / "ingest_support.py")],
        env,
        log_dir / "django-side.log",
        name="Django side",
        echo=log,
    )


@contextlib.contextmanager
def database(kind: str, url: str, keep: bool) -> Iterator[dict[str, str]]:
    """Yield the environment of a fresh database of *kind*; removed afterwards unless
    *keep*. On PostgreSQL a leftover benchmark database (name starting ``suivi_bench``)
    is replaced; any other existing database is refused, never dropped."""
    data_dir = tempfile.mkdtemp(prefix=f"suivi-bench-ingest-{kind}-")
    try:
        if kind != "postgres":
            yield base_env("sqlite", data_dir)
            return
        import psycopg

        dsn, name = _admin_dsn(url)
        with psycopg.connect(dsn, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if found and not name.startswith(BENCH_DB_PREFIX):
                raise RuntimeError(f"database {name!r} exists and is not a benchmark database")
            if found:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield base_env("postgres", data_dir, url)
        finally:
            if keep:
                log(f"kept database {name}")
            else:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        if keep:
            log(f"kept data directory {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


# --- HTTP ---------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """``X-Suivi-Signature`` as ``suivi.api.shipments.sign`` makes it (no Django here)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def push_request(port: int, body: bytes, account_id: int, secret: str, timestamp: int) -> bytes:
    head = (
        f"POST {PUSH_PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"X-Suivi-Account: {account_id}\r\n"
        f"X-Suivi-Signature: {sign(secret, body, timestamp)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def push_requests(
    port: int, bodies: list[list[str]], account_id: int, secret: str
) -> list[list[bytes]]:
    """Signed now: the server accepts a signature for five minutes."""
    t = int(time.time())
    return [[push_request(port, b.encode(), account_id, secret, t) for b in c] for c in bodies]


def push_totals(phase: PhaseResult) -> Counter[str]:
    totals: Counter[str] = Counter()
    for bodies in phase.bodies:
        for body in bodies:
            data = json.loads(body)
            for key in ("received", "inserted", "duplicates", "parcels_changed", "orders_moved"):
                totals[key] += int(data[key])
            totals["unknown"] += len(data["unknown"])
            totals["rejected"] += len(data["rejected"])
    return totals


def http_phase(
    kind: str,
    ctl: JsonChild,
    env: dict[str, str],
    setup: dict[str, Any],
    args: argparse.Namespace,
    log_dir: Path,
    url: str,
) -> dict[str, Any]:
    prep = ctl.call(
        "http_prepare",
        path=str(log_dir / "http-bodies.json"),
        connections=args.concurrency,
        batch_size=args.batch_size,
        seed=args.seed + 1000,
        warm_batches=3,
    )
    bodies = json.loads(Path(prep["path"]).read_text())
    account, secret = setup["account_id"], setup["push_secret"]
    server = Server(env, workers=args.workers, extra=args.granian_arg)
    server.start()

    def db_pids() -> list[int]:
        return postgres_backend_pids(url) if kind == "postgres" else []

    try:
        common: dict[str, Any] = {
            "processes": args.client_procs,
            "server": server,
            "collect_bodies": True,
        }
        warm = run_phase(
            "warm-up",
            server.port,
            push_requests(server.port, bodies["warm"], account, secret),
            **common,
        )
        if warm.errors:
            raise RuntimeError(f"HTTP warm-up failed: {warm.errors} {warm.error_samples}")
        phase = run_phase(
            "http",
            server.port,
            push_requests(server.port, bodies["main"], account, secret),
            db_pids=db_pids,
            # Signed once, before the clock starts: the server accepts 300 s of skew.
            max_seconds=min(args.duration, MAX_HTTP_SECONDS),
            **common,
        )
        memory = server.rss_mb()
    finally:
        server.stop()
    s = phase.summary()
    totals = push_totals(phase)
    check = ctl.call("http_check")
    events_ok = totals["received"]
    complete = phase.requests == prep["requests"]
    per_event = max(1, events_ok)
    out: dict[str, Any] = {
        "requests": phase.requests,
        "requests_planned": prep["requests"],
        "events": events_ok,
        "parcels_per_batch_avg": prep["parcels_per_batch_avg"],
        "connections": args.concurrency,
        "seconds": s["seconds"],
        "events_per_s": round(events_ok / phase.seconds, 1) if phase.seconds else 0.0,
        "requests_per_s": s["rps"],
        "request_p50_ms": s["p50_ms"],
        "request_p95_ms": s["p95_ms"],
        "request_p99_ms": s["p99_ms"],
        "errors": s["errors"],
        "error_samples": phase.error_samples,
        **{k: totals[k] for k in ("inserted", "duplicates", "unknown", "rejected")},
        "parcels_changed": totals["parcels_changed"],
        "orders_moved": totals["orders_moved"],
        "server_cpu_ms_per_event": round(phase.server_cpu_s * 1000 / per_event, 4),
        "db_cpu_ms_per_event": round(phase.db_cpu_s * 1000 / per_event, 4),
        "client_cpu_ms_per_event": round(phase.client_cpu_s * 1000 / per_event, 4),
        "machine_cpu_busy_pct": s["machine_cpu_busy_pct"],
        "other_cpu_share": s["other_cpu_share"],
        "cpu_bound_events_per_s": round(s["cpu_bound_rps"] * events_ok / max(1, phase.requests), 1),
        "server_rss_mb": round(memory["rss_mb"], 1),
        "server_peak_rss_mb": round(memory["peak_rss_mb"], 1),
        "server_worker_rss_mb": round(memory["worker_rss_mb"], 1),
        "database": check,
        "complete": complete,
    }
    expected_delivered = check["parcels"] if complete else None
    for key in ("parcels_changed", "orders_moved"):
        out[f"expected_{key}"] = prep[f"expected_{key}"] if complete else None
    out["valid"] = (
        not out["errors"]
        and totals["unknown"] == 0
        and totals["rejected"] == 0
        and totals["inserted"] == events_ok
        and check["events_stored"] == events_ok
        and (
            not complete
            or (
                check["orders_by_status"] == {"delivered": expected_delivered}
                and out["orders_moved"] == out["expected_orders_moved"]
                and out["parcels_changed"] == out["expected_parcels_changed"]
            )
        )
    )
    log(
        f"{kind:<9} http        {events_ok:>7,} events in {phase.requests} requests "
        f"({prep['parcels_per_batch_avg']:.0f} parcels each), {args.concurrency} connections: "
        f"{out['events_per_s']:>8,.0f} events/s  request p50 {s['p50_ms']:.1f} p99 "
        f"{s['p99_ms']:.1f} ms{'' if complete else '  (cut by --duration)'}"
        f"{'' if out['valid'] else '  INVALID'}"
    )
    log(
        f"    CPU ms/event server {out['server_cpu_ms_per_event']:.3f} db "
        f"{out['db_cpu_ms_per_event']:.3f} client {out['client_cpu_ms_per_event']:.3f}; "
        f"machine busy {s['machine_cpu_busy_pct']}%, other load {s['other_cpu_share']:.2f}; "
        f"inserted {totals['inserted']:,}, order transitions {totals['orders_moved']:,}; "
        f"server RSS {out['server_rss_mb']:.0f} MB (peak {out['server_peak_rss_mb']:.0f})"
    )
    for sample in phase.error_samples:
        log(f"    {sample}")
    return out


# --- one database -------------------------------------------------------------------------


def print_service(kind: str, label: str, r: dict[str, Any]) -> None:
    log(
        f"{kind:<9} {label:<11} {r['events']:>7,} events in {r['batches']} batches "
        f"({r['parcels_per_batch_avg']:.0f} parcels each, {r['parcels_per_batch_min']}-"
        f"{r['parcels_per_batch_max']}): {r['events_per_s']:>8,.0f} events/s  batch p50 "
        f"{r['batch_p50_ms']:.1f} p99 {r['batch_p99_ms']:.1f} ms"
    )
    log(
        f"    CPU ms/event Python {r['cpu_ms_per_event']:.3f} db {r['db_cpu_ms_per_event']:.3f}; "
        f"inserted {r['inserted']:,}, duplicates {r['duplicates']:,}; parcels changed "
        f"{r['parcels_changed']:,}, order transitions {r['orders_moved']:,}, messages planned "
        f"{r['messages_planned']:,}; other load {r['other_cpu_share']:.2f}"
    )
    kinds = r.get("statements_by_kind_per_batch")
    if kinds:
        log(
            f"    {r['statements_per_batch']:.1f} statements per batch: "
            + ", ".join(f"{k} {v:g}" for k, v in kinds.items())
        )


def print_stages(kind: str, r: dict[str, Any]) -> None:
    log(
        f"{kind:<9} breakdown   {r['events']:,} events, instrumented ({r['events_per_s']:,.0f} "
        f"events/s): per batch of {r['events'] // max(1, r['batches'])}, "
        f"{r['python_ms_per_batch'] + r['sql_ms_per_batch']:.2f} ms = Python "
        f"{r['python_ms_per_batch']:.2f} + waiting for SQL {r['sql_ms_per_batch']:.2f} "
        f"({r['statements_per_batch']:.1f} statements)"
    )
    log(f"    {'stage (exclusive of the stages below it)':<46} {'calls':>6} {'ms':>7} "
        f"{'SQL ms':>7} {'stmts':>6} {'share':>6}")  # fmt: skip
    for row in r["stages"]:
        log(
            f"    {row['stage']:<46} {row['calls_per_batch']:>6.2f} {row['ms_per_batch']:>7.2f} "
            f"{row['sql_ms_per_batch']:>7.2f} {row['statements_per_batch']:>6.2f} "
            f"{row['share'] * 100:>5.1f}%"
        )
        if row["statements_per_batch"] >= 3:
            for count, shape in row["statement_shapes"]:
                log(f"        {count:>6.2f} x {shape}")
    if r.get("stages_missing"):
        log(f"    not found in src (not timed apart): {', '.join(r['stages_missing'])}")


def print_due_poll(kind: str, r: dict[str, Any]) -> None:
    log(
        f"{kind:<9} due poll    {r['legs']:,} legs ({r['due']:,} due, {r['polled'] - r['due']:,}"
        f" later, {r['not_polled']:,} not polled) loaded in {r['load_s']:.1f}s, vacuum/analyze "
        f"{r['vacuum_analyze_s']:.1f}s; sizes MB {r['sizes_mb'] or '-'}"
    )
    how = "EXPLAIN (ANALYZE, BUFFERS)" if r["full_plan"] else "EXPLAIN QUERY PLAN"
    log(f"    {how} of the claim query's inner SELECT:")
    for line in r["plan"].splitlines():
        log(f"      {line}")
    if r["full_plan"]:
        log("    the whole claim statement (UPDATE … WHERE id IN (…) RETURNING id):")
        for line in r["full_plan"].splitlines():
            log(f"      {line}")
    log(f"    plan uses leg_due_poll: {'yes' if r['plan_uses_leg_due_poll'] else 'no'}")
    log(
        f"    polling.claim({r['limit']}) x {r['runs']} successive claims: p50 "
        f"{r['claim_p50_ms']:.2f} ms  p99 {r['claim_p99_ms']:.2f} ms  max "
        f"{r['claim_max_ms']:.2f} ms  (first {r['claim_first_ms']:.2f} ms; at least "
        f"{r['claimed_per_run_min']} legs each); plan after the claims still uses "
        f"leg_due_poll: {'yes' if r['plan_after_uses_leg_due_poll'] else 'no'}"
    )


def run_database(kind: str, args: argparse.Namespace, run: str, log_dir: Path) -> dict[str, Any]:
    log(f"\n== {kind} ==")
    started = time.perf_counter()
    url = args.database_url
    if kind == "postgres" and args.smoke and url == DEFAULT_URL:
        url = f"{DEFAULT_URL}_smoke_{run.lower()}"
    skip = args.skip
    out: dict[str, Any] = {}
    with database(kind, url, args.keep) as env:
        env.update(
            SUIVI_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            SUIVI_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        )
        in_process = bool({"service", "duplicates", "breakdown"} - skip) or bool(args.profile)
        sets = {
            "service_warm": 20 if in_process else 0,
            "service": parcels_for(args.events) if "service" not in skip else 0,
            "breakdown": parcels_for(args.breakdown_events) if "breakdown" not in skip else 0,
            "profile": parcels_for(args.breakdown_events or 6_000) if args.profile else 0,
            "raw": parcels_for(args.raw_events) if "raw" not in skip else 0,
            "http_warm": args.concurrency * 30 if "http" not in skip else 0,
            "http_main": parcels_for(args.http_events) if "http" not in skip else 0,
        }
        sets = {name: n for name, n in sets.items() if n}
        ctl = controller(env, log_dir)
        try:
            setup = ctl.call("setup", run=run, sets=sets)
            out["setup"] = {k: v for k, v in setup.items() if k != "push_secret"}
            log(
                f"migrated in {setup['migrate_s']}s; {setup['orders']:,} orders created and "
                f"shipped through the services in {setup['orders_s']}s; {setup['parcels']:,} "
                f"parcels + legs bulk-inserted in {setup['parcels_s']}s; load average "
                f"{load_average():.2f}"
            )
            common = {"batch_size": args.batch_size, "seed": args.seed}
            if "service_warm" in sets:  # imports, first query plans: not counted
                ctl.call("service", set="service_warm", **common)
            if "service" in sets:
                out["service"] = ctl.call("service", set="service", **common)
                print_service(kind, "service", out["service"])
                out["service"]["check"] = ctl.call("check", set="service")
                if "duplicates" not in skip:
                    out["duplicates"] = ctl.call("service", set="service", again=True, **common)
                    print_service(kind, "duplicates", out["duplicates"])
            if "breakdown" in sets:
                out["breakdown"] = ctl.call(
                    "service", set="breakdown", mode="stages", **dict(common, seed=args.seed + 1)
                )
                print_stages(kind, out["breakdown"])
            if "profile" in sets:
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                path = str(Path(args.profile) / f"{kind}-service.prof")
                prof = ctl.call(
                    "service",
                    set="profile",
                    mode="profile",
                    profile_path=path,
                    **dict(common, seed=args.seed + 2),
                )
                log(f"{kind:<9} profile     {prof['events']:,} events under cProfile "
                    f"({prof['events_per_s']:,.0f} events/s) written to {path}:")  # fmt: skip
                for line in prof.pop("profile_text").splitlines()[:90]:
                    log(f"    {line}")
                out["profile"] = prof
            if "raw" in sets:
                out["raw"] = ctl.call("raw", **dict(common, seed=args.seed))
                r = out["raw"]
                log(
                    f"{kind:<9} raw         {r['rows']:>7,} rows, executemany "
                    f"{args.batch_size}/transaction: {r['rows_per_s']:>8,.0f} rows/s  batch p50 "
                    f"{r['batch_p50_ms']:.1f} p99 {r['batch_p99_ms']:.1f} ms"
                )
                log(
                    f"    CPU ms/row Python {r['cpu_ms_per_row']:.3f} db "
                    f"{r['db_cpu_ms_per_row']:.3f}"
                    + (
                        f"; service / raw {out['service']['events_per_s'] / r['rows_per_s']:.3f}"
                        if "service" in out and r["rows_per_s"]
                        else ""
                    )
                )
            if "http_main" in sets:
                out["http"] = http_phase(kind, ctl, env, setup, args, log_dir, url)
            if "due_poll" not in skip and args.legs:
                out["due_poll"] = ctl.call(
                    "due_poll", legs=args.legs, runs=args.claim_runs, limit=100
                )
                print_due_poll(kind, out["due_poll"])
            out["django_side_memory"] = ctl.memory_mb()
        finally:
            ctl.close()
    out["seconds"] = round(time.perf_counter() - started, 1)
    return figures(out, args, sets)


def cpu_bound(ms_per_item: float) -> float | None:
    """Items/s if nothing but this work ran (one thread: no overlap)."""
    return round(1000 / ms_per_item, 1) if ms_per_item > 0 else None


def figures(out: dict[str, Any], args: argparse.Namespace, sets: dict[str, int]) -> dict[str, Any]:
    """The headline figures at the top of one database's results, and the checks."""
    flat: dict[str, Any] = {}
    problems: list[str] = []
    svc, dup, raw, http, due = (
        out.get(k) for k in ("service", "duplicates", "raw", "http", "due_poll")
    )
    if svc:
        n = sets["service"]
        flat.update(
            service_events_per_s=svc["events_per_s"],
            service_batch_p50_ms=svc["batch_p50_ms"],
            service_batch_p99_ms=svc["batch_p99_ms"],
            service_cpu_ms_per_event=svc["cpu_ms_per_event"],
            service_db_cpu_ms_per_event=svc["db_cpu_ms_per_event"],
            service_statements_per_batch=svc["statements_per_batch"],
            service_order_transitions=svc["orders_moved"],
            service_parcels_changed=svc["parcels_changed"],
            service_messages_planned=svc["messages_planned"],
            service_events=svc["events"],
            # One thread waits for the database: Python and database CPU add up.
            service_cpu_bound_events_per_s=cpu_bound(
                svc["cpu_ms_per_event"] + svc["db_cpu_ms_per_event"]
            ),
        )
        if svc["inserted"] != svc["events"] or svc["duplicates"] or svc["unknown"]:
            problems.append(f"service: inserted {svc['inserted']} of {svc['events']}")
        for key in ("orders_moved", "parcels_changed"):
            if svc[key] != svc[f"expected_{key}"]:
                problems.append(f"service: {key} {svc[key]}, {svc[f'expected_{key}']} expected")
        if svc["check"]["orders_by_status"] != {"delivered": n}:
            problems.append(f"service: orders {svc['check']['orders_by_status']}")
    brk = out.get("breakdown")
    if brk and (
        brk["inserted"] != brk["events"]
        or brk["orders_moved"] != brk["expected_orders_moved"]
        or brk["parcels_changed"] != brk["expected_parcels_changed"]
    ):
        problems.append(f"breakdown: inserted {brk['inserted']}, moved {brk['orders_moved']}")
    if dup:
        flat.update(
            duplicates_events_per_s=dup["events_per_s"],
            duplicates_batch_p50_ms=dup["batch_p50_ms"],
            duplicates_batch_p99_ms=dup["batch_p99_ms"],
        )
        if dup["inserted"] or dup["duplicates"] != dup["events"] or dup["orders_moved"]:
            problems.append(f"duplicates: inserted {dup['inserted']}, moved {dup['orders_moved']}")
    if raw:
        flat.update(
            raw_rows_per_s=raw["rows_per_s"],
            raw_batch_p50_ms=raw["batch_p50_ms"],
            raw_cpu_bound_rows_per_s=cpu_bound(raw["cpu_ms_per_row"] + raw["db_cpu_ms_per_row"]),
        )
        if raw["stored"] != raw["rows"]:
            problems.append(f"raw: stored {raw['stored']} of {raw['rows']}")
        if svc and raw["rows_per_s"]:
            flat["service_vs_raw_ratio"] = round(svc["events_per_s"] / raw["rows_per_s"], 4)
        if dup and raw["rows_per_s"]:
            flat["duplicates_vs_raw_ratio"] = round(dup["events_per_s"] / raw["rows_per_s"], 4)
    if http:
        flat.update(
            http_events_per_s=http["events_per_s"],
            http_request_p50_ms=http["request_p50_ms"],
            http_request_p99_ms=http["request_p99_ms"],
            http_server_cpu_ms_per_event=http["server_cpu_ms_per_event"],
            http_db_cpu_ms_per_event=http["db_cpu_ms_per_event"],
            http_order_transitions=http["orders_moved"],
            http_cpu_bound_events_per_s=http["cpu_bound_events_per_s"],
            server_peak_rss_mb=http["server_peak_rss_mb"],
        )
        if raw and raw["rows_per_s"]:
            flat["http_vs_raw_ratio"] = round(http["events_per_s"] / raw["rows_per_s"], 4)
        if not http["valid"]:
            problems.append(f"http: errors {http['errors']}, {http['database']}")
    if due:
        flat.update(
            due_poll_legs=due["legs"],
            due_poll_plan_uses_leg_due_poll=due["plan_uses_leg_due_poll"],
            claim_p50_ms=due["claim_p50_ms"],
            claim_p99_ms=due["claim_p99_ms"],
        )
        if not due["plan_uses_leg_due_poll"]:
            problems.append("due poll: the plan does not use leg_due_poll")
        if due["due"] >= due["runs"] * due["limit"] and due["claimed_per_run_min"] < due["limit"]:
            problems.append(f"due poll: a claim took {due['claimed_per_run_min']} legs")
    flat["django_side_peak_rss_mb"] = out["django_side_memory"]["peak_rss_mb"]
    flat["other_cpu_share"] = max(
        (p.get("other_cpu_share", 0.0) for p in (svc, dup, http) if p), default=0.0
    )
    flat["disturbed"] = flat["other_cpu_share"] > 0.1
    flat["problems"] = problems
    flat["valid"] = not problems
    return {**flat, "details": out}


# --- output -------------------------------------------------------------------------------


def fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, spec)


def print_table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    log(
        f"\nIngestion benchmark ({args.mode}), {cores()} cores shared by everything; batches "
        f"of {args.batch_size} events; HTTP: granian WSGI {args.workers} workers, "
        f"{args.concurrency} connections from {args.client_procs} client processes."
    )
    rows = [
        ("service events/s (1 thread)", ("service_events_per_s",), ",.0f"),
        ("  batch p50 / p99 ms", ("service_batch_p50_ms", "service_batch_p99_ms"), ".1f"),
        ("  CPU ms/event Python / db", ("service_cpu_ms_per_event", "service_db_cpu_ms_per_event"), ".3f"),
        ("  statements per batch", ("service_statements_per_batch",), ".1f"),
        ("  order transitions", ("service_order_transitions",), ",d"),
        ("  messages planned", ("service_messages_planned",), ",d"),
        ("  CPU-bound events/s (no other load)", ("service_cpu_bound_events_per_s",), ",.0f"),
        ("duplicates-only events/s", ("duplicates_events_per_s",), ",.0f"),
        ("HTTP events/s", ("http_events_per_s",), ",.0f"),
        ("  request p50 / p99 ms", ("http_request_p50_ms", "http_request_p99_ms"), ".1f"),
        ("  CPU ms/event server / db", ("http_server_cpu_ms_per_event", "http_db_cpu_ms_per_event"), ".3f"),
        ("  CPU-bound events/s (2 cores)", ("http_cpu_bound_events_per_s",), ",.0f"),
        ("raw executemany rows/s", ("raw_rows_per_s",), ",.0f"),
        ("  CPU-bound rows/s (no other load)", ("raw_cpu_bound_rows_per_s",), ",.0f"),
        ("service / raw", ("service_vs_raw_ratio",), ".3f"),
        ("duplicates / raw", ("duplicates_vs_raw_ratio",), ".3f"),
        ("HTTP / raw", ("http_vs_raw_ratio",), ".3f"),
        ("due poll: legs", ("due_poll_legs",), ",d"),
        ("  plan uses leg_due_poll", ("due_poll_plan_uses_leg_due_poll",), ""),
        ("  claim(100) p50 / p99 ms", ("claim_p50_ms", "claim_p99_ms"), ".2f"),
        ("peak RSS MB Django side / server", ("django_side_peak_rss_mb", "server_peak_rss_mb"), ".0f"),
        ("other load (share of cores)", ("other_cpu_share",), ".2f"),
        ("valid", ("valid",), ""),
    ]  # fmt: skip
    kinds = list(results)
    log(f"{'':<34}" + "".join(f"{k:>22}" for k in kinds))
    for label, keys, spec in rows:
        cells = [" / ".join(fmt(results[k].get(key), spec) for key in keys) for k in kinds]
        log(f"{label:<34}" + "".join(f"{c:>22}" for c in cells))
    for kind, r in results.items():
        for problem in r["problems"]:
            log(f"{kind}: INVALID: {problem}")


def targets_met(r: dict[str, Any]) -> dict[str, bool | None]:
    def at_least(key: str) -> bool | None:
        return None if r.get(key) is None else bool(r[key] >= TARGETS[key])

    return {
        "service_events_per_s": at_least("service_events_per_s"),
        "http_events_per_s": at_least("http_events_per_s"),
        "due_poll_uses_leg_due_poll": r.get("due_poll_plan_uses_leg_due_poll"),
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    run = "I" + secrets.token_hex(3).upper()
    started = time.perf_counter()
    speed = python_speed_ms()
    load = load_average()

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    log(f"run {run}, load average {load:.2f}, Python loop {speed} ms, {cores()} cores")
    with tempfile.TemporaryDirectory(prefix="suivi-bench-ingest-logs-") as logs:
        results = {kind: run_database(kind, args, run, Path(logs)) for kind in kinds}
    print_table(results, args)
    met = {kind: targets_met(r) for kind, r in results.items()}

    def verdict(value: bool | None) -> str:
        return "not measured" if value is None else "met" if value else "missed"

    for kind, m in met.items():
        r = results[kind]
        log(
            f"targets on {kind}: service {fmt(r.get('service_events_per_s'), ',.0f')} events/s "
            f"vs {TARGETS['service_events_per_s']:,} ({verdict(m['service_events_per_s'])}), "
            f"HTTP {fmt(r.get('http_events_per_s'), ',.0f')} events/s vs "
            f"{TARGETS['http_events_per_s']:,} ({verdict(m['http_events_per_s'])}), "
            f"due-poll plan on leg_due_poll ({verdict(m['due_poll_uses_leg_due_poll'])})"
        )
    peak_driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {
        "benchmark": "ingest",
        "mode": args.mode,
        "batch_size": args.batch_size,
        "results": results,
        "targets": {**TARGETS, "due_poll_uses_leg_due_poll": True},
        "targets_met": met,
        "valid": all(r["valid"] for r in results.values()),
        "cores": cores(),
        "machine": {
            "python_loop_ms": speed,
            "load_average_at_start": load,
            "load_average_at_end": load_average(),
        },
        "driver_peak_rss_mb": round(peak_driver, 1),
        "http": {
            "connections": args.concurrency,
            "client_processes": args.client_procs,
            "granian_workers": args.workers,
            "extra": args.granian_arg,
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    if any(r["disturbed"] for r in results.values()):
        log(
            "warning: other processes used over 10% of the cores during a phase (see "
            "other_cpu_share): the rates are understated."
        )
    log(f"driver peak RSS {peak_driver:.0f} MB; total {summary['seconds']}s")
    print(json.dumps(summary, separators=(",", ":")), flush=True)
    return 0 if summary["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
