"""The order lifecycle, declared once.

Every status, its labels (fr, en through gettext), whether customers see it, the public
timeline step it belongs to, and the transitions allowed per fulfilment mode live here, in
pure Python with no database access. The API, back office, notifications, tracking page and
analytics read this module; none re-declares a status.

Why a table rather than a state-machine library: the transitions differ per fulfilment mode,
must be enumerable (exhaustive tests, the diagrams in docs/lifecycle.md) and are enforced
in the database by compare-and-set on the old status; the libraries we looked at
(`transitions`, `python-statemachine`) keep state on an in-memory object, which adds nothing
to a compare-and-set UPDATE and hides the table behind callbacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Mode(StrEnum):
    """How the customer receives the order."""

    DELIVERY = "delivery"
    CLICK_AND_COLLECT = "click_and_collect"


class Status(StrEnum):
    """Every status an order can have."""

    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_STOCK = "awaiting_stock"
    ROUTED = "routed"
    TO_PREPARE = "to_prepare"
    IN_PREPARATION = "in_preparation"
    READY_TO_SHIP = "ready_to_ship"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    COLLECTED = "collected"
    CANCELLED = "cancelled"


class Step(StrEnum):
    """The simpler public timeline the customer sees, with a progress bar."""

    ORDERED = "ordered"
    PREPARING = "preparing"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    COLLECTED = "collected"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StatusInfo:
    """What each status means to the merchant and to the customer."""

    status: Status
    label: Promise  # merchant-facing
    customer_label: Promise  # customer-facing
    step: Step
    internal: bool  # hidden from customers: they see the step's label instead
    terminal: bool = False


STATUSES: Mapping[Status, StatusInfo] = {
    info.status: info
    for info in (
        StatusInfo(Status.AWAITING_PAYMENT, _("Awaiting payment"), _("Order received"), Step.ORDERED, internal=False),
        StatusInfo(Status.AWAITING_STOCK, _("Awaiting stock"), _("Being prepared"), Step.PREPARING, internal=True),
        StatusInfo(Status.ROUTED, _("Routed to a warehouse"), _("Being prepared"), Step.PREPARING, internal=True),
        StatusInfo(Status.TO_PREPARE, _("To prepare"), _("Order confirmed"), Step.PREPARING, internal=True),
        StatusInfo(Status.IN_PREPARATION, _("In preparation"), _("Being prepared"), Step.PREPARING, internal=False),
        StatusInfo(Status.READY_TO_SHIP, _("Ready to ship"), _("Ready to ship"), Step.PREPARING, internal=False),
        StatusInfo(Status.SHIPPED, _("Shipped"), _("Shipped"), Step.SHIPPED, internal=False),
        StatusInfo(Status.IN_TRANSIT, _("In transit"), _("On its way"), Step.IN_TRANSIT, internal=False),
        StatusInfo(Status.OUT_FOR_DELIVERY, _("Out for delivery"), _("Out for delivery"), Step.OUT_FOR_DELIVERY, internal=False),
        StatusInfo(Status.AVAILABLE_FOR_PICKUP, _("Available at pickup point"), _("Waiting for you at the pickup point"), Step.AVAILABLE_FOR_PICKUP, internal=False),
        StatusInfo(Status.READY_FOR_PICKUP, _("Ready for pickup in store"), _("Ready for pickup in store"), Step.READY_FOR_PICKUP, internal=False),
        StatusInfo(Status.DELIVERED, _("Delivered"), _("Delivered"), Step.DELIVERED, internal=False, terminal=True),
        StatusInfo(Status.COLLECTED, _("Collected"), _("Collected"), Step.COLLECTED, internal=False, terminal=True),
        StatusInfo(Status.CANCELLED, _("Cancelled"), _("Cancelled"), Step.CANCELLED, internal=False, terminal=True),
    )
}  # fmt: skip

STEP_LABELS: Mapping[Step, Promise] = {
    Step.ORDERED: _("Ordered"),
    Step.PREPARING: _("Preparing"),
    Step.SHIPPED: _("Shipped"),
    Step.IN_TRANSIT: _("In transit"),
    Step.OUT_FOR_DELIVERY: _("Out for delivery"),
    Step.AVAILABLE_FOR_PICKUP: _("At the pickup point"),
    Step.READY_FOR_PICKUP: _("Ready for pickup"),
    Step.DELIVERED: _("Delivered"),
    Step.COLLECTED: _("Collected"),
    Step.CANCELLED: _("Cancelled"),
}

# The public timeline per mode, in order (the progress bar). A relay-point delivery shows
# "at the pickup point" in place of "out for delivery"; see :func:`public_steps`.
PUBLIC_STEPS: Mapping[Mode, tuple[Step, ...]] = {
    Mode.DELIVERY: (
        Step.ORDERED,
        Step.PREPARING,
        Step.SHIPPED,
        Step.IN_TRANSIT,
        Step.OUT_FOR_DELIVERY,
        Step.DELIVERED,
    ),
    Mode.CLICK_AND_COLLECT: (
        Step.ORDERED,
        Step.PREPARING,
        Step.READY_FOR_PICKUP,
        Step.COLLECTED,
    ),
}

S = Status
# Statuses before the goods leave: the merchant may still cancel (whole or lines) here.
_PRE_SHIPMENT = (S.AWAITING_PAYMENT, S.AWAITING_STOCK, S.ROUTED, S.TO_PREPARE, S.IN_PREPARATION)

# from-status -> allowed to-statuses. Shared start of both modes: payment, stock, routing.
_COMMON: dict[Status, frozenset[Status]] = {
    # Payment comes first: a pre-order is paid, then held for stock (no unpaid order can
    # reach preparation through the stock or routing steps).
    S.AWAITING_PAYMENT: frozenset({S.TO_PREPARE, S.CANCELLED}),
    S.AWAITING_STOCK: frozenset({S.TO_PREPARE, S.ROUTED, S.CANCELLED}),
    S.TO_PREPARE: frozenset({S.AWAITING_STOCK, S.ROUTED, S.IN_PREPARATION, S.CANCELLED}),
    S.ROUTED: frozenset({S.AWAITING_STOCK, S.IN_PREPARATION, S.CANCELLED}),
    S.IN_PREPARATION: frozenset({S.CANCELLED}),
}

TRANSITIONS: Mapping[Mode, Mapping[Status, frozenset[Status]]] = {
    Mode.DELIVERY: {
        **_COMMON,
        # Seed 004: the merchant may mark "à expédier" straight after payment.
        S.TO_PREPARE: _COMMON[S.TO_PREPARE] | {S.READY_TO_SHIP, S.SHIPPED},
        S.ROUTED: _COMMON[S.ROUTED] | {S.READY_TO_SHIP, S.SHIPPED},
        S.IN_PREPARATION: _COMMON[S.IN_PREPARATION] | {S.READY_TO_SHIP, S.SHIPPED},
        S.READY_TO_SHIP: frozenset({S.SHIPPED, S.CANCELLED}),
        # Carrier events may skip steps (no in-transit scan before delivery is common).
        S.SHIPPED: frozenset(
            {S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP, S.DELIVERED}
        ),
        S.IN_TRANSIT: frozenset({S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP, S.DELIVERED}),
        # A failed attempt goes back to the depot (in transit) or to a relay point.
        S.OUT_FOR_DELIVERY: frozenset({S.IN_TRANSIT, S.AVAILABLE_FOR_PICKUP, S.DELIVERED}),
        # Not collected at the relay point in time: the parcel travels back (in transit);
        # or the customer asked for a delivery at home instead (out for delivery).
        S.AVAILABLE_FOR_PICKUP: frozenset({S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED}),
        S.DELIVERED: frozenset(),
        S.CANCELLED: frozenset(),
    },
    Mode.CLICK_AND_COLLECT: {
        **_COMMON,
        S.TO_PREPARE: _COMMON[S.TO_PREPARE] | {S.READY_FOR_PICKUP},
        S.ROUTED: _COMMON[S.ROUTED] | {S.READY_FOR_PICKUP},
        S.IN_PREPARATION: _COMMON[S.IN_PREPARATION] | {S.READY_FOR_PICKUP},
        # Not collected: the store cancels (the customer is refunded).
        S.READY_FOR_PICKUP: frozenset({S.COLLECTED, S.CANCELLED}),
        S.COLLECTED: frozenset(),
        S.CANCELLED: frozenset(),
    },
}


class Action(StrEnum):
    """What a merchant, a carrier or a sales channel does to an order."""

    CONFIRM_PAYMENT = "confirm_payment"
    HOLD_FOR_STOCK = "hold_for_stock"
    ROUTE = "route"
    RELEASE = "release"  # stock arrived / back to the preparation queue
    START_PREPARATION = "start_preparation"
    MARK_READY = "mark_ready"  # "à expédier": ready to ship, or ready for pickup in store
    SHIP = "ship"
    MARK_IN_TRANSIT = "mark_in_transit"
    MARK_OUT_FOR_DELIVERY = "mark_out_for_delivery"
    MARK_AVAILABLE_FOR_PICKUP = "mark_available_for_pickup"
    MARK_DELIVERED = "mark_delivered"
    MARK_COLLECTED = "mark_collected"
    CANCEL = "cancel"


# Action -> target status per mode. An action absent from a mode does not apply to it.
ACTION_TARGETS: Mapping[Action, Mapping[Mode, Status]] = {
    Action.CONFIRM_PAYMENT: {Mode.DELIVERY: S.TO_PREPARE, Mode.CLICK_AND_COLLECT: S.TO_PREPARE},
    Action.HOLD_FOR_STOCK: {Mode.DELIVERY: S.AWAITING_STOCK, Mode.CLICK_AND_COLLECT: S.AWAITING_STOCK},
    Action.ROUTE: {Mode.DELIVERY: S.ROUTED, Mode.CLICK_AND_COLLECT: S.ROUTED},
    Action.RELEASE: {Mode.DELIVERY: S.TO_PREPARE, Mode.CLICK_AND_COLLECT: S.TO_PREPARE},
    Action.START_PREPARATION: {Mode.DELIVERY: S.IN_PREPARATION, Mode.CLICK_AND_COLLECT: S.IN_PREPARATION},
    Action.MARK_READY: {Mode.DELIVERY: S.READY_TO_SHIP, Mode.CLICK_AND_COLLECT: S.READY_FOR_PICKUP},
    Action.SHIP: {Mode.DELIVERY: S.SHIPPED},
    Action.MARK_IN_TRANSIT: {Mode.DELIVERY: S.IN_TRANSIT},
    Action.MARK_OUT_FOR_DELIVERY: {Mode.DELIVERY: S.OUT_FOR_DELIVERY},
    Action.MARK_AVAILABLE_FOR_PICKUP: {Mode.DELIVERY: S.AVAILABLE_FOR_PICKUP},
    Action.MARK_DELIVERED: {Mode.DELIVERY: S.DELIVERED},
    Action.MARK_COLLECTED: {Mode.CLICK_AND_COLLECT: S.COLLECTED},
    Action.CANCEL: {Mode.DELIVERY: S.CANCELLED, Mode.CLICK_AND_COLLECT: S.CANCELLED},
}  # fmt: skip

# Actions that apply from fewer statuses than the table allows into their target. Release
# means "stock arrived, back to the preparation queue": from awaiting payment it would be a
# second way to reach "to prepare", one that skips the payment confirmation (no
# order.confirmed event, no invoice) and shows the merchant two buttons for one move.
ACTION_SOURCES: Mapping[Action, frozenset[Status]] = {
    Action.RELEASE: frozenset({S.AWAITING_STOCK}),
}

# Where the goods are still with the merchant, so lines may be cancelled.
CANCELLABLE: frozenset[Status] = frozenset({*_PRE_SHIPMENT, S.READY_TO_SHIP, S.READY_FOR_PICKUP})

# The event type recorded when an order enters each status.
EVENT_TYPES: Mapping[Status, str] = {
    S.AWAITING_PAYMENT: "order.created",
    S.AWAITING_STOCK: "order.awaiting_stock",
    S.ROUTED: "order.routed",
    S.TO_PREPARE: "order.confirmed",
    S.IN_PREPARATION: "order.in_preparation",
    S.READY_TO_SHIP: "order.ready_to_ship",
    S.SHIPPED: "order.shipped",
    S.IN_TRANSIT: "order.in_transit",
    S.OUT_FOR_DELIVERY: "order.out_for_delivery",
    S.AVAILABLE_FOR_PICKUP: "order.available_for_pickup",
    S.READY_FOR_PICKUP: "order.ready_for_pickup",
    S.DELIVERED: "order.delivered",
    S.COLLECTED: "order.collected",
    S.CANCELLED: "order.cancelled",
}


class CancellationReason(StrEnum):
    """Why an order or some of its lines were cancelled; the customer sees the label."""

    SOLD_IN_STORE = "sold_in_store"
    OUT_OF_STOCK = "out_of_stock"
    CUSTOMER_REQUEST = "customer_request"
    PAYMENT_FAILED = "payment_failed"
    FRAUD_SUSPECTED = "fraud_suspected"
    NOT_COLLECTED = "not_collected"
    OTHER = "other"


CANCELLATION_LABELS: Mapping[CancellationReason, Promise] = {
    CancellationReason.SOLD_IN_STORE: _("The items were unfortunately already sold in store"),
    CancellationReason.OUT_OF_STOCK: _("The items are out of stock"),
    CancellationReason.CUSTOMER_REQUEST: _("Cancelled at your request"),
    CancellationReason.PAYMENT_FAILED: _("The payment did not go through"),
    CancellationReason.FRAUD_SUSPECTED: _("The order could not be validated"),
    CancellationReason.NOT_COLLECTED: _("The order was not collected in time"),
    CancellationReason.OTHER: _("The order was cancelled by the shop"),
}


def event_type(action: Action | str, target: Status | str) -> str:
    """Return the dotted event type recorded when *action* moves an order to *target*."""
    if Action(action) is Action.RELEASE:
        # Back to the preparation queue is not a second confirmation.
        return "order.released"
    return EVENT_TYPES[Status(target)]


def info(status: Status | str) -> StatusInfo:
    """Return the description of *status*."""
    return STATUSES[Status(status)]


def allowed_targets(mode: Mode | str, status: Status | str) -> frozenset[Status]:
    """Return the statuses an order of *mode* may move to from *status*."""
    return TRANSITIONS[Mode(mode)].get(Status(status), frozenset())


def can_transition(mode: Mode | str, current: Status | str, target: Status | str) -> bool:
    """Tell whether an order of *mode* may move from *current* to *target*."""
    return Status(target) in allowed_targets(mode, current)


def action_target(action: Action | str, mode: Mode | str) -> Status | None:
    """Return the status *action* leads to for *mode*, or None if it does not apply."""
    return ACTION_TARGETS[Action(action)].get(Mode(mode))


def action_allowed(action: Action | str, mode: Mode | str, status: Status | str) -> bool:
    """Tell whether *action* applies to an order of *mode* that is *status* now."""
    target = action_target(action, mode)
    if target is None or not can_transition(mode, status, target):
        return False
    sources = ACTION_SOURCES.get(Action(action))
    return sources is None or Status(status) in sources


def available_actions(mode: Mode | str, status: Status | str) -> list[Action]:
    """Return the actions allowed now, in declaration order (for buttons and the API)."""
    return [action for action in Action if action_allowed(action, mode, status)]


def public_steps(mode: Mode | str, *, via_pickup_point: bool = False) -> tuple[Step, ...]:
    """Return the public timeline of *mode*, with the relay-point variant for deliveries."""
    steps = PUBLIC_STEPS[Mode(mode)]
    if via_pickup_point and Mode(mode) is Mode.DELIVERY:
        return tuple(Step.AVAILABLE_FOR_PICKUP if s is Step.OUT_FOR_DELIVERY else s for s in steps)
    return steps


def mermaid_diagram(mode: Mode | str) -> str:
    """Render the transitions of *mode* as a Mermaid state diagram (for the docs)."""
    lines = ["stateDiagram-v2", f"    [*] --> {Status.AWAITING_PAYMENT.value}"]
    for source, targets in TRANSITIONS[Mode(mode)].items():
        for target in sorted(targets):
            lines.append(f"    {source.value} --> {target.value}")
        if not targets:
            lines.append(f"    {source.value} --> [*]")
    return "\n".join(lines) + "\n"
