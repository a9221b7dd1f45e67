"""The Django side of the back-office benchmark (``bench/backoffice.py``), run as a child
process after the data is written (by ``tracking_page_support.py setup``). It reads one
JSON command per line on stdin and answers each with one line ``@@ {json}`` on stdout
(other lines are progress, shown by the driver).

Commands:

- ``prepare``: a LOGISTICS member of the benchmarked shop (no second factor needed), and a
  few stalled parcels if the data has none (as the stalled-parcel job leaves them: 2 % of
  the parcels still moving); the shop's figures (orders, customers, parcels, problems).
- ``measure``: every scenario (``SCENARIOS``) in process through Django's test client,
  signed in with ``force_login``: first SQL statements on a few requests
  (``CaptureQueriesContext``, not timed), then ``rounds`` rounds in which each scenario
  runs its share of the requests serially (the order rotating from round to round), each
  request for a random existing value; wall time, CPU, statuses and bytes per request.
- ``explain``: the slowest statement of one request of each scenario named, with
  ``EXPLAIN (ANALYZE, BUFFERS)`` (PostgreSQL) or ``EXPLAIN QUERY PLAN`` (SQLite).
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import django
from _harness import percentile, serve_commands

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Max, Min  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from suivi.backoffice import orders_query  # noqa: E402
from suivi.customers.models import Customer  # noqa: E402
from suivi.orders.lifecycle import Mode, Status  # noqa: E402
from suivi.orders.models import Order  # noqa: E402
from suivi.shipments.models import Parcel  # noqa: E402
from suivi.shops.models import Membership, Shop  # noqa: E402

BENCH_EMAIL = "bench.logistics@suivi-bench.example"
POOL = 500  # distinct values drawn per scenario (references, emails, orders...)
STALLED_SHARE = 0.02  # of the parcels still moving, when the data has no stalled parcel
MOVING = ("info_received", "in_transit", "out_for_delivery", "available_for_pickup")

# name -> label, in the order of the table. "minimal" is the baseline.
SCENARIOS: dict[str, str] = {
    "minimal": "baseline: minimal view, 1 query",
    "list": "list, first page",
    "list_page2": "list, 2nd page (cursor)",
    "list_deep": "list, page at random depth",
    "status_to_prepare": "status=to_prepare",
    "status_ready_to_ship": "status=ready_to_ship",
    "exception": "exception=1",
    "stalled": "stalled=1",
    "partial": "partially cancelled",
    "carrier": "carrier=laposte",
    "mode_all": "mode=delivery (every order)",
    "mode_none": "mode=click_and_collect (none)",
    "date_range": "date range, 7 days",
    "sort_total_desc": "sort total, highest first",
    "sort_total_asc": "sort total, lowest first",
    "search_reference": "search: exact reference",
    "search_email": "search: customer email",
    "search_last_name": "search: customer last name",
    "search_tracking": "search: tracking number",
    "detail_no_parcel": "order page, no parcel",
    "detail_one_parcel": "order page, 1 parcel",
    "detail_two_parcels": "order page, 2 parcels",
}


def log(text: str) -> None:
    print(text, flush=True)


# --- data ---------------------------------------------------------------------------------


def bench_user() -> Any:
    return get_user_model().objects.get(username=BENCH_EMAIL)


def c_prepare(cmd: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's member of the shop, stalled parcels if there are none, and figures."""
    shop = Shop.objects.get(slug=cmd["shop"])
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.filter(username=BENCH_EMAIL).first()
        if user is None:
            user = user_model.objects.create_user(
                username=BENCH_EMAIL, email=BENCH_EMAIL, password=None
            )
        Membership.objects.update_or_create(
            shop=shop, user=user, defaults={"role": Membership.Role.LOGISTICS}
        )
    parcels = Parcel.objects.filter(shop=shop)
    marked = 0
    if not parcels.filter(stalled_at__isnull=False).exists():
        rng = random.Random(f"{cmd.get('seed', 1)}:stalled")
        moving = list(parcels.filter(status__in=MOVING).values_list("pk", "last_event_at"))
        chosen = rng.sample(moving, max(1, round(len(moving) * STALLED_SHARE))) if moving else []
        with transaction.atomic():
            for pk, last in chosen:  # a few hundred at most: one UPDATE each is fine
                at = (last or timezone.now()) + timedelta(days=3)
                Parcel.objects.filter(pk=pk).update(stalled_at=at)
        marked = len(chosen)
        with connection.cursor() as cursor:
            table = Parcel._meta.db_table
            cursor.execute(f"ANALYZE {table}" if connection.vendor == "postgresql" else "ANALYZE")
    orders = Order.objects.filter(shop=shop)
    with_parcels = parcels.values("order_id").distinct().count()
    return {
        "shop": shop.slug,
        "vendor": connection.vendor,
        "orders": orders.count(),
        "orders_all_shops": Order.objects.count(),
        "customers": Customer.objects.filter(shop=shop).count(),
        "parcels": parcels.count(),
        "orders_with_parcels": with_parcels,
        "stalled_parcels": parcels.filter(stalled_at__isnull=False).count(),
        "stalled_marked_now": marked,
        "orders_with_exception": orders.exclude(exception_reason="").count(),
        "orders_partially_cancelled": orders.filter(is_partially_cancelled=True)
        .exclude(status=Status.CANCELLED)
        .count(),
        "orders_to_prepare": orders.filter(
            status__in=orders_query.expand_statuses([orders_query.TO_PREPARE_GROUP])
        ).count(),
        "orders_ready_to_ship": orders.filter(status=Status.READY_TO_SHIP).count(),
    }


