"""Writes on claims: opening, the thread, statuses and resolutions.

Each service checks its input (photos included) before writing anything, then in one
transaction writes the claim rows, the photo files, and an :class:`OrderEvent` on the order's
timeline that it publishes on the core event bus — the notification planner turns
``claim.replied`` and ``claim.updated`` into a message to the customer in that same
transaction. Internal notes record and publish nothing. If the transaction fails, the files
it wrote are deleted; files left by an outer transaction that rolled back later are removed
by :func:`claim_photos_purge_orphans` (a worker job).

The staff services (``claim_reply_staff``, ``claim_set_status``, ``claim_resolve``,
``claim_assign``) are what the merchant back office calls; they refuse a user who is not
staff of the claim's shop with :class:`NotFound`, like any other shop's object.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from suivi.core.errors import InvalidInput, NotFound
from suivi.orders.models import Order, OrderEvent
from suivi.orders.services import publish_recorded
from suivi.shops.models import Membership

from . import photos as photo_files
from .errors import ClaimClosed, InvalidClaimTransition
from .models import Claim, ClaimMessage, ClaimPhoto
from .sla import answer_due

User = AbstractBaseUser | AnonymousUser
Status = Claim.Status
Resolution = Claim.Resolution

MAX_TEXT = 5000

# Where a claim may go from each status (``claim_set_status``; replies and resolutions
# follow the same table). Resolved is reached through ``claim_resolve`` only.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.CLOSED}),
    Status.IN_PROGRESS: frozenset({Status.WAITING_CUSTOMER, Status.CLOSED}),
    Status.WAITING_CUSTOMER: frozenset({Status.IN_PROGRESS, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.IN_PROGRESS}),  # reopened by the shop
}


# --- internals --------------------------------------------------------------------------


def _text(value: str, *, field: str, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(_("Please write a few words."), field=field)
    if len(text) > MAX_TEXT:
        raise InvalidInput(
            _("Please keep it under %(max)d characters.") % {"max": MAX_TEXT}, field=field
        )
    return text


def _is_owner(user: User, customer_user_id: int | None) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and customer_user_id is not None
        and user.pk == customer_user_id
    )


def _check_staff(shop_id: int, user: User) -> None:
    """Refuse anyone but the staff of the shop (or a platform superuser)."""
    if not getattr(user, "is_authenticated", False):
        raise NotFound("No such claim.")
    if getattr(user, "is_superuser", False):
        return
    user_id = user.pk
    if user_id is None or not Membership.objects.filter(shop_id=shop_id, user_id=user_id).exists():
        raise NotFound("No such claim.")


def _lock(claim: Claim) -> Claim:
    """Re-read *claim* and lock its row until the end of the transaction."""
    try:
        return Claim.objects.select_for_update().get(pk=claim.pk, shop_id=claim.shop_id)
    except Claim.DoesNotExist:
        raise NotFound("No such claim.") from None


def _update(locked: Claim, caller: Claim, **changes: Any) -> None:
    """Write *changes* on the locked row and mirror them on the caller's instance."""
    changes["updated_at"] = timezone.now()
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.save(update_fields=list(changes))
    for name in ("status", "resolution", "resolution_note", "assignee_id", "due_at",
                 "first_answered_at", "resolved_at", "updated_at"):  # fmt: skip
        setattr(caller, name, getattr(locked, name))


def _record(claim: Claim, type_: str, actor: str, extra: dict[str, Any]) -> OrderEvent:
    """Append a ``claim.*`` event to the order's timeline and publish it (same transaction).

    The payload carries ``order_id`` (how the planner finds the order and its customer) and
    what the notification texts read: ``reference``, ``status`` and ``message``.
    """
    payload = {
        "order_id": claim.order_id,
        "claim_id": claim.pk,
        "reference": claim.reference,
        "kind": claim.kind,
        "status": claim.status,
        **extra,
    }
    event = OrderEvent.objects.create(
        shop_id=claim.shop_id, order_id=claim.order_id, type=type_, actor=actor, payload=payload
    )
    publish_recorded(Order(pk=claim.order_id, shop_id=claim.shop_id), event)
    return event


