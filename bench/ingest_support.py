"""The Django side of the ingestion benchmark (``bench/ingest.py``), run as a child process
per database. It reads one JSON command per line on stdin and answers each with one line
``@@ {json}`` on stdout (other lines are progress, shown by the driver).

Commands: ``setup``, ``service`` (one pass of batches through ``ingest()``: main,
duplicates, breakdown, profile), ``http_prepare`` / ``http_check`` (the bodies the driver
POSTs, and what they left), ``raw`` (psycopg ``executemany`` of the same rows), ``due_poll``
(the claim query with many legs) and ``check``.

The workload: each parcel lives through :data:`LIFE` (information received, ten in-transit
scans, out for delivery with an ETA, delivered). Parcels start one after another so that
about :data:`CONCURRENT` are on the way at any time; all their scans, sorted by the time
they happened, make one carrier feed cut into batches of 100 (a batch spans 40-60
parcels). A few mid-life scans (:data:`LATE_SHARE`) arrive a few batches late: the parcel
is then folded again from its whole timeline, as happens with real feeds. Every parcel
changes status four times (info received, in transit, out for delivery, delivered), three
of which move its order (shipped → in transit → out for delivery → delivered).
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import django

django.setup()

from _harness import (  # noqa: E402
    cores,
    machine_busy_seconds,
    percentile,
    postgres_backend_pids,
    proc_cpu_seconds,
    serve_commands,
)
from django.core.management import call_command  # noqa: E402
from django.db import DatabaseError, connection, connections, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.db.models.query import QuerySet  # noqa: E402
from django.utils import timezone  # noqa: E402

from suivi.carriers.vocabulary import ShipmentUpdate, Status  # noqa: E402
from suivi.carriers.vocabulary import TrackingEvent as Scan  # noqa: E402
from suivi.notifications.models import OutboxMessage  # noqa: E402
from suivi.orders import batch as orders_batch  # noqa: E402
from suivi.orders.batch import ActionItem, order_apply_actions, order_create_many  # noqa: E402
from suivi.orders.lifecycle import Action  # noqa: E402
from suivi.orders.models import Order, OrderEvent  # noqa: E402
from suivi.shipments import ingest as ingest_mod  # noqa: E402
from suivi.shipments import polling, timeline  # noqa: E402
from suivi.shipments.ingest import IngestReport, dedupe_key  # noqa: E402
from suivi.shipments.models import Parcel, ParcelLeg, TrackingEvent  # noqa: E402
from suivi.shipments.services import account_create  # noqa: E402
from suivi.shops.models import Shop  # noqa: E402
from suivi.testing import make_shop, order_input  # noqa: E402

CARRIER = "laposte"
PARIS = dt_timezone(timedelta(hours=1))
CONCURRENT = 40  # parcels on the way at any time in one feed
LATE_SHARE = 0.02  # mid-life scans that arrive 1-4 batches late
HUBS = (
    "Paris Nord PFC",
    "Lyon Corbas PFC",
    "Marseille Vitrolles PFC",
    "Bordeaux Cestas PFC",
    "Lille Lesquin PFC",
    "Rennes Le Rheu PFC",
    "Toulouse Fenouillet PFC",
    "Nantes Carquefou PFC",
    "Strasbourg PFC",
    "Orléans Saran PFC",
)
DEPOTS = ("Lyon 2e PDC", "Paris 11e PDC", "Marseille 1er PDC", "Bordeaux Centre PDC")
# (status, carrier code, label) over a parcel's life: 12 scans, 4 status changes.
LIFE: tuple[tuple[Status, str, str], ...] = (
    (Status.INFO_RECEIVED, "DR1", "Votre colis est annoncé, il va nous être confié"),
    (Status.IN_TRANSIT, "PC1", "Votre colis a été déposé"),
    (Status.IN_TRANSIT, "ET1", "Votre colis est en cours d'acheminement"),
    (Status.IN_TRANSIT, "ET2", "Votre colis est arrivé sur la plateforme"),
    (Status.IN_TRANSIT, "ET3", "Votre colis a été trié"),
    (Status.IN_TRANSIT, "ET4", "Votre colis a quitté la plateforme"),
    (Status.IN_TRANSIT, "ET1", "Votre colis est en cours d'acheminement"),
    (Status.IN_TRANSIT, "ET2", "Votre colis est arrivé sur la plateforme"),
    (Status.IN_TRANSIT, "ET3", "Votre colis a été trié"),
    (Status.IN_TRANSIT, "EP1", "Votre colis est arrivé sur son site de distribution"),
    (Status.OUT_FOR_DELIVERY, "MD2", "Votre colis est en cours de livraison"),
    (Status.DELIVERED, "DI1", "Votre colis a été livré"),
)

STATE: dict[str, Any] = {}


def log(text: str) -> None:
    print(text, flush=True)


def vendor() -> str:
    return str(connection.vendor)


# --- parcels and their feed ---------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    parcel_id: int
    leg_id: int
    order_id: int
    number: str


@dataclass(frozen=True)
class Item:
    """One scan of the feed: the parcel, the scan and the ETA it carries (if any)."""

    ref: Ref
    step: int  # the scan's place in LIFE
    scan: Scan
    eta: datetime | None


def number_of(set_code: int, index: int) -> str:
    """A Colissimo-shaped number (6A + 11 digits), unique per parcel set and index."""
    return f"6A{set_code:03d}{index:08d}"


def feed(refs: Sequence[Ref], seed: int, batch_size: int) -> list[list[Item]]:
    """The time-ordered feed of *refs*' scans, a few late, cut into batches."""
    rng = random.Random(seed)
    gaps = (300.0, 2400.0)  # seconds between two scans of a parcel
    life_s = (len(LIFE) - 1) * sum(gaps) / 2
    spacing = life_s / CONCURRENT
    raw: list[tuple[float, int, int]] = []  # (seconds, parcel index, life index)
    for k in range(len(refs)):
        at = k * spacing + rng.uniform(0, spacing)
        for step in range(len(LIFE)):
            raw.append((at, k, step))
            at += rng.uniform(*gaps)
    raw.sort()
    # Shift the whole feed so that its last scan happened ten minutes ago.
    end = timezone.now() - timedelta(minutes=10)
    origin = end - timedelta(seconds=raw[-1][0]) if raw else end
    keyed = []
    for position, (seconds, k, step) in enumerate(raw):
        key = float(position)
        # Late: a mid-life in-transit scan (never the first, which moves the order).
        if 2 <= step <= 9 and rng.random() < LATE_SHARE:
            key += rng.randint(batch_size, 4 * batch_size) + 0.5
        keyed.append((key, seconds, k, step))
    keyed.sort()
    items = []
    for _key, seconds, k, step in keyed:
        status, code, label = LIFE[step]
        ref = refs[k]
        when = (origin + timedelta(seconds=seconds)).astimezone(PARIS).replace(microsecond=0)
        location = (
            ""
            if step == 0
            else DEPOTS[k % len(DEPOTS)]
            if step >= 9
            else HUBS[(k + step) % len(HUBS)]
        )
        scan = Scan(
            tracking_number=ref.number,
            status=status,
            occurred_at=when,
            raw_code=code,
            raw_label=label,
            location=location,
            country="FR",
        )
        eta = (
            (when + timedelta(hours=4)).replace(minute=0)
            if status is Status.OUT_FOR_DELIVERY
            else None
        )
        items.append(Item(ref, step, scan, eta))
    return [items[i : i + batch_size] for i in range(0, len(items), batch_size)]