# --- what each scenario requests ----------------------------------------------------------


def _sample(rng: random.Random, values: list[Any], k: int = POOL) -> list[Any]:
    return rng.sample(values, min(k, len(values)))


def paths_for(shop: Shop, count: int, seed: int) -> dict[str, list[str]]:
    """*count* paths per scenario, each for a random existing value (empty: no data)."""
    rng = random.Random(f"{seed}:paths")
    base = reverse("backoffice:orders-list", args=[shop.slug])
    detail = reverse("backoffice:orders-detail", args=[shop.slug, 987654321])
    minimal = reverse("bench-minimal", args=[987654321])
    orders = Order.objects.filter(shop=shop)
    ids = list(orders.values_list("pk", flat=True))

    def query(**params: str) -> str:
        return f"{base}?{urlencode(params)}"

    def fixed(path: str) -> list[str]:
        return [path] * count

    def drawn(values: list[str]) -> list[str]:
        return rng.choices(values, k=count) if values else []

    first = orders_query.order_page(shop=shop, filters=orders_query.OrderFilters())
    cursors = [
        orders_query.encode_cursor(order, "newest")
        for order in orders.filter(pk__in=_sample(rng, ids)).only("pk")
    ]
    span = orders.aggregate(first=Min("placed_at"), last=Max("placed_at"))
    days = max(0, (span["last"] - span["first"]).days - 7) if span["first"] else 0
    weeks = []
    for _ in range(POOL if span["first"] else 0):
        start = (span["first"] + timedelta(days=rng.randint(0, days))).date()
        weeks.append(query(date_from=start.isoformat(), date_to=(start + timedelta(6)).isoformat()))
    customers = Customer.objects.filter(shop=shop)
    customer_ids = list(customers.values_list("pk", flat=True))
    chosen = customers.filter(pk__in=_sample(rng, customer_ids)).values_list("email", "last_name")
    parcel_counts = dict(
        Parcel.objects.filter(shop=shop)
        .values("order_id")
        .annotate(n=Count("pk"))
        .values_list("order_id", "n")
    )
    without = [pk for pk in ids if pk not in parcel_counts]
    one = [pk for pk, n in parcel_counts.items() if n == 1]
    two = [pk for pk, n in parcel_counts.items() if n >= 2]
    references = orders.filter(pk__in=_sample(rng, ids)).values_list("reference", flat=True)
    numbers = list(Parcel.objects.filter(shop=shop).values_list("tracking_number", flat=True))

    def details(pool: list[int]) -> list[str]:
        return drawn([detail.replace("987654321", str(pk)) for pk in _sample(rng, pool)])

    return {
        "minimal": drawn([minimal.replace("987654321", str(pk)) for pk in _sample(rng, ids)]),
        "list": fixed(base),
        "list_page2": fixed(query(cursor=first.next_cursor)) if first.next_cursor else [],
        "list_deep": drawn([query(cursor=c) for c in cursors]),
        "status_to_prepare": fixed(query(status=orders_query.TO_PREPARE_GROUP)),
        "status_ready_to_ship": fixed(query(status=Status.READY_TO_SHIP.value)),
        "exception": fixed(query(exception="1")),
        "stalled": fixed(query(stalled="1")),
        "partial": fixed(query(partial="1")),
        "carrier": fixed(query(carrier="laposte")),
        "mode_all": fixed(query(mode=Mode.DELIVERY.value)),
        "mode_none": fixed(query(mode=Mode.CLICK_AND_COLLECT.value)),
        "date_range": drawn(weeks),
        "sort_total_desc": fixed(query(sort="total_desc")),
        "sort_total_asc": fixed(query(sort="total_asc")),
        "search_reference": drawn([query(q=r) for r in references]),
        "search_email": drawn([query(q=email) for email, _ in chosen]),
        "search_last_name": drawn([query(q=name) for _, name in chosen if name]),
        "search_tracking": drawn([query(q=n) for n in _sample(rng, numbers)]),
        "detail_no_parcel": details(without),
        "detail_one_parcel": details(one),
        "detail_two_parcels": details(two),
    }


