#!/usr/bin/env python3
"""Orders benchmark: order creations/s and transitions/s through the REST API.

For each database (SQLite, PostgreSQL) the script makes a fresh database, migrates it,
creates two shops with API keys, starts the real server (granian WSGI, 2 workers) and
drives it from client processes over persistent HTTP/1.1 connections on loopback:

1. creations: ``POST /api/v1/orders`` (2-3 lines, a delivery address, a new customer);
2. transitions: ``POST /api/v1/orders/{id}/actions/{action}``, walking orders from
   confirm_payment to mark_delivered, one transition per request; each connection acts
   only on the orders it created, so no two connections touch the same order.

Then, server stopped, in the same run: the raw insert rate of the same rows (bulk_create,
1000 orders per transaction) and the raw transition rate, the service layer called in
process, and the API through Django's test client, with SQL statements per operation.
Client and server share the machine's cores: the figures say how much CPU each used.

    python bench/orders.py                 # both databases, full counts
    python bench/orders.py --quick         # < 60 s (make bench)
    python bench/orders.py --smoke --db sqlite
    python bench/orders.py --db postgres --concurrency 16 --profile /tmp/prof

The last output line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    HOST,
    PhaseResult,
    Server,
    base_env,
    cores,
    load_average,
    post_request,
    postgres_backend_pids,
    postgres_database,
    python_speed_ms,
    run_child,
    run_phase,
)
from _workload import ACTIONS, order_body

TARGETS = {"create_rps": 1000, "transition_rps": 2000}
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/suivi_bench"

# At most: (orders, transitions, service orders, service transitions, in-process API orders,
# in-process API transitions, seconds per HTTP phase, seconds per in-process loop).
SIZES = {
    "full": (10_000, 20_000, 2_000, 7_000, 1_000, 3_500, 60.0, 15.0),
    "quick": (3_000, 6_000, 500, 1_400, 300, 700, 5.0, 1.0),
    "smoke": (40, 84, 20, 42, 10, 21, 30.0, 10.0),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--database-url", default=DEFAULT_URL, help="created and dropped by the run")
    p.add_argument("--quick", action="store_true", help="small counts, < 60 s in all")
    p.add_argument("--smoke", action="store_true", help="tiny counts: checks that it works")
    p.add_argument("--orders", type=int, help="order creations per database")
    p.add_argument("--transitions", type=int, help="transitions per database (whole walks of 7)")
    p.add_argument("--concurrency", type=int, help="HTTP connections in all (default 4)")
    p.add_argument("--duration", type=float, help="seconds per HTTP phase at most")
    p.add_argument("--client-procs", type=int, default=2, help="client processes (default 2)")
    p.add_argument("--client", choices=["raw", "http.client"], default="raw")
    p.add_argument("--workers", type=int, default=2, help="granian workers")
    p.add_argument("--granian-arg", action="append", default=[], help="extra granian option")
    p.add_argument(
        "--api",
        choices=["real", "stub"],
        default="real",
        help="stub: a plain-Django view over the same services (framework cost)",
    )
    p.add_argument(
        "--idempotency-keys",
        action="store_true",
        help="send an Idempotency-Key header on every write, as a careful client does",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=100,
        help="orders per POST /orders/batch in the batch phase (0: no batch phase)",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the in-process baselines")
    p.add_argument("--profile", default="", help="write cProfile output of the baselines here")
    args = p.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    orders, transitions, svc_o, svc_t, api_o, api_t, seconds, loop_seconds = SIZES[mode]
    args.mode = mode
    args.orders = args.orders or orders
    args.transitions = min(args.transitions or transitions, args.orders * len(ACTIONS))
    args.service = (min(svc_o, args.orders), min(svc_t, args.transitions))
    args.in_process = (min(api_o, args.orders), min(api_t, args.transitions))
    # Past 4 connections the server only queues (docs/performance.md, "Results").
    args.concurrency = args.concurrency or (2 if mode == "smoke" else 4)
    args.duration = args.duration or seconds
    args.loop_seconds = loop_seconds
    return args


# --- one database -------------------------------------------------------------------------


@contextlib.contextmanager
def database(kind: str, url: str, data_dir: str) -> Iterator[dict[str, str]]:
    """Yield the environment of a fresh database of *kind*, removed afterwards."""
    if kind == "postgres":
        with postgres_database(url):
            yield base_env("postgres", data_dir, url)
    else:
        yield base_env("sqlite", data_dir)


def creation_requests(
    run: str, port: int, keys: list[str], orders: int, conns: int, idempotency: bool = False
) -> list[list[bytes]]:
    """Spread *orders* creations over *conns* connections; connection c uses shop c % 2."""
    per: list[list[bytes]] = [[] for _ in range(conns)]
    for i in range(orders):
        c = i % conns
        body = json.dumps(order_body(run, i), separators=(",", ":")).encode()
        key = f"{run}-create-{i}" if idempotency else ""
        per[c].append(post_request("/api/v1/orders", port, body, keys[c % 2], key))
    return per


def batch_requests(
    run: str, port: int, keys: list[str], orders: int, conns: int, size: int
) -> list[list[bytes]]:
    """Spread *orders* creations, *size* per ``POST /orders/batch``, over *conns* connections."""
    per: list[list[bytes]] = [[] for _ in range(conns)]
    for number, start in enumerate(range(0, orders, size)):
        c = number % conns
        items = [order_body(f"{run}-B", i) for i in range(start, min(orders, start + size))]
        body = json.dumps({"orders": items}, separators=(",", ":")).encode()
        per[c].append(post_request("/api/v1/orders/batch", port, body, keys[c % 2], ""))
    return per


def batch_created(phase: PhaseResult) -> int:
    """Count the orders the batch answers say were created."""
    return sum(int(json.loads(body)["created"]) for bodies in phase.bodies for body in bodies)


def batch_action_requests(
    port: int, keys: list[str], phase: PhaseResult, size: int
) -> list[list[bytes]]:
    """Walk the orders each connection created in batches, *size* actions per request."""
    per_order = len(ACTIONS)
    group = max(1, size // per_order)
    per: list[list[bytes]] = []
    for c, bodies in enumerate(phase.bodies):
        ids = [
            item["order"]["id"]
            for body in bodies
            for item in json.loads(body)["results"]
            if item["order"]
        ]
        requests = []
        for start in range(0, len(ids), group):
            chunk = ids[start : start + group]
            # Each order's actions in sequence; all orders' same step together.
            items = [{"order_id": i, "action": a} for a in ACTIONS for i in chunk]
            body = json.dumps({"actions": items}, separators=(",", ":")).encode()
            requests.append(post_request("/api/v1/orders/actions", port, body, keys[c % 2], ""))
        per.append(requests)
    return per


def transition_requests(
    port: int, keys: list[str], ids: list[list[int]], walks: int, idempotency: bool = False
) -> tuple[list[list[bytes]], int]:
    """Walk *walks* orders in all; each connection walks orders it created itself."""
    conns = len(ids)
    per: list[list[bytes]] = [[] for _ in range(conns)]
    walked = 0
    for k in range(max((len(c) for c in ids), default=0)):
        for c in range(conns):
            if walked >= walks or k >= len(ids[c]):
                continue
            walked += 1
            for action in ACTIONS:
                path = f"/api/v1/orders/{ids[c][k]}/actions/{action}"
                key = f"{ids[c][k]}-{action}" if idempotency else ""
                per[c].append(post_request(path, port, b"{}", keys[c % 2], key))
    # Each connection walks its orders one after the other: order k's 7 actions, then k+1.
    return per, walked


def ids_from(phase: PhaseResult) -> list[list[int]]:
    """Return the ids of the orders each connection created."""
    return [[int(json.loads(body)["id"]) for body in bodies] for bodies in phase.bodies]


def run_database(kind: str, args: argparse.Namespace, run: str) -> dict[str, Any]:
    """Benchmark one database; return its figures."""
    print(f"\n== {kind} ==", flush=True)
    started = time.perf_counter()
    speed = python_speed_ms()
    url = args.database_url
    if kind == "postgres" and args.smoke and url == DEFAULT_URL:
        url = f"{DEFAULT_URL}_smoke_{run.lower()}"
    with (
        tempfile.TemporaryDirectory(prefix=f"suivi-bench-{kind}-") as data_dir,
        database(kind, url, data_dir) as env,
    ):
        if args.api == "stub":
            env["DJANGO_SETTINGS_MODULE"] = "_stub_settings"
        setup = run_child(env, "setup")
        keys: list[str] = setup["keys"]
        print(f"migrated in {setup['migrate_s']}s; load average {load_average():.2f}", flush=True)
        server = Server(env, workers=args.workers, extra=args.granian_arg)
        server.start()
        phases: dict[str, PhaseResult] = {}
        memory: dict[str, dict[str, float]] = {}
        try:
            conns = args.concurrency
            common = {"processes": args.client_procs, "client": args.client, "server": server}
            # Warm-up: every worker thread opens its connection, imports and caches.
            warm = conns * 2
            phase = run_phase(
                "warm-up",
                server.port,
                creation_requests(f"{run}X", server.port, keys, warm, conns),
                collect_bodies=True,
                **common,
            )
            walk_reqs, _ = transition_requests(server.port, keys, ids_from(phase), conns)
            run_phase("warm-up", server.port, walk_reqs, **common)

            def db_pids() -> list[int]:
                return postgres_backend_pids(url) if kind == "postgres" else []

            print(
                f"server on {HOST}:{server.port}, pid {server.proc.pid if server.proc else 0}, "
                f"{len(db_pids())} database processes after warm-up",
                flush=True,
            )
            memory["after_warmup"] = server.rss_mb()
            reqs = creation_requests(
                run, server.port, keys, args.orders, conns, args.idempotency_keys
            )
            phases["create"] = run_phase(
                "create",
                server.port,
                reqs,
                collect_bodies=True,
                db_pids=db_pids,
                max_seconds=args.duration,
                **common,
            )
            memory["after_create"] = server.rss_mb()
            print_phase(kind, phases["create"])
            ids = ids_from(phases["create"])
            walks = -(-args.transitions // len(ACTIONS))
            reqs, _ = transition_requests(server.port, keys, ids, walks, args.idempotency_keys)
            phases["transition"] = run_phase(
                "transition",
                server.port,
                reqs,
                db_pids=db_pids,
                max_seconds=args.duration,
                unit=len(ACTIONS),
                **common,
            )
            walked = sum(sent // len(ACTIONS) for sent in phases["transition"].sent)
            memory["after_transition"] = server.rss_mb()
            print_phase(kind, phases["transition"])
            if args.batch_size and args.api == "real":
                reqs = batch_requests(run, server.port, keys, args.orders, conns, args.batch_size)
                phases["batch"] = run_phase(
                    "batch",
                    server.port,
                    reqs,
                    collect_bodies=True,
                    db_pids=db_pids,
                    max_seconds=args.duration,
                    **common,
                )
                print_phase(kind, phases["batch"])
                reqs = batch_action_requests(server.port, keys, phases["batch"], args.batch_size)
                phases["batch_actions"] = run_phase(
                    "batch-acts",
                    server.port,
                    reqs,
                    collect_bodies=True,
                    db_pids=db_pids,
                    max_seconds=args.duration,
                    **common,
                )
                print_phase(kind, phases["batch_actions"])
        finally:
            server.stop()
        profile = str(Path(args.profile) / kind) if args.profile else ""
        skip = args.no_baseline
        base = run_child(
            env,
            "baseline",
            "--run",
            run,
            "--orders",
            str(0 if skip else phases["create"].ok),
            "--transitions",
            str(walked * len(ACTIONS)),
            "--seconds",
            str(args.loop_seconds),
            "--service-orders",
            str(0 if skip else args.service[0]),
            "--service-transitions",
            str(args.service[1]),
            "--api-orders",
            str(0 if skip else args.in_process[0]),
            "--api-transitions",
            str(args.in_process[1]),
            "--keys",
            json.dumps(keys),
            "--shop-ids",
            json.dumps(setup["shop_ids"]),
            "--profile",
            profile,
        )
    check = base.pop("check")
    out = figures(kind, args, phases, memory, check, base, walked, time.perf_counter() - started)
    out["python_loop_ms"] = speed
    return out


def figures(
    kind: str,
    args: argparse.Namespace,
    phases: dict[str, PhaseResult],
    memory: dict[str, dict[str, float]],
    check: dict[str, Any],
    base: dict[str, Any],
    walked: int,
    seconds: float,
) -> dict[str, Any]:
    """Flatten one database's measurements into the JSON figures."""
    create = phases["create"].summary()
    transition = phases["transition"].summary()
    errors: Counter[str] = Counter()
    for phase in phases.values():
        errors.update({f"{phase.name}:{k}": v for k, v in phase.errors.items()})
    batch = phases["batch"].summary() if "batch" in phases else None
    created_in_batches = batch_created(phases["batch"]) if "batch" in phases else 0
    acts = phases.get("batch_actions")
    applied = (
        sum(int(json.loads(body)["applied"]) for bodies in acts.bodies for body in bodies)
        if acts
        else 0
    )
    batch_walked = applied // len(ACTIONS)
    expected = {
        "delivered": walked + batch_walked,
        "awaiting_payment": phases["create"].ok - walked + created_in_batches - batch_walked,
    }
    by_status = {k: v for k, v in check["by_status"].items() if v}
    consistent = by_status == {k: v for k, v in expected.items() if v}
    out: dict[str, Any] = {
        "create_rps": create["rps"],
        "create_p50_ms": create["p50_ms"],
        "create_p95_ms": create["p95_ms"],
        "create_p99_ms": create["p99_ms"],
        "transition_rps": transition["rps"],
        "transition_p50_ms": transition["p50_ms"],
        "transition_p95_ms": transition["p95_ms"],
        "transition_p99_ms": transition["p99_ms"],
        # POST /orders/batch, --batch-size orders per request, one transaction each.
        "batch_orders_per_s": (
            round(batch["rps"] * created_in_batches / max(1, phases["batch"].ok), 1)
            if batch
            else None
        ),
        # POST /orders/actions, about --batch-size actions per request (whole walks).
        "batch_transitions_per_s": (
            round(acts.summary()["rps"] * applied / max(1, acts.ok), 1) if acts else None
        ),
        "batch_actions_request_p50_ms": acts.summary()["p50_ms"] if acts else None,
        "batch_actions_request_p99_ms": acts.summary()["p99_ms"] if acts else None,
        "batch_transitions_applied": applied,
        "batch_request_p50_ms": batch["p50_ms"] if batch else None,
        "batch_request_p99_ms": batch["p99_ms"] if batch else None,
        "batch_size": args.batch_size if batch else 0,
        "batch_orders_created": created_in_batches,
        "creations": phases["create"].requests,
        "transitions": phases["transition"].requests,
        "server_rss_mb": round(memory["after_transition"]["rss_mb"], 1),
        "server_peak_rss_mb": round(memory["after_transition"]["peak_rss_mb"], 1),
        "server_worker_rss_mb": round(memory["after_transition"]["worker_rss_mb"], 1),
        "server_cpu_ms_per_create": create["server_cpu_ms_per_req"],
        "server_cpu_ms_per_transition": transition["server_cpu_ms_per_req"],
        "db_cpu_ms_per_create": create["db_cpu_ms_per_req"],
        "db_cpu_ms_per_transition": transition["db_cpu_ms_per_req"],
        "client_cpu_ms_per_request": round(
            (phases["create"].client_cpu_s + phases["transition"].client_cpu_s)
            * 1000
            / max(1, phases["create"].requests + phases["transition"].requests),
            3,
        ),
        "machine_cpu_busy_pct": {
            "create": create["machine_cpu_busy_pct"],
            "transition": transition["machine_cpu_busy_pct"],
        },
        "other_cpu_s": round(create["other_cpu_s"] + transition["other_cpu_s"], 2),
        "other_cpu_share": max(create["other_cpu_share"], transition["other_cpu_share"]),
        # Other processes took over a tenth of the cores meanwhile: rates are understated.
        "disturbed": max(create["other_cpu_share"], transition["other_cpu_share"]) > 0.1,
        "cpu_bound_create_rps": create["cpu_bound_rps"],
        "cpu_bound_transition_rps": transition["cpu_bound_rps"],
        "errors": dict(errors),
        "error_samples": [s for p in phases.values() for s in p.error_samples][:5],
        "database_check": {
            "consistent": consistent,
            "by_status": by_status,
            "events": check["events"],
            "lines": check["lines"],
        },
        "seconds": round(seconds, 1),
    }
    if "raw_insert_orders_per_s" in base:
        raw = base["raw_insert_orders_per_s"]
        out.update(
            raw_insert_orders_per_s=raw,
            raw_insert_rows_per_s=base["raw_insert_rows_per_s"],
            raw_rows_per_order=base["raw_rows_per_order"],
            api_vs_raw_ratio=round(create["rps"] / raw, 4) if raw else 0.0,
            raw_transitions_per_s=base["raw_transitions_per_s"],
            transition_api_vs_raw_ratio=round(transition["rps"] / base["raw_transitions_per_s"], 4)
            if base["raw_transitions_per_s"]
            else 0.0,
        )
        for part, prefix in (("service", "service"), ("api_in_process", "api_inprocess")):
            if part not in base:
                continue
            layer = base[part]
            for op in ("create", "transition"):
                out[f"{prefix}_{op}_per_s"] = layer[op]["per_s"]
                out[f"{prefix}_{op}_cpu_ms"] = layer[op]["cpu_ms"]
                out[f"{prefix}_{op}_db_cpu_ms"] = layer[op]["db_cpu_ms"]
                out[f"{prefix}_queries_per_{op}"] = layer[f"{op}_queries"]["queries_per_op"]
            out[f"{prefix}_query_kinds"] = {
                op: layer[f"{op}_queries"]["by_kind_per_op"] for op in ("create", "transition")
            }
            bad = {k: v for k, v in layer["statuses"].items() if not k.startswith("2")}
            if bad:
                out["errors"].update({f"in_process:{k}": v for k, v in bad.items()})
        profiles = [
            v
            for part in (base.get("service", {}), base.get("api_in_process", {}))
            for k, v in part.items()
            if k.endswith("_profile")
        ]
        if profiles:
            out["profiles"] = profiles
    out["valid"] = not out["errors"] and consistent
    return out


