"""The order lifecycle as the product wants it, written out by hand.

Tests compare ``suivi.orders.lifecycle`` and the services against these tables. Nothing
here is computed from the module under test: a change to the lifecycle must be made twice,
once in the code and once here, on purpose.
"""

from __future__ import annotations

from suivi.orders.lifecycle import Action, Mode, Status, Step

S = Status
A = Action

# from-status -> the statuses an order may move to (seed 004 and the product brief).
DELIVERY: dict[Status, set[Status]] = {
    S.AWAITING_PAYMENT: {S.TO_PREPARE, S.CANCELLED},
    S.AWAITING_STOCK: {S.TO_PREPARE, S.ROUTED, S.CANCELLED},
    S.TO_PREPARE: {
        S.AWAITING_STOCK,
        S.ROUTED,
        S.IN_PREPARATION,
        S.READY_TO_SHIP,
        S.SHIPPED,
        S.CANCELLED,
    },
    S.ROUTED: {S.AWAITING_STOCK, S.IN_PREPARATION, S.READY_TO_SHIP, S.SHIPPED, S.CANCELLED},
    S.IN_PREPARATION: {S.READY_TO_SHIP, S.SHIPPED, S.CANCELLED},
    S.READY_TO_SHIP: {S.SHIPPED, S.CANCELLED},
    S.SHIPPED: {S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP, S.DELIVERED},
    S.IN_TRANSIT: {S.OUT_FOR_DELIVERY, S.AVAILABLE_FOR_PICKUP, S.DELIVERED},
    S.OUT_FOR_DELIVERY: {S.IN_TRANSIT, S.AVAILABLE_FOR_PICKUP, S.DELIVERED},
    # Not collected: back in transit; or delivered at home after all (redelivery asked).
    S.AVAILABLE_FOR_PICKUP: {S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED},
    S.DELIVERED: set(),
    S.CANCELLED: set(),
}

CLICK_AND_COLLECT: dict[Status, set[Status]] = {
    S.AWAITING_PAYMENT: {S.TO_PREPARE, S.CANCELLED},
    S.AWAITING_STOCK: {S.TO_PREPARE, S.ROUTED, S.CANCELLED},
    S.TO_PREPARE: {S.AWAITING_STOCK, S.ROUTED, S.IN_PREPARATION, S.READY_FOR_PICKUP, S.CANCELLED},
    S.ROUTED: {S.AWAITING_STOCK, S.IN_PREPARATION, S.READY_FOR_PICKUP, S.CANCELLED},
    S.IN_PREPARATION: {S.READY_FOR_PICKUP, S.CANCELLED},
    S.READY_FOR_PICKUP: {S.COLLECTED, S.CANCELLED},
    S.COLLECTED: set(),
    S.CANCELLED: set(),
}

TRANSITIONS: dict[Mode, dict[Status, set[Status]]] = {
    Mode.DELIVERY: DELIVERY,
    Mode.CLICK_AND_COLLECT: CLICK_AND_COLLECT,
}

# The statuses an order of each mode can ever have; the others never apply to it.
STATUSES: dict[Mode, set[Status]] = {mode: set(table) for mode, table in TRANSITIONS.items()}

TERMINAL: dict[Mode, set[Status]] = {
    Mode.DELIVERY: {S.DELIVERED, S.CANCELLED},
    Mode.CLICK_AND_COLLECT: {S.COLLECTED, S.CANCELLED},
}

# Where the merchant may still cancel the whole order or some lines.
CANCELLABLE: dict[Mode, set[Status]] = {
    Mode.DELIVERY: {
        S.AWAITING_PAYMENT,
        S.AWAITING_STOCK,
        S.ROUTED,
        S.TO_PREPARE,
        S.IN_PREPARATION,
        S.READY_TO_SHIP,
    },
    Mode.CLICK_AND_COLLECT: {
        S.AWAITING_PAYMENT,
        S.AWAITING_STOCK,
        S.ROUTED,
        S.TO_PREPARE,
        S.IN_PREPARATION,
        S.READY_FOR_PICKUP,
    },
}

# action -> target status, per mode; an action missing from a mode does not apply to it.
ACTION_TARGETS: dict[Mode, dict[Action, Status]] = {
    Mode.DELIVERY: {
        A.CONFIRM_PAYMENT: S.TO_PREPARE,
        A.HOLD_FOR_STOCK: S.AWAITING_STOCK,
        A.ROUTE: S.ROUTED,
        A.RELEASE: S.TO_PREPARE,
        A.START_PREPARATION: S.IN_PREPARATION,
        A.MARK_READY: S.READY_TO_SHIP,
        A.SHIP: S.SHIPPED,
        A.MARK_IN_TRANSIT: S.IN_TRANSIT,
        A.MARK_OUT_FOR_DELIVERY: S.OUT_FOR_DELIVERY,
        A.MARK_AVAILABLE_FOR_PICKUP: S.AVAILABLE_FOR_PICKUP,
        A.MARK_DELIVERED: S.DELIVERED,
        A.CANCEL: S.CANCELLED,
    },
    Mode.CLICK_AND_COLLECT: {
        A.CONFIRM_PAYMENT: S.TO_PREPARE,
        A.HOLD_FOR_STOCK: S.AWAITING_STOCK,
        A.ROUTE: S.ROUTED,
        A.RELEASE: S.TO_PREPARE,
        A.START_PREPARATION: S.IN_PREPARATION,
        A.MARK_READY: S.READY_FOR_PICKUP,
        A.MARK_COLLECTED: S.COLLECTED,
        A.CANCEL: S.CANCELLED,
    },
}

# Actions narrower than the table: "release" (stock arrived) only from awaiting stock, so
# that an unpaid order cannot skip its payment confirmation.
ACTION_SOURCES: dict[Action, set[Status]] = {A.RELEASE: {S.AWAITING_STOCK}}