# --- measuring ----------------------------------------------------------------------------

NUMBERS = re.compile(r"\b\d+\b|'[^']*'")


def _shape(sql: str) -> str:
    """The statement without its literals: the same shape repeated is an N+1."""
    return NUMBERS.sub("?", sql)


def _get(client: Client, path: str) -> tuple[str, int]:
    """GET *path*: (status, bytes); an exception raised by the view is a status of its own."""
    try:
        response = client.get(path)
    except Exception as exc:
        return f"exception {type(exc).__name__}: {exc}"[:300], 0
    return str(response.status_code), len(response.content)


class Timer:
    """An execute wrapper timing each statement to the microsecond (``CaptureQueriesContext``
    rounds to the millisecond) and keeping its parameters, to explain it as it ran."""

    def __init__(self) -> None:
        # (seconds, sql, params, position among the statements CaptureQueriesContext saw)
        self.statements: list[tuple[float, str, Any, int]] = []
        self.seen = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        position, self.seen = self.seen, self.seen + 1
        try:
            return execute(sql, params, many, context)
        finally:
            if not many:
                self.statements.append((time.perf_counter() - started, sql, params, position))

    def slowest(self) -> tuple[float, str, Any, int]:
        return max(self.statements, key=lambda s: s[0], default=(0.0, "", None, -1))


def capture(client: Client, paths: list[str]) -> dict[str, Any]:
    """SQL statements of a few requests (not timed): count, repeats, slowest statement."""
    counts: list[int] = []
    repeats = 0
    slowest: tuple[float, str] = (0.0, "")
    for path in paths:
        timer = Timer()
        with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timer):
            _get(client, path)
        queries = captured.captured_queries
        counts.append(len(queries))
        shapes = Counter(_shape(q["sql"]) for q in queries)
        repeats = max(repeats, max(shapes.values(), default=0))
        seconds, sql, _params, _position = timer.slowest()
        if seconds > slowest[0]:
            slowest = (seconds, sql)
    return {
        "queries_min": min(counts, default=0),
        "queries_max": max(counts, default=0),
        "queries_avg": round(statistics.fmean(counts), 1) if counts else 0,
        "same_statement_max": repeats,
        "slowest_statement_ms": round(slowest[0] * 1000, 2),
        "slowest_statement": slowest[1][:600],
    }


