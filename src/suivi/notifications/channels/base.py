"""The one interface every channel implements.

A channel receives :class:`Outgoing` items — already rendered, already addressed — and
returns one :class:`Outcome` per item, in order. It never touches the database: the
dispatcher records attempts and statuses. It does its I/O through its provider's client
(Django's email backends for email, :mod:`suivi.core.http` for everything over HTTP).

Errors are classified by the channel because only it knows its provider:
``temporary`` (timeouts, connection refused, 429, 5xx, SMTP 4xx) is retried with backoff;
``permanent`` (invalid number, hard bounce, 404/410 from a push service, 4xx) stops at once,
and with ``invalidate=True`` the contact point / subscription / endpoint is marked unusable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from suivi.core import http


@dataclass(frozen=True)
class Outgoing:
    """One message ready to hand to a provider.

    ``content`` by channel:
      - email: ``subject``, ``text``, ``html``, ``from_email``, ``reply_to`` (may be ""),
        ``headers`` (dict, e.g. List-Unsubscribe);
      - sms: ``text``, ``sender`` (may be "");
      - push: ``title``, ``body``, ``url``, ``tag``, ``urgency`` ("normal"/"high"), ``ttl``;
      - webhook: ``body`` (the exact JSON text to POST), ``event_type``.
    ``target`` by channel: push → ``{"endpoint", "p256dh", "auth"}``;
    webhook → ``{"url", "secret"}`` (secret in ``whsec_…`` form); else ``{}``.
    """

    message_id: int
    idempotency_key: str
    shop_id: int
    channel: str
    recipient: str
    content: dict[str, Any]
    target: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1


OutcomeKind = Literal["ok", "temporary", "permanent"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one :class:`Outgoing`."""

    kind: OutcomeKind
    provider_message_id: str = ""
    status_code: int | None = None
    answer: str = ""
    invalidate: bool = False
    retry_after_seconds: float | None = None

    @classmethod
    def ok(
        cls, provider_message_id: str = "", status_code: int | None = None, answer: str = ""
    ) -> Outcome:
        return cls("ok", provider_message_id, status_code, answer[:2000])

    @classmethod
    def temporary(
        cls, answer: str, status_code: int | None = None, retry_after_seconds: float | None = None
    ) -> Outcome:
        return cls("temporary", "", status_code, answer[:2000], False, retry_after_seconds)

    @classmethod
    def permanent(
        cls, answer: str, status_code: int | None = None, invalidate: bool = False
    ) -> Outcome:
        return cls("permanent", "", status_code, answer[:2000], invalidate)


ResultCallback = Callable[[Outgoing, Outcome], None]


class Channel:
    """Base class: override :meth:`send` (one item) or :meth:`send_batch` (to share a
    connection across a batch). ``accepts_idempotency_key`` tells whether the provider is
    given our key (so a retry after a crash cannot duplicate on its side)."""

    name: ClassVar[str]
    accepts_idempotency_key: ClassVar[bool] = False

    def send(self, item: Outgoing) -> Outcome:
        raise NotImplementedError

    def send_batch(
        self, items: Sequence[Outgoing], on_result: ResultCallback | None = None
    ) -> list[Outcome]:
        """Send *items* in order; *on_result* is called after each one, before the next, so
        the caller can record it at once (a crash then loses at most the one in flight)."""
        outcomes = []
        for item in items:
            try:
                outcome = self.send(item)
            except Exception as exc:  # a bug in one send must not lose the batch's records
                outcome = Outcome.temporary(f"{type(exc).__name__}: {exc}")
            outcomes.append(outcome)
            if on_result is not None:
                on_result(item, outcome)
        return outcomes


def retry_after(value: str | None) -> float | None:
    """Parse an HTTP ``Retry-After`` header (seconds or an HTTP date)."""
    return http.retry_after_seconds(value)