ORDER_TARGETS = {
    Status.IN_TRANSIT: "in_transit",
    Status.OUT_FOR_DELIVERY: "out_for_delivery",
    Status.DELIVERED: "delivered",
}


def expected_changes(batches: list[list[Item]]) -> tuple[int, int]:
    """(parcel status changes, order transitions) the feed must cause, one ``ingest()``
    per batch: a parcel is as far as the furthest scan of its life seen so far (a late
    scan is an earlier one); its order follows when that says in transit, out for
    delivery or delivered, and several steps in one batch are one transition."""
    furthest: dict[int, int] = {}
    order_at: dict[int, str] = {}
    changes = moves = 0
    for batch in batches:
        steps: dict[int, int] = {}
        for item in batch:
            pid = item.ref.parcel_id
            steps[pid] = max(steps.get(pid, -1), item.step)
        for pid, step in steps.items():
            before = furthest.get(pid, -1)
            after = max(before, step)
            furthest[pid] = after
            status_before = LIFE[before][0] if before >= 0 else Status.PENDING
            status_after = LIFE[after][0]
            if status_after is status_before:
                continue
            changes += 1
            target = ORDER_TARGETS.get(status_after)
            if target is not None and order_at.get(pid, "shipped") != target:
                order_at[pid] = target
                moves += 1
    return changes, moves


def service_items(batch: list[Item]) -> list[tuple[str, ShipmentUpdate]]:
    """A batch as ``ingest()`` takes it: one update per number, its scans in feed order."""
    grouped: dict[str, list[Item]] = {}
    for item in batch:
        grouped.setdefault(item.ref.number, []).append(item)
    updates = []
    for number, items in grouped.items():
        etas = [i.eta for i in items if i.eta is not None]
        updates.append(
            (
                CARRIER,
                ShipmentUpdate(
                    tracking_number=number,
                    events=tuple(i.scan for i in items),
                    estimated_delivery=etas[-1] if etas else None,
                ),
            )
        )
    return updates


def push_body(batch: list[Item]) -> bytes:
    """A batch as ``POST /api/v1/tracking/events`` takes it (Suivi's push JSON)."""
    events = []
    for item in batch:
        scan = item.scan
        event: dict[str, Any] = {
            "tracking_number": scan.tracking_number,
            "status": scan.status.value,
            "occurred_at": scan.occurred_at.isoformat(),
            "code": scan.raw_code,
            "label": scan.raw_label,
            "location": scan.location,
            "country": scan.country,
        }
        if item.eta is not None:
            event["eta"] = item.eta.isoformat()
        events.append(event)
    return json.dumps({"events": events}, separators=(",", ":"), ensure_ascii=False).encode()


