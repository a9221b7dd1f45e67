"""The Django side of the orders benchmark, run as a child process per database.

    _django_side.py setup                 migrate, two shops (one invoicing) with API keys
    _django_side.py baseline ...          raw inserts, service layer, API in-process
    _django_side.py verify ...            what the HTTP phases left in the database

Each prints progress lines, then one JSON line (read by ``_harness.run_child``).
The database comes from the environment (DATABASE_URL or SUIVI_DATA_DIR), as for the server.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import django

django.setup()

from _harness import proc_cpu_seconds  # noqa: E402
from _workload import ACTIONS, order_body  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import Resolver404, resolve  # noqa: E402
from django.utils import timezone  # noqa: E402

from suivi.customers.models import Customer  # noqa: E402
from suivi.orders.lifecycle import Mode, Status, action_target, event_type  # noqa: E402
from suivi.orders.models import Order, OrderEvent, OrderLine  # noqa: E402
from suivi.orders.services import (  # noqa: E402
    AddressInput,
    CustomerInput,
    LineInput,
    OrderInput,
    order_apply_action,
    order_create,
)
from suivi.shops.models import Shop  # noqa: E402
from suivi.shops.services import api_key_create  # noqa: E402
from suivi.testing import make_shop  # noqa: E402

BATCH = 1000
Call = Callable[[], Any]


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def two_shops(prefix: str) -> list[Shop]:
    """Return two shops as the tests have them: the first issues invoices, the second not."""
    return [
        make_shop(f"{prefix} Maison Lumière", slug=f"{prefix}-a", invoicing_enabled=True),
        make_shop(f"{prefix} Épicerie Bleue", slug=f"{prefix}-b"),
    ]


# --- setup --------------------------------------------------------------------------------


def setup(_: argparse.Namespace) -> None:
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrate_s = time.perf_counter() - started
    shops = two_shops("bench-api")
    keys = [api_key_create(shop=shop, name="benchmark").secret for shop in shops]
    emit(
        {
            "migrate_s": round(migrate_s, 2),
            "shop_ids": [shop.pk for shop in shops],
            "keys": keys,
            "vendor": connection.vendor,
        }
    )


# --- raw inserts: the same rows, no HTTP, no services ------------------------------------


def _e164(phone: str) -> str:
    return "+33" + phone[1:] if phone else ""


def _batches(total: int) -> Iterator[range]:
    for start in range(0, total, BATCH):
        yield range(start, min(total, start + BATCH))


def raw_inserts(shop: Shop, run: str, orders: int) -> tuple[float, int, list[int]]:
    """Insert *orders* orders with their customer, lines and ``order.created`` event with
    ``bulk_create``, one transaction per batch of 1000 orders; return (seconds, rows, ids)."""
    bodies = [order_body(run, i) for i in range(orders)]
    rows = 0
    ids: list[int] = []
    started = time.perf_counter()
    for batch in _batches(orders):
        now = timezone.now()
        with transaction.atomic():
            customers = Customer.objects.bulk_create(
                [
                    Customer(
                        shop=shop,
                        email=bodies[i]["customer"]["email"],
                        phone=_e164(bodies[i]["customer"].get("phone", "")),
                        first_name=bodies[i]["customer"]["first_name"],
                        last_name=bodies[i]["customer"]["last_name"],
                    )
                    for i in batch
                ]
            )
            new_orders = []
            for i, customer in zip(batch, customers, strict=True):
                body = bodies[i]
                address = body["shipping_address"]
                lines_amount = sum(
                    (Decimal(ln["unit_price"]) * ln["quantity"] for ln in body["lines"]),
                    Decimal("0"),
                )
                shipping = Decimal(body["shipping_amount"])
                new_orders.append(
                    Order(
                        shop=shop,
                        reference=body["reference"],
                        customer=customer,
                        email=customer.email,
                        phone=customer.phone,
                        fulfilment_mode=Mode.DELIVERY.value,
                        status=Status.AWAITING_PAYMENT.value,
                        ship_name=address["name"],
                        ship_line1=address["line1"],
                        ship_postcode=address["postcode"],
                        ship_city=address["city"],
                        ship_country=address["country"],
                        currency=body["currency"],
                        shipping_amount=shipping,
                        lines_amount=lines_amount,
                        total_amount=lines_amount + shipping,
                        placed_at=now,
                    )
                )
            created = Order.objects.bulk_create(new_orders)
            lines = [
                OrderLine(
                    order=order,
                    position=position,
                    sku=ln["sku"],
                    name=ln["name"],
                    unit_price=Decimal(ln["unit_price"]),
                    quantity_ordered=ln["quantity"],
                )
                for i, order in zip(batch, created, strict=True)
                for position, ln in enumerate(bodies[i]["lines"], start=1)
            ]
            OrderLine.objects.bulk_create(lines)
            OrderEvent.objects.bulk_create(
                [
                    OrderEvent(
                        shop=shop,
                        order=order,
                        type="order.created",
                        actor="api",
                        occurred_at=now,
                        payload={
                            "reference": order.reference,
                            "fulfilment_mode": order.fulfilment_mode,
                            "total_amount": str(order.total_amount),
                            "currency": order.currency,
                        },
                    )
                    for order in created
                ]
            )
        rows += len(customers) + len(created) + len(lines) + len(created)
        ids.extend(order.pk for order in created)
    return time.perf_counter() - started, rows, ids


def raw_transitions(shop: Shop, ids: list[int], transitions: int) -> tuple[float, int]:
    """Walk orders through the delivery actions with one compare-and-set UPDATE and one
    event per transition, executemany/bulk_create in batches of 1000; return (s, done)."""
    walked = ids[: -(-transitions // len(ACTIONS))]
    order_table = Order._meta.db_table
    line_table = OrderLine._meta.db_table
    # Table names come from our own models, not from input.
    update_order = (
        f"UPDATE {order_table} SET status = %s, version = version + 1, updated_at = %s"  # noqa: S608
        " WHERE id = %s AND shop_id = %s AND status = %s"
    )
    ship_lines = (
        f"UPDATE {line_table} SET quantity_shipped = quantity_ordered"  # noqa: S608
        " - quantity_cancelled - quantity_collected WHERE order_id = %s"
    )
    done = 0
    status = Status.AWAITING_PAYMENT.value
    started = time.perf_counter()
    for action in ACTIONS:
        target = action_target(action, Mode.DELIVERY)
        assert target is not None
        for batch in _batches(len(walked)):
            if done >= transitions:
                break
            batch_ids = [walked[i] for i in batch][: transitions - done]
            now = timezone.now()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(
                    update_order, [(target.value, now, pk, shop.pk, status) for pk in batch_ids]
                )
                if action == "ship":
                    cursor.executemany(ship_lines, [(pk,) for pk in batch_ids])
                OrderEvent.objects.bulk_create(
                    [
                        OrderEvent(
                            shop=shop,
                            order_id=pk,
                            type=event_type(action, target),
                            actor="api",
                            occurred_at=now,
                            payload={"from": status, "to": target.value},
                        )
                        for pk in batch_ids
                    ]
                )
            done += len(batch_ids)
        status = target.value
    return time.perf_counter() - started, done


# --- the service layer and the API, in process ----------------------------------------------


def order_input(body: dict[str, Any]) -> OrderInput:
    """Build the service input the API builds from the same body."""
    c, a = body["customer"], body["shipping_address"]
    return OrderInput(
        reference=body["reference"],
        customer=CustomerInput(
            email=c["email"],
            phone=c.get("phone", ""),
            first_name=c.get("first_name", ""),
            last_name=c.get("last_name", ""),
        ),
        fulfilment_mode=Mode(body["fulfilment_mode"]),
        lines=[
            LineInput(ln["sku"], ln["name"], Decimal(ln["unit_price"]), ln["quantity"])
            for ln in body["lines"]
        ],
        currency=body["currency"],
        shipping_amount=Decimal(body["shipping_amount"]),
        shipping_address=AddressInput(
            a["name"], a["line1"], a["postcode"], a["city"], a["country"]
        ),
    )


class Driver:
    """Creates orders and applies actions in process; subclasses choose the layer."""

    name = ""

    def __init__(self, shops: list[Shop], keys: list[str]):
        self.shops = shops
        self.keys = keys
        self.statuses: Counter[int] = Counter()

    def create(self, i: int, body: dict[str, Any]) -> int | None:
        raise NotImplementedError

    def act(self, i: int, pk: int, action: str) -> None:
        raise NotImplementedError


class ServiceDriver(Driver):
    """Call ``order_create`` and ``order_apply_action`` directly."""

    name = "service"

    def create(self, i: int, body: dict[str, Any]) -> int | None:
        return order_create(shop=self.shops[i % 2], data=order_input(body), actor="api").pk

    def act(self, i: int, pk: int, action: str) -> None:
        order_apply_action(shop=self.shops[i % 2], order_id=pk, action=action, actor="api")


class ApiDriver(Driver):
    """Go through Django's test client: URL routing, middleware, the API, no HTTP server."""

    name = "api"

    def __init__(self, shops: list[Shop], keys: list[str]):
        super().__init__(shops, keys)
        self.client = Client()

    def create(self, i: int, body: dict[str, Any]) -> int | None:
        response = self.client.post(
            "/api/v1/orders",
            data=json.dumps(body),
            content_type="application/json",
            headers={"authorization": f"Bearer {self.keys[i % 2]}"},
        )
        self.statuses[response.status_code] += 1
        return int(response.json()["id"]) if response.status_code == 201 else None

    def act(self, i: int, pk: int, action: str) -> None:
        response = self.client.post(
            f"/api/v1/orders/{pk}/actions/{action}",
            data="{}",
            content_type="application/json",
            headers={"authorization": f"Bearer {self.keys[i % 2]}"},
        )
        self.statuses[response.status_code] += 1


