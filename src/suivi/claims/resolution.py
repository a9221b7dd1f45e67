"""Resolving a claim together with what the resolution does (the back office's resolve form).

Each function checks the staff member first, then in **one transaction** does the
resolution's work — a replacement parcel, a credit note — and calls
:func:`suivi.claims.services.claim_resolve`, which records ``claim.updated`` and tells the
customer. If any step is refused, nothing is written: no parcel, no credit note, the claim
unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext

from suivi.core.errors import InvalidInput
from suivi.core.money import format_money, quantize
from suivi.orders.models import CreditNote, OrderLine
from suivi.orders.refunds import RefundedLine, refund_credit_note
from suivi.shipments.models import Parcel
from suivi.shipments.replacement import replacement_parcel_create
from suivi.shipments.services import ParcelLineInput

from .errors import ClaimClosed
from .models import Claim
from .services import User, _check_staff, _lock, _text, claim_resolve

Resolution = Claim.Resolution


class ClaimLine(NamedTuple):
    """A quantity of one order line (by id) reshipped or refunded."""

    order_line_id: int
    quantity: int


def _customer_locale(claim: Claim) -> str:
    return claim.order.language if claim.order.language in ("fr", "en") else "fr"


def _joined(head: str, note: str) -> str:
    return f"{head} — {note}" if note else head


def _open_claim(claim: Claim) -> Claim:
    """Lock the claim for the transaction and refuse a closed one before any other write."""
    locked = _lock(claim)
    if locked.is_closed:
        raise ClaimClosed(gettext("This claim is closed; reopen it before resolving it."))
    return locked


def _order_lines(claim: Claim, lines: Sequence[ClaimLine]) -> list[tuple[OrderLine, int]]:
    """The claim's order lines named by *lines* (positive quantities, each line once)."""
    chosen = [(int(item.order_line_id), int(item.quantity)) for item in lines if item.quantity]
    if not chosen:
        raise InvalidInput(gettext("Choose at least one item and its quantity."), field="lines")
    by_id = {line.pk: line for line in OrderLine.objects.filter(order_id=claim.order_id)}
    found: list[tuple[OrderLine, int]] = []
    seen: set[int] = set()
    for index, (line_id, quantity) in enumerate(chosen):
        line = by_id.get(line_id)
        if line is None or line_id in seen:
            raise InvalidInput(gettext("This order has no such item."), field=f"lines.{index}")
        if quantity < 0:
            raise InvalidInput(
                gettext("A quantity cannot be negative."), field=f"lines.{index}.quantity"
            )
        seen.add(line_id)
        found.append((line, quantity))
    return found


# Claims about goods that reached the customer (damaged, wrong, short): the parcel that
# brought them stays as it is; the replacement only adds a parcel to wait for.
_RECEIVED_KINDS = frozenset({Claim.Kind.DAMAGED, Claim.Kind.WRONG_ITEM, Claim.Kind.MISSING_ITEM})


def superseded_parcels(claim: Claim, order_lines: Sequence[OrderLine]) -> list[int]:
    """The parcels a reshipment of *order_lines* supersedes: the order's live parcels that
    carry any of those lines and were not delivered (lost, stuck, back with the sender);
    none when the claim is about goods received (damaged, wrong or missing item).

    From then on the order's status follows the replacement instead of them (see
    :mod:`suivi.shipments.replacement`): an order whose parcel was lost is delivered when the
    replacement is; an order already delivered stays delivered.
    """
    if claim.kind in _RECEIVED_KINDS:
        return []
    return sorted(
        set(
            Parcel.objects.filter(
                shop_id=claim.shop_id,
                order_id=claim.order_id,
                superseded_by__isnull=True,
                delivered_at__isnull=True,
                lines__order_line__in=[line.pk for line in order_lines],
            ).values_list("pk", flat=True)
        )
    )


