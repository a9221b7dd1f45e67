"""The in-transaction event bus.

A domain service appends its timeline row and then calls :func:`publish` inside the same
database transaction. Subscribers (the notification planner, for instance) write their own
rows in that transaction, so a crash can neither lose nor invent what they plan. Subscribers
must not do I/O: side effects belong to workers after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction


@dataclass(frozen=True)
class DomainEvent:
    """One thing that happened to a tenant-owned object."""

    type: str
    shop_id: int
    subject_id: int
    occurred_at: datetime
    actor: str
    payload: dict[str, Any] = field(default_factory=dict)
    event_id: int | None = None


Subscriber = Callable[[DomainEvent], None]
BatchSubscriber = Callable[[list[DomainEvent]], None]
_subscribers: list[tuple[str, Subscriber]] = []
_batch_subscribers: list[tuple[str, BatchSubscriber]] = []


def subscribe(prefix: str, subscriber: Subscriber) -> None:
    """Call *subscriber* for every published event whose type starts with *prefix*."""
    if (prefix, subscriber) not in _subscribers:
        _subscribers.append((prefix, subscriber))


def unsubscribe(prefix: str, subscriber: Subscriber) -> None:
    """Remove a subscription made with :func:`subscribe`."""
    if (prefix, subscriber) in _subscribers:
        _subscribers.remove((prefix, subscriber))


def subscribe_batch(prefix: str, subscriber: BatchSubscriber) -> None:
    """Call *subscriber* once per publication with the list of matching events.

    For subscribers that can handle many events in a few statements: bulk writers publish
    a hundred events at once with :func:`publish_many`, and a batch subscriber then reads
    and writes once for all of them instead of once per event.
    """
    if (prefix, subscriber) not in _batch_subscribers:
        _batch_subscribers.append((prefix, subscriber))


def unsubscribe_batch(prefix: str, subscriber: BatchSubscriber) -> None:
    """Remove a subscription made with :func:`subscribe_batch`."""
    if (prefix, subscriber) in _batch_subscribers:
        _batch_subscribers.remove((prefix, subscriber))


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("publish() must be called inside the transaction that records the event")


def publish(event: DomainEvent) -> None:
    """Deliver *event* to its subscribers; must run inside the writer's transaction."""
    publish_many([event])


def publish_many(published: list[DomainEvent]) -> None:
    """Deliver *published* (in order) to the subscribers, inside the writer's transaction."""
    if not published:
        return
    _require_transaction()
    for prefix, subscriber in list(_subscribers):
        for event in published:
            if event.type.startswith(prefix):
                subscriber(event)
    for prefix, batch_subscriber in list(_batch_subscribers):
        matching = [event for event in published if event.type.startswith(prefix)]
        if matching:
            batch_subscriber(matching)
