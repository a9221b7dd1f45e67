#!/usr/bin/env python3
"""Back-office orders pages benchmark: latency, serial requests/s and SQL per request of
the merchant's orders list (default, next pages, each filter, sorts, searches) and of the
order page, next to a minimal Django view doing one indexed query, in the same process
and the same run, on 100,000 orders.

1. **Data** (not measured): the tracking page benchmark's data, written by its own child
   (``tracking_page_support.py setup``: a fresh database, the two demo shops and their
   orders through the demo's bulk path, parcels with La Poste scans for about 40 % of the
   orders, ``VACUUM (ANALYZE)``). Then ``backoffice_support.py prepare``: a LOGISTICS
   member of the benchmarked shop (``--shop``, default Maison Lumière, 60 % of the orders;
   no second factor needed, unlike owners) and, the data having none, 2 % of the moving
   parcels marked stalled.
2. **In process** (``backoffice_support.py measure``), production settings (``SUIVI_DEBUG``
   off, persistent connections), Django's test client signed in with ``force_login``,
   one request at a time: each scenario's SQL statements on a few requests
   (``CaptureQueriesContext``, not timed), then ``--rounds`` rounds in which every scenario
   runs its share of ``--requests``, the order rotating from round to round so that drift
   in the machine's load falls on all alike. Searches and order pages take a random
   existing value (reference, email, last name, tracking number, order) each request.
   The baseline is ``tracking_page_urls``' minimal view (one primary-key query, the same
   middleware), requested by the same signed-in client.
3. Any scenario slower than 50 ms at p50, with more than 25 statements, or repeating one
   statement 5 times or more (an N+1) gets its slowest statement explained
   (``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL); ``--explain`` asks for others.

Reported per scenario: requests, p50/p95/p99 ms, serial requests/s, CPU ms per request of
the process, SQL statements per request, the most repeated statement, response bytes, the
ratio of its requests/s to the baseline's; the measuring process's peak RSS. A table, then
one JSON object on the last line. Exit status 0 when every response was a 200, 1
otherwise, 2 if the run itself broke.

    python bench/backoffice.py --quick              # PostgreSQL, 100,000 orders, ~3 min
    python bench/backoffice.py --smoke --db sqlite  # a few hundred orders, < 60 s
    python bench/backoffice.py --quick --keep       # keep the database, then:
    python bench/backoffice.py --quick --reuse      # measure again without the setup
"""

from __future__ import annotations

import argparse
import json
import resource
import secrets
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _harness import (  # noqa: E402
    PYTHON,
    JsonChild,
    cores,
    load_average,
    machine_busy_seconds,
    postgres_backend_pids,
    proc_cpu_seconds,
    python_speed_ms,
)
from tracking_page import database  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/suivi_bench_backoffice"
DEFAULT_SHOP = "maison-lumiere"
# orders, requests per scenario, rounds
SIZES = {"full": (100_000, 1_000, 4), "quick": (100_000, 200, 2), "smoke": (300, 20, 2)}
SLOW_P50_MS = 50.0
MAX_QUERIES = 25
MAX_REPEATS = 5  # the same statement shape this often in one request: an N+1
BASELINE = "minimal"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    p.add_argument("--database-url", default=DEFAULT_URL, help="created and dropped by the run")
    p.add_argument("--quick", action="store_true", help="100,000 orders, 200 requests each")
    p.add_argument("--smoke", "--tiny", action="store_true", help="a few hundred orders, < 60 s")
    p.add_argument("--orders", type=int, help="orders in the database (all shops)")
    p.add_argument("--requests", type=int, help="measured requests per scenario")
    p.add_argument("--rounds", type=int, help="rounds over every scenario")
    p.add_argument("--capture", type=int, default=5, help="requests per scenario, SQL captured")
    p.add_argument("--shop", default=DEFAULT_SHOP, help="the shop whose back office is measured")
    p.add_argument("--scenarios", default="", help="comma-separated subset (baseline always)")
    p.add_argument("--explain", default="", help="scenarios to explain as well, or 'all'")
    p.add_argument("--seed", type=int, default=20261124)
    p.add_argument("--keep", action="store_true", help="leave the PostgreSQL database behind")
    p.add_argument("--reuse", action="store_true", help="use the database a --keep run left")
    args = p.parse_args(argv)
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    orders, requests, rounds = SIZES[args.mode]
    args.orders = args.orders or orders
    args.requests = args.requests or requests
    args.rounds = max(1, min(args.rounds or rounds, args.requests))
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    args.explain = [s.strip() for s in args.explain.split(",") if s.strip()]
    if args.reuse and args.db != "postgres":
        p.error("--reuse needs --db postgres")
    return args