def c_measure(cmd: dict[str, Any]) -> dict[str, Any]:
    shop = Shop.objects.get(slug=cmd["shop"])
    rounds, per = cmd["rounds"], cmd["requests"]
    wanted = [name for name in SCENARIOS if name in cmd.get("scenarios", SCENARIOS)]
    started = time.perf_counter()
    paths = paths_for(shop, per, cmd["seed"])
    log(f"paths drawn in {time.perf_counter() - started:.1f}s")
    client = Client()
    client.force_login(bench_user())
    sql: dict[str, Any] = {}
    for name in wanted:
        if paths[name]:
            _get(client, paths[name][0])  # warm: first-use costs (templates, translations)
            sql[name] = capture(client, paths[name][: cmd.get("capture", 5)])
    latencies: dict[str, list[float]] = {name: [] for name in wanted}
    cpu: Counter[str] = Counter()
    wall: Counter[str] = Counter()
    statuses: dict[str, Counter[str]] = {name: Counter() for name in wanted}
    sizes: dict[str, list[int]] = {name: [] for name in wanted}
    clock = time.perf_counter
    for r in range(rounds):
        shift = r % len(wanted)
        for name in wanted[shift:] + wanted[:shift]:
            chunk = paths[name][r * per // rounds : (r + 1) * per // rounds]
            times = latencies[name]
            cpu0, wall0 = time.process_time(), clock()
            for path in chunk:
                t0 = clock()
                status, size = _get(client, path)
                times.append((clock() - t0) * 1000)
                statuses[name][status] += 1
                sizes[name].append(size)
            cpu[name] += time.process_time() - cpu0
            wall[name] += clock() - wall0
        log(f"round {r + 1}/{rounds} done ({time.perf_counter() - started:.0f}s)")
    out: dict[str, Any] = {}
    for name in wanted:
        lat = sorted(latencies[name])
        n = len(lat)
        ok = statuses[name].get("200", 0)
        out[name] = {
            "label": SCENARIOS[name],
            "requests": n,
            "ok": ok,
            "statuses": dict(statuses[name]),
            "p50_ms": round(percentile(lat, 50), 2),
            "p95_ms": round(percentile(lat, 95), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "max_ms": round(lat[-1], 2) if lat else 0.0,
            "rps": round(n / wall[name], 1) if wall[name] else 0.0,
            "cpu_ms_per_req": round(cpu[name] * 1000 / n, 2) if n else 0.0,
            "wait_ms_per_req": round((wall[name] - cpu[name]) * 1000 / n, 2) if n else 0.0,
            "bytes_avg": round(statistics.fmean(sizes[name])) if sizes[name] else 0,
            "no_data": not paths[name],
            **sql.get(name, {}),
        }
    return {"scenarios": out, "seconds": round(time.perf_counter() - started, 1)}


# --- EXPLAIN ------------------------------------------------------------------------------


def c_explain(cmd: dict[str, Any]) -> dict[str, Any]:
    """The slowest statement of one request of each scenario named, with its plan."""
    shop = Shop.objects.get(slug=cmd["shop"])
    paths = paths_for(shop, 3, cmd["seed"])
    client = Client()
    client.force_login(bench_user())
    out: dict[str, Any] = {}
    for name in cmd["scenarios"]:
        if not paths.get(name):
            continue
        _get(client, paths[name][0])  # warm the cache pages as the measured runs did
        timer = Timer()
        with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timer):
            _get(client, paths[name][0])
        seconds, sql, params, position = timer.slowest()
        if not sql:
            continue
        if connection.vendor == "postgresql":
            prefix = "EXPLAIN (ANALYZE, BUFFERS) "
        else:
            prefix = "EXPLAIN QUERY PLAN "
        with connection.cursor() as cursor:
            cursor.execute(prefix + sql, params)
            rows = cursor.fetchall()
        plan = "\n".join(" | ".join(str(c) for c in row) for row in rows)
        queries = captured.captured_queries
        shown = queries[position]["sql"] if 0 <= position < len(queries) else sql
        out[name] = {
            "path": paths[name][0],
            "statement_ms": round(seconds * 1000, 2),
            "statements": len(captured.captured_queries),
            "sql": shown,
            "plan": plan,
        }
    return out


COMMANDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "prepare": c_prepare,
    "measure": c_measure,
    "explain": c_explain,
}


def main() -> int:
    return serve_commands(COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