def batch_shape(batches: list[list[Item]]) -> dict[str, Any]:
    parcels = sorted(len({i.ref.parcel_id for i in b}) for b in batches)
    return {
        "batches": len(batches),
        "events": sum(len(b) for b in batches),
        "parcels_per_batch_avg": round(sum(parcels) / max(1, len(parcels)), 1),
        "parcels_per_batch_min": parcels[0] if parcels else 0,
        "parcels_per_batch_max": parcels[-1] if parcels else 0,
    }


# --- setup --------------------------------------------------------------------------------


def ship_orders(shop: Shop, tag: str, count: int) -> list[int]:
    """Create *count* orders with ``order_create_many`` and ship them with
    ``order_apply_actions`` (confirm_payment, ship), 100 per call."""
    ids: list[int] = []
    for start in range(0, count, 100):
        inputs = [
            order_input(reference=f"{tag}-{i:07d}", email=f"client.{tag.lower()}.{i}@example.fr")
            for i in range(start, min(count, start + 100))
        ]
        created = order_create_many(shop=shop, items=inputs, actor="bench")
        batch = [o.pk for o in created if isinstance(o, Order)]
        if len(batch) != len(inputs):
            raise RuntimeError(f"order creation refused: {created}")
        for action in (Action.CONFIRM_PAYMENT, Action.SHIP):
            results = order_apply_actions(
                shop=shop, items=[ActionItem(pk, action) for pk in batch], actor="bench"
            )
            refused = [r for r in results if not isinstance(r, Order)]
            if refused:
                raise RuntimeError(f"{action} refused: {refused[0]}")
        ids.extend(batch)
    return ids


def add_parcels(
    shop: Shop, account_id: int, order_ids: Sequence[int], set_code: int, count: int
) -> list[Ref]:
    """Bulk-insert *count* parcels (one leg each, polled later) on *order_ids* (cycled)."""
    now = timezone.now()
    parcels = Parcel.objects.bulk_create(
        [
            Parcel(
                shop=shop,
                order_id=order_ids[i % len(order_ids)],
                carrier=CARRIER,
                tracking_number=number_of(set_code, i),
                tracking_url=f"https://www.laposte.fr/outils/suivre-vos-envois?code={number_of(set_code, i)}",
                shipped_at=now - timedelta(days=30),
            )
            for i in range(count)
        ],
        batch_size=1000,
    )
    legs = ParcelLeg.objects.bulk_create(
        [
            ParcelLeg(
                shop=shop,
                parcel=p,
                carrier=CARRIER,
                tracking_number=p.tracking_number,
                role=ParcelLeg.Role.ORIGIN,
                account_id=account_id,
                next_poll_at=now + timedelta(hours=1, seconds=i % 3600),
            )
            for i, p in enumerate(parcels)
        ],
        batch_size=1000,
    )
    return [
        Ref(p.pk, leg.pk, p.order_id, p.tracking_number)
        for p, leg in zip(parcels, legs, strict=True)
    ]


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def c_setup(cmd: dict[str, Any]) -> dict[str, Any]:
    """Migrate; one shop with a La Poste account; the parcel sets, each parcel on its own
    shipped order (except the raw set, whose parcels share one order: nothing moves it)."""
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrate_s = time.perf_counter() - started
    run = cmd["run"]
    shop = make_shop(f"Bench ingest {run}", slug=f"bench-ingest-{run.lower()}")
    account, secret = account_create(
        shop=shop, carrier=CARRIER, credentials={"api_key": "bench-not-used"}
    )
    STATE.update(run=run, shop_id=shop.pk, account_id=account.pk, sets={})
    sizes: dict[str, int] = cmd["sets"]  # name -> parcels
    codes = {name: 100 + i for i, name in enumerate(sorted(sizes))}
    t0 = time.perf_counter()
    shipped = sum(n for name, n in sizes.items() if name != "raw")
    order_ids = ship_orders(shop, run, shipped)
    orders_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    position = 0
    for name in sorted(sizes):
        n = sizes[name]
        if name == "raw":
            owner = ship_orders(shop, f"{run}R", 1)
        else:
            owner = order_ids[position : position + n]
            position += n
        STATE["sets"][name] = add_parcels(shop, account.pk, owner, codes[name], n)
    parcels_s = time.perf_counter() - t0
    analyze()
    return {
        "migrate_s": round(migrate_s, 2),
        "orders": len(order_ids),
        "orders_s": round(orders_s, 2),
        "parcels": sum(sizes.values()),
        "parcels_s": round(parcels_s, 2),
        "shop_id": shop.pk,
        "account_id": account.pk,
        "push_secret": secret,
        "vendor": vendor(),
        "pid": os.getpid(),
    }


# --- timing helpers -----------------------------------------------------------------------


def backend_pid() -> int:
    if vendor() != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


