"""Writes on returns: the customer's request and cancellation, the shop's decisions.

Every service runs in one transaction that writes the new state with a compare-and-set on
the return's old status and records a ``return.*`` event on the order's timeline (published
on the core event bus in that transaction, like the order services). A refused or
concurrent change raises and writes nothing.

Customer services take the signed-in ``user`` and find nothing that is not theirs; staff
services (for the back office) take the staff ``user`` and find nothing outside the shops
they are a member of (any role; superusers everywhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from suivi.core.errors import InvalidInput, NotFound
from suivi.core.money import quantize
from suivi.orders.models import Order
from suivi.orders.refunds import RefundedLine, refund_credit_note
from suivi.orders.services import _record
from suivi.shops.models import Membership

from . import storage
from .errors import InvalidReturnQuantity, InvalidReturnTransition, NotReturnable
from .lifecycle import EVENT_TYPES, ReturnReason, ReturnStatus, can_transition
from .models import ReturnLine, ReturnRequest
from .selectors import order_return_eligibility, return_lines

MAX_NOTE = 2000
MAX_COMMENT = 500
MAX_INSTRUCTIONS = 5000
MAX_LINES = 200


class ReturnItem(NamedTuple):
    """One line of a return request: which order line, how many, why."""

    order_line_id: int
    quantity: int
    reason: ReturnReason | str
    comment: str = ""


# --- internals --------------------------------------------------------------------------


def _customer_actor(customer_id: int) -> str:
    return f"customer:{customer_id}"


def _staff_actor(user: Any) -> str:
    return f"staff:{user.pk}"


def _check_staff(shop_id: int, user: Any) -> None:
    """Let *user* act on the shop's returns, or answer as if the return did not exist."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        raise NotFound("No such return.")
    if getattr(user, "is_superuser", False):
        return
    if not Membership.objects.filter(shop_id=shop_id, user_id=user.pk).exists():
        raise NotFound("No such return.")


