"""Reproducible demo orders: people, addresses, baskets and the life each order went through.

Everything here is pure: a seed and a clock in, :class:`OrderPlan` values out. The same plans
are then written either through the order services (:mod:`.loader`) or, for large data sets,
replayed in memory and bulk-inserted (:mod:`.replay`); both paths share this module so that
they cannot disagree on what to write.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from suivi.orders.lifecycle import Action, CancellationReason, Mode, Status
from suivi.orders.services import (
    AddressInput,
    CustomerInput,
    LineCancellation,
    LineInput,
    OrderInput,
)
from suivi.shops.models import Location, Membership

from .data import (
    ADDRESS_COMPLEMENTS,
    CUSTOMER_EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    MOBILE_PREFIXES,
    REGIONS,
    STREET_TYPES_AND_NAMES,
    UNALLOCATED_MOBILE_STARTS,
)
from .specs import ShopSpec

PARIS = ZoneInfo("Europe/Paris")
CARRIER_ACTOR = "carrier:colissimo"
SYSTEM_ACTOR = "system"
CHANNEL_ACTOR = "sales-channel"


class OpKind(StrEnum):
    """Which service a step of a plan goes through."""

    ACTION = "action"  # order_apply_action
    EXCEPTION = "exception"  # order_set_exception
    CANCEL = "cancel"  # order_cancel
    CANCEL_LINES = "cancel_lines"  # order_cancel_lines


@dataclass(frozen=True)
class Op:
    """One thing that happened to an order, when and by whom."""

    kind: OpKind
    at: datetime
    actor: str
    action: Action | None = None
    reason: str = ""  # cancellation reason, or exception reason
    cancellations: tuple[LineCancellation, ...] = ()
    payload: dict[str, str] = field(default_factory=dict)  # extra facts of an action


@dataclass(frozen=True)
class OrderPlan:
    """A new order and the steps it goes through; *target* is the status it should end in."""

    data: OrderInput
    ops: tuple[Op, ...]
    target: Status


@dataclass(frozen=True)
class Person:
    """A demo customer."""

    first_name: str
    last_name: str
    email: str
    phone: str  # as a customer would type it; the services normalise it
    language: str
    address: AddressInput


# --- people and places --------------------------------------------------------------------

_REGION_NAMES = tuple(REGIONS)
_REGION_WEIGHTS = tuple(weight for weight, _ in REGIONS.values())


def _ascii_slug(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return "".join(c if c.isalnum() else "-" for c in plain.replace("'", "")).strip("-")


def mobile_number(rng: random.Random) -> str:
    """Return a French mobile number (06/07) that libphonenumber accepts, in a typed style."""
    while True:
        digits = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10_000_000):07d}"
        if not digits.startswith(UNALLOCATED_MOBILE_STARTS):
            break
    style = rng.random()
    if style < 0.5:
        return " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    if style < 0.75:
        return digits
    if style < 0.9:
        return "+33 " + digits[1] + " " + " ".join(digits[i : i + 2] for i in range(2, 10, 2))
    return "+33" + digits[1:]


def french_address(rng: random.Random, name: str) -> AddressInput:
    """Return an invented street address in a real postcode/city, weighted by region."""
    region = rng.choices(_REGION_NAMES, weights=_REGION_WEIGHTS)[0]
    postcode, city = rng.choice(REGIONS[region][1])
    street_type, street = rng.choice(STREET_TYPES_AND_NAMES)
    number = str(rng.randint(1, 180)) + (" bis" if rng.random() < 0.04 else "")
    complement = rng.choice(ADDRESS_COMPLEMENTS) if rng.random() < 0.2 else ""
    return AddressInput(
        name=name,
        line1=f"{number} {street_type} {street}",
        line2=complement,
        postcode=postcode,
        city=city,
        country="FR",
    )


def person(seed: int, index: int) -> Person:
    """Return the *index*-th demo customer of *seed* (the same person in every shop)."""
    rng = random.Random(f"{seed}:customer:{index}")
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = f"{_ascii_slug(first)}.{_ascii_slug(last)}{index}@{rng.choice(CUSTOMER_EMAIL_DOMAINS)}"
    phone = mobile_number(rng) if rng.random() < 0.9 else ""
    language = "en" if rng.random() < 0.08 else "fr"
    return Person(first, last, email, phone, language, french_address(rng, f"{first} {last}"))


# --- what happens to an order -------------------------------------------------------------

A = Action
S = Status
R = CancellationReason
# A step before timing: (kind, action or reason).
_Step = tuple[OpKind, str]


def _act(action: Action) -> _Step:
    return (OpKind.ACTION, action.value)


def _cancel(reason: CancellationReason) -> _Step:
    return (OpKind.CANCEL, reason.value)


def _exception(reason: str) -> _Step:
    return (OpKind.EXCEPTION, reason)


_CANCEL_ALL_LINES: _Step = (OpKind.CANCEL_LINES, "all")
_CANCEL_SOME_LINES: _Step = (OpKind.CANCEL_LINES, "some")

C, HOLD, ROUTE, RELEASE, START = (
    _act(A.CONFIRM_PAYMENT), _act(A.HOLD_FOR_STOCK), _act(A.ROUTE), _act(A.RELEASE),
    _act(A.START_PREPARATION),
)  # fmt: skip
READY, SHIP, TRANSIT, OUT, RELAY = (
    _act(A.MARK_READY), _act(A.SHIP), _act(A.MARK_IN_TRANSIT), _act(A.MARK_OUT_FOR_DELIVERY),
    _act(A.MARK_AVAILABLE_FOR_PICKUP),
)  # fmt: skip
DELIVERED, COLLECTED = _act(A.MARK_DELIVERED), _act(A.MARK_COLLECTED)

_PREPARATIONS: tuple[list[_Step], ...] = (
    [C, START], [C, START], [C, ROUTE, START], [C, HOLD, RELEASE, START],
)  # fmt: skip
_EXCEPTION_REASONS = ("delay", "delay", "address_problem", "damaged", "customs_hold", "lost")


def _variants(mode: Mode, target: Status, prep: list[_Step]) -> list[list[_Step]]:
    """Return the ways an order of *mode* reaches *target*, *prep* being its preparation."""
    shipped = [*prep, READY, SHIP]
    cancelled = [
        [_cancel(R.PAYMENT_FAILED)],
        [_cancel(R.FRAUD_SUSPECTED)],
        [C, _cancel(R.SOLD_IN_STORE)],
        [C, HOLD, _cancel(R.OUT_OF_STOCK)],
        [C, START, _CANCEL_ALL_LINES],  # every line cancelled: becomes a whole cancellation
        [*prep, READY, _cancel(R.CUSTOMER_REQUEST)],
    ]
    table: dict[Status, list[list[_Step]]] = {
        S.AWAITING_PAYMENT: [[]],
        S.AWAITING_STOCK: [[C, HOLD], [C, ROUTE, HOLD]],
        S.TO_PREPARE: [[C], [C, HOLD, RELEASE]],
        S.ROUTED: [[C, ROUTE], [C, HOLD, ROUTE]],
        S.IN_PREPARATION: [prep],
    }
    if mode is Mode.DELIVERY:
        table |= {
            S.READY_TO_SHIP: [[*prep, READY]],
            S.SHIPPED: [shipped, [*prep, SHIP]],
            S.IN_TRANSIT: [[*shipped, TRANSIT]],
            S.OUT_FOR_DELIVERY: [[*shipped, TRANSIT, OUT]],
            S.AVAILABLE_FOR_PICKUP: [[*shipped, TRANSIT, RELAY]],
            S.DELIVERED: [
                [*shipped, TRANSIT, OUT, DELIVERED],
                [*shipped, TRANSIT, RELAY, DELIVERED],
                [*shipped, OUT, DELIVERED],
                # A failed attempt: back to the depot, out again the next day.
                [*shipped, TRANSIT, OUT, _exception("failed_attempt"), TRANSIT, OUT, DELIVERED],
                [*shipped, TRANSIT, _exception("delay"), OUT, DELIVERED],
            ],
            S.CANCELLED: cancelled,
        }
    else:
        table |= {
            S.READY_FOR_PICKUP: [[*prep, READY]],
            S.COLLECTED: [[*prep, READY, COLLECTED]],
            S.CANCELLED: [*cancelled, [*prep, READY, _cancel(R.NOT_COLLECTED)]],
        }
    return table[target]


# Hours between the previous step and this one: (shortest, longest).
_DELAY_HOURS: dict[str, tuple[float, float]] = {
    A.CONFIRM_PAYMENT: (0.01, 0.5),
    A.HOLD_FOR_STOCK: (0.1, 3),
    A.RELEASE: (24, 240),
    A.ROUTE: (0.1, 2),
    A.START_PREPARATION: (1, 30),
    A.MARK_READY: (0.5, 8),
    A.SHIP: (1, 24),
    A.MARK_IN_TRANSIT: (3, 18),
    A.MARK_OUT_FOR_DELIVERY: (8, 48),
    A.MARK_AVAILABLE_FOR_PICKUP: (8, 48),
    A.MARK_DELIVERED: (1, 30),
    A.MARK_COLLECTED: (2, 120),
    OpKind.EXCEPTION: (1, 24),
    OpKind.CANCEL: (0.2, 72),
    OpKind.CANCEL_LINES: (0.2, 24),
}
_MERCHANT_ACTIONS = {A.START_PREPARATION, A.MARK_READY, A.SHIP, A.MARK_COLLECTED}
_CARRIER_ACTIONS = {
    A.MARK_IN_TRANSIT, A.MARK_OUT_FOR_DELIVERY, A.MARK_AVAILABLE_FOR_PICKUP, A.MARK_DELIVERED,
}  # fmt: skip
_TERMINAL = {S.DELIVERED, S.COLLECTED, S.CANCELLED}


def _actor(spec: ShopSpec, step: _Step) -> str:
    kind, value = step
    if kind is OpKind.ACTION:
        if value in _MERCHANT_ACTIONS:
            return spec.staff_with_role(Membership.Role.LOGISTICS)
        if value in _CARRIER_ACTIONS:
            return CARRIER_ACTOR
        return SYSTEM_ACTOR  # payment provider, stock and routing rules
    if kind is OpKind.EXCEPTION:
        return CARRIER_ACTOR
    if value in (R.PAYMENT_FAILED, R.FRAUD_SUSPECTED):
        return SYSTEM_ACTOR
    return spec.staff_with_role(Membership.Role.CUSTOMER_SERVICE)


@dataclass(frozen=True)
class _Shape:
    """What the coverage block forces for one order."""

    target: Status
    variant: int | None = None
    partial: bool = False
    exception: bool = False


def coverage(spec: ShopSpec) -> list[_Shape]:
    """Return one order shape per way of reaching each status, plus cancelled lines and an
    exception flag, so that even a small demo shows every status of the shop's mode."""
    shapes = [
        _Shape(target, variant)
        for target in spec.status_weights
        for variant in range(len(_variants(spec.mode, target, list(_PREPARATIONS[0]))))
    ]
    success = S.DELIVERED if spec.mode is Mode.DELIVERY else S.COLLECTED
    waiting = S.IN_TRANSIT if spec.mode is Mode.DELIVERY else S.READY_FOR_PICKUP
    shapes += [_Shape(success, 0, partial=True), _Shape(waiting, 0, partial=True)]
    if spec.mode is Mode.DELIVERY:
        shapes += [_Shape(S.IN_TRANSIT, 0, exception=True), _Shape(S.SHIPPED, 1, exception=True)]
    return shapes