class DbCpu:
    """CPU of the database server's processes for this database (PostgreSQL only)."""

    def __init__(self) -> None:
        self.url = os.environ.get("DATABASE_URL", "")

    def pids(self) -> list[int]:
        return postgres_backend_pids(self.url) if vendor() == "postgresql" and self.url else []

    def start(self) -> None:
        self.before = {pid: proc_cpu_seconds(pid) for pid in self.pids()}

    def stop(self) -> float:
        now = {pid: proc_cpu_seconds(pid) for pid in set(self.pids()) | set(self.before)}
        return sum(max(0.0, now[p] - self.before.get(p, 0.0)) for p in now)


class QueryCounter:
    """Statements by kind, through ``connection.execute_wrapper`` (about 1 µs each)."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.kinds[sql.lstrip().split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)


class Stages:
    """Exclusive wall time of named functions (a stack: children are subtracted), and the
    SQL statements (count, wall time) run while each is the innermost one."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []
        self.excl: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.sql_s: Counter[str] = Counter()
        self.sql_n: Counter[str] = Counter()
        self.shapes: dict[str, Counter[str]] = defaultdict(Counter)
        self.missing: list[str] = []
        self.undo: list[tuple[Any, str, Any, bool]] = []

    def wrap(self, owner: Any, attr: str, name: str | Callable[[tuple[Any, ...]], str]) -> None:
        if not hasattr(owner, attr):  # renamed in src: that stage goes unmeasured
            self.missing.append(f"{getattr(owner, '__name__', owner)}.{attr}")
            return
        had = attr in vars(owner)  # else an inherited or class attribute: delete on restore
        original = getattr(owner, attr)
        stages = self
        clock = time.perf_counter

        def timed(*a: Any, **k: Any) -> Any:
            label = name(a) if callable(name) else name
            frame = [label, 0.0]
            stages.stack.append(frame)
            t = clock()
            try:
                return original(*a, **k)
            finally:
                elapsed = clock() - t
                stages.stack.pop()
                stages.excl[label] += elapsed - frame[1]
                stages.calls[label] += 1
                if stages.stack:
                    stages.stack[-1][1] += elapsed

        setattr(owner, attr, timed)
        self.undo.append((owner, attr, original, had))

    def restore(self) -> None:
        for owner, attr, original, had in reversed(self.undo):
            if had:
                setattr(owner, attr, original)
            else:
                delattr(owner, attr)
        self.undo = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            label = self.stack[-1][0] if self.stack else "outside"
            self.sql_s[label] += time.perf_counter() - t
            self.sql_n[label] += 1
            self.shapes[label][" ".join(sql.split())[:90]] += 1


def instrument(stages: Stages) -> None:
    def model_label(verb: str) -> Callable[[tuple[Any, ...]], str]:
        return lambda a: f"{verb} {a[0].model.__name__}"

    stages.wrap(ingest_mod, "ingest", "ingest: legs, lock parcels, transaction")
    stages.wrap(ingest_mod, "find_legs", "find_legs (SELECT legs)")
    stages.wrap(ingest_mod, "_apply", "_apply: event rows, dedupe SELECT, fold loop")
    stages.wrap(ingest_mod, "dedupe_key", "dedupe_key (sha256 per event)")
    stages.wrap(timeline, "fold", "timeline.fold")
    stages.wrap(QuerySet, "bulk_create", model_label("bulk_create"))
    stages.wrap(QuerySet, "bulk_update", model_label("bulk_update"))
    stages.wrap(ingest_mod, "_add_handoffs", "_add_handoffs")
    stages.wrap(ingest_mod, "_reschedule", "_reschedule (UPDATE legs)")
    stages.wrap(ingest_mod, "_move_orders", "_move_orders: statuses, shipment events")
    stages.wrap(ingest_mod, "publish_recorded_many", "publish shipment.* (planner)")
    stages.wrap(ingest_mod, "order_apply_actions", "order_apply_actions")
    stages.wrap(orders_batch, "publish_recorded_many", "publish order.* (planner)")
    stages.wrap(connections["default"], "commit", "COMMIT")


# --- the service --------------------------------------------------------------------------


