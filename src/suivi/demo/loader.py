"""Load the demo platform: two shops, their staff, API keys and orders in every status.

Small demos go through the order services, so the data is exactly what they produce (and
what notifications and the timeline expect). Large data sets for benchmarks are replayed in
memory (:mod:`.replay`) and written with ``bulk_create``, 1,000 orders per transaction.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Model
from django.db.models.functions import Length
from django.utils import timezone
from tqdm import tqdm

from suivi.core.errors import InvalidInput
from suivi.core.phones import normalize_phone
from suivi.customers.models import Customer
from suivi.orders.models import CreditNote, DocumentSequence, Invoice, Order, OrderEvent, OrderLine
from suivi.orders.services import (
    order_apply_action,
    order_cancel,
    order_cancel_lines,
    order_create,
    order_set_exception,
)
from suivi.shops.models import Location, Membership, Shop
from suivi.shops.services import api_key_create, location_create, shop_create, staff_add

from . import fastinsert
from .credentials import (
    ApiKeyCredential,
    DemoCredentials,
    Login,
    credentials_path,
    format_credentials,
    write_credentials,
)
from .generator import CHANNEL_ACTOR, Op, OpKind, OrderPlan, generate_plans
from .replay import Numbering, Replayed, order_language, replay
from .specs import CUSTOMER_EMAIL, DEMO_SHOPS, OPERATOR_EMAIL, ShopSpec, demo_emails

DEFAULT_ORDERS = 120
DEFAULT_SEED = 1
# Above this many orders the services path would take minutes: replay and bulk insert.
SERVICES_LIMIT = 1000
BATCH_SIZE = 1000

Method = Literal["auto", "services", "bulk"]
T = TypeVar("T")


@dataclass
class DemoReport:
    """What :func:`demo_load` did."""

    shops: list[Shop] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    orders: int = 0
    seconds: float = 0.0
    method: str = "services"
    credentials: DemoCredentials | None = None  # only when the shops were created now

    @property
    def rate(self) -> float:
        """Orders written per second."""
        return self.orders / self.seconds if self.seconds else 0.0

    def describe(self, *, show_credentials: bool = True) -> str:
        """Return what was done, for the command line; new credentials only if asked."""
        lines = []
        if self.removed:
            lines.append(f"Removed the demo shops {', '.join(self.removed)} and their logins.")
        names = ", ".join(shop.name for shop in self.shops)
        lines.append(
            f"Wrote {self.orders} orders to {names} through the {self.method} path"
            f" in {self.seconds:.1f} s ({self.rate:,.0f} orders/s)."
        )
        if self.credentials is None:
            lines.append(
                f"The demo shops existed: logins and API keys unchanged (see {credentials_path()})."
            )
        elif show_credentials:
            lines += [
                format_credentials(self.credentials),
                f"  (kept in {credentials_path()}, readable by you only)",
            ]
        else:
            lines.append(f"Demo logins and API keys written to {credentials_path()}.")
        return "\n".join(lines)


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


# --- shops and people ---------------------------------------------------------------------


def _set_password(email: str, password: str) -> None:
    user = get_user_model().objects.get(username=email)
    user.set_password(password)
    user.save(update_fields=["password"])


def _shop_setup(spec: ShopSpec, password: str) -> tuple[Shop, ApiKeyCredential, list[Login]]:
    shop = shop_create(
        name=spec.name, slug=spec.slug, invoicing_enabled=spec.invoicing, sender_name=spec.name
    )
    # Branding has no service yet; these fields carry no rule to enforce.
    Shop.objects.filter(pk=shop.pk).update(
        legal_name=spec.legal_name,
        primary_color=spec.primary_color,
        accent_color=spec.accent_color,
    )
    for loc in spec.locations:
        location_create(
            shop=shop, kind=loc.kind, code=loc.code, name=loc.name,
            address_line1=loc.address_line1, postcode=loc.postcode, city=loc.city,
            opening_hours=loc.opening_hours,
        )  # fmt: skip
    logins = []
    user_model = get_user_model()
    for member in spec.staff:
        existed = user_model.objects.filter(username=member.email).exists()
        staff_add(shop=shop, email=member.email, password=password, role=member.role)
        if existed:  # left over from an earlier demo: give it this demo's password
            _set_password(member.email, password)
        _verified(member.email)
        # The role's code, not its label: the labels are translated, the command line is not.
        role = member.role.replace("_", " ")
        where = "back office /shop/"
        if member.role == Membership.Role.OWNER:
            where += ", sets up an authenticator app at first sign-in"
        logins.append(Login(member.email, f"{spec.name} — {role} ({where})"))
    issued = api_key_create(shop=shop, name="Démo")
    return shop, ApiKeyCredential(spec.slug, spec.name, issued.secret), logins


def _operator_setup(password: str) -> Login:
    user_model = get_user_model()
    user = user_model.objects.filter(username=OPERATOR_EMAIL).first()
    if user is None:
        user_model.objects.create_superuser(
            username=OPERATOR_EMAIL, email=OPERATOR_EMAIL, password=password
        )
    else:
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["password", "is_staff", "is_superuser"])
    return Login(OPERATOR_EMAIL, "platform operator (superuser, /admin/)")


def _verified(email: str) -> None:
    """Mark *email*'s address verified (allauth), as after its first confirmation."""
    from allauth.account.models import EmailAddress

    user = get_user_model().objects.get(username=email)
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )


def _customer_setup(password: str) -> Login:
    """The demo customer's account, its email verified (allauth), as after signing up."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=CUSTOMER_EMAIL).first()
    if user is None:
        user = user_model.objects.create_user(
            username=CUSTOMER_EMAIL, email=CUSTOMER_EMAIL, password=password
        )
    else:
        user.set_password(password)
        user.save(update_fields=["password"])
    _verified(CUSTOMER_EMAIL)
    return Login(CUSTOMER_EMAIL, "customer with orders in every shop (customer space /space/)")


def _shop_delete(shop: Shop) -> None:
    # Children first: orders protect their customers, invoices and pickup stores.
    CreditNote.objects.filter(shop=shop).delete()
    Invoice.objects.filter(shop=shop).delete()
    OrderEvent.objects.filter(shop=shop).delete()
    OrderLine.objects.filter(order__shop=shop).delete()
    ids = Order.objects.filter(shop=shop).values_list("pk", flat=True)
    for chunk in _batched(ids.iterator(), 5000):  # bounded memory for large demos
        Order.objects.filter(pk__in=chunk).delete()
    Customer.objects.filter(shop=shop).delete()
    shop.delete()


def demo_reset() -> list[str]:
    """Delete the demo shops with everything in them and the demo logins; return shop names."""
    removed = []
    with transaction.atomic():
        for shop in Shop.objects.filter(slug__in=[spec.slug for spec in DEMO_SHOPS]):
            removed.append(shop.name)
            _shop_delete(shop)
        get_user_model().objects.filter(username__in=demo_emails()).delete()
    return removed


# --- orders through the services ----------------------------------------------------------


def _apply_op(shop: Shop, order_id: int, op: Op) -> None:
    if op.kind is OpKind.ACTION:
        assert op.action is not None
        order_apply_action(
            shop=shop, order_id=order_id, action=op.action, actor=op.actor, payload=op.payload
        )
    elif op.kind is OpKind.EXCEPTION:
        order_set_exception(shop=shop, order_id=order_id, reason=op.reason, actor=op.actor)
    elif op.kind is OpKind.CANCEL:
        order_cancel(shop=shop, order_id=order_id, reason=op.reason, actor=op.actor)
    else:
        order_cancel_lines(
            shop=shop, order_id=order_id, cancellations=op.cancellations, reason=op.reason,
            actor=op.actor,
        )  # fmt: skip


def _backdate(order_id: int, steps: list[tuple[datetime, datetime]]) -> None:
    """Move the rows the services stamped "now" to the moments the plan says they happened.

    *steps* holds, per step, when we called the service and the plan's time for it; a row
    stamped between one step's call and the next one's belongs to that step.
    """
    calls = [called for called, _ in steps]

    def planned(stamp: datetime) -> datetime:
        return steps[max(0, bisect_right(calls, stamp) - 1)][1]

    stamped: tuple[tuple[type[Model], str], ...] = (
        (OrderEvent, "occurred_at"),
        (Invoice, "issued_at"),
        (CreditNote, "issued_at"),
    )
    for model, column in stamped:
        manager = model._default_manager
        rows = list(manager.filter(order_id=order_id).only("pk", column))
        for row in rows:
            setattr(row, column, planned(getattr(row, column)))
        if rows:
            manager.bulk_update(rows, [column])


def orders_write_through_services(
    *, shop: Shop, plans: Iterable[OrderPlan], progress: tqdm | None = None
) -> int:
    """Create each planned order and walk it through the order services; return the count.

    The services stamp rows with the current time; each order's rows are then moved to the
    plan's times so that timelines look lived-in. One transaction for all: a failure leaves
    nothing half-loaded, and one commit is much faster than one per order on PostgreSQL.
    """
    count = 0
    with transaction.atomic():
        for plan in plans:
            steps = [(timezone.now(), plan.data.placed_at or timezone.now())]
            order = order_create(shop=shop, data=plan.data, actor=CHANNEL_ACTOR)
            for op in plan.ops:
                steps.append((timezone.now(), op.at))
                _apply_op(shop, order.pk, op)
            _backdate(order.pk, steps)
            count += 1
            if progress is not None:
                progress.update(1)
    return count


# --- orders in bulk -------------------------------------------------------------------------


class _Customers:
    """The shop's customers by email, created or updated per batch like ``customer_upsert``."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.by_email = {c.email: c for c in Customer.objects.filter(shop=shop)}
        self.phones: dict[str, str] = {}

    def phone(self, raw: str) -> str:
        if not raw:
            return ""
        if raw not in self.phones:
            self.phones[raw] = normalize_phone(
                raw, default_region=self.shop.country, field="customer.phone"
            )
        return self.phones[raw]

    def save(self, plans: list[OrderPlan], phones: list[str]) -> list[int]:
        """Create or update the customers of *plans*; return their ids in plan order."""
        created: list[Customer] = []
        changed: dict[str, Customer] = {}
        for plan, phone in zip(plans, phones, strict=True):
            given = plan.data.customer
            email = given.email.strip().lower()
            values = {
                "phone": phone,
                "first_name": given.first_name,
                "last_name": given.last_name,
                "language": order_language(plan, self.shop),
            }
            customer = self.by_email.get(email)
            if customer is None:
                customer = Customer(shop_id=self.shop.pk, email=email, **values)
                self.by_email[email] = customer
                created.append(customer)
                continue
            for name, value in values.items():
                if value and getattr(customer, name) != value:
                    setattr(customer, name, value)
                    if customer.pk is not None:
                        changed[email] = customer
        fastinsert.insert(Customer, created)
        if changed:
            Customer.objects.bulk_update(
                list(changed.values()), ["phone", "first_name", "last_name", "language"]
            )
        return [self.by_email[plan.data.customer.email.strip().lower()].pk for plan in plans]