# The dotted event type recorded by each action, per mode.
EVENT_TYPES: dict[Mode, dict[Action, str]] = {
    Mode.DELIVERY: {
        A.CONFIRM_PAYMENT: "order.confirmed",
        A.HOLD_FOR_STOCK: "order.awaiting_stock",
        A.ROUTE: "order.routed",
        A.RELEASE: "order.released",
        A.START_PREPARATION: "order.in_preparation",
        A.MARK_READY: "order.ready_to_ship",
        A.SHIP: "order.shipped",
        A.MARK_IN_TRANSIT: "order.in_transit",
        A.MARK_OUT_FOR_DELIVERY: "order.out_for_delivery",
        A.MARK_AVAILABLE_FOR_PICKUP: "order.available_for_pickup",
        A.MARK_DELIVERED: "order.delivered",
        A.CANCEL: "order.cancelled",
    },
    Mode.CLICK_AND_COLLECT: {
        A.CONFIRM_PAYMENT: "order.confirmed",
        A.HOLD_FOR_STOCK: "order.awaiting_stock",
        A.ROUTE: "order.routed",
        A.RELEASE: "order.released",
        A.START_PREPARATION: "order.in_preparation",
        A.MARK_READY: "order.ready_for_pickup",
        A.MARK_COLLECTED: "order.collected",
        A.CANCEL: "order.cancelled",
    },
}

# One way to bring a new order to each status through the services.
PATHS: dict[Mode, dict[Status, list[Action]]] = {
    Mode.DELIVERY: {
        S.AWAITING_PAYMENT: [],
        S.AWAITING_STOCK: [A.CONFIRM_PAYMENT, A.HOLD_FOR_STOCK],
        S.TO_PREPARE: [A.CONFIRM_PAYMENT],
        S.ROUTED: [A.CONFIRM_PAYMENT, A.ROUTE],
        S.IN_PREPARATION: [A.CONFIRM_PAYMENT, A.START_PREPARATION],
        S.READY_TO_SHIP: [A.CONFIRM_PAYMENT, A.MARK_READY],
        S.SHIPPED: [A.CONFIRM_PAYMENT, A.SHIP],
        S.IN_TRANSIT: [A.CONFIRM_PAYMENT, A.SHIP, A.MARK_IN_TRANSIT],
        S.OUT_FOR_DELIVERY: [A.CONFIRM_PAYMENT, A.SHIP, A.MARK_OUT_FOR_DELIVERY],
        S.AVAILABLE_FOR_PICKUP: [A.CONFIRM_PAYMENT, A.SHIP, A.MARK_AVAILABLE_FOR_PICKUP],
        S.DELIVERED: [A.CONFIRM_PAYMENT, A.SHIP, A.MARK_DELIVERED],
        S.CANCELLED: [A.CANCEL],
    },
    Mode.CLICK_AND_COLLECT: {
        S.AWAITING_PAYMENT: [],
        S.AWAITING_STOCK: [A.CONFIRM_PAYMENT, A.HOLD_FOR_STOCK],
        S.TO_PREPARE: [A.CONFIRM_PAYMENT],
        S.ROUTED: [A.CONFIRM_PAYMENT, A.ROUTE],
        S.IN_PREPARATION: [A.CONFIRM_PAYMENT, A.START_PREPARATION],
        S.READY_FOR_PICKUP: [A.CONFIRM_PAYMENT, A.MARK_READY],
        S.COLLECTED: [A.CONFIRM_PAYMENT, A.MARK_READY, A.MARK_COLLECTED],
        S.CANCELLED: [A.CANCEL],
    },
}

# The customer's progress bar, in order.
PUBLIC_STEPS: dict[Mode, list[Step]] = {
    Mode.DELIVERY: [
        Step.ORDERED,
        Step.PREPARING,
        Step.SHIPPED,
        Step.IN_TRANSIT,
        Step.OUT_FOR_DELIVERY,
        Step.DELIVERED,
    ],
    Mode.CLICK_AND_COLLECT: [
        Step.ORDERED,
        Step.PREPARING,
        Step.READY_FOR_PICKUP,
        Step.COLLECTED,
    ],
}

# The public step of every status, and whether customers see the status itself.
STEPS: dict[Status, tuple[Step, bool]] = {
    S.AWAITING_PAYMENT: (Step.ORDERED, False),
    S.AWAITING_STOCK: (Step.PREPARING, True),
    S.ROUTED: (Step.PREPARING, True),
    S.TO_PREPARE: (Step.PREPARING, True),
    S.IN_PREPARATION: (Step.PREPARING, False),
    S.READY_TO_SHIP: (Step.PREPARING, False),
    S.SHIPPED: (Step.SHIPPED, False),
    S.IN_TRANSIT: (Step.IN_TRANSIT, False),
    S.OUT_FOR_DELIVERY: (Step.OUT_FOR_DELIVERY, False),
    S.AVAILABLE_FOR_PICKUP: (Step.AVAILABLE_FOR_PICKUP, False),
    S.READY_FOR_PICKUP: (Step.READY_FOR_PICKUP, False),
    S.DELIVERED: (Step.DELIVERED, False),
    S.COLLECTED: (Step.COLLECTED, False),
    S.CANCELLED: (Step.CANCELLED, False),
}


def action_allowed(mode: Mode, status: Status, action: Action) -> bool:
    """Tell whether the expected tables allow *action* on an order of *mode* in *status*."""
    target = ACTION_TARGETS[mode].get(action)
    if target is None or target not in TRANSITIONS[mode].get(status, set()):
        return False
    return status in ACTION_SOURCES.get(action, {status})