def c_service(cmd: dict[str, Any]) -> dict[str, Any]:
    """Ingest a parcel set's feed through ``ingest()``, one call per batch, and time it.

    ``again``: the feed of the previous pass of that set (all duplicates).
    ``mode``: plain (timing only), ``stages`` (each stage timed), ``profile`` (cProfile).
    """
    name, mode = cmd["set"], cmd.get("mode", "plain")
    shop = Shop.objects.get(pk=STATE["shop_id"])
    feeds = STATE.setdefault("feeds", {})
    if cmd.get("again"):
        batches = feeds[name]
    else:
        batches = feeds[name] = feed(STATE["sets"][name], cmd["seed"], cmd["batch_size"])
    calls = [(service_items(b), len(b)) for b in batches]
    changes, moves = (0, 0) if cmd.get("again") else expected_changes(batches)
    outbox0 = OutboxMessage.objects.count()
    events0 = OrderEvent.objects.count()
    counter = QueryCounter()
    stages = Stages() if mode == "stages" else None
    prof = cProfile.Profile() if mode == "profile" else None
    call = ingest_mod.ingest
    if stages:
        instrument(stages)
        call = ingest_mod.ingest  # the wrapped one
    totals = IngestReport()
    times: list[float] = []
    db = DbCpu()
    db.start()
    busy0 = machine_busy_seconds()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        with connection.execute_wrapper(stages or counter):
            if prof:
                prof.enable()
            for items, _n in calls:
                t = time.perf_counter()
                totals.merge(call(shop, items, source="push"))
                times.append(time.perf_counter() - t)
            if prof:
                prof.disable()
    finally:
        if stages:
            stages.restore()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    db_cpu = db.stop()
    busy = machine_busy_seconds() - busy0
    events = sum(n for _i, n in calls)
    times.sort()
    n_batches = max(1, len(calls))
    out: dict[str, Any] = {
        "set": name,
        "mode": mode,
        **batch_shape(batches),
        "seconds": round(wall, 3),
        "events_per_s": round(events / wall, 1) if wall else 0.0,
        "batch_p50_ms": round(percentile(times, 50) * 1000, 2),
        "batch_p99_ms": round(percentile(times, 99) * 1000, 2),
        "batch_max_ms": round(times[-1] * 1000, 2) if times else 0.0,
        "cpu_ms_per_event": round(cpu * 1000 / max(1, events), 4),
        "db_cpu_ms_per_event": round(db_cpu * 1000 / max(1, events), 4),
        "other_cpu_share": round(max(0.0, busy - cpu - db_cpu) / (wall * cores()), 3)
        if wall
        else 0.0,
        "received": totals.received,
        "inserted": totals.inserted,
        "duplicates": totals.duplicates,
        "unknown": len(totals.unknown),
        "parcels_changed": totals.parcels_changed,
        "orders_moved": totals.orders_moved,
        "expected_parcels_changed": changes,
        "expected_orders_moved": moves,
        "shipment_and_order_events": OrderEvent.objects.count() - events0,
        "messages_planned": OutboxMessage.objects.count() - outbox0,
        "statements_per_batch": round(sum(counter.kinds.values()) / n_batches, 2),
        "statements_by_kind_per_batch": {
            k: round(v / n_batches, 2) for k, v in counter.kinds.most_common()
        },
    }
    if stages:
        total = sum(stages.excl.values())
        rows = []
        for label, seconds in stages.excl.most_common():
            rows.append(
                {
                    "stage": label,
                    "calls_per_batch": round(stages.calls[label] / n_batches, 2),
                    "ms_per_batch": round(seconds * 1000 / n_batches, 3),
                    "sql_ms_per_batch": round(stages.sql_s[label] * 1000 / n_batches, 3),
                    "statements_per_batch": round(stages.sql_n[label] / n_batches, 2),
                    "share": round(seconds / total, 3) if total else 0.0,
                    "statement_shapes": [
                        [round(count / n_batches, 2), shape]
                        for shape, count in stages.shapes[label].most_common(4)
                    ],
                }
            )
        out["stages"] = rows
        out["stages_missing"] = stages.missing
        out["statements_per_batch"] = round(sum(stages.sql_n.values()) / n_batches, 2)
        out["sql_ms_per_batch"] = round(sum(stages.sql_s.values()) * 1000 / n_batches, 3)
        out["python_ms_per_batch"] = round(
            (total - sum(stages.sql_s.values())) * 1000 / n_batches, 3
        )
        out.pop("statements_by_kind_per_batch")
    if prof and cmd.get("profile_path"):
        prof.dump_stats(cmd["profile_path"])
        out["profile_path"] = cmd["profile_path"]
        out["profile_text"] = profile_text(cmd["profile_path"])
    return out


def profile_text(path: str, lines: int = 30) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(path, stream=stream)
    stats.strip_dirs().sort_stats("tottime").print_stats(lines)
    stats.sort_stats("cumulative").print_stats(lines)
    return stream.getvalue()


# --- HTTP bodies and what they left -------------------------------------------------------


def c_http_prepare(cmd: dict[str, Any]) -> dict[str, Any]:
    """Write the bodies each connection POSTs: its own parcels (no two connections touch
    the same parcel or order), warm-up first, to *path* as JSON."""
    conns, size = cmd["connections"], cmd["batch_size"]
    out: dict[str, Any] = {"warm": [], "main": []}
    shapes = []
    changes = moves = 0
    for part in ("warm", "main"):
        refs = STATE["sets"][f"http_{part}"]
        for c in range(conns):
            mine = refs[c::conns]
            batches = feed(mine, cmd["seed"] + c, size)
            if part == "warm":
                batches = batches[: cmd["warm_batches"]]
            else:
                shapes.append(batch_shape(batches))
                c_changes, c_moves = expected_changes(batches)
                changes += c_changes
                moves += c_moves
            out[part].append([push_body(b).decode() for b in batches])
    Path(cmd["path"]).write_text(json.dumps(out))
    return {
        "path": cmd["path"],
        "requests": sum(len(c) for c in out["main"]),
        "expected_parcels_changed": changes,
        "expected_orders_moved": moves,
        "events": sum(s["events"] for s in shapes),
        "parcels_per_batch_avg": round(
            sum(s["parcels_per_batch_avg"] * s["batches"] for s in shapes)
            / max(1, sum(s["batches"] for s in shapes)),
            1,
        ),
    }