def claim_resolve_by_reship(
    *,
    claim: Claim,
    user: User,
    tracking_number: str,
    lines: Sequence[ClaimLine],
    carrier: str = "",
    note: str = "",
) -> Parcel:
    """Send *lines* again in a new parcel (*tracking_number*, carrier given or detected) and
    resolve the claim as a reshipment; the customer's message quotes the parcel's number.

    The replacement supersedes the parcels :func:`superseded_parcels` chooses; it never
    counts as shipping the goods again."""
    _check_staff(claim.shop_id, user)
    text = _text(note, field="note", required=False)
    actor = f"staff:{user.pk}"
    with transaction.atomic():
        _open_claim(claim)
        order_lines = _order_lines(claim, lines)
        parcel = replacement_parcel_create(
            shop=claim.order.shop,
            order_id=claim.order_id,
            tracking_number=tracking_number,
            carrier=carrier,
            lines=[ParcelLineInput(line.position, quantity) for line, quantity in order_lines],
            supersedes=superseded_parcels(claim, [line for line, _quantity in order_lines]),
            actor=actor,
            payload={"claim_id": claim.pk, "claim_reference": claim.reference},
        )
        with translation.override(_customer_locale(claim)):
            head = gettext("Tracking number %(number)s") % {"number": parcel.tracking_number}
        claim_resolve(
            claim=claim, user=user, resolution=Resolution.RESHIP, note=_joined(head, text)
        )
    return parcel


def claim_resolve_by_refund(
    *, claim: Claim, user: User, lines: Sequence[ClaimLine], note: str = ""
) -> CreditNote | None:
    """Refund *lines* — a credit note when the order was invoiced (None otherwise) — and
    resolve the claim as a refund; the customer's message quotes the amount."""
    _check_staff(claim.shop_id, user)
    text = _text(note, field="note", required=False)
    order = claim.order
    with transaction.atomic():
        _open_claim(claim)
        order_lines = _order_lines(claim, lines)
        for index, (line, quantity) in enumerate(order_lines):
            if quantity > line.quantity_active:
                raise InvalidInput(
                    gettext("Only %(n)d of “%(name)s” can be refunded.")
                    % {"n": line.quantity_active, "name": line.name},
                    field=f"lines.{index}.quantity",
                )
        credit_note = refund_credit_note(
            shop=order.shop,
            order_id=order.pk,
            lines=[RefundedLine(line.pk, quantity) for line, quantity in order_lines],
            reason=f"claim {claim.reference}",
            actor=f"staff:{user.pk}",
        )
        amount = (
            credit_note.total_amount
            if credit_note is not None
            else quantize(
                sum((line.unit_price * qty for line, qty in order_lines), Decimal("0")),
                order.currency,
            )
        )
        locale = _customer_locale(claim)
        with translation.override(locale):
            head = gettext("%(amount)s refunded") % {
                "amount": format_money(amount, order.currency, locale)
            }
            if credit_note is not None:
                head += " " + gettext("(credit note %(number)s)") % {"number": credit_note.number}
        claim_resolve(
            claim=claim, user=user, resolution=Resolution.REFUND, note=_joined(head, text)
        )
    return credit_note


def parse_amount(value: str | Decimal, currency: str) -> Decimal:
    """A positive amount of *currency* ("12,50" or "12.50"); :class:`InvalidInput` otherwise."""
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise InvalidInput(gettext("Enter an amount such as 12.50."), field="amount") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput(gettext("Enter an amount greater than zero."), field="amount")
    if amount >= Decimal("1e9"):
        raise InvalidInput(gettext("This amount is too large."), field="amount")
    return quantize(amount, currency)


def claim_resolve_by_compensation(
    *, claim: Claim, user: User, amount: str | Decimal, note: str = ""
) -> Claim:
    """Resolve the claim with a compensation of *amount* (in the order's currency, at most
    the order's total), quoted in the customer's message; the payment itself happens in the
    shop's payment system."""
    _check_staff(claim.shop_id, user)
    order = claim.order
    value = parse_amount(amount, order.currency)
    if value > order.total_amount:
        raise InvalidInput(
            gettext("A compensation cannot exceed the order's total."), field="amount"
        )
    text = _text(note, field="note", required=False)
    locale = _customer_locale(claim)
    with translation.override(locale):
        head = gettext("Compensation of %(amount)s") % {
            "amount": format_money(value, order.currency, locale)
        }
    return claim_resolve(
        claim=claim, user=user, resolution=Resolution.COMPENSATION, note=_joined(head, text)
    )


def time_to_resolution(claim: Claim) -> dt.timedelta | None:
    """How long the claim took from its opening to its resolution (None while unresolved)."""
    if claim.resolved_at is None or claim.created_at is None:
        return None
    return max(claim.resolved_at - claim.created_at, dt.timedelta(0))
