"""The Django side of the tracking page benchmark (``bench/tracking_page.py``), run as a
child process. It reads one JSON command per line on stdin and answers each with one line
``@@ {json}`` on stdout (other lines are progress, shown by the driver).

Commands:

- ``setup``: migrate, the two demo shops and their orders written by the demo's bulk path
  (the rows the services would write, every status, invoices, order events), one process
  per shop on PostgreSQL; then parcels for every order the carrier has (shipped, in
  transit, out for delivery, at a relay point, delivered: about 40 % of the orders), 1-2
  per order, each with its leg, its lines and 3-8 La Poste scans, written with
  :mod:`suivi.demo.fastinsert` (COPY on PostgreSQL); ``VACUUM (ANALYZE)`` at the end.
- ``targets``: the paths the driver requests (minimal view, page, JSON, health check) for
  random orders across the whole set, written to a file.
- ``queries``: each endpoint in process through Django's test client on a few orders with
  and without parcels: status, SQL statements (``CaptureQueriesContext``), bytes, time.
- ``profile``: cProfile of one endpoint's requests in process (``--profile``).
"""

from __future__ import annotations

import cProfile
import hashlib
import io
import json
import multiprocessing as mp
import pstats
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import django
from _harness import cores, serve_commands

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.db.models import Count, Model  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from suivi.demo import fastinsert  # noqa: E402
from suivi.demo.generator import generate_plans  # noqa: E402
from suivi.demo.loader import demo_load, orders_bulk_create  # noqa: E402
from suivi.demo.specs import DEMO_SHOPS, ShopSpec  # noqa: E402
from suivi.notifications.links import tracking_token  # noqa: E402
from suivi.orders.models import Order, OrderLine  # noqa: E402
from suivi.shipments.models import Parcel, ParcelLeg, ParcelLine, TrackingEvent  # noqa: E402
from suivi.shops.models import Shop  # noqa: E402

CARRIER = "laposte"
BATCH = 2_000  # orders per parcels transaction
TWO_PARCELS_SHARE = 0.3  # of the orders with at least two units
# The order statuses that have parcels, and what their parcels went through.
SHIPPED = ("shipped", "in_transit", "out_for_delivery", "available_for_pickup", "delivered")
HUBS = (
    "Paris Nord PFC",
    "Lyon Corbas PFC",
    "Marseille Vitrolles PFC",
    "Bordeaux Cestas PFC",
    "Lille Lesquin PFC",
    "Rennes Le Rheu PFC",
    "Toulouse Fenouillet PFC",
    "Nantes Carquefou PFC",
)
DEPOTS = ("Paris 11e PDC", "Lyon 2e PDC", "Marseille 1er PDC", "Bordeaux Centre PDC")
DECLARED = ("info_received", "DR1", "Votre colis est annoncé, il va nous être confié")
TAKEN = ("in_transit", "PC1", "Votre colis a été déposé")
MOVING = (
    ("in_transit", "ET1", "Votre colis est en cours d'acheminement"),
    ("in_transit", "ET2", "Votre colis est arrivé sur la plateforme"),
    ("in_transit", "ET3", "Votre colis a été trié"),
    ("in_transit", "ET4", "Votre colis a quitté la plateforme"),
)
OUT = ("out_for_delivery", "MD2", "Votre colis est en cours de livraison")
AT_RELAY = ("available_for_pickup", "AG1", "Votre colis est disponible dans votre point de retrait")
DELIVERED = ("delivered", "DI1", "Votre colis a été livré")
RELAY = {
    "name": "Tabac de la Gare",
    "line1": "2 place de la Gare",
    "postcode": "75011",
    "city": "Paris",
    "opening_hours": {"mon": [["08:00", "19:00"]], "sat": [["09:00", "13:00"]], "sun": []},
}

Step = tuple[str, str, str]


def log(text: str) -> None:
    print(text, flush=True)


# --- data ---------------------------------------------------------------------------------


