#!/usr/bin/env python3
"""Public tracking page benchmark: requests/s and latency of ``GET /t/<token>`` (the page)
and ``GET /t/<token>.json`` (its JSON), next to a minimal Django view doing one indexed
query (``GET /bench/minimal/<id>``) and the health check, served by the same server in the
same run, on 100,000 orders.

1. **Data** (not measured): a fresh database (PostgreSQL by default), ``migrate``, the two
   demo shops and their orders written by the demo's bulk path (every status, lines,
   invoices, order events; one process per shop), then parcels for every order the carrier
   has (about 40 %: shipped, in transit, out for delivery, at a relay point, delivered),
   1-2 per order, each with its leg, lines and 3-8 La Poste scans (COPY), and
   ``VACUUM (ANALYZE)``. See ``tracking_page_support.py``.
2. **SQL per request**: each endpoint in process through Django's test client on a few
   orders without parcel, with one and with two parcels: status, statements
   (``CaptureQueriesContext``), bytes, milliseconds.
3. **HTTP**: granian WSGI as ``suivi run`` starts it (``--workers`` 2, ``--blocking-threads``
   2 x cores + 1, production settings) with ``tracking_page_settings`` (Suivi's URLs plus
   the minimal view). ``--concurrency`` keep-alive connections from ``--client-procs``
   processes (the lean client of ``_harness``; its own CPU is reported). A warm-up per
   endpoint, then ``--rounds`` rounds; in each round every endpoint is loaded for
   ``--seconds``, the order rotating from round to round so that drift in the machine's
   load falls on all of them alike. Every request is for a random order of the whole set
   (a fresh token or id each time). Any non-2xx answer is an error, counted per endpoint.

Reported per endpoint: requests/s (2xx only), p50/p95/p99, errors by status, CPU per
request of the server, PostgreSQL and the client; the ratios page / minimal and
JSON / minimal (target: at least 0.6); the server's RSS. The last line is one JSON object.
Exit status 0 when no request failed, 1 otherwise, 2 if the run itself broke.

    python bench/tracking_page.py --quick              # PostgreSQL, 100,000 orders, ~4 min
    python bench/tracking_page.py                      # longer rounds
    python bench/tracking_page.py --smoke --db sqlite  # a few hundred orders, < 60 s
    python bench/tracking_page.py --quick --keep       # keep the database, then:
    python bench/tracking_page.py --quick --reuse      # measure again without the setup
    python bench/tracking_page.py --quick --reuse --profile page   # + cProfile in process
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import secrets
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _harness import (  # noqa: E402
    BENCH_DB_PREFIX,
    PYTHON,
    JsonChild,
    PhaseResult,
    Server,
    _admin_dsn,
    base_env,
    cores,
    get_request,
    load_average,
    percentile,
    postgres_backend_pids,
    python_speed_ms,
    run_phase,
)

ENDPOINTS = ("minimal", "page", "json", "healthz")
LABELS = {
    "minimal": "minimal view (1 query)",
    "page": "tracking page",
    "json": "tracking JSON",
    "healthz": "/healthz (no query)",
}
TARGET_RATIO = 0.6  # of the minimal view's requests/s, for the page and for its JSON
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/suivi_bench_tracking"
SETTINGS = "tracking_page_settings"
MAX_RPS = 8_000  # requests prepared per second of a phase and per connection set
# orders, rounds, seconds per endpoint and round, warm-up seconds per endpoint
SIZES = {
    "full": (100_000, 5, 12.0, 3.0),
    "quick": (100_000, 3, 5.0, 2.0),
    "smoke": (300, 2, 1.0, 0.5),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    p.add_argument("--database-url", default=DEFAULT_URL, help="created and dropped by the run")
    p.add_argument("--quick", action="store_true", help="100,000 orders, short rounds")
    p.add_argument("--smoke", "--tiny", action="store_true", help="a few hundred orders, < 60 s")
    p.add_argument("--orders", type=int, help="orders in the database")
    p.add_argument("--rounds", type=int, help="rounds over every endpoint")
    p.add_argument("--seconds", type=float, help="seconds per endpoint and round")
    p.add_argument("--warm", type=float, help="warm-up seconds per endpoint")
    p.add_argument("--endpoints", default=",".join(ENDPOINTS), help="which to load")
    p.add_argument(
        "--sample",
        type=int,
        default=0,
        help="orders requested, drawn at random across all (default 5,000; 300 with --smoke)",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="do not render the sampled orders' public pages first (every first view builds)",
    )
    p.add_argument("--concurrency", type=int, default=4, help="HTTP connections in all")
    p.add_argument("--client-procs", type=int, default=2, help="HTTP client processes")
    p.add_argument("--workers", type=int, default=2, help="granian workers")
    p.add_argument("--blocking-threads", type=int, help="per worker (default as suivi run)")
    p.add_argument("--granian-arg", action="append", default=[], help="extra granian option")
    p.add_argument("--seed", type=int, default=20261120)
    p.add_argument("--keep", action="store_true", help="leave the PostgreSQL database behind")
    p.add_argument("--reuse", action="store_true", help="use the database a --keep run left")
    p.add_argument("--profile", default="", help="page or json: cProfile it in process too")
    args = p.parse_args(argv)
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    orders, rounds, seconds, warm = SIZES[args.mode]
    args.orders = args.orders or orders
    args.rounds = args.rounds or rounds
    args.seconds = args.seconds or seconds
    args.warm = args.warm if args.warm is not None else warm
    args.sample = args.sample or (300 if args.mode == "smoke" else 5_000)
    args.endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    unknown = set(args.endpoints) - set(ENDPOINTS)
    if unknown or not args.endpoints:
        p.error(f"--endpoints: choose among {', '.join(ENDPOINTS)}")
    # As `suivi run` starts granian (suivi.cli._threads_per_worker).
    args.blocking_threads = args.blocking_threads or min(16, 2 * cores() + 1)
    if args.profile and args.profile not in ENDPOINTS:
        p.error(f"--profile: one of {', '.join(ENDPOINTS)}")
    if args.reuse and args.db != "postgres":
        p.error("--reuse needs --db postgres")
    return args


def log(text: str = "") -> None:
    print(text, flush=True)


# --- the database -------------------------------------------------------------------------


@contextlib.contextmanager
def database(args: argparse.Namespace) -> Iterator[tuple[dict[str, str], bool]]:
    """Yield (environment, whether the database is new). On PostgreSQL the database is
    created (a leftover benchmark one replaced, any other refused) and dropped afterwards,
    unless --keep; with --reuse an existing benchmark database is used as it is."""
    data_dir = tempfile.mkdtemp(prefix="suivi-bench-tracking-")
    try:
        if args.db == "sqlite":
            env = base_env("sqlite", data_dir)
            env["DJANGO_SETTINGS_MODULE"] = SETTINGS
            yield env, True
            return
        import psycopg

        url = args.database_url
        dsn, name = _admin_dsn(url)
        env = base_env("postgres", data_dir, url)
        env["DJANGO_SETTINGS_MODULE"] = SETTINGS
        with psycopg.connect(dsn, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if found and not name.startswith(BENCH_DB_PREFIX):
                raise RuntimeError(f"database {name!r} exists and is not a benchmark database")
            if args.reuse and found:
                yield env, False
                return
            if found:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield env, True
        finally:
            if args.keep:
                log(f"kept database {name} (--reuse measures it again)")
            else:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# --- load ---------------------------------------------------------------------------------


def requests_for(
    paths: list[str], port: int, connections: int, count: int, rng: random.Random
) -> list[Sequence[bytes]]:
    """*count* keep-alive GETs per connection, each for a random order of *paths*."""
    encoded = [get_request(path, port) for path in paths]
    return [rng.choices(encoded, k=count) for _ in range(connections)]


class Totals:
    """One endpoint's phases added up."""

    def __init__(self) -> None:
        self.phases: list[PhaseResult] = []
        self.failures: list[str] = []  # phases that broke (client processes, ...)

    def add(self, phase: PhaseResult) -> None:
        self.phases.append(phase)

    def summary(self) -> dict[str, Any]:
        requests = sum(p.requests for p in self.phases)
        ok = sum(p.ok for p in self.phases)
        seconds = sum(p.seconds for p in self.phases)
        latencies = sorted(x for p in self.phases for x in p.latencies_ms)
        statuses: Counter[str] = Counter()
        for p in self.phases:
            statuses.update(p.statuses)
        errors = {s: n for s, n in statuses.items() if not s.startswith("2")}
        if self.failures:
            errors["phase_failed"] = len(self.failures)
        n = max(requests, 1)
        server, db, client, busy = (
            sum(getattr(p, key) for p in self.phases)
            for key in ("server_cpu_s", "db_cpu_s", "client_cpu_s", "machine_busy_s")
        )
        spent = server + db + client
        other = max(0.0, busy - spent)
        capacity = seconds * cores()
        return {
            "requests": requests,
            "ok": ok,
            "seconds": round(seconds, 2),
            "rps": round(ok / seconds, 1) if seconds else 0.0,
            "rounds_rps": [round(p.ok / p.seconds, 1) if p.seconds else 0.0 for p in self.phases],
            "p50_ms": round(percentile(latencies, 50), 2),
            "p95_ms": round(percentile(latencies, 95), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(latencies[-1], 2) if latencies else 0.0,
            "errors": errors,
            "error_samples": [s for p in self.phases for s in p.error_samples][:5]
            + self.failures[:3],
            "server_cpu_ms_per_req": round(server * 1000 / n, 3),
            "db_cpu_ms_per_req": round(db * 1000 / n, 3),
            "client_cpu_ms_per_req": round(client * 1000 / n, 3),
            # The rate if the cores did nothing else than this work (server, db, client).
            "cpu_bound_rps": round(cores() * n / spent, 1) if spent else 0.0,
            "other_cpu_share": round(other / capacity, 3) if capacity else 0.0,
            "ran_out": any(
                all(sent >= len_ for sent, len_ in zip(p.sent, p.extra["planned"], strict=True))
                for p in self.phases
            ),
        }


def http_run(
    args: argparse.Namespace, env: dict[str, str], targets: dict[str, list[str]]
) -> tuple[dict[str, Totals], dict[str, float]]:
    """Start the server, warm every endpoint up, then the measured rounds."""
    extra = ["--blocking-threads", str(args.blocking_threads), *args.granian_arg]
    server = Server(env, workers=args.workers, extra=extra)
    server.start(timeout=60)
    url = env.get("DATABASE_URL", "")

    def db_pids() -> list[int]:
        return postgres_backend_pids(url) if url else []

    rng = random.Random(args.seed)
    totals = {name: Totals() for name in args.endpoints}
    per_conn = max(50, int(MAX_RPS * args.seconds / args.concurrency))

    def phase(name: str, label: str, seconds: float, count: int) -> PhaseResult:
        reqs = requests_for(targets[name], server.port, args.concurrency, count, rng)
        result = run_phase(
            label,
            server.port,
            reqs,
            processes=args.client_procs,
            server=server,
            db_pids=db_pids if url else None,
            max_seconds=seconds,
        )
        result.extra["planned"] = [len(r) for r in reqs]
        return result

    try:
        for name in args.endpoints:
            try:
                warm = phase(name, f"warm-up {name}", args.warm, max(20, per_conn // 3))
                if warm.errors:
                    log(f"  warm-up {name}: errors {warm.errors} {warm.error_samples[:1]}")
            except Exception as exc:  # reported by the measured phases as well
                log(f"  warm-up {name} failed: {type(exc).__name__}: {exc}")
        for r in range(args.rounds):
            order = (
                args.endpoints[r % len(args.endpoints) :]
                + args.endpoints[: r % len(args.endpoints)]
            )
            cells = []
            for name in order:
                try:
                    result = phase(name, name, args.seconds, per_conn)
                except Exception as exc:
                    totals[name].failures.append(f"round {r + 1}: {type(exc).__name__}: {exc}")
                    cells.append(f"{name} FAILED")
                    continue
                totals[name].add(result)
                errors = f" ({sum(result.errors.values())} errors)" if result.errors else ""
                rate = result.ok / result.seconds if result.seconds else 0.0
                cells.append(f"{name} {rate:,.0f}/s{errors}")
            log(f"  round {r + 1}/{args.rounds}: " + ", ".join(cells))
        memory = server.rss_mb()
    finally:
        server.stop()
    return totals, memory


# --- figures ------------------------------------------------------------------------------


def figures(
    args: argparse.Namespace,
    setup: dict[str, Any],
    queries: dict[str, Any],
    endpoints: dict[str, dict[str, Any]],
    memory: dict[str, float],
) -> dict[str, Any]:
    flat: dict[str, Any] = {
        "orders": setup.get("orders"),
        "orders_with_parcels": setup.get("orders_with_parcels"),
        "parcels": setup.get("parcels"),
        "tracking_events": setup.get("tracking_events"),
        "setup_s": setup.get("setup_s"),
        "pages_prebuilt": setup.get("pages_prebuilt"),
        "page_build_ms_p50": setup.get("page_build_ms_p50"),
    }
    for name in ENDPOINTS:
        e = endpoints.get(name)
        for key in ("rps", "p50_ms", "p95_ms", "p99_ms", "errors", "requests"):
            flat[f"{name}_{key}"] = e[key] if e else None
        flat[f"{name}_queries"] = queries.get(name, {}).get("queries_max")
    base = flat["minimal_rps"]
    for name in ("page", "json"):
        rate = flat[f"{name}_rps"]
        flat[f"{name}_vs_minimal_ratio"] = (
            round(rate / base, 3) if base and rate is not None else None
        )
    flat["server_rss_mb"] = round(memory.get("rss_mb", 0.0), 1)
    flat["server_peak_rss_mb"] = round(memory.get("peak_rss_mb", 0.0), 1)
    flat["server_worker_rss_mb"] = round(memory.get("worker_rss_mb", 0.0), 1)
    flat["other_cpu_share"] = max((e["other_cpu_share"] for e in endpoints.values()), default=0.0)
    flat["disturbed"] = flat["other_cpu_share"] > 0.1
    problems = [f"{name}: errors {e['errors']}" for name, e in endpoints.items() if e["errors"]]
    problems += [f"{name}: no request answered" for name, e in endpoints.items() if not e["ok"]]
    problems += [f"{name}: ran out of prepared requests" for name, e in endpoints.items() if e["ran_out"]]  # fmt: skip
    flat["problems"] = problems
    flat["valid"] = not problems
    return {**flat, "details": {"endpoints": endpoints, "queries": queries, "setup": setup}}


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_results(args: argparse.Namespace, r: dict[str, Any]) -> None:
    endpoints = r["details"]["endpoints"]
    log(
        f"\nTracking page benchmark ({args.mode}, {args.db}), {r['orders']:,} orders "
        f"({r['orders_with_parcels']:,} with parcels, {r['tracking_events']:,} scans); "
        f"granian WSGI {args.workers} workers x {args.blocking_threads} threads, "
        f"{args.concurrency} connections from {args.client_procs} client processes, "
        f"{args.rounds} rounds x {args.seconds:g} s per endpoint, {cores()} cores shared."
    )
    log(
        f"{'':<24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'SQL':>5}"
        f"{'CPU ms/req server':>19}{'db':>7}{'client':>8}   rounds req/s"
    )
    for name in ENDPOINTS:
        e = endpoints.get(name)
        if not e:
            continue
        log(
            f"{LABELS[name]:<24}{e['rps']:>9,.0f}{e['p50_ms']:>9.2f}{e['p99_ms']:>9.2f}"
            f"{sum(e['errors'].values()):>8}{fmt(r[f'{name}_queries'], 'd'):>5}"
            f"{e['server_cpu_ms_per_req']:>19.3f}{e['db_cpu_ms_per_req']:>7.3f}"
            f"{e['client_cpu_ms_per_req']:>8.3f}   {' '.join(f'{x:,.0f}' for x in e['rounds_rps'])}"
        )
    for name in ("page", "json"):
        ratio = r[f"{name}_vs_minimal_ratio"]
        verdict = "not measured" if ratio is None else "met" if ratio >= TARGET_RATIO else "missed"
        log(f"{name} / minimal: {fmt(ratio, '.3f')} (target >= {TARGET_RATIO}: {verdict})")
    log(
        f"server RSS {r['server_rss_mb']:.0f} MB now, {r['server_peak_rss_mb']:.0f} MB peak "
        f"(granian and its workers), largest worker {r['server_worker_rss_mb']:.0f} MB"
    )
    queries = r["details"]["queries"]
    for name in ("page", "json"):
        q = queries.get(name)
        if q:
            kinds = ", ".join(f"{k} {v}" for k, v in q["queries_by_kind"].items())
            log(
                f"SQL per {name} request (in process): max {q['queries_max']} ({kinds}); "
                f"statuses {q['statuses']}, {q['bytes_avg']:,} bytes, "
                f"{q['inprocess_ms_median']:.2f} ms median in process"
            )
    for name, e in endpoints.items():
        for sample in e["error_samples"][:2]:
            log(f"{name}: error sample: {sample[:200]}")
    for problem in r["problems"]:
        log(f"INVALID: {problem}")
    if r["disturbed"]:
        log("warning: other processes took over 10% of the cores: rates are understated.")


# --- main ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    with database(args) as (env, fresh):
        ctl = JsonChild(
            [PYTHON, str(BENCH_DIR / "tracking_page_support.py")],
            env,
            logs / "django-side.log",
            name="Django side",
            echo=log,
        )
        try:
            setup = ctl.call("setup", orders=args.orders, seed=args.seed, reuse=not fresh)
            log(
                f"setup {setup['setup_s']}s (migrate {setup['migrate_s']}s, orders and parcels "
                f"{setup['load_s']}s, vacuum {setup['vacuum_s']}s): {setup['orders']:,} orders, "
                f"{setup['orders_with_parcels']:,} with parcels, {setup['parcels']:,} parcels, "
                f"{setup['tracking_events']:,} scans" + (" (reused)" if not fresh else "")
            )
            queries = ctl.call("queries", per_kind=4, seed=args.seed)
            if args.profile:
                prof = ctl.call("profile", name=args.profile, requests=200, seed=args.seed)
                log(
                    f"{args.profile} in process under cProfile: {prof['ms_per_request']} ms/request"
                )
                for line in prof["text"].splitlines():
                    log(f"    {line}")
            path = logs / "targets.json"
            chosen = ctl.call(
                "targets",
                count=args.sample,
                seed=args.seed,
                path=str(path),
                prebuild=not args.cold,
            )
            if chosen.get("prebuilt"):
                log(
                    f"public pages rendered for {chosen['prebuilt']:,} orders (as the worker does"
                    f" after each change): {chosen['build_ms_p50']} ms p50,"
                    f" {chosen['build_ms_p99']} ms p99 per order (both languages)"
                )
            setup["pages_prebuilt"] = chosen.get("prebuilt", 0)
            setup["page_build_ms_p50"] = chosen.get("build_ms_p50")
            targets = json.loads(path.read_text())
        finally:
            ctl.close()
        totals, memory = http_run(args, env, targets)
    endpoints = {name: t.summary() for name, t in totals.items()}
    return figures(args, setup, queries, endpoints, memory)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    speed, load = python_speed_ms(), load_average()

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    log(f"run T{secrets.token_hex(3).upper()}, load average {load:.2f}, Python loop {speed} ms")
    summary: dict[str, Any] = {"benchmark": "tracking_page", "mode": args.mode, "db": args.db}
    try:
        with tempfile.TemporaryDirectory(prefix="suivi-bench-tracking-logs-") as logs:
            result = run(args, Path(logs))
    except Exception as exc:
        traceback.print_exc()
        summary.update(valid=False, error=f"{type(exc).__name__}: {exc}")
        print(json.dumps(summary, separators=(",", ":")), flush=True)
        return 2
    print_results(args, result)
    summary.update(
        results={args.db: result},
        targets={"page_vs_minimal_ratio": TARGET_RATIO, "json_vs_minimal_ratio": TARGET_RATIO},
        targets_met={
            key: None if result[key] is None else result[key] >= TARGET_RATIO
            for key in ("page_vs_minimal_ratio", "json_vs_minimal_ratio")
        },
        valid=result["valid"],
        cores=cores(),
        machine={
            "python_loop_ms": speed,
            "load_average_at_start": load,
            "load_average_at_end": load_average(),
        },
        http={
            "connections": args.concurrency,
            "client_processes": args.client_procs,
            "granian_workers": args.workers,
            "blocking_threads": args.blocking_threads,
            "extra": args.granian_arg,
            "rounds": args.rounds,
            "seconds_per_round": args.seconds,
        },
        driver_peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        seconds=round(time.perf_counter() - started, 1),
    )
    log(f"total {summary['seconds']}s")
    print(json.dumps(summary, separators=(",", ":")), flush=True)
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
