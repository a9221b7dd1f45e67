"""What can be notified, as one table (pure Python, like the order lifecycle).

A *notification event* (``shipped``, ``partially_cancelled``…) is what a merchant switches
on per channel. Domain events (``order.shipped``, ``shipment.out_for_delivery``…) map onto
them here and only here. Each entry says:

- ``category``: ``service`` (about the order) — every notification is a service message; the
  marketing block inside emails is a separate opt-out;
- ``urgent``: the customer must act now (collect before a deadline, a failed attempt, a
  problem): goes out even in quiet hours;
- ``minor``: a progress step that adds little after a recent message on the same order and
  channel (burst merging drops it into that message rather than sending another);
- ``essential``: still sent when the customer opted out of service messages (the receipt of
  their payment, the cancellation of what they paid for, the answer to a claim or a return);
- ``defaults``: the channels on by default, following seed 003 (Shippingbo: cancelled, in
  preparation, shipped, at the pickup point / delivered) and seed 004 (confirmation after
  payment; ready to ship / ready for pickup when the merchant marks the order; shipped when
  handed to the carrier; the apology on whole cancellation; the updated summary on partial
  cancellation). SMS and push are on by default only where the customer must act or wait
  at the door (ready for pickup, at a relay point, out for delivery, failed attempt, pickup
  reminder): SMS costs the merchant money.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

StrOrPromise = str | Promise

EMAIL: Final = "email"
SMS: Final = "sms"
PUSH: Final = "push"
WEBHOOK: Final = "webhook"
CUSTOMER_CHANNELS: Final = (EMAIL, SMS, PUSH)
CHANNELS: Final = (*CUSTOMER_CHANNELS, WEBHOOK)
CHANNEL_LABELS = {EMAIL: _("Email"), SMS: _("SMS"), PUSH: _("Web push"), WEBHOOK: _("Webhook")}
# Channels that ring or buzz: held during the customer's quiet hours unless urgent.
INTERRUPTIVE_CHANNELS: Final = frozenset({SMS, PUSH})


@dataclass(frozen=True)
class NotificationEvent:
    key: str
    label: StrOrPromise
    defaults: frozenset[str]
    urgent: bool = False
    minor: bool = False
    essential: bool = False
    category: str = "service"


def _e(
    key: str,
    label: StrOrPromise,
    defaults: tuple[str, ...] = (),
    *,
    urgent: bool = False,
    minor: bool = False,
    essential: bool = False,
) -> NotificationEvent:
    return NotificationEvent(
        key, label, frozenset(defaults), urgent=urgent, minor=minor, essential=essential
    )


EVENTS: Final[dict[str, NotificationEvent]] = {
    e.key: e
    for e in (
        _e("confirmed", _("Order confirmed"), (EMAIL,), essential=True),
        _e("in_preparation", _("In preparation"), (EMAIL,), minor=True),
        _e("ready_to_ship", _("Ready to ship"), (EMAIL,)),
        _e("shipped", _("Shipped"), (EMAIL,)),
        _e("in_transit", _("In transit"), (), minor=True),
        _e("ready_for_pickup", _("Ready for pickup in store"), (EMAIL, SMS, PUSH), urgent=True),
        _e(
            "available_for_pickup", _("Available at a relay point"), (EMAIL, SMS, PUSH), urgent=True
        ),
        _e("out_for_delivery", _("Out for delivery"), (EMAIL, SMS, PUSH), urgent=True),
        _e("delivered", _("Delivered"), (EMAIL,)),
        _e("collected", _("Collected"), (EMAIL,)),
        _e("cancelled", _("Cancelled"), (EMAIL,), essential=True),
        _e("partially_cancelled", _("Partially cancelled"), (EMAIL,), essential=True),
        _e("delayed", _("Delay"), (EMAIL,)),
        _e("exception", _("Delivery exception"), (EMAIL,), urgent=True),
        _e("failed_attempt", _("Failed delivery attempt"), (EMAIL, SMS, PUSH), urgent=True),
        _e("pickup_reminder", _("Pickup reminder before the deadline"), (EMAIL, SMS), urgent=True),
        _e("claim_update", _("Claim update"), (EMAIL,), essential=True),
        _e("return_update", _("Return update"), (EMAIL,), essential=True),
    )
}

# Domain event type → notification event key. Anything absent notifies nobody (customer
# side); webhooks receive every domain event their endpoint subscribes to.
DOMAIN_EVENTS: Final[dict[str, str]] = {
    "order.confirmed": "confirmed",
    "order.in_preparation": "in_preparation",
    "order.ready_to_ship": "ready_to_ship",
    "order.shipped": "shipped",
    "order.in_transit": "in_transit",
    "order.ready_for_pickup": "ready_for_pickup",
    "order.available_for_pickup": "available_for_pickup",
    "order.out_for_delivery": "out_for_delivery",
    "order.delivered": "delivered",
    "order.collected": "collected",
    "order.cancelled": "cancelled",
    "order.lines_cancelled": "partially_cancelled",
    "order.exception": "exception",
    "order.delayed": "delayed",
    "order.pickup_reminder": "pickup_reminder",
    "shipment.delayed": "delayed",
    "shipment.stalled": "delayed",
    "shipment.exception": "exception",
    "shipment.failed_attempt": "failed_attempt",
    "shipment.customs_held": "exception",
    "claim.updated": "claim_update",
    "claim.replied": "claim_update",
    # The shop's decisions on a return; the customer's own request and cancellation are not
    # told back to them (return.requested, return.cancelled).
    "return.approved": "return_update",
    "return.refused": "return_update",
    "return.received": "return_update",
    "return.refunded": "return_update",
}

# Exception reasons that mean a failed delivery attempt rather than a generic problem.
FAILED_ATTEMPT_REASONS: Final = frozenset({"failed_attempt", "recipient_absent", "no_access"})


def event_key_for(domain_type: str, payload: dict[str, object]) -> str | None:
    """Return the notification event for a domain event, or None if customers are not told."""
    if domain_type == "order.exception" and payload.get("reason") in FAILED_ATTEMPT_REASONS:
        return "failed_attempt"
    if domain_type == "order.exception" and payload.get("reason") == "delay":
        return "delayed"
    return DOMAIN_EVENTS.get(domain_type)


def default_enabled(event_key: str, channel: str) -> bool:
    """Tell whether *channel* is on for *event_key* when the shop has no rule of its own."""
    return channel in EVENTS[event_key].defaults