def story(rng: random.Random, order_status: str) -> list[Step]:
    """The scans of one parcel of an order in *order_status*: 3 to 8."""
    moving = [rng.choice(MOVING) for _ in range(rng.randint(1, 4))]
    steps = [DECLARED, TAKEN, *moving]
    if order_status == "shipped":
        return steps[:3]
    if order_status == "out_for_delivery":
        return [*steps[:6], OUT]
    if order_status == "available_for_pickup":
        return [*steps[:6], OUT, AT_RELAY]
    if order_status == "delivered":
        return [*steps[:6], OUT, DELIVERED]
    return steps  # in transit


def split_lines(lines: list[tuple[int, int]], parcels: int) -> list[list[tuple[int, int]]]:
    """Share (line id, quantity) among *parcels* parcels, none empty."""
    if parcels == 1:
        return [lines]
    if len(lines) >= 2:
        return [lines[0::2], lines[1::2]]
    (line_id, quantity) = lines[0]
    first = quantity // 2
    return [[(line_id, first)], [(line_id, quantity - first)]]


class Row:
    """A row for :func:`fastinsert.insert`: the model's attribute names and nothing else
    (``Model.__init__`` took half the time of writing 400,000 rows)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...


def defaults(model: type[Model]) -> dict[str, Any]:
    """Every concrete field of *model* at its default (callables called once)."""
    return {f.attname: f.get_default() for f in model._meta.concrete_fields}


def parcels_for(slug: str, seed: int, part: int, parts: int) -> dict[str, Any]:
    """Write parcels, legs, parcel lines and scans for one *part* of the shipped orders of
    the shop *slug* (every *parts*-th order)."""
    started = time.perf_counter()
    shop = Shop.objects.get(slug=slug)
    rng = random.Random(f"{seed}:{slug}:parcels:{part}")
    now = timezone.now()
    orders = list(
        Order.objects.filter(shop=shop, status__in=SHIPPED)
        .order_by("pk")
        .values_list("pk", "status", "placed_at")
    )[part::parts]
    base = {model: defaults(model) for model in (Parcel, ParcelLeg, ParcelLine, TrackingEvent)}
    counts: Counter[str] = Counter()
    for start in range(0, len(orders), BATCH):
        batch = orders[start : start + BATCH]
        lines: dict[int, list[tuple[int, int]]] = {}
        for line_id, order_id, ordered, cancelled in (
            OrderLine.objects.filter(order_id__in=[o[0] for o in batch])
            .order_by("order_id", "position")
            .values_list("pk", "order_id", "quantity_ordered", "quantity_cancelled")
        ):
            if ordered > cancelled:
                lines.setdefault(order_id, []).append((line_id, ordered - cancelled))
        parcels: list[Row] = []
        plans: list[tuple[list[Step], list[tuple[int, int]], list[datetime]]] = []
        for order_id, status, placed_at in batch:
            own = lines.get(order_id) or []
            if not own:
                continue
            units = sum(q for _, q in own)
            count = 2 if units >= 2 and rng.random() < TWO_PARCELS_SHARE else 1
            for index, share in enumerate(split_lines(own, count)):
                steps = story(rng, status)
                # The last scan a few hours before now for moving parcels; the whole story
                # within days of the order for delivered ones (never in the future).
                gaps = [timedelta(minutes=rng.randint(180, 840)) for _ in steps]
                if status == "delivered":
                    end = min(placed_at + sum(gaps, timedelta(days=1)), now - timedelta(hours=1))
                else:
                    end = now - timedelta(minutes=rng.randint(20, 1_800))
                times = []
                moment = end.replace(microsecond=0)
                for gap in reversed(gaps):
                    times.append(moment)
                    moment -= gap
                times.reverse()
                final, last = steps[-1][0], times[-1]
                moving = final in ("in_transit", "info_received")
                at_relay = final == "available_for_pickup"
                parcels.append(
                    Row(
                        base[Parcel]
                        | {
                            "shop_id": shop.pk,
                            "order_id": order_id,
                            "carrier": CARRIER,
                            "service": "colissimo",
                            "tracking_number": f"6A{order_id * 2 + index:011d}",
                            "status": final,
                            "status_at": last,
                            "last_event_at": last,
                            "shipped_at": times[0],
                            "eta": (last + timedelta(days=1)).replace(hour=16, minute=0)
                            if moving
                            else None,
                            "delivered_at": last if final == "delivered" else None,
                            "relay_point": RELAY if at_relay else {},
                            "pickup_deadline": last + timedelta(days=10) if at_relay else None,
                        }
                    )
                )
                plans.append((steps, share, times))
        with transaction.atomic():
            fastinsert.insert(Parcel, parcels)
            legs = [
                Row(
                    base[ParcelLeg]
                    | {
                        "shop_id": shop.pk,
                        "parcel_id": p.id,
                        "carrier": CARRIER,
                        "tracking_number": p.tracking_number,
                        "role": "origin",
                        "next_poll_at": None
                        if p.status == "delivered"
                        else now + timedelta(hours=1),
                        "last_polled_at": p.last_event_at,
                    }
                )
                for p in parcels
            ]
            fastinsert.insert(ParcelLeg, legs)
            parcel_lines, events = [], []
            for parcel, leg, (steps, share, times) in zip(parcels, legs, plans, strict=True):
                for line_id, quantity in share:
                    parcel_lines.append(
                        Row(
                            base[ParcelLine]
                            | {
                                "parcel_id": parcel.id,
                                "order_line_id": line_id,
                                "quantity": quantity,
                            }
                        )
                    )
                for (status, code, label), at in zip(steps, times, strict=True):
                    place = (
                        ""
                        if code == "DR1"
                        else rng.choice(DEPOTS)
                        if code in ("MD2", "DI1", "AG1")
                        else rng.choice(HUBS)
                    )
                    key = f"{leg.id}|{code}|{at.isoformat()}|{place}"
                    events.append(
                        Row(
                            base[TrackingEvent]
                            | {
                                "parcel_id": parcel.id,
                                "leg_id": leg.id,
                                "dedupe_key": hashlib.sha256(key.encode()).hexdigest(),
                                "occurred_at": at,
                                "utc_offset_minutes": 60 if at.month in (1, 2, 3, 11, 12) else 120,
                                "status": status,
                                "raw_code": code,
                                "raw_label": label,
                                "location": place,
                                "country": "FR",
                                "source": "poll",
                                "received_at": at + timedelta(minutes=7),
                            }
                        )
                    )
            fastinsert.insert(ParcelLine, parcel_lines)
            fastinsert.insert(TrackingEvent, events)
        counts.update(parcels=len(parcels), parcel_lines=len(parcel_lines), events=len(events))
    connections.close_all()
    return {
        "shop": slug,
        "part": part,
        "seconds": round(time.perf_counter() - started, 1),
        **counts,
    }


def shares(total: int) -> list[int]:
    """Split *total* orders among the demo shops by their share (as the demo does)."""
    weight = sum(spec.share for spec in DEMO_SHOPS)
    counts = [total * spec.share // weight for spec in DEMO_SHOPS]
    counts[0] += total - sum(counts)
    return counts


def orders_for(slug: str, count: int, seed: int, now: datetime) -> dict[str, Any]:
    """Write *count* demo orders for the shop *slug* through the demo's bulk path."""
    started = time.perf_counter()
    spec: ShopSpec = next(s for s in DEMO_SHOPS if s.slug == slug)
    shop = Shop.objects.get(slug=slug)
    plans = generate_plans(spec, count=count, seed=seed, now=now)
    written = orders_bulk_create(shop=shop, plans=plans)
    connections.close_all()
    return {"shop": slug, "orders": written, "seconds": round(time.perf_counter() - started, 1)}