@contextmanager
def _files_removed_on_error() -> Iterator[list[str]]:
    """Collect the files written inside; delete them if the block (or its commit) fails."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        photo_files.discard(written)
        raise


def _write_photos(
    claim: Claim,
    message: ClaimMessage | None,
    clean: list[photo_files.CleanPhoto],
    written: list[str],
) -> None:
    rows = []
    for photo in clean:
        path = photo_files.store(photo, shop_id=claim.shop_id)
        written.append(path)
        rows.append(
            ClaimPhoto(
                shop_id=claim.shop_id,
                claim=claim,
                message=message,
                path=path,
                content_type=photo.content_type,
                size=len(photo.data),
                width=photo.width,
                height=photo.height,
                sha256=photo.sha256,
                original_name=photo.original_name,
            )
        )
    if rows:
        ClaimPhoto.objects.bulk_create(rows)


def _due(claim: Claim, now: Any) -> Any:
    shop = claim.shop
    return answer_due(now, country=shop.country, tz=shop.timezone)


# --- customer side ----------------------------------------------------------------------


def claim_open(
    *,
    customer_user: User,
    order: Order,
    kind: str,
    description: str,
    photos: Sequence[photo_files.Upload] = (),
    requested_resolution: str = Resolution.NONE,
) -> Claim:
    """Open a claim on *order* for its customer, with up to 5 photos.

    Raises :class:`NotFound` if *customer_user* does not own the order and
    :class:`InvalidInput` (naming the file) for a bad photo; nothing is written then.
    """
    if not _is_owner(customer_user, order.customer.user_id):
        raise NotFound("No such order.")
    try:
        kind = Claim.Kind(kind)
    except ValueError:
        raise InvalidInput(_("Please choose what happened."), field="kind") from None
    try:
        requested = Resolution(requested_resolution or Resolution.NONE)
    except ValueError:
        raise InvalidInput(
            _("Please choose a resolution from the list."), field="resolution"
        ) from None
    text = _text(description, field="description", required=True)
    clean = photo_files.prepare(photos)
    now = timezone.now()
    with _files_removed_on_error() as written, transaction.atomic():
        claim = Claim.objects.create(
            shop_id=order.shop_id,
            order=order,
            customer_id=order.customer_id,
            kind=kind,
            description=text,
            requested_resolution=requested,
            due_at=answer_due(now, country=order.shop.country, tz=order.shop.timezone),
        )
        _write_photos(claim, None, clean, written)
        _record(
            claim,
            "claim.opened",
            f"customer:{order.customer_id}",
            {"description": text, "requested_resolution": requested.value, "photos": len(clean)},
        )
    return claim


def claim_reply_customer(
    *,
    customer_user: User,
    claim: Claim,
    body: str,
    photos: Sequence[photo_files.Upload] = (),
) -> ClaimMessage:
    """Add the customer's message (and photos) to the thread; the shop then owes an answer.

    A claim waiting for the customer, or resolved, goes back to ``in_progress``. Raises
    :class:`ClaimClosed` on a closed claim.
    """
    if not _is_owner(customer_user, claim.customer.user_id):
        raise NotFound("No such claim.")
    text = _text(body, field="body", required=not photos)
    clean = photo_files.prepare(photos, already=claim.photos.count())
    now = timezone.now()
    with _files_removed_on_error() as written, transaction.atomic():
        locked = _lock(claim)
        if locked.is_closed:
            raise ClaimClosed(_("This claim is closed; please open a new one if needed."))
        message = ClaimMessage.objects.create(
            shop_id=claim.shop_id,
            claim=locked,
            author_kind=ClaimMessage.Author.CUSTOMER,
            author_id=customer_user.pk,
            body=text,
        )
        _write_photos(locked, message, clean, written)
        changes: dict[str, Any] = {}
        if locked.status in (Status.WAITING_CUSTOMER, Status.RESOLVED):
            changes["status"] = Status.IN_PROGRESS
            changes["resolved_at"] = None
        if locked.due_at is None:
            changes["due_at"] = _due(claim, now)
        _update(locked, claim, **changes)
        _record(
            locked,
            "claim.customer_replied",
            f"customer:{claim.customer_id}",
            {"message": text, "photos": len(clean)},
        )
    return message


# --- staff side (the back office) -------------------------------------------------------


def claim_reply_staff(
    *,
    claim: Claim,
    user: User,
    body: str,
    internal: bool = False,
    ask_customer: bool = False,
    photos: Sequence[photo_files.Upload] = (),
) -> ClaimMessage:
    """Answer the customer (notified by ``claim.replied``) or add an internal note.

    An answer moves an ``open`` claim to ``in_progress`` (or to ``waiting_customer`` when
    *ask_customer*) and clears the due date. An internal note changes nothing else, is never
    shown to the customer and notifies nobody.
    """
    _check_staff(claim.shop_id, user)
    if internal and ask_customer:
        raise InvalidInput("An internal note cannot ask the customer anything.", field="internal")
    text = _text(body, field="body", required=not photos)
    clean = photo_files.prepare(photos, already=claim.photos.count())
    now = timezone.now()
    with _files_removed_on_error() as written, transaction.atomic():
        locked = _lock(claim)
        if locked.is_closed and not internal:
            raise ClaimClosed(_("This claim is closed; reopen it before answering."))
        message = ClaimMessage.objects.create(
            shop_id=claim.shop_id,
            claim=locked,
            author_kind=ClaimMessage.Author.STAFF,
            author_id=user.pk,
            body=text,
            internal=internal,
        )
        _write_photos(locked, message, clean, written)
        if internal:
            return message
        changes: dict[str, Any] = {"due_at": None}
        if ask_customer:
            changes["status"] = Status.WAITING_CUSTOMER
            changes["resolved_at"] = None
        elif locked.status == Status.OPEN:
            changes["status"] = Status.IN_PROGRESS
        if locked.first_answered_at is None:
            changes["first_answered_at"] = now
        _update(locked, claim, **changes)
        _record(
            locked, "claim.replied", f"staff:{user.pk}", {"message": text, "photos": len(clean)}
        )
    return message


def claim_set_status(*, claim: Claim, user: User, status: str, note: str = "") -> Claim:
    """Move the claim to *status* (see :data:`TRANSITIONS`); the customer is told.

    *note*, if any, is added to the thread as the shop's message and quoted in the
    notification. Use :func:`claim_resolve` to resolve.
    """
    _check_staff(claim.shop_id, user)
    try:
        target = Status(status)
    except ValueError:
        raise InvalidInput(f"Unknown claim status {status!r}.", field="status") from None
    if target == Status.RESOLVED:
        raise InvalidInput("Use claim_resolve to resolve a claim.", field="status")
    text = _text(note, field="note", required=False)
    now = timezone.now()
    with transaction.atomic():
        locked = _lock(claim)
        previous = locked.status
        if previous == target:
            return claim
        if target not in TRANSITIONS[previous]:
            raise InvalidClaimTransition(
                f"A claim that is {previous} cannot become {target}.",
                status=previous,
                target=target.value,
            )
        if text:
            ClaimMessage.objects.create(
                shop_id=claim.shop_id,
                claim=locked,
                author_kind=ClaimMessage.Author.STAFF,
                author_id=user.pk,
                body=text,
            )
        changes: dict[str, Any] = {"status": target}
        if target in (Status.WAITING_CUSTOMER, Status.CLOSED):
            changes["due_at"] = None
        if previous == Status.RESOLVED and target != Status.CLOSED:
            changes["resolved_at"] = None
        if text and locked.first_answered_at is None:
            changes["first_answered_at"] = now
        _update(locked, claim, **changes)
        _record(locked, "claim.updated", f"staff:{user.pk}", {"from": previous, "message": text})
    return claim


def claim_resolve(*, claim: Claim, user: User, resolution: str, note: str = "") -> Claim:
    """Decide the claim's resolution (reship, refund, expedited delivery, compensation).

    The claim becomes ``resolved`` (deciding again replaces the resolution) and the customer
    is told, with *note* (the details: amount, date…) quoted. Refused on a closed claim.
    """
    _check_staff(claim.shop_id, user)
    try:
        decided = Resolution(resolution)
    except ValueError:
        raise InvalidInput(f"Unknown resolution {resolution!r}.", field="resolution") from None
    if decided == Resolution.NONE:
        raise InvalidInput("Choose a resolution.", field="resolution")
    text = _text(note, field="note", required=False)
    now = timezone.now()
    with transaction.atomic():
        locked = _lock(claim)
        if locked.is_closed:
            raise ClaimClosed(_("This claim is closed; reopen it before resolving it."))
        previous = locked.status
        changes: dict[str, Any] = {
            "status": Status.RESOLVED,
            "resolution": decided,
            "resolution_note": text,
            "resolved_at": now,
            "due_at": None,
        }
        if locked.first_answered_at is None:
            changes["first_answered_at"] = now
        _update(locked, claim, **changes)
        language = claim.order.language if claim.order.language in ("fr", "en") else "fr"
        with translation.override(language):
            label = str(decided.label)
        _record(
            locked,
            "claim.updated",
            f"staff:{user.pk}",
            {
                "from": previous,
                "resolution": decided.value,
                "message": f"{label} — {text}" if text else label,
            },
        )
    return claim


def claim_assign(*, claim: Claim, user: User, assignee: User | None) -> Claim:
    """Give the claim to a member of the shop's staff (None: to nobody). Not notified."""
    _check_staff(claim.shop_id, user)
    if assignee is not None:
        _check_staff(claim.shop_id, assignee)
    with transaction.atomic():
        locked = _lock(claim)
        _update(locked, claim, assignee_id=assignee.pk if assignee is not None else None)
    return claim


# --- housekeeping -----------------------------------------------------------------------


def claim_photos_purge_orphans(*, older_than_seconds: float = 3600) -> int:
    """Delete stored photo files that no row points to (a rolled-back transaction, a deleted
    claim or order); return how many. Files younger than *older_than_seconds* are left, so
    that a transaction still running keeps its files."""
    found = photo_files.stored_files(older_than_seconds)
    removed = 0
    for start in range(0, len(found), 500):
        batch = found[start : start + 500]
        known = set(ClaimPhoto.objects.filter(path__in=batch).values_list("path", flat=True))
        orphans = [path for path in batch if path not in known]
        photo_files.discard(orphans)
        removed += len(orphans)
    return removed