def _write_batch(rows: list[Replayed]) -> None:
    fastinsert.insert(Order, [r.order for r in rows])
    lines, events, invoices = [], [], []
    for r in rows:
        for line in r.lines:
            line.order_id = r.order.pk
        for event in r.events:
            event.order_id = r.order.pk
        lines += r.lines
        events += r.events
        if r.invoice is not None:
            r.invoice.order_id = r.order.pk
            invoices.append(r.invoice)
    fastinsert.insert(OrderLine, lines)
    fastinsert.insert(OrderEvent, events)
    fastinsert.insert(Invoice, invoices)
    notes = []
    for r in rows:
        for note in r.credit_notes:
            assert r.invoice is not None
            note.order_id, note.invoice_id = r.order.pk, r.invoice.pk
            notes.append(note)
    fastinsert.insert(CreditNote, notes)


def orders_bulk_create(
    *,
    shop: Shop,
    plans: Iterable[OrderPlan],
    batch_size: int = BATCH_SIZE,
    progress: tqdm | None = None,
) -> int:
    """Write the rows the services would write for *plans*, *batch_size* orders per
    transaction; return the count. No event is published: bulk orders are history."""
    # Stores and warehouses share a code space per shop (one unique constraint).
    location_ids = dict(
        Location.objects.filter(shop=shop, is_active=True).values_list("code", "pk")
    )
    customers = _Customers(shop)
    count = 0
    for batch in _batched(plans, batch_size):
        phones = [customers.phone(plan.data.customer.phone) for plan in batch]
        with transaction.atomic():
            # Lock the counters: invoice numbers stay gap-free beside live traffic.
            sequences = DocumentSequence.objects.select_for_update().filter(shop=shop)
            numbering = Numbering({seq.kind: seq.last_value for seq in sequences})
            start = dict(numbering.last)
            rows = [
                replay(plan, shop=shop, phone=phone, location_ids=location_ids, numbering=numbering)
                for plan, phone in zip(batch, phones, strict=True)
            ]
            for r, customer_id in zip(rows, customers.save(batch, phones), strict=True):
                r.order.customer_id = customer_id
            _write_batch(rows)
            for kind, value in numbering.last.items():
                if kind not in start:
                    DocumentSequence.objects.create(shop=shop, kind=kind, last_value=value)
                elif value != start[kind]:
                    DocumentSequence.objects.filter(shop=shop, kind=kind).update(last_value=value)
        count += len(batch)
        if progress is not None:
            progress.update(len(batch))
    return count