def log(text: str = "") -> None:
    print(text, flush=True)


# --- figures ------------------------------------------------------------------------------


def slow_reasons(s: dict[str, Any]) -> list[str]:
    reasons = []
    if s["p50_ms"] > SLOW_P50_MS:
        reasons.append(f"p50 {s['p50_ms']:.1f} ms > {SLOW_P50_MS:g}")
    if s.get("queries_max", 0) > MAX_QUERIES:
        reasons.append(f"{s['queries_max']} statements > {MAX_QUERIES}")
    if s.get("same_statement_max", 0) >= MAX_REPEATS:
        reasons.append(f"one statement {s['same_statement_max']} times (N+1)")
    return reasons


def figures(measured: dict[str, Any]) -> dict[str, Any]:
    scenarios = measured["scenarios"]
    base = scenarios.get(BASELINE, {}).get("rps") or 0.0
    base_p50 = scenarios.get(BASELINE, {}).get("p50_ms") or 0.0
    problems: list[str] = []
    for name, s in scenarios.items():
        s["vs_baseline_rps"] = round(s["rps"] / base, 3) if base and s["rps"] else None
        s["vs_baseline_p50"] = round(s["p50_ms"] / base_p50, 1) if base_p50 else None
        s["slow"] = slow_reasons(s) if name != BASELINE else []
        if s["no_data"]:
            problems.append(f"{name}: no data to request")
        bad = {k: v for k, v in s["statuses"].items() if k != "200"}
        if bad:
            problems.append(f"{name}: {sum(bad.values())} non-200 answers: {bad}")
    return {"scenarios": scenarios, "problems": problems}


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_results(args: argparse.Namespace, shop: dict[str, Any], r: dict[str, Any]) -> None:
    log(
        f"\nBack-office orders pages ({args.mode}, {shop['vendor']}): shop {shop['shop']} with "
        f"{shop['orders']:,} of {shop['orders_all_shops']:,} orders, {shop['customers']:,} "
        f"customers, {shop['parcels']:,} parcels ({shop['stalled_parcels']:,} stalled); "
        f"in process, serial, {args.rounds} rounds, {cores()} cores shared."
    )
    log(
        f"{'scenario':<32}{'req':>5}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'req/s':>8}"
        f"{'CPU ms':>8}{'wait':>6}{'SQL':>7}{'rep':>4}{'bytes':>8}{'x base':>8}"
    )
    for s in r["scenarios"].values():
        if s["no_data"]:
            log(f"{s['label']:<32}  (no data)")
            continue
        sql = (
            f"{s.get('queries_max', 0)}"
            if s.get("queries_min") == s.get("queries_max")
            else f"{s.get('queries_min')}-{s.get('queries_max')}"
        )
        log(
            f"{s['label']:<32}{s['requests']:>5}{s['p50_ms']:>8.2f}{s['p95_ms']:>8.2f}"
            f"{s['p99_ms']:>8.2f}{s['rps']:>8.1f}{s['cpu_ms_per_req']:>8.2f}"
            f"{s['wait_ms_per_req']:>6.1f}{sql:>7}"
            f"{s.get('same_statement_max', 0):>4}{s['bytes_avg']:>8,}"
            f"{fmt(s['vs_baseline_rps'], '.3f'):>8}" + ("   SLOW" if s["slow"] else "")
        )
    log(
        "(req/s serial, one request at a time; CPU ms: this process's per request; wait: "
        "mean ms per request not on this process's CPU (the database, other processes); SQL: "
        "statements per request; rep: the most repeated statement; x base: req/s / the "
        "baseline's)"
    )
    c = r["cpu"]
    log(
        f"measure {c['measure_wall_s']}s: this process {c['process_cpu_s']}s CPU, "
        + (f"PostgreSQL {c['db_cpu_s']}s, " if args.db == "postgres" else "")
        + f"other processes {c['other_cpu_s']}s "
        f"(other_cpu_share {c['other_cpu_share']})"
    )
    if c["other_cpu_share"] > 0.1:
        log("warning: other processes took over 10% of the cores: latencies are overstated.")
    for name, s in r["scenarios"].items():
        if s["slow"]:
            log(f"SLOW {name}: {'; '.join(s['slow'])}")
    for name, e in r.get("explain", {}).items():
        log(f"\nEXPLAIN, {name} ({e['statements']} statements; slowest {e['statement_ms']} ms)")
        log(f"  GET {e['path']}")
        log(f"  {e['sql'][:1500]}")
        for line in e["plan"].splitlines():
            log(f"    {line}")
    log(
        f"\nmeasuring process: peak RSS {r['child_peak_rss_mb']:.0f} MB "
        f"(now {r['child_rss_mb']:.0f} MB)"
    )
    for problem in r["problems"]:
        log(f"INVALID: {problem}")