def c_http_check(cmd: dict[str, Any]) -> dict[str, Any]:
    """Events stored and orders per status for the HTTP parcels."""
    refs = STATE["sets"]["http_main"]
    pids = [r.parcel_id for r in refs]
    stored = TrackingEvent.objects.filter(parcel_id__in=pids).count()
    statuses = dict(
        Order.objects.filter(pk__in={r.order_id for r in refs})
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {"events_stored": stored, "orders_by_status": statuses, "parcels": len(refs)}


def c_check(cmd: dict[str, Any]) -> dict[str, Any]:
    """Orders per status and events stored for a parcel set."""
    refs = STATE["sets"][cmd["set"]]
    statuses = dict(
        Order.objects.filter(pk__in={r.order_id for r in refs})
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    parcels = dict(
        Parcel.objects.filter(pk__in=[r.parcel_id for r in refs])
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    stored = TrackingEvent.objects.filter(parcel_id__in=[r.parcel_id for r in refs]).count()
    return {"orders_by_status": statuses, "parcels_by_status": parcels, "events_stored": stored}


# --- the raw baseline ---------------------------------------------------------------------

RAW_COLUMNS = (
    "parcel_id",
    "leg_id",
    "dedupe_key",
    "occurred_at",
    "utc_offset_minutes",
    "status",
    "reason",
    "raw_code",
    "raw_label",
    "location",
    "country",
    "latitude",
    "longitude",
    "customs",
    "source",
    "received_at",
)


def raw_rows(batches: list[list[Item]]) -> list[list[tuple[Any, ...]]]:
    """The TrackingEvent rows ``ingest()`` would write for *batches* (built before timing)."""
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    out = []
    for batch in batches:
        rows = []
        for item in batch:
            s, ref = item.scan, item.ref
            offset = s.occurred_at.utcoffset()
            rows.append(
                (
                    ref.parcel_id,
                    ref.leg_id,
                    dedupe_key(ref.leg_id, s),
                    adapt(s.occurred_at),
                    int(offset.total_seconds() // 60) if offset else 0,
                    s.status.value,
                    s.reason.value,
                    s.raw_code,
                    s.raw_label,
                    s.location,
                    s.country,
                    s.latitude,
                    s.longitude,
                    s.customs,
                    "push",
                    now,
                )
            )
        out.append(rows)
    return out


def c_raw(cmd: dict[str, Any]) -> dict[str, Any]:
    """``executemany`` of the same kind of TrackingEvent rows into the real table, on
    parcels of their own: one transaction per batch (PostgreSQL: psycopg directly, its
    own connection, pipelined; SQLite: the sqlite3 cursor)."""
    batches = feed(STATE["sets"]["raw"], cmd["seed"], cmd["batch_size"])
    rows = raw_rows(batches)
    table = TrackingEvent._meta.db_table
    sql = (
        f"INSERT INTO {table} ({', '.join(RAW_COLUMNS)}) "  # noqa: S608 - our own names
        f"VALUES ({', '.join(['%s'] * len(RAW_COLUMNS))})"
    )
    times: list[float] = []
    db = DbCpu()
    if vendor() == "postgresql":
        import psycopg

        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
            pid = conn.info.backend_pid
            db.start()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            with conn.cursor() as cursor:
                for chunk in rows:
                    t = time.perf_counter()
                    with conn.transaction():
                        cursor.executemany(sql, chunk)
                    times.append(time.perf_counter() - t)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            db_cpu = db.stop()
    else:
        pid = 0
        db.start()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        raw = connection.connection  # sqlite3.Connection
        for chunk in rows:
            t = time.perf_counter()
            with transaction.atomic():
                raw.executemany(sql.replace("%s", "?"), chunk)
            times.append(time.perf_counter() - t)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        db_cpu = db.stop()
    n = sum(len(c) for c in rows)
    stored = TrackingEvent.objects.filter(
        parcel_id__in=[r.parcel_id for r in STATE["sets"]["raw"]]
    ).count()
    times.sort()
    return {
        "rows": n,
        "stored": stored,
        "backend_pid": pid,
        "seconds": round(wall, 3),
        "rows_per_s": round(n / wall, 1) if wall else 0.0,
        "batch_p50_ms": round(percentile(times, 50) * 1000, 2),
        "batch_p99_ms": round(percentile(times, 99) * 1000, 2),
        "cpu_ms_per_row": round(cpu * 1000 / max(1, n), 4),
        "db_cpu_ms_per_row": round(db_cpu * 1000 / max(1, n), 4),
    }


# --- the due-poll query -------------------------------------------------------------------


def _bulk_legs_postgres(shop_id: int, order_id: int, account_id: int, n: int) -> None:
    """*n* parcels with one leg each, generated in the server: bucket = (g * 7919) % 10;
    0: in transit, due (next poll in the past hour), 1-3: in transit, next poll in the
    coming 6 hours, 4-9: delivered (not polled: NULL). Times are scattered with a second
    multiplicative hash, so the heap order says nothing about next_poll_at."""
    parcel = Parcel._meta.db_table
    leg = ParcelLeg._meta.db_table
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {parcel} (shop_id, order_id, carrier, service, tracking_number,"  # noqa: S608
            " tracking_url, status, status_reason, status_at, last_event_at, eta,"
            " pickup_deadline, relay_point, customs, stalled_at, delivered_at, shipped_at,"
            " created_at, updated_at)"
            " SELECT %s, %s, %s, '', 'BK' || lpad(g::text, 11, '0'), '',"
            " CASE WHEN (g * 7919) %% 10 < 4 THEN 'in_transit' ELSE 'delivered' END, '',"
            " %s::timestamptz - interval '1 day', %s::timestamptz - interval '1 day', NULL,"
            " NULL, '{}'::jsonb, '', NULL,"
            " CASE WHEN (g * 7919) %% 10 < 4 THEN NULL"
            " ELSE %s::timestamptz - interval '1 day' END,"
            " %s::timestamptz - interval '3 days', %s, %s"
            " FROM generate_series(1::bigint, %s::bigint) AS g",
            [shop_id, order_id, CARRIER, now, now, now, now, now, now, n],
        )
        cursor.execute(
            f"INSERT INTO {leg} (shop_id, parcel_id, carrier, tracking_number, role,"  # noqa: S608
            " account_id, next_poll_at, poll_failures, last_polled_at,"
            " last_error, last_error_at, created_at)"
            " SELECT p.shop_id, p.id, p.carrier, p.tracking_number, 'origin', %s,"
            " CASE WHEN b = 0 THEN %s::timestamptz - ((h %% 3600) * interval '1 second')"
            " WHEN b < 4 THEN %s::timestamptz + ((60 + h %% 21600) * interval '1 second')"
            " ELSE NULL END, 0, NULL, '', NULL, %s"
            " FROM (SELECT id, shop_id, carrier, tracking_number,"
            " (substr(tracking_number, 3)::bigint * 7919) %% 10 AS b,"
            " (substr(tracking_number, 3)::bigint * 104729) %% 1000003 AS h"
            f" FROM {parcel} WHERE shop_id = %s AND tracking_number LIKE 'BK%%') AS p",
            [account_id, now, now, now, shop_id],
        )


def _bulk_legs_sqlite(shop_id: int, order_id: int, account_id: int, n: int) -> None:
    """The same rows on SQLite (a recursive CTE; datetimes as Django stores them: UTC text)."""
    parcel = Parcel._meta.db_table
    leg = ParcelLeg._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    now = timezone.now()
    stamp = adapt(now)
    day_before = adapt(now - timedelta(days=1))
    shipped = adapt(now - timedelta(days=3))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %s)"  # noqa: S608
            f" INSERT INTO {parcel} (shop_id, order_id, carrier, service, tracking_number,"
            " tracking_url, status, status_reason, status_at, last_event_at, eta,"
            " pickup_deadline, relay_point, customs, stalled_at, delivered_at, shipped_at,"
            " created_at, updated_at)"
            " SELECT %s, %s, %s, '', 'BK' || substr('00000000000' || g, -11, 11), '',"
            " CASE WHEN (g * 7919) %% 10 < 4 THEN 'in_transit' ELSE 'delivered' END, '',"
            " %s, %s, NULL, NULL, '{}', '', NULL,"
            " CASE WHEN (g * 7919) %% 10 < 4 THEN NULL ELSE %s END, %s, %s, %s FROM s",
            [
                n,
                shop_id,
                order_id,
                CARRIER,
                day_before,
                day_before,
                day_before,
                shipped,
                stamp,
                stamp,
            ],
        )
        cursor.execute(
            f"INSERT INTO {leg} (shop_id, parcel_id, carrier, tracking_number, role,"  # noqa: S608
            " account_id, next_poll_at, poll_failures, last_polled_at,"
            " last_error, last_error_at, created_at)"
            " SELECT shop_id, id, carrier, tracking_number, 'origin', %s,"
            " CASE WHEN b = 0 THEN strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '-' || (h %% 3600) || ' seconds')"
            " WHEN b < 4 THEN strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '+' || (60 + h %% 21600) || ' seconds')"
            " ELSE NULL END, 0, NULL, '', NULL, %s"
            " FROM (SELECT id, shop_id, carrier, tracking_number,"
            " (CAST(substr(tracking_number, 3) AS INTEGER) * 7919) %% 10 AS b,"
            " (CAST(substr(tracking_number, 3) AS INTEGER) * 104729) %% 1000003 AS h"
            f" FROM {parcel} WHERE shop_id = %s AND tracking_number LIKE 'BK%%')",
            [account_id, stamp, stamp, stamp, shop_id],
        )


def _inner_select() -> str:
    """The claim query's inner SELECT, as :func:`polling.claim` writes it."""
    skip = " FOR UPDATE SKIP LOCKED" if vendor() == "postgresql" else ""
    return (
        f"SELECT id FROM {ParcelLeg._meta.db_table} WHERE next_poll_at IS NOT NULL"  # noqa: S608
        f" AND next_poll_at <= %s ORDER BY next_poll_at LIMIT %s{skip}"
    )


def explain(sql: str, params: list[Any], analyze_it: bool = True) -> str:
    """The plan of *sql* (run, then rolled back, when analysed)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if vendor() == "postgresql":
            options = "ANALYZE, BUFFERS" if analyze_it else "COSTS"
            cursor.execute(f"EXPLAIN ({options}) {sql}", params)
            text = "\n".join(row[0] for row in cursor.fetchall())
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            text = "\n".join(str(row[-1]) for row in cursor.fetchall())
        transaction.set_rollback(True)
    return text


def c_due_poll(cmd: dict[str, Any]) -> dict[str, Any]:
    """Bulk-load legs, VACUUM ANALYZE, show the claim query's plan and time ``claim(100)``
    over *runs* successive claims (each takes the next 100 due legs, as workers do)."""
    n, runs, limit = cmd["legs"], cmd["runs"], cmd["limit"]
    shop = Shop.objects.get(pk=STATE["shop_id"])
    holder = ship_orders(shop, f"{STATE['run']}D", 1)[0]
    t0 = time.perf_counter()
    if vendor() == "postgresql":
        _bulk_legs_postgres(shop.pk, holder, STATE["account_id"], n)
    else:
        _bulk_legs_sqlite(shop.pk, holder, STATE["account_id"], n)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        if vendor() == "postgresql":
            for model in (Parcel, ParcelLeg):
                cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
            # Write the loaded pages out now, so that the claims are timed in a steady
            # state, not during the checkpoint the load triggers (needs superuser or
            # pg_checkpoint; skipped otherwise).
            with contextlib.suppress(DatabaseError), transaction.atomic():
                cursor.execute("CHECKPOINT")
        else:
            cursor.execute("ANALYZE")
    vacuum_s = time.perf_counter() - t0
    now = timezone.now()
    legs_total = ParcelLeg.objects.count()
    due = ParcelLeg.objects.filter(next_poll_at__isnull=False, next_poll_at__lte=now).count()
    polled = ParcelLeg.objects.filter(next_poll_at__isnull=False).count()
    sizes: dict[str, Any] = {}
    if vendor() == "postgresql":
        with connection.cursor() as cursor:
            for rel in ("leg_due_poll", ParcelLeg._meta.db_table, Parcel._meta.db_table):
                cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [rel])
                sizes[rel] = round(cursor.fetchone()[0] / 2**20, 1)
    inner = _inner_select()
    plan = explain(inner, [now, limit])
    full_plan = ""
    if vendor() == "postgresql":
        table = ParcelLeg._meta.db_table
        full_plan = explain(
            f"UPDATE {table} SET next_poll_at = %s WHERE id IN ({inner}) RETURNING id",  # noqa: S608
            [now + polling.LEASE, now, limit],
        )
    uses = "leg_due_poll" in plan and ("Index" in plan or "INDEX" in plan)
    times: list[float] = []
    claimed: list[int] = []
    for _ in range(runs):
        t = time.perf_counter()
        ids = polling.claim(limit)
        times.append(time.perf_counter() - t)
        claimed.append(len(ids))
    # And once more after the successive claims (dead index entries at the head).
    plan_after = explain(inner, [timezone.now(), limit])
    order = sorted(times)
    return {
        "legs": legs_total,
        "loaded": n,
        "due": due,
        "polled": polled,
        "not_polled": legs_total - polled,
        "load_s": round(load_s, 2),
        "vacuum_analyze_s": round(vacuum_s, 2),
        "sizes_mb": sizes,
        "plan": plan,
        "full_plan": full_plan,
        "plan_after_claims": plan_after,
        "plan_uses_leg_due_poll": uses,
        "plan_after_uses_leg_due_poll": "leg_due_poll" in plan_after,
        "runs": runs,
        "limit": limit,
        "claimed_per_run_min": min(claimed) if claimed else 0,
        "claim_p50_ms": round(percentile(order, 50) * 1000, 3),
        "claim_p99_ms": round(percentile(order, 99) * 1000, 3),
        "claim_max_ms": round(order[-1] * 1000, 3) if order else 0.0,
        "claim_first_ms": round(times[0] * 1000, 3) if times else 0.0,
    }


# --- the loop -----------------------------------------------------------------------------

COMMANDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "setup": c_setup,
    "service": c_service,
    "http_prepare": c_http_prepare,
    "http_check": c_http_check,
    "check": c_check,
    "raw": c_raw,
    "due_poll": c_due_poll,
}


def main() -> int:
    return serve_commands(COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