def backend_pid() -> int:
    """Return the PostgreSQL server process of our connection (0 on SQLite)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def measure(
    calls: list[Call], profile: cProfile.Profile | None = None, seconds: float = 3600.0
) -> dict[str, float]:
    """Run *calls* one after the other: the rate, and the CPU each call cost here and in the
    database server (CPU is what other load on the machine does not inflate)."""
    pid = backend_pid()
    db0 = proc_cpu_seconds(pid) if pid else 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    deadline = wall0 + seconds
    done = 0
    if profile:
        profile.enable()
    for call in calls:
        if time.perf_counter() > deadline:
            break
        call()
        done += 1
    if profile:
        profile.disable()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    db = (proc_cpu_seconds(pid) - db0) if pid else 0.0
    n = max(1, done)
    return {
        "ops": done,
        "per_s": round(done / wall, 1) if wall else 0.0,
        "cpu_ms": round(cpu * 1000 / n, 3),
        "db_cpu_ms": round(db * 1000 / n, 3),
    }


def query_profile(calls: list[Call]) -> dict[str, Any]:
    """Count the SQL statements of *calls*, per call and by kind."""
    with CaptureQueriesContext(connection) as ctx:
        for call in calls:
            call()
    kinds = Counter(q["sql"].split(None, 1)[0].upper() for q in ctx.captured_queries)
    per = len(ctx.captured_queries) / max(1, len(calls))
    return {
        "queries_per_op": round(per, 2),
        "by_kind_per_op": {k: round(v / max(1, len(calls)), 2) for k, v in kinds.most_common()},
        "sample_sql": [q["sql"][:200] for q in ctx.captured_queries[: int(per) + 1]],
    }


def dump_profile(profile: cProfile.Profile, path: Path, ops: int) -> str:
    """Write *profile* (binary, and text sorted by own and cumulative time); return the text."""
    profile.dump_stats(str(path.with_suffix(".prof")))
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    out.write(f"# {ops} operations\n")
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(50)
    path.with_suffix(".txt").write_text(out.getvalue())
    return str(path.with_suffix(".txt"))


def drive(
    driver: Driver,
    tag: str,
    orders: int,
    transitions: int,
    profile_dir: Path | None,
    seconds: float,
) -> dict[str, Any]:
    """Create *orders* orders and walk enough of them for *transitions*, in one thread, each
    for *seconds* at most; then count statements on a sample and, if asked, profile another
    sample."""

    def create_calls(prefix: str, count: int, ids: list[tuple[int, int]]) -> list[Call]:
        bodies = [order_body(prefix, i) for i in range(count)]
        return [
            lambda i=i, b=b: ids.append((i, pk)) if (pk := driver.create(i, b)) else None
            for i, b in enumerate(bodies)
        ]

    def walk_calls(ids: list[tuple[int, int]], count: int) -> list[Call]:
        walked = ids[: -(-count // len(ACTIONS))]
        return [
            lambda i=i, pk=pk, a=action: driver.act(i, pk, a)
            for action in ACTIONS
            for i, pk in walked
        ][:count]

    ids: list[tuple[int, int]] = []
    result: dict[str, Any] = {
        "create": measure(create_calls(f"{tag}C", orders, ids), None, seconds)
    }
    result["transition"] = measure(walk_calls(ids, transitions), None, seconds)
    sample: list[tuple[int, int]] = []
    size = max(2, min(6, orders // 4))  # both shops, the invoicing one included
    result["create_queries"] = query_profile(create_calls(f"{tag}Q", size, sample))
    result["transition_queries"] = query_profile(walk_calls(sample, size * len(ACTIONS)))
    if profile_dir:
        sample = []
        count = min(orders, 200)
        # Built one after the other: the walk needs the orders the creations made.
        makers: list[tuple[str, Callable[[], list[Call]]]] = [
            ("create", lambda: create_calls(f"{tag}F", count, sample)),
            ("transition", lambda: walk_calls(sample, count * len(ACTIONS))),
        ]
        for kind, make in makers:
            calls = make()
            prof = cProfile.Profile()
            measure(calls, prof)
            result[f"{kind}_profile"] = dump_profile(
                prof, profile_dir / f"{driver.name}_{kind}", len(calls)
            )
    result["statuses"] = {str(k): v for k, v in driver.statuses.items()}
    return result


def api_available() -> bool:
    try:
        resolve("/api/v1/orders")
    except Resolver404:
        return False
    return True


def baseline(args: argparse.Namespace) -> None:
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"check": check_data(args.run, json.loads(args.shop_ids))}
    if not args.orders:
        emit(result)
        return
    raw_shop = make_shop(f"bench-raw-{args.run}", slug=f"bench-raw-{args.run.lower()}")
    orders = args.orders
    seconds, rows, ids = raw_inserts(raw_shop, f"{args.run}W", orders)
    result.update(
        raw_insert_orders_per_s=round(orders / seconds, 1),
        raw_insert_rows_per_s=round(rows / seconds, 1),
        raw_rows_per_order=round(rows / orders, 2),
    )
    print(f"raw inserts: {orders} orders, {rows} rows in {seconds:.2f}s", flush=True)
    seconds, done = raw_transitions(raw_shop, ids, max(1, args.transitions))
    result["raw_transitions_per_s"] = round(done / seconds, 1)
    print(f"raw transitions: {done} in {seconds:.2f}s", flush=True)
    if args.service_orders:
        shops = two_shops(f"bench-svc-{args.run.lower()}")
        result["service"] = drive(
            ServiceDriver(shops, []),
            f"{args.run}S",
            args.service_orders,
            args.service_transitions,
            profile_dir,
            args.seconds,
        )
        print(f"service layer: {result['service']['create']} per creation", flush=True)
    if args.api_orders and api_available():
        shops = list(Shop.objects.filter(pk__in=json.loads(args.shop_ids)).order_by("pk"))
        result["api_in_process"] = drive(
            ApiDriver(shops, json.loads(args.keys)),
            f"{args.run}P",
            args.api_orders,
            args.api_transitions,
            profile_dir,
            args.seconds,
        )
        print(f"API in process: {result['api_in_process']['create']} per creation", flush=True)
    result["vendor"] = connection.vendor
    emit(result)


# --- verify -------------------------------------------------------------------------------


def check_data(run: str, shop_ids: list[int]) -> dict[str, Any]:
    """Return what the HTTP phases left in the database: orders per status, events, lines."""
    orders = Order.objects.filter(shop_id__in=shop_ids, reference__startswith=f"{run}-")
    by_status = Counter(orders.values_list("status", flat=True))
    return {
        "orders": sum(by_status.values()),
        "by_status": dict(by_status),
        "events": OrderEvent.objects.filter(order__in=orders).count(),
        "lines": OrderLine.objects.filter(order__in=orders).count(),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="_django_side.py")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup").set_defaults(func=setup)
    p = sub.add_parser("baseline")
    p.add_argument("--run", required=True)
    p.add_argument("--orders", type=int, required=True)
    p.add_argument("--transitions", type=int, required=True)
    p.add_argument("--service-orders", type=int, default=0)
    p.add_argument("--service-transitions", type=int, default=0)
    p.add_argument("--api-orders", type=int, default=0)
    p.add_argument("--api-transitions", type=int, default=0)
    p.add_argument("--keys", default="[]")
    p.add_argument("--shop-ids", default="[]")
    p.add_argument("--profile", default="")
    p.add_argument("--seconds", type=float, default=3600.0, help="at most, per timed loop")
    p.set_defaults(func=baseline)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