# --- the whole demo -------------------------------------------------------------------------


def _next_number(shop: Shop, spec: ShopSpec) -> int:
    """Return the number after the highest demo order number in *shop*."""
    prefix = re.escape(spec.reference_prefix)
    last = (
        Order.objects.filter(shop=shop, reference__regex=rf"^{prefix}[0-9]+$")
        .annotate(length=Length("reference"))
        .order_by("-length", "-reference")  # numerically: longer numbers are larger
        .values_list("reference", flat=True)
        .first()
    )
    return 1 if last is None else int(last.removeprefix(spec.reference_prefix)) + 1


def _split(total: int) -> list[int]:
    shares = sum(spec.share for spec in DEMO_SHOPS)
    counts = [total * spec.share // shares for spec in DEMO_SHOPS]
    counts[0] += total - sum(counts)
    return counts


def demo_load(
    *,
    seed: int = DEFAULT_SEED,
    orders: int = DEFAULT_ORDERS,
    reset: bool = False,
    method: Method = "auto",
    now: datetime | None = None,
    progress: bool = False,
) -> DemoReport:
    """Create the demo shops (unless they exist) and add *orders* orders across them.

    Loading again without *reset* adds orders with new references to the existing demo
    shops; the logins and keys stay as they were. With *reset* the demo shops and logins are
    deleted first. New credentials are written to the data directory (see
    :mod:`.credentials`) and returned in the report.
    """
    if orders < 0:
        raise InvalidInput("The number of orders cannot be negative.", field="orders")
    report = DemoReport()
    if reset:
        report.removed = demo_reset()
    slugs = [spec.slug for spec in DEMO_SHOPS]
    existing = {shop.slug: shop for shop in Shop.objects.filter(slug__in=slugs)}
    if existing and len(existing) != len(DEMO_SHOPS):
        raise InvalidInput(
            f"Only some demo shops exist ({', '.join(sorted(existing))}); "
            "reload the demo with --reset.",
            field="reset",
        )
    if not existing:
        password = secrets.token_urlsafe(9)
        with transaction.atomic():
            logins = [_operator_setup(password)]
            keys = []
            for spec in DEMO_SHOPS:
                shop, key, staff = _shop_setup(spec, password)
                existing[spec.slug] = shop
                keys.append(key)
                logins += staff
            logins.append(_customer_setup(password))
            report.credentials = DemoCredentials(password, tuple(logins), tuple(keys))
            # Inside the transaction: if the file cannot be written, nothing is created.
            write_credentials(report.credentials)
    report.shops = [existing[spec.slug] for spec in DEMO_SHOPS]
    bulk = method == "bulk" or (method == "auto" and orders > SERVICES_LIMIT)
    report.method = "bulk" if bulk else "services"
    now = now or timezone.now()
    started = time.perf_counter()
    # disable=None: a bar on a terminal, nothing in logs and CI.
    with tqdm(total=orders, unit=" orders", disable=None if progress else True, leave=False) as bar:
        for spec, count in zip(DEMO_SHOPS, _split(orders), strict=True):
            shop = existing[spec.slug]
            plans = generate_plans(
                spec, count=count, seed=seed, now=now, first_number=_next_number(shop, spec)
            )
            if bulk:
                report.orders += orders_bulk_create(shop=shop, plans=plans, progress=bar)
            else:
                report.orders += orders_write_through_services(shop=shop, plans=plans, progress=bar)
    report.seconds = time.perf_counter() - started
    return report