class _Planner:
    """Draws orders for one shop from one random stream."""

    def __init__(self, spec: ShopSpec, *, seed: int, now: datetime, pool_size: int) -> None:
        self.spec = spec
        self.seed = seed
        self.now = now
        self.pool_size = pool_size
        self.stores = [loc.code for loc in spec.locations if loc.kind == Location.Kind.STORE]
        self.warehouses = [
            loc.code for loc in spec.locations if loc.kind == Location.Kind.WAREHOUSE
        ]
        self.people: dict[int, Person] = {}

    def customer(self, rng: random.Random) -> Person:
        index = rng.randrange(self.pool_size)
        if index not in self.people:
            self.people[index] = person(self.seed, index)
        return self.people[index]

    def basket(self, rng: random.Random, *, at_least_two_units: bool) -> list[LineInput]:
        count = rng.choices((1, 2, 3, 4), weights=(50, 30, 15, 5))[0]
        products = rng.sample(self.spec.catalogue, count)
        lines = [
            LineInput(p.sku, p.name, p.price, rng.choices((1, 2, 3), (80, 15, 5))[0], p.tax_rate)
            for p in products
        ]
        if at_least_two_units and count == 1 and lines[0].quantity == 1:
            extra = rng.choice([p for p in self.spec.catalogue if p.sku != products[0].sku])
            lines.append(LineInput(extra.sku, extra.name, extra.price, 1, extra.tax_rate))
        return lines

    def steps(self, rng: random.Random, shape: _Shape, lines: list[LineInput]) -> list[_Step]:
        prep = list(rng.choice(_PREPARATIONS))
        variants = _variants(self.spec.mode, shape.target, prep)
        steps = list(
            variants[shape.variant % len(variants)]
            if shape.variant is not None
            else rng.choice(variants)
        )
        units = sum(line.quantity for line in lines)
        if (
            shape.target is not S.CANCELLED
            and C in steps
            and units >= 2
            and (shape.partial or rng.random() < 0.1)
        ):
            # Some articles turned out to be sold in store or out of stock after payment.
            steps.insert(steps.index(C) + 1, _CANCEL_SOME_LINES)
        if (
            self.spec.mode is Mode.DELIVERY
            and shape.target
            in (S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP)
            and (shape.exception or rng.random() < 0.25)
        ):
            reason = (
                "failed_attempt"
                if shape.target is S.OUT_FOR_DELIVERY
                else rng.choice(_EXCEPTION_REASONS)
            )
            steps.append(_exception(reason))
        return steps

    def cancellations(
        self, rng: random.Random, which: str, lines: list[LineInput]
    ) -> tuple[LineCancellation, ...]:
        if which == "all":
            return tuple(LineCancellation(i, ln.quantity) for i, ln in enumerate(lines, 1))
        if len(lines) >= 2:
            position = rng.randint(1, len(lines))
            return (LineCancellation(position, lines[position - 1].quantity),)
        return (LineCancellation(1, 1),)

    def plan(self, rng: random.Random, reference: str, shape: _Shape) -> OrderPlan:
        who = self.customer(rng)
        lines = self.basket(rng, at_least_two_units=shape.partial)
        steps = self.steps(rng, shape, lines)
        delays = [
            rng.uniform(*_DELAY_HOURS[value if kind is OpKind.ACTION else kind])
            for kind, value in steps
        ]
        # Finished orders are spread over the last weeks; open ones are recent.
        terminal = shape.target in _TERMINAL
        age_hours = rng.uniform(2, 75 * 24) if terminal else rng.uniform(0.1, 18)
        placed_at = (self.now - timedelta(hours=age_hours + sum(delays))).replace(microsecond=0)
        ops: list[Op] = []
        elapsed = 0.0
        for step, delay in zip(steps, delays, strict=True):
            elapsed += delay
            at = placed_at + timedelta(seconds=round(elapsed * 3600))
            kind, value = step
            actor = _actor(self.spec, step)
            if kind is OpKind.ACTION:
                payload = {}
                if value == A.ROUTE and self.warehouses:
                    payload["warehouse"] = rng.choice(self.warehouses)
                ops.append(Op(kind, at, actor, action=Action(value), payload=payload))
            elif kind is OpKind.CANCEL_LINES:
                reason = rng.choice((R.SOLD_IN_STORE, R.OUT_OF_STOCK)).value
                ops.append(
                    Op(kind, at, actor, reason=reason,
                       cancellations=self.cancellations(rng, value, lines))
                )  # fmt: skip
            else:
                ops.append(Op(kind, at, actor, reason=value))
        delivery = self.spec.mode is Mode.DELIVERY
        data = OrderInput(
            reference=reference,
            customer=CustomerInput(
                email=who.email,
                phone=who.phone,
                first_name=who.first_name,
                last_name=who.last_name,
            ),
            fulfilment_mode=self.spec.mode,
            lines=lines,
            language=who.language,
            shipping_amount=self.shipping(rng, lines) if delivery else Decimal("0"),
            shipping_address=who.address if delivery else None,
            pickup_location_code=None if delivery else rng.choice(self.stores),
            promised_delivery_date=self.promise(rng, placed_at) if delivery else None,
            placed_at=placed_at,
        )
        return OrderPlan(data=data, ops=tuple(ops), target=shape.target)

    def shipping(self, rng: random.Random, lines: list[LineInput]) -> Decimal:
        total = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
        if self.spec.free_shipping_from is not None and total >= self.spec.free_shipping_from:
            return Decimal("0.00")
        return rng.choice(self.spec.shipping_fees)

    def promise(self, rng: random.Random, placed_at: datetime) -> date:
        return placed_at.astimezone(PARIS).date() + timedelta(days=rng.randint(2, 5))


def reference(spec: ShopSpec, number: int) -> str:
    """Return the order number *number* of *spec*'s sales channel."""
    return f"{spec.reference_prefix}{number:06d}"


def generate_plans(
    spec: ShopSpec,
    *,
    count: int,
    seed: int,
    now: datetime,
    first_number: int = 1,
    with_coverage: bool = True,
) -> Iterator[OrderPlan]:
    """Yield *count* orders for *spec*, numbered from *first_number*, reproducibly by *seed*.

    The first orders cover every way of reaching every status (see :func:`coverage`); the
    rest follow the shop's status weights. *now* is the moment the history ends.
    """
    rng = random.Random(f"{seed}:{spec.slug}:{first_number}")
    # About three orders per customer, so that order histories exist.
    planner = _Planner(spec, seed=seed, now=now, pool_size=max(10, count // 3))
    forced = coverage(spec) if with_coverage else []
    targets = list(spec.status_weights)
    weights = list(spec.status_weights.values())
    for offset in range(count):
        if offset < len(forced):
            shape = forced[offset]
        else:
            shape = _Shape(rng.choices(targets, weights=weights)[0])
        yield planner.plan(rng, reference(spec, first_number + offset), shape)