# --- main ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, logs: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    with database(args) as (env, fresh):
        setup_child = JsonChild(
            [PYTHON, str(BENCH_DIR / "tracking_page_support.py")],
            env,
            logs / "setup.log",
            name="data setup (tracking_page_support.py)",
            echo=log,
        )
        try:
            setup = setup_child.call("setup", orders=args.orders, seed=args.seed, reuse=not fresh)
        finally:
            setup_child.close()
        log(
            f"setup {setup['setup_s']}s (migrate {setup['migrate_s']}s, orders and parcels "
            f"{setup['load_s']}s, vacuum {setup['vacuum_s']}s): {setup['orders']:,} orders, "
            f"{setup['parcels']:,} parcels" + ("" if fresh else " (reused)")
        )
        # A fresh process for the measures: its peak RSS is the pages', not the setup's.
        child = JsonChild(
            [PYTHON, str(BENCH_DIR / "backoffice_support.py")],
            env,
            logs / "backoffice.log",
            name="Django side (backoffice_support.py)",
            echo=log,
        )
        try:
            shop = child.call("prepare", shop=args.shop, seed=args.seed)
            log(
                f"shop {shop['shop']}: {shop['orders']:,} orders, {shop['customers']:,} customers,"
                f" {shop['parcels']:,} parcels, {shop['stalled_parcels']} stalled"
                f" ({shop['stalled_marked_now']} marked now), {shop['orders_with_exception']:,}"
                f" with a problem, {shop['orders_partially_cancelled']:,} partially cancelled"
            )
            wanted = ["minimal", *args.scenarios] if args.scenarios else None
            url = env.get("DATABASE_URL", "")

            def db_cpu() -> dict[int, float]:
                return {p: proc_cpu_seconds(p) for p in (postgres_backend_pids(url) if url else [])}

            busy0, child0, db0, wall0 = (
                machine_busy_seconds(),
                proc_cpu_seconds(child.pid),
                db_cpu(),
                time.perf_counter(),
            )
            measured = child.call(
                "measure",
                shop=args.shop,
                seed=args.seed,
                requests=args.requests,
                rounds=args.rounds,
                capture=args.capture,
                **({"scenarios": wanted} if wanted else {}),
            )
            wall = time.perf_counter() - wall0
            db1 = db_cpu()
            db = sum(db1.get(p, 0.0) - db0.get(p, 0.0) for p in set(db0) | set(db1))
            child_cpu = proc_cpu_seconds(child.pid) - child0
            other = max(0.0, machine_busy_seconds() - busy0 - child_cpu - db)
            result = figures(measured)
            result["cpu"] = {
                "measure_wall_s": round(wall, 1),
                "process_cpu_s": round(child_cpu, 1),
                "db_cpu_s": round(db, 1),
                "other_cpu_s": round(other, 1),
                # CPU taken meanwhile by processes outside the benchmark: above 0.1 the
                # machine was shared and latencies are overstated.
                "other_cpu_share": round(other / (wall * cores()), 3) if wall else 0.0,
            }
            memory = child.memory_mb()  # before EXPLAIN, which is not what a page costs
            explain = [n for n, s in result["scenarios"].items() if s["slow"]]
            if args.explain == ["all"]:
                explain = list(result["scenarios"])
            else:
                explain += [n for n in args.explain if n not in explain]
            result["explain"] = (
                child.call("explain", shop=args.shop, seed=args.seed, scenarios=explain)
                if explain
                else {}
            )
        finally:
            child.close()
    result["child_rss_mb"] = memory["rss_mb"]
    result["child_peak_rss_mb"] = memory["peak_rss_mb"]
    result["measure_s"] = measured["seconds"]
    return {"setup": setup, "shop": shop}, result


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    speed, load = python_speed_ms(), load_average()

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    log(f"run B{secrets.token_hex(3).upper()}, load average {load:.2f}, Python loop {speed} ms")
    summary: dict[str, Any] = {"benchmark": "backoffice", "mode": args.mode, "db": args.db}
    try:
        with tempfile.TemporaryDirectory(prefix="suivi-bench-backoffice-logs-") as logs:
            data, result = run(args, Path(logs))
    except Exception as exc:
        traceback.print_exc()
        summary.update(valid=False, error=f"{type(exc).__name__}: {exc}")
        print(json.dumps(summary, separators=(",", ":")), flush=True)
        return 2
    print_results(args, data["shop"], result)
    keys = (
        *("requests", "p50_ms", "p95_ms", "p99_ms", "rps", "cpu_ms_per_req", "wait_ms_per_req"),
        *("queries_max", "same_statement_max", "bytes_avg", "vs_baseline_rps"),
        "slowest_statement_ms",
    )
    summary.update(
        valid=not result["problems"],
        problems=result["problems"],
        shop=data["shop"],
        orders=data["setup"]["orders"],
        scenarios={
            name: {k: s.get(k) for k in keys} | {"statuses": s["statuses"], "slow": s["slow"]}
            for name, s in result["scenarios"].items()
        },
        slow={name: s["slow"] for name, s in result["scenarios"].items() if s["slow"]},
        explained={n: {"sql": e["sql"], "plan": e["plan"]} for n, e in result["explain"].items()},
        requests_per_scenario=args.requests,
        rounds=args.rounds,
        peak_rss_mb=result["child_peak_rss_mb"],
        cpu=result["cpu"],
        other_cpu_share=result["cpu"]["other_cpu_share"],
        disturbed=result["cpu"]["other_cpu_share"] > 0.1,
        driver_peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        cores=cores(),
        machine={
            "python_loop_ms": speed,
            "load_average_at_start": load,
            "load_average_at_end": load_average(),
        },
        setup_s=data["setup"]["setup_s"],
        measure_s=result["measure_s"],
        seconds=round(time.perf_counter() - started, 1),
    )
    log(f"total {summary['seconds']}s")
    print(json.dumps(summary, separators=(",", ":"), default=str), flush=True)
    return 0 if summary["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