def _clean_items(lines: Sequence[ReturnItem | tuple[Any, ...]]) -> list[ReturnItem]:
    if not lines:
        raise InvalidInput(gettext("Choose at least one item to return."), field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput(gettext("Too many lines in one return."), field="lines")
    items: list[ReturnItem] = []
    seen: set[int] = set()
    for index, raw in enumerate(lines):
        item = ReturnItem(*raw)
        try:
            line_id, quantity = int(item.order_line_id), int(item.quantity)
        except (TypeError, ValueError):
            raise InvalidInput(
                gettext("A quantity must be a whole number."), field=f"lines.{index}"
            ) from None
        if line_id in seen:
            raise InvalidInput(gettext("Each item may appear once."), field=f"lines.{index}")
        seen.add(line_id)
        if quantity < 1:
            raise InvalidReturnQuantity(
                gettext("A quantity to return must be at least 1."),
                field=f"lines.{index}.quantity",
            )
        try:
            reason = ReturnReason(item.reason)
        except ValueError:
            raise InvalidInput(
                gettext("Choose a reason for each item."), field=f"lines.{index}.reason"
            ) from None
        comment = (item.comment or "").strip()
        if len(comment) > MAX_COMMENT:
            raise InvalidInput(
                gettext("A comment has at most %(n)d characters.") % {"n": MAX_COMMENT},
                field=f"lines.{index}.comment",
            )
        items.append(ReturnItem(line_id, quantity, reason, comment))
    return items


def _text(value: str, limit: int, field: str) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInput(
            gettext("This text has at most %(n)d characters.") % {"n": limit}, field=field
        )
    return text


_REFUSED_MOVES = {
    ReturnStatus.CANCELLED: _(
        "Only a return still waiting for the shop's answer can be cancelled."
    ),
    ReturnStatus.APPROVED: _("Only a return waiting for an answer can be approved."),
    ReturnStatus.REFUSED: _("Only a return waiting for an answer can be refused."),
    ReturnStatus.RECEIVED: _("Only an approved return can be marked as received."),
    ReturnStatus.REFUNDED: _("Only an approved or received return can be refunded."),
}


def _fresh(ret: ReturnRequest, target: ReturnStatus) -> ReturnRequest:
    """Re-read *ret* in the transaction and check that it may move to *target*."""
    fresh = ReturnRequest.objects.select_related("order", "shop").get(
        pk=ret.pk, shop_id=ret.shop_id
    )
    if not can_transition(fresh.status, target):
        raise InvalidReturnTransition(
            str(_REFUSED_MOVES[target]), status=fresh.status, target=target.value
        )
    return fresh


def _move(
    ret: ReturnRequest,
    target: ReturnStatus,
    actor: str,
    *,
    changes: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
) -> ReturnRequest:
    """Compare-and-set *ret* (read by :func:`_fresh`) to *target* and record the event."""
    changes = dict(changes or {})
    now = timezone.now()
    updated = ReturnRequest.objects.filter(
        pk=ret.pk, shop_id=ret.shop_id, status=ret.status
    ).update(status=target.value, updated_at=now, **changes)
    if updated != 1:
        raise InvalidReturnTransition(
            gettext("The return changed while this request was processed; nothing was changed."),
            target=target.value,
        )
    previous = ret.status
    for name, value in {**changes, "status": target.value, "updated_at": now}.items():
        setattr(ret, name, value)
    _record(
        ret.order,
        EVENT_TYPES[target],
        actor,
        {"return_id": ret.pk, "order_id": ret.order_id, "from": previous, "to": target.value}
        | (payload or {}),
    )
    return ret


# --- the customer -----------------------------------------------------------------------


def return_request(
    *,
    user: Any,
    order: Order,
    lines: Sequence[ReturnItem | tuple[Any, ...]],
    note: str = "",
) -> ReturnRequest:
    """Ask to return delivered items of *order*, one reason per line.

    Checks the order is *user*'s (:class:`NotFound` otherwise), delivered and within the
    shop's window (:class:`NotReturnable` with a reason code), and each quantity against
    what is still returnable (:class:`InvalidReturnQuantity`). The order row stays locked
    until the commit, so two requests for the same items are counted one after the other.
    """
    items = _clean_items(lines)
    note = _text(note, MAX_NOTE, "note")
    if not getattr(user, "is_authenticated", False):
        raise NotFound("No such order.")
    with transaction.atomic():
        locked = (
            Order.objects.select_for_update(of=("self",))
            .select_related("shop", "customer")
            .filter(pk=order.pk, customer__user=user)
            .first()
        )
        if locked is None:
            raise NotFound("No such order.")
        eligibility = order_return_eligibility(locked)
        if not eligibility.is_open:
            raise NotReturnable(eligibility.message, field="order", reason=eligibility.reason)
        by_id = {item.line.pk: item for item in eligibility.lines}
        for index, item in enumerate(items):
            found = by_id.get(item.order_line_id)
            if found is None:
                raise InvalidInput(gettext("This order has no such item."), field=f"lines.{index}")
            if item.quantity > found.eligible:
                raise InvalidReturnQuantity(
                    gettext("Only %(n)d of “%(name)s” can be returned.")
                    % {"n": found.eligible, "name": found.line.name},
                    field=f"lines.{index}.quantity",
                    order_line_id=found.line.pk,
                    eligible=found.eligible,
                )
        ret = ReturnRequest.objects.create(
            shop_id=locked.shop_id,
            order=locked,
            customer_id=locked.customer_id,
            customer_note=note,
        )
        ReturnLine.objects.bulk_create(
            [
                ReturnLine(
                    shop_id=locked.shop_id,
                    return_request=ret,
                    order_line=by_id[item.order_line_id].line,
                    quantity=item.quantity,
                    reason=ReturnReason(item.reason).value,
                    comment=item.comment,
                )
                for item in items
            ]
        )
        _record(
            locked,
            EVENT_TYPES[ReturnStatus.REQUESTED],
            _customer_actor(locked.customer_id),
            {
                "return_id": ret.pk,
                "order_id": locked.pk,
                "to": ReturnStatus.REQUESTED.value,
                # Codes and quantities only: the customer's free text stays on the return.
                "lines": [
                    {
                        "order_line_id": item.order_line_id,
                        "position": by_id[item.order_line_id].line.position,
                        "sku": by_id[item.order_line_id].line.sku,
                        "quantity": item.quantity,
                        "reason": ReturnReason(item.reason).value,
                    }
                    for item in items
                ],
            },
        )
    return ret


def return_cancel(*, ret: ReturnRequest, user: Any) -> ReturnRequest:
    """Withdraw *user*'s own return request while the shop has not answered it."""
    if not getattr(user, "is_authenticated", False):
        raise NotFound("No such return.")
    with transaction.atomic():
        owned = ReturnRequest.objects.filter(pk=ret.pk, customer__user=user).first()
        if owned is None:
            raise NotFound("No such return.")
        fresh = _fresh(owned, ReturnStatus.CANCELLED)
        return _move(fresh, ReturnStatus.CANCELLED, _customer_actor(fresh.customer_id))


# --- the shop (back office) -------------------------------------------------------------


def return_approve(
    *,
    ret: ReturnRequest,
    user: Any,
    instructions: str,
    label: UploadedFile[bytes] | None = None,
) -> ReturnRequest:
    """Accept the return, telling the customer how to send the items (text, label or both).

    The label must be a PDF, PNG or JPEG (checked by content) of at most 10 MB
    (:class:`InvalidLabel`); it is stored privately and served only to the customer.
    """
    _check_staff(ret.shop_id, user)
    instructions = _text(instructions, MAX_INSTRUCTIONS, "instructions")
    if not instructions and label is None:
        raise InvalidInput(
            gettext("Tell the customer how to send the items back, or attach a label."),
            field="instructions",
        )
    stored: tuple[str, str] | None = None
    if label is not None:
        stored = storage.label_store(shop_id=ret.shop_id, upload=label)
    try:
        with transaction.atomic():
            fresh = _fresh(ret, ReturnStatus.APPROVED)
            changes: dict[str, Any] = {"instructions": instructions, "decided_at": timezone.now()}
            if stored is not None:
                changes |= {"label_path": stored[0], "label_content_type": stored[1]}
            return _move(
                fresh,
                ReturnStatus.APPROVED,
                _staff_actor(user),
                changes=changes,
                payload={"has_label": stored is not None},
            )
    except BaseException:
        if stored is not None:
            storage.label_delete(stored[0])
        raise


def return_refuse(*, ret: ReturnRequest, user: Any, reason: str) -> ReturnRequest:
    """Refuse the return, saying why (the customer reads it); the items become returnable
    again only through a new request within the window."""
    _check_staff(ret.shop_id, user)
    reason = _text(reason, MAX_NOTE, "reason")
    if not reason:
        raise InvalidInput(gettext("Say why the return is refused."), field="reason")
    with transaction.atomic():
        fresh = _fresh(ret, ReturnStatus.REFUSED)
        return _move(
            fresh,
            ReturnStatus.REFUSED,
            _staff_actor(user),
            changes={"refusal_reason": reason, "decided_at": timezone.now()},
            payload={"reason": reason},
        )


def return_mark_received(*, ret: ReturnRequest, user: Any) -> ReturnRequest:
    """Record that the returned items arrived at the shop."""
    _check_staff(ret.shop_id, user)
    with transaction.atomic():
        fresh = _fresh(ret, ReturnStatus.RECEIVED)
        return _move(
            fresh,
            ReturnStatus.RECEIVED,
            _staff_actor(user),
            changes={"received_at": timezone.now()},
        )


def refund_amount(lines: Sequence[ReturnLine], currency: str) -> Decimal:
    """What refunding these return lines pays back: each line's unit price times the
    returned quantity (taxes included, as invoiced; shipping is not refunded)."""
    return quantize(
        sum((ln.order_line.unit_price * ln.quantity for ln in lines), Decimal("0")), currency
    )


def return_refund(*, ret: ReturnRequest, user: Any) -> ReturnRequest:
    """Refund the returned lines (approved or received return).

    The amount is each line's unit price times the returned quantity (taxes included, as
    invoiced; shipping is not refunded). When the shop invoices and the order has an
    invoice, a credit note for those lines is issued in the same transaction and linked.
    The money itself moves in the shop's payment system; this records it.
    """
    _check_staff(ret.shop_id, user)
    actor = _staff_actor(user)
    with transaction.atomic():
        fresh = _fresh(ret, ReturnStatus.REFUNDED)
        shop = fresh.shop
        lines = list(return_lines(fresh))
        currency = fresh.order.currency
        amount = refund_amount(lines, currency)
        credit_note = None
        if shop.invoicing_enabled:
            credit_note = refund_credit_note(
                shop=shop,
                order_id=fresh.order_id,
                lines=[RefundedLine(ln.order_line_id, ln.quantity) for ln in lines],
                reason="return",
                actor=actor,
            )
        return _move(
            fresh,
            ReturnStatus.REFUNDED,
            actor,
            changes={
                "refunded_at": timezone.now(),
                "refund_amount": amount,
                "credit_note": credit_note,
            },
            payload={
                "amount": str(amount),
                "currency": currency,
                "credit_note_number": credit_note.number if credit_note else None,
            },
        )