# --- output -------------------------------------------------------------------------------


def print_phase(kind: str, phase: PhaseResult) -> None:
    s = phase.summary()
    errors = ", ".join(f"{k}: {v}" for k, v in s["errors"].items()) or "none"
    print(
        f"{kind:<9} {phase.name:<11} {s['requests']:>7} req  {s['rps']:>8.1f}/s  "
        f"p50 {s['p50_ms']:>6.2f}  p95 {s['p95_ms']:>6.2f}  p99 {s['p99_ms']:>7.2f} ms  "
        f"CPU ms/req server {s['server_cpu_ms_per_req']:.2f} db {s['db_cpu_ms_per_req']:.2f} "
        f"client {s['client_cpu_ms_per_req']:.2f}  machine busy {s['machine_cpu_busy_pct']}%  "
        f"errors {errors}",
        flush=True,
    )
    for sample in phase.error_samples:
        print("    ", sample)


def fmt(value: Any, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\nOrders benchmark ({args.mode}): {cores()} cores shared by the server (granian WSGI, "
        f"{args.workers} workers), the database and the load client ({args.client_procs} "
        f"processes, {args.concurrency} keep-alive connections), loopback only."
    )
    rows = [
        ("creations/s (API)", "create_rps", ".0f"),
        ("  p50 / p95 / p99 ms", ("create_p50_ms", "create_p95_ms", "create_p99_ms"), ".1f"),
        ("transitions/s (API)", "transition_rps", ".0f"),
        (
            "  p50 / p95 / p99 ms",
            ("transition_p50_ms", "transition_p95_ms", "transition_p99_ms"),
            ".1f",
        ),
        ("orders/s via /orders/batch", "batch_orders_per_s", ".0f"),
        ("  batch request p50 / p99 ms", ("batch_request_p50_ms", "batch_request_p99_ms"), ".1f"),
        ("transitions/s via /orders/actions", "batch_transitions_per_s", ".0f"),
        (
            "  actions request p50 / p99 ms",
            ("batch_actions_request_p50_ms", "batch_actions_request_p99_ms"),
            ".1f",
        ),
        ("raw insert orders/s", "raw_insert_orders_per_s", ".0f"),
        ("raw insert rows/s", "raw_insert_rows_per_s", ".0f"),
        ("API / raw (creations)", "api_vs_raw_ratio", ".3f"),
        ("raw transitions/s", "raw_transitions_per_s", ".0f"),
        ("API / raw (transitions)", "transition_api_vs_raw_ratio", ".3f"),
        ("service create/s (1 thread)", "service_create_per_s", ".0f"),
        (
            "  CPU ms: Python / database",
            ("service_create_cpu_ms", "service_create_db_cpu_ms"),
            ".2f",
        ),
        ("service transition/s (1 thr.)", "service_transition_per_s", ".0f"),
        (
            "  CPU ms: Python / database",
            ("service_transition_cpu_ms", "service_transition_db_cpu_ms"),
            ".2f",
        ),
        ("API in-process create/s", "api_inprocess_create_per_s", ".0f"),
        (
            "  CPU ms: Python / database",
            ("api_inprocess_create_cpu_ms", "api_inprocess_create_db_cpu_ms"),
            ".2f",
        ),
        ("API in-process transition/s", "api_inprocess_transition_per_s", ".0f"),
        (
            "  CPU ms: Python / database",
            ("api_inprocess_transition_cpu_ms", "api_inprocess_transition_db_cpu_ms"),
            ".2f",
        ),
        (
            "SQL per create (API/service)",
            ("api_inprocess_queries_per_create", "service_queries_per_create"),
            ".1f",
        ),
        (
            "SQL per transition (API/svc)",
            ("api_inprocess_queries_per_transition", "service_queries_per_transition"),
            ".1f",
        ),
        ("server CPU ms per create", "server_cpu_ms_per_create", ".2f"),
        ("server CPU ms per transition", "server_cpu_ms_per_transition", ".2f"),
        (
            "db CPU ms per create/trans.",
            ("db_cpu_ms_per_create", "db_cpu_ms_per_transition"),
            ".2f",
        ),
        ("client CPU ms per request", "client_cpu_ms_per_request", ".3f"),
        (
            "CPU-bound rate create/trans.",
            ("cpu_bound_create_rps", "cpu_bound_transition_rps"),
            ".0f",
        ),
        ("other load (share of cores)", "other_cpu_share", ".2f"),
        ("server RSS MB (now / peak)", ("server_rss_mb", "server_peak_rss_mb"), ".0f"),
        ("errors", "errors", ""),
        ("valid", "valid", ""),
    ]
    kinds = list(results)
    print(f"{'':<32}" + "".join(f"{k:>22}" for k in kinds))
    for label, key, spec in rows:
        cells = []
        for kind in kinds:
            r = results[kind]
            if isinstance(key, tuple):
                cell = " / ".join(fmt(r.get(k), spec) for k in key)
            elif spec:
                cell = fmt(r.get(key), spec)
            else:
                value = r.get(key)
                cell = (json.dumps(value) if value else "none") if key == "errors" else str(value)
            cells.append(f"{cell:>22}")
        print(f"{label:<32}" + "".join(cells))
    if "postgres" in results:
        pg = results["postgres"]
        print(
            f"targets on PostgreSQL: creations {pg['create_rps']:.0f}/s vs "
            f"{TARGETS['create_rps']} ({'met' if pg['create_rps'] >= TARGETS['create_rps'] else 'missed'}), "
            f"transitions {pg['transition_rps']:.0f}/s vs {TARGETS['transition_rps']} "
            f"({'met' if pg['transition_rps'] >= TARGETS['transition_rps'] else 'missed'}); "
            f"creations through /orders/batch {pg['batch_orders_per_s'] or 0:.0f}/s "
            f"({'met' if (pg['batch_orders_per_s'] or 0) >= TARGETS['create_rps'] else 'missed'}), "
            f"transitions through /orders/actions {pg['batch_transitions_per_s'] or 0:.0f}/s "
            f"({'met' if (pg['batch_transitions_per_s'] or 0) >= TARGETS['transition_rps'] else 'missed'})"
        )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    run = "B" + secrets.token_hex(3).upper()
    started = time.perf_counter()
    speed = python_speed_ms()
    load = load_average()
    results = {kind: run_database(kind, args, run) for kind in kinds}
    print_table(results, args)
    summary = {
        "benchmark": "orders",
        "mode": args.mode,
        "api": args.api,
        "idempotency_keys": args.idempotency_keys,
        "results": results,
        "targets": TARGETS,
        "targets_met": {
            kind: {
                "create": r["create_rps"] >= TARGETS["create_rps"],
                # The same creations through POST /orders/batch (100 per request).
                "create_batch": (r["batch_orders_per_s"] or 0) >= TARGETS["create_rps"],
                "transition_batch": (r["batch_transitions_per_s"] or 0)
                >= TARGETS["transition_rps"],
                "transition": r["transition_rps"] >= TARGETS["transition_rps"],
            }
            for kind, r in results.items()
        },
        "valid": all(r["valid"] for r in results.values()),
        "cores": cores(),
        "machine": {"python_loop_ms": speed, "load_average_at_start": load},
        "client": {
            "processes": args.client_procs,
            "connections": args.concurrency,
            "kind": args.client,
            "shares_cores_with_server": True,
        },
        "server": {"granian_workers": args.workers, "extra": args.granian_arg},
        "seconds": round(time.perf_counter() - started, 1),
    }
    if any(r["disturbed"] for r in results.values()):
        print(
            "warning: other processes used over 10% of the cores during a phase (see"
            " other_cpu_share): the rates are understated; the CPU figures still hold."
        )
    print(f"total {summary['seconds']}s")
    print(json.dumps(summary, separators=(",", ":")))
    return 0 if summary["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