Job = tuple[Callable[..., dict[str, Any]], tuple[Any, ...]]


def _call(job: Job) -> dict[str, Any]:
    function, args = job
    return function(*args)


def c_setup(cmd: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    migrate_s = time.perf_counter() - started
    if cmd.get("reuse"):  # the data a --keep run left
        return describe(started, migrate_s, 0.0, 0.0, {})
    demo_load(orders=0, method="bulk", seed=cmd["seed"])  # the shops, staff and API keys
    now, seed = timezone.now(), cmd["seed"]
    # SQLite has one writer at a time; on PostgreSQL one process per core: the orders one
    # shop per process (each shop's batches lock its own document counters), then the
    # parcels of every shop cut in as many parts as there are processes.
    procs = max(1, min(cores(), 4)) if connection.vendor == "postgresql" else 1
    steps: dict[str, Any] = {}
    loaded = time.perf_counter()
    order_jobs: list[Job] = [
        (orders_for, (spec.slug, count, seed, now))
        for spec, count in zip(DEMO_SHOPS, shares(cmd["orders"]), strict=True)
    ]
    parcel_jobs: list[Job] = [
        (parcels_for, (spec.slug, seed, part, procs))
        for spec in DEMO_SHOPS
        for part in range(procs)
    ]
    for name, jobs in (("orders", order_jobs), ("parcels", parcel_jobs)):
        if procs > 1 and cmd["orders"] >= 2_000:
            connections.close_all()
            with mp.get_context("fork").Pool(procs) as pool:
                steps[name] = pool.map(_call, jobs)
        else:
            steps[name] = [_call(job) for job in jobs]
        steps[f"{name}_s"] = round(time.perf_counter() - loaded, 1)
        log(f"{name} written in {steps[f'{name}_s']}s")
        loaded = time.perf_counter()
    load_s = sum(steps[f"{name}_s"] for name in ("orders", "parcels"))
    vacuumed = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM (ANALYZE)")
            cursor.execute("CHECKPOINT")
        else:
            cursor.execute("ANALYZE")
    return describe(started, migrate_s, load_s, time.perf_counter() - vacuumed, steps)


def describe(
    started: float, migrate_s: float, load_s: float, vacuum_s: float, steps: dict[str, Any]
) -> dict[str, Any]:
    statuses = dict(Order.objects.values_list("status").annotate(n=Count("pk")).order_by())
    return {
        "vendor": connection.vendor,
        "migrate_s": round(migrate_s, 1),
        "load_s": round(load_s, 1),
        "vacuum_s": round(vacuum_s, 1),
        "setup_s": round(time.perf_counter() - started, 1),
        "orders": sum(statuses.values()),
        "orders_with_parcels": Parcel.objects.values("order_id").distinct().count(),
        "parcels": Parcel.objects.count(),
        "tracking_events": TrackingEvent.objects.count(),
        "orders_by_status": statuses,
        "steps": steps,
    }


# --- what the driver requests -------------------------------------------------------------


def paths_for(order_id: int) -> dict[str, str]:
    """The path of each endpoint for one order (``reverse`` once per endpoint, then the
    order's id or token put in)."""
    if not PATTERNS:
        PATTERNS.update(
            minimal=reverse("bench-minimal", args=[987654321]).replace("987654321", "{id}"),
            page=reverse("customer:track", args=["TOKEN"]).replace("TOKEN", "{token}"),
            json=reverse("customer:track-json", args=["TOKEN"]).replace("TOKEN", "{token}"),
            healthz="/healthz",
        )
    token = tracking_token(order_id)
    return {name: p.format(id=order_id, token=token) for name, p in PATTERNS.items()}


PATTERNS: dict[str, str] = {}


def c_targets(cmd: dict[str, Any]) -> dict[str, Any]:
    """Write the paths of *count* random orders (across all of them) to *path*."""
    ids = list(Order.objects.values_list("pk", flat=True))
    rng = random.Random(cmd["seed"])
    chosen = rng.sample(ids, min(cmd["count"], len(ids)))
    targets: dict[str, list[str]] = {}
    for order_id in chosen:
        for name, path in paths_for(order_id).items():
            targets.setdefault(name, []).append(path)
    Path(cmd["path"]).write_text(json.dumps(targets))
    built: list[float] = []
    if cmd.get("prebuild"):
        # The public pages as the worker leaves them after each change (first views are
        # the build cost below, measured here in process).
        from suivi.customerweb.pages import render_public

        for order_id in chosen:
            started = time.perf_counter()
            render_public(order_id)
            built.append((time.perf_counter() - started) * 1000)
    built.sort()
    return {
        "path": cmd["path"],
        "orders": len(chosen),
        "of": len(ids),
        "prebuilt": len(built),
        "build_ms_p50": round(built[len(built) // 2], 2) if built else None,
        "build_ms_p99": round(built[int(len(built) * 0.99)], 2) if built else None,
    }


# --- in process ---------------------------------------------------------------------------


def sample_orders(per_kind: int, seed: int) -> dict[str, list[int]]:
    """A few orders of each kind the page shows differently."""
    rng = random.Random(seed)
    two = list(
        Parcel.objects.values("order_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=2)
        .values_list("order_id", flat=True)[:200]
    )
    one = list(
        Parcel.objects.values("order_id")
        .annotate(n=Count("pk"))
        .filter(n=1)
        .values_list("order_id", flat=True)[:200]
    )
    none = list(Order.objects.exclude(status__in=SHIPPED).values_list("pk", flat=True)[:200])

    def pick(ids: list[int]) -> list[int]:
        return rng.sample(ids, min(per_kind, len(ids)))

    return {"no_parcel": pick(none), "one_parcel": pick(one), "two_parcels": pick(two)}


def c_queries(cmd: dict[str, Any]) -> dict[str, Any]:
    """Each endpoint in process: statuses, SQL statements, bytes and ms per request."""
    client = Client()
    kinds = sample_orders(cmd.get("per_kind", 4), cmd.get("seed", 1))
    out: dict[str, Any] = {}
    for name in ("minimal", "page", "json", "healthz"):
        statuses: Counter[str] = Counter()
        queries: list[int] = []
        sizes: list[int] = []
        by_kind: dict[str, list[int]] = {}
        millis: list[float] = []
        for kind, ids in kinds.items():
            for order_id in ids:
                path = paths_for(order_id)[name]
                client.get(path)  # warm: first-use costs (templates, translations) not counted
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = client.get(path)
                    millis.append((time.perf_counter() - started) * 1000)
                statuses[str(response.status_code)] += 1
                queries.append(len(captured.captured_queries))
                by_kind.setdefault(kind, []).append(len(captured.captured_queries))
                sizes.append(len(response.content))
        out[name] = {
            "requests": len(queries),
            "statuses": dict(statuses),
            "queries_avg": round(statistics.fmean(queries), 2) if queries else 0,
            "queries_max": max(queries, default=0),
            "queries_by_kind": {k: max(v) for k, v in by_kind.items()},
            "bytes_avg": round(statistics.fmean(sizes)) if sizes else 0,
            "inprocess_ms_median": round(statistics.median(millis), 3) if millis else 0,
        }
    return out


def c_profile(cmd: dict[str, Any]) -> dict[str, Any]:
    """cProfile of *requests* requests to endpoint *name* in process (random orders)."""
    rng = random.Random(cmd.get("seed", 1))
    ids = rng.sample(list(Order.objects.values_list("pk", flat=True)), cmd["requests"])
    paths = [paths_for(order_id)[cmd["name"]] for order_id in ids]
    client = Client()
    for path in paths[:5]:
        client.get(path)
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for path in paths:
        client.get(path)
    profile.disable()
    seconds = time.perf_counter() - started
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text).strip_dirs().sort_stats("cumulative")
    stats.print_stats(cmd.get("lines", 40))
    return {"requests": len(paths), "ms_per_request": round(seconds * 1000 / len(paths), 3),
            "text": text.getvalue()}  # fmt: skip


COMMANDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "setup": c_setup,
    "targets": c_targets,
    "queries": c_queries,
    "profile": c_profile,
}


def main() -> int:
    return serve_commands(COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
