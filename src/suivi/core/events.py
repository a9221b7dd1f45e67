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
_subscribers: list[tuple[str, Subscriber]] = []


def subscribe(prefix: str, subscriber: Subscriber) -> None:
    """Call *subscriber* for every published event whose type starts with *prefix*."""
    if (prefix, subscriber) not in _subscribers:
        _subscribers.append((prefix, subscriber))


def unsubscribe(prefix: str, subscriber: Subscriber) -> None:
    """Remove a subscription made with :func:`subscribe`."""
    if (prefix, subscriber) in _subscribers:
        _subscribers.remove((prefix, subscriber))


def publish(event: DomainEvent) -> None:
    """Deliver *event* to its subscribers; must run inside the writer's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("publish() must be called inside the transaction that records the event")
    for prefix, subscriber in list(_subscribers):
        if event.type.startswith(prefix):
            subscriber(event)
