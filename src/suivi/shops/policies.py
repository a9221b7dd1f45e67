"""The shop's policies: return window, archive retention, customer-service contacts, and the
delivery time promised per carrier and service.

Retention: French commercial law keeps invoices and proofs of purchase 10 years
(:data:`RECOMMENDED_RETENTION_DAYS`). A merchant who is not invoicing through Suivi may keep
them less, down to one year (:data:`MIN_RETENTION_DAYS`); the back office warns below ten
years (:func:`retention_warning`) but allows it.

Delivery promises (:class:`~.models.DeliveryPromise`): ``business_days`` for a carrier and
a service; an empty service is the carrier's promise for any service without its own row.
:func:`promised_days` answers for a parcel's carrier and service (the tracking ETA could use
it when the carrier gives none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from suivi.core.errors import InvalidInput, NotFound
from suivi.core.phones import normalize_phone

from .models import DeliveryPromise, Shop

MAX_RETURN_WINDOW_DAYS = 365
MIN_RETENTION_DAYS = 365
RECOMMENDED_RETENTION_DAYS = 3650
MAX_RETENTION_DAYS = 36_500
MIN_PROMISE_DAYS = 1
MAX_PROMISE_DAYS = 60
MAX_SERVICE_CHARS = 64


def retention_warning(days: int) -> bool:
    """Whether *days* is below the ten years French law asks for invoices."""
    return days < RECOMMENDED_RETENTION_DAYS


def policies_update(
    *,
    shop: Shop,
    return_window_days: int,
    archive_retention_days: int,
    support_email: str,
    support_phone: str,
) -> Shop:
    """Set the shop's policies (all four at once); nothing is written when one is refused.

    Return window: 0 (no returns) to 365 days. Retention: 365 to 36 500 days. The support
    phone is stored in E.164 (checked with libphonenumber in the shop's country).
    """
    if not 0 <= return_window_days <= MAX_RETURN_WINDOW_DAYS:
        raise InvalidInput(
            f"The return window is 0 to {MAX_RETURN_WINDOW_DAYS} days.", field="return_window_days"
        )
    if not MIN_RETENTION_DAYS <= archive_retention_days <= MAX_RETENTION_DAYS:
        raise InvalidInput(
            f"Keep proofs of purchase {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days.",
            field="archive_retention_days",
        )
    email = support_email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(
                f"{email!r} is not an email address.", field="support_email"
            ) from None
    phone = support_phone.strip()
    if phone:
        phone = normalize_phone(phone, default_region=shop.country, field="support_phone")
    shop.return_window_days = return_window_days
    shop.archive_retention_days = archive_retention_days
    shop.support_email = email
    shop.support_phone = phone
    shop.save(
        update_fields=[
            "return_window_days", "archive_retention_days", "support_email", "support_phone"
        ]
    )  # fmt: skip
    return shop


# --- delivery promises --------------------------------------------------------------------


def _carrier(carrier: str) -> str:
    from suivi.shipments.services import is_known_carrier

    code = carrier.strip().lower()
    if not is_known_carrier(code):
        raise InvalidInput(f"Unknown carrier {carrier!r}.", field="carrier")
    return code


def _service(service: str) -> str:
    text = " ".join(service.split())
    if len(text) > MAX_SERVICE_CHARS:
        raise InvalidInput(
            f"A service has at most {MAX_SERVICE_CHARS} characters.", field="service"
        )
    return text


def _days(business_days: int) -> int:
    if isinstance(business_days, bool) or not MIN_PROMISE_DAYS <= business_days <= MAX_PROMISE_DAYS:
        raise InvalidInput(
            f"Promise {MIN_PROMISE_DAYS} to {MAX_PROMISE_DAYS} business days.",
            field="business_days",
        )
    return business_days


def promise_list(*, shop: Shop) -> list[DeliveryPromise]:
    """The shop's promises by carrier, the carrier's any-service row first."""
    return list(DeliveryPromise.objects.filter(shop=shop).order_by("carrier", "service", "pk"))


def _same_key(shop: Shop, carrier: str, service: str) -> DeliveryPromise | None:
    return DeliveryPromise.objects.filter(
        shop=shop, carrier=carrier, service__iexact=service
    ).first()


def promise_set(
    *,
    shop: Shop,
    carrier: str,
    service: str = "",
    business_days: int,
    promise_id: int | None = None,
) -> DeliveryPromise:
    """Promise *business_days* for *carrier* and *service* (empty: any service).

    Without *promise_id*, the row for this carrier and service (services compared without
    case) is created or changed. With it, that row of the shop is changed — carrier and
    service included — unless another row already has them.
    """
    code, text, days = _carrier(carrier), _service(service), _days(business_days)
    with transaction.atomic():
        same = _same_key(shop, code, text)
        if promise_id is not None:
            promise = (
                DeliveryPromise.objects.select_for_update().filter(shop=shop, pk=promise_id).first()
            )
            if promise is None:
                raise NotFound("No such delivery promise.", promise_id=promise_id)
            if same is not None and same.pk != promise.pk:
                raise InvalidInput(
                    "Another row already promises this carrier and service.", field="service"
                )
        else:
            promise = same or DeliveryPromise(shop=shop)
        promise.carrier, promise.service, promise.business_days = code, text, days
        try:
            with transaction.atomic():
                promise.save()
        except IntegrityError:
            raise InvalidInput(
                "Another row already promises this carrier and service.", field="service"
            ) from None
    return promise


def promise_delete(*, shop: Shop, promise_id: int) -> None:
    """Remove one promise of the shop."""
    deleted, _ = DeliveryPromise.objects.filter(shop=shop, pk=promise_id).delete()
    if not deleted:
        raise NotFound("No such delivery promise.", promise_id=promise_id)


@dataclass(frozen=True)
class PromiseChange:
    """One row of the promises table as edited: a new row has no id; ``delete`` drops it."""

    carrier: str
    service: str
    business_days: int
    promise_id: int | None = None
    delete: bool = False


def promises_apply(*, shop: Shop, changes: Sequence[PromiseChange]) -> list[DeliveryPromise]:
    """Apply the edited table at once: every change, or none when one is refused (the
    error's field is prefixed with the row, ``rows.<index>.<field>``)."""
    seen: set[tuple[str, str]] = set()
    for index, change in enumerate(changes):
        if change.delete:
            continue
        key = (change.carrier.strip().lower(), " ".join(change.service.split()).casefold())
        if key in seen:
            raise InvalidInput(
                "Two rows promise the same carrier and service.", field=f"rows.{index}.service"
            )
        seen.add(key)
    with transaction.atomic():
        for change in changes:
            if change.delete and change.promise_id is not None:
                promise_delete(shop=shop, promise_id=change.promise_id)
        for index, change in enumerate(changes):
            if change.delete:
                continue
            try:
                promise_set(
                    shop=shop,
                    carrier=change.carrier,
                    service=change.service,
                    business_days=change.business_days,
                    promise_id=change.promise_id,
                )
            except InvalidInput as exc:
                raise InvalidInput(exc.message, field=f"rows.{index}.{exc.field}") from exc
    return promise_list(shop=shop)


def promised_days(shop: Shop | int, carrier: str, service: str = "") -> int | None:
    """Business days promised for a parcel of *carrier* with *service*: the service's own
    row, else the carrier's any-service row, else None (no promise)."""
    shop_id = shop if isinstance(shop, int) else shop.pk
    rows = dict(
        DeliveryPromise.objects.filter(
            shop_id=shop_id, carrier=carrier.strip().lower()
        ).values_list("service", "business_days")
    )
    wanted = " ".join(service.split()).casefold()
    if wanted:
        for name, days in rows.items():
            if name.casefold() == wanted:
                return days
    return rows.get("")
