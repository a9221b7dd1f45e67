"""Carrier news in, parcel and order states out: the one way tracking events are written.

``ingest(shop, items, source)`` takes normalised updates (from polling, a push endpoint or
an aggregator webhook) for one shop and, in **one transaction**:

1. finds the legs by (carrier, number) — unknown numbers are reported, never created;
2. locks their parcels (id order: two ingestions cannot deadlock), drops events already
   stored (``dedupe_key``: the same scan twice is one event) and inserts the new ones in
   one statement;
3. folds the new events into each parcel's state (:mod:`.timeline`: incrementally when they
   are all newer than what was folded, else from the parcel's whole timeline), keeps the
   carrier's ETA, relay point and pickup deadline, adds a destination leg on a hand-off;
4. moves the orders through the lifecycle services (all parcels delivered → delivered; one
   at a relay point → available for pickup, with the deadline; one out for delivery → out
   for delivery; moving → in transit), in one batch per shop. Only the order's **live**
   parcels count: one superseded by a replacement (its goods sent again, see
   :mod:`.replacement`) is still followed and recorded but no longer speaks for the order,
   the replacement does — so the replacement's delivery delivers an order whose parcel was
   lost. A delivered order stays delivered (the lifecycle refuses to move it back);
5. records and publishes a ``shipment.<status>`` event per status change on the order's
   timeline (``shipment.customs_held`` / ``shipment.delayed`` for those exceptions), which
   the notification planner turns into messages in the same transaction.

A late, older scan lands in the timeline but never moves a status backwards, terminal states
stay (see :mod:`.timeline`). Bad items are the caller's to refuse before; this service
trusts the vocabulary types.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from suivi.carriers import registry
from suivi.carriers.registry import connector_code
from suivi.carriers.vocabulary import ShipmentUpdate, Status
from suivi.carriers.vocabulary import TrackingEvent as Scan
from suivi.core.bulk import insert_new, update_rows
from suivi.orders.batch import ActionItem, order_apply_actions
from suivi.orders.lifecycle import Action
from suivi.orders.lifecycle import Status as OrderStatus
from suivi.orders.models import Order, OrderEvent
from suivi.orders.services import publish_recorded_many
from suivi.shops.models import Shop

from . import schedule, timeline
from .models import Parcel, ParcelLeg, TrackingEvent

MAX_ITEMS = 1000
_PARCEL_FIELDS = [
    "status", "status_reason", "status_at", "last_event_at", "delivered_at", "customs",
    "stalled_at", "eta", "pickup_deadline", "relay_point", "updated_at",
]  # fmt: skip


@dataclass
class IngestReport:
    received: int = 0  # events given
    inserted: int = 0  # new events stored
    duplicates: int = 0  # events of followed numbers already stored (or twice in the call)
    unknown: list[tuple[str, str]] = field(default_factory=list)  # (carrier, number)
    unknown_events: int = 0  # events of numbers the shop does not follow
    parcels_changed: int = 0
    orders_moved: int = 0

    def merge(self, other: IngestReport) -> None:
        self.received += other.received
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.unknown_events += other.unknown_events
        self.unknown.extend(other.unknown)
        self.parcels_changed += other.parcels_changed
        self.orders_moved += other.orders_moved


def dedupe_key(leg_id: int, scan: Scan) -> str:
    """One key per scan of a leg: code, instant (UTC, so offsets cannot split it) and place."""
    instant = scan.occurred_at.astimezone(UTC).isoformat()
    raw = f"{leg_id}|{scan.raw_code}|{instant}|{scan.location.strip().lower()}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _offset_minutes(when: datetime) -> int:
    offset = when.utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


@dataclass(frozen=True)
class _Stored:
    """A stored event seen by the fold (TrackingEvent rows and new scans alike)."""

    status: str
    reason: str
    occurred_at: datetime
    raw_code: str
    location: str
    customs: str


def _stored(event: TrackingEvent) -> _Stored:
    return _Stored(
        status=event.status,
        reason=event.reason,
        occurred_at=event.occurred_at,
        raw_code=event.raw_code,
        location=event.location,
        customs=event.customs,
    )


def _state(parcel: Parcel) -> timeline.State:
    return timeline.State(
        status=Status(parcel.status),
        reason=parcel.status_reason,
        status_at=parcel.status_at,
        last_event_at=parcel.last_event_at,
        delivered_at=parcel.delivered_at,
        customs=parcel.customs,
    )


def find_legs(shop: Shop, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ParcelLeg]:
    """The shop's legs for (carrier, number) pairs; an empty carrier matches any carrier
    when the number alone is unambiguous in the shop."""
    wanted = set(keys)
    numbers = {number for _carrier, number in wanted}
    if not numbers:
        return {}
    found: dict[tuple[str, str], ParcelLeg] = {}
    by_number: dict[str, list[ParcelLeg]] = defaultdict(list)
    for leg in ParcelLeg.objects.filter(shop_id=shop.pk, tracking_number__in=numbers):
        by_number[leg.tracking_number].append(leg)
    for carrier, number in wanted:
        legs = by_number.get(number, [])
        # A La Poste push reaches a parcel followed as "colissimo": one connector, one number.
        match = (
            [leg for leg in legs if connector_code(leg.carrier) == connector_code(carrier)]
            if carrier
            else legs
        )
        if len(match) == 1:
            found[(carrier, number)] = match[0]
    return found


def ingest(
    shop: Shop,
    items: Sequence[tuple[str, ShipmentUpdate]],
    *,
    source: str,
    now: datetime | None = None,
) -> IngestReport:
    """Store and apply carrier updates ``(carrier, update)`` for *shop* (see module doc)."""
    if len(items) > MAX_ITEMS:
        raise ValueError(f"at most {MAX_ITEMS} updates per call")
    now = now or timezone.now()
    report = IngestReport(received=sum(len(update.events) for _c, update in items))
    known_events = 0
    legs = find_legs(shop, ((carrier, update.tracking_number) for carrier, update in items))
    known: list[tuple[ParcelLeg, ShipmentUpdate]] = []
    for carrier, update in items:
        leg = legs.get((carrier, update.tracking_number))
        if leg is None:
            report.unknown.append((carrier, update.tracking_number))
        else:
            known.append((leg, update))
            known_events += len(update.events)
    report.unknown_events = report.received - known_events
    if not known:
        return report
    with transaction.atomic():
        parcels = {
            parcel.pk: parcel
            for parcel in Parcel.objects.select_for_update()
            .filter(shop_id=shop.pk, pk__in={leg.parcel_id for leg, _u in known})
            .order_by("pk")
        }
        _apply(shop, parcels, known, source, now, report)
    return report


def _apply(
    shop: Shop,
    parcels: dict[int, Parcel],
    known: list[tuple[ParcelLeg, ShipmentUpdate]],
    source: str,
    now: datetime,
    report: IngestReport,
) -> None:
    # 1. New events only (in-batch duplicates and those already stored are dropped).
    candidates: dict[tuple[int, str], TrackingEvent] = {}
    for leg, update in known:
        for scan in update.events:
            key = dedupe_key(leg.pk, scan)
            if (leg.parcel_id, key) in candidates:
                continue
            candidates[(leg.parcel_id, key)] = TrackingEvent(
                parcel_id=leg.parcel_id,
                leg_id=leg.pk,
                dedupe_key=key,
                occurred_at=scan.occurred_at,
                utc_offset_minutes=_offset_minutes(scan.occurred_at),
                status=scan.status.value,
                reason=scan.reason.value,
                raw_code=scan.raw_code[:64],
                raw_label=scan.raw_label[:500],
                location=scan.location[:200],
                country=scan.country[:3],
                latitude=scan.latitude,
                longitude=scan.longitude,
                customs=scan.customs[:12],
                source=source,
                received_at=now,
            )
    # Polls return a parcel's whole history, so most events are known: read their keys
    # first (cheap), then insert the rest with ON CONFLICT DO NOTHING RETURNING, which also
    # settles a race with another ingestion of the same scan.
    known_keys = (
        set(
            TrackingEvent.objects.filter(
                parcel_id__in={pid for pid, _k in candidates},
                dedupe_key__in={key for _p, key in candidates},
            ).values_list("parcel_id", "dedupe_key")
        )
        if candidates
        else set()
    )
    fresh = {k: row for k, row in candidates.items() if k not in known_keys}
    stored = insert_new(TrackingEvent, list(fresh.values()), unique=("parcel", "dedupe_key"))
    new = [row for k, row in fresh.items() if k in stored]
    report.inserted = len(new)
    report.duplicates = report.received - report.unknown_events - len(new)
    # 2. Fold per parcel.
    new_by_parcel: dict[int, list[_Stored]] = defaultdict(list)
    for row in new:
        new_by_parcel[row.parcel_id].append(_stored(row))
    full = [
        pid
        for pid, scans in new_by_parcel.items()
        if not timeline.can_continue(_state(parcels[pid]), scans)
    ]
    history: dict[int, list[_Stored]] = defaultdict(list)
    if full:
        for event in TrackingEvent.objects.filter(parcel_id__in=full):
            history[event.parcel_id].append(_stored(event))
    changed: dict[int, tuple[str, str]] = {}  # parcel id -> (old status, old reason)
    recounted: set[int] = set()
    redated: set[int] = set()  # delivered_at moved
    touched: set[int] = set()
    for pid, scans in new_by_parcel.items():
        parcel = parcels[pid]
        before = (parcel.status, parcel.status_reason)
        delivered_before = parcel.delivered_at
        state = (
            timeline.fold(history[pid])
            if pid in history
            else timeline.fold(scans, start=_state(parcel))
        )
        parcel.status = state.status.value
        parcel.status_reason = state.reason
        parcel.status_at = state.status_at
        parcel.last_event_at = state.last_event_at
        parcel.delivered_at = state.delivered_at
        parcel.customs = state.customs
        parcel.stalled_at = None  # it moved
        touched.add(pid)
        if (parcel.status, parcel.status_reason) != before:
            changed[pid] = before
        elif (parcel.delivered_at is None) != (delivered_before is None):
            recounted.add(pid)  # same status, but it now counts (or not) as delivered
        if parcel.delivered_at != delivered_before:
            redated.add(pid)
    # Carrier extras: the latest word wins.
    extras: set[int] = set()
    for leg, update in known:
        parcel = parcels[leg.parcel_id]
        if update.estimated_delivery is not None and parcel.eta != update.estimated_delivery:
            parcel.eta = update.estimated_delivery
            extras.add(parcel.pk)
        if update.pickup_deadline is not None and parcel.pickup_deadline != update.pickup_deadline:
            parcel.pickup_deadline = update.pickup_deadline
            extras.add(parcel.pk)
        if update.relay_point and parcel.relay_point != dict(update.relay_point):
            parcel.relay_point = dict(update.relay_point)
            extras.add(parcel.pk)
    touched |= extras
    now_parcels = [parcels[pid] for pid in touched]
    for parcel in now_parcels:
        parcel.updated_at = now
    # Most events only move a parcel along (its last movement): write those narrowly.
    wide = changed.keys() | recounted | redated | extras
    update_rows(Parcel, [p for p in now_parcels if p.pk in wide], _PARCEL_FIELDS)
    update_rows(
        Parcel,
        [p for p in now_parcels if p.pk not in wide],
        ["status_at", "last_event_at", "stalled_at", "customs", "updated_at"],
    )
    report.parcels_changed = len(changed)

    # 3. Hand-offs: the destination carrier's number becomes a leg, followed from now on.
    _add_handoffs(shop, known, now)

    # 4. Polling follows the new state (terminal: stop; out for delivery: soon).
    _reschedule(parcels, changed, now)

    # 5. Orders and shipment events.
    if changed or recounted:
        report.orders_moved = _move_orders(shop, parcels, changed, recounted)


def _add_handoffs(shop: Shop, known: list[tuple[ParcelLeg, ShipmentUpdate]], now: datetime) -> None:
    from .services import account_for, registers

    for leg, update in known:
        handoff = update.handoff
        if handoff is None or not handoff.tracking_number:
            continue
        account = account_for(shop, handoff.carrier)
        pollable = account is not None and registry.get(handoff.carrier) is not None
        ParcelLeg.objects.get_or_create(
            shop_id=shop.pk,
            carrier=handoff.carrier,
            tracking_number=handoff.tracking_number,
            defaults={
                "parcel_id": leg.parcel_id,
                "role": ParcelLeg.Role.DESTINATION,
                "account": account if pollable else None,
                "next_poll_at": now if pollable else None,
                "register_at": now if registers(handoff.carrier, account) else None,
            },
        )


def _reschedule(parcels: dict[int, Parcel], changed: dict[int, Any], now: datetime) -> None:
    """Give the legs of changed parcels their next poll (two statements for the batch)."""
    if not changed:
        return
    legs = list(
        ParcelLeg.objects.filter(parcel_id__in=list(changed)).only(
            "pk", "parcel_id", "account_id", "next_poll_at"
        )
    )
    for leg in legs:
        parcel = parcels[leg.parcel_id]
        when = schedule.next_poll(parcel.status, now=now, last_movement=parcel.last_event_at)
        # Only legs we can poll get a time; a terminal parcel stops every leg.
        leg.next_poll_at = when if leg.account_id is not None or when is None else None
    update_rows(ParcelLeg, legs, ["next_poll_at"])


def order_target(
    statuses: Sequence[str], delivered: Sequence[bool] | None = None
) -> OrderStatus | None:
    """Where an order's parcels, taken together, put the order (None: leave it).

    A parcel that was delivered counts as delivered even if it is later sent back (that is a
    return, not an undelivery: the order stays delivered); a parcel back with the sender
    without being delivered does not hold the others' delivery back. A parcel on its way
    back, or expired, keeps the order in transit (the order has no such status;
    the parcel's own status and its ``shipment.*`` event say it). Every target is reachable
    from every other non-terminal one, so the order ends where the final parcel states put
    it whatever the order the carrier's events arrived in.
    """
    flags = delivered or [False] * len(statuses)
    effective = [
        Status.DELIVERED if was else Status(s) for s, was in zip(statuses, flags, strict=True)
    ]
    # Parcels back with the sender (never delivered) do not hold a delivered order back.
    active = [s for s in effective if s is not Status.RETURNED]
    if not active:
        return OrderStatus.IN_TRANSIT if effective else None
    if all(s is Status.DELIVERED for s in active):
        return OrderStatus.DELIVERED
    if Status.AVAILABLE_FOR_PICKUP in effective:
        return OrderStatus.AVAILABLE_FOR_PICKUP
    if Status.OUT_FOR_DELIVERY in effective:
        return OrderStatus.OUT_FOR_DELIVERY
    if any(s not in (Status.PENDING, Status.INFO_RECEIVED) for s in effective):
        return OrderStatus.IN_TRANSIT
    return None


_ACTIONS = {
    OrderStatus.DELIVERED: Action.MARK_DELIVERED,
    OrderStatus.AVAILABLE_FOR_PICKUP: Action.MARK_AVAILABLE_FOR_PICKUP,
    OrderStatus.OUT_FOR_DELIVERY: Action.MARK_OUT_FOR_DELIVERY,
    OrderStatus.IN_TRANSIT: Action.MARK_IN_TRANSIT,
}


def shipment_event_type(status: str, reason: str) -> str:
    """The domain event for a parcel entering *status* (customs and delays named apart)."""
    if status == Status.EXCEPTION and reason == "customs_hold":
        return "shipment.customs_held"
    if status == Status.EXCEPTION and reason == "delay":
        return "shipment.delayed"
    return f"shipment.{status}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def parcel_payload(parcel: Parcel) -> dict[str, Any]:
    """What messages and webhooks read about a parcel (templates use these keys)."""
    return {
        "order_id": parcel.order_id,
        "parcel_id": parcel.pk,
        "carrier": parcel.carrier,
        "tracking_number": parcel.tracking_number,
        "tracking_url": parcel.tracking_url,
        "status": parcel.status,
        "reason": parcel.status_reason,
        "eta": _iso(parcel.eta),
        "pickup_deadline": _iso(parcel.pickup_deadline),
        **({"relay_point": parcel.relay_point} if parcel.relay_point else {}),
    }


def _move_orders(
    shop: Shop, parcels: dict[int, Parcel], changed: dict[int, Any], recounted: set[int]
) -> int:
    order_ids = {parcels[pid].order_id for pid in (*changed, *recounted)}
    statuses: dict[int, list[str]] = defaultdict(list)
    delivered: dict[int, list[bool]] = defaultdict(list)
    driving: dict[int, dict[Status, Parcel]] = defaultdict(dict)
    # The live parcels only: a superseded one's goods travel again in its replacement.
    for pid, order_id, status, delivered_at in Parcel.objects.filter(
        shop_id=shop.pk, order_id__in=order_ids, superseded_by__isnull=True
    ).values_list("pk", "order_id", "status", "delivered_at"):
        if pid in parcels:
            status, delivered_at = parcels[pid].status, parcels[pid].delivered_at
        statuses[order_id].append(status)
        delivered[order_id].append(delivered_at is not None)
        if pid in parcels:
            driving[order_id].setdefault(Status(status), parcels[pid])
    orders = dict(
        Order.objects.filter(shop_id=shop.pk, pk__in=order_ids).values_list("pk", "status")
    )
    # Shipment events first (on the order's timeline), then the order moves.
    recorded = [
        OrderEvent(
            shop_id=shop.pk,
            order_id=parcels[pid].order_id,
            type=shipment_event_type(parcels[pid].status, parcels[pid].status_reason),
            actor=f"carrier:{parcels[pid].carrier}",
            payload={
                **parcel_payload(parcels[pid]),
                "from": before[0],
                "occurred_at": _iso(parcels[pid].status_at),
            },
        )
        for pid, before in sorted(changed.items())
    ]
    OrderEvent.objects.bulk_create(recorded)
    for event in recorded:
        event.order = Order(pk=event.order_id, shop_id=shop.pk)
    publish_recorded_many(recorded)
    items: list[ActionItem] = []
    for order_id in sorted(order_ids):
        target = order_target(statuses[order_id], delivered[order_id])
        if target is None or orders.get(order_id) == target.value:
            continue
        parcel = driving[order_id].get(_PARCEL_FOR[target]) or next(
            iter(driving[order_id].values()), None
        )
        items.append(
            ActionItem(
                order_id=order_id,
                action=_ACTIONS[target],
                payload=parcel_payload(parcel) if parcel is not None else {},
            )
        )
    moved = 0
    for start in range(0, len(items), 100):
        results = order_apply_actions(shop=shop, items=items[start : start + 100], actor="carrier")
        moved += sum(1 for result in results if isinstance(result, Order))
    return moved


_PARCEL_FOR = {
    OrderStatus.DELIVERED: Status.DELIVERED,
    OrderStatus.AVAILABLE_FOR_PICKUP: Status.AVAILABLE_FOR_PICKUP,
    OrderStatus.OUT_FOR_DELIVERY: Status.OUT_FOR_DELIVERY,
    OrderStatus.IN_TRANSIT: Status.IN_TRANSIT,
}
