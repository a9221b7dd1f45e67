"""Parcels and carrier accounts: the one place their rules live (API and back office call
these; tracking events go through :mod:`.ingest`)."""

from __future__ import annotations

import json
import re
import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from suivi.carriers import detection, registry
from suivi.carriers.base import Account
from suivi.core import crypto
from suivi.core.errors import InvalidInput, NotFound
from suivi.orders.lifecycle import Action, Mode, action_allowed
from suivi.orders.lifecycle import Status as OrderStatus
from suivi.orders.models import Order, OrderEvent, OrderLine
from suivi.orders.services import SYSTEM, order_apply_action, publish_recorded
from suivi.shops.models import Shop

from . import schedule
from .errors import CarrierNotDetected, DuplicateParcel, NotShippable
from .models import CarrierAccount, Parcel, ParcelLeg, ParcelLine

# Carriers a parcel may name: every connector, every detectable carrier, and "other" for a
# carrier Suivi has no connector for (followed through the push endpoint only).
OTHER = "other"

# Order statuses after the goods left: a further parcel joins the shipment.
_SHIPPED = frozenset(
    {
        OrderStatus.SHIPPED,
        OrderStatus.IN_TRANSIT,
        OrderStatus.OUT_FOR_DELIVERY,
        OrderStatus.AVAILABLE_FOR_PICKUP,
    }
)


def known_carriers() -> frozenset[str]:
    detectable = {code for fmt in detection.FORMATS for code in fmt.carriers}
    return frozenset(registry.CONNECTORS) | frozenset(registry.ALIASES) | detectable | {OTHER}


def is_known_carrier(carrier: str) -> bool:
    # S10 numbers of other countries name their postal operator "post_<country>".
    return carrier in known_carriers() or re.fullmatch(r"post_[a-z]{2}", carrier) is not None


def normalise_number(number: str) -> str:
    return detection.normalise(number)


@dataclass(frozen=True)
class ParcelLineInput:
    line: int  # the order line's position
    quantity: int


@dataclass(frozen=True)
class ParcelInput:
    tracking_number: str
    carrier: str = ""  # empty: detected from the number
    service: str = ""
    tracking_url: str = ""
    lines: Sequence[ParcelLineInput] | None = None  # None: everything not yet in a parcel


def choose_carrier(number: str, carrier: str = "") -> str:
    """The carrier given (checked) or the one the number tells; refuses a guess."""
    if carrier:
        if not is_known_carrier(carrier):
            raise InvalidInput(
                f"Unknown carrier {carrier!r}.", field="carrier", known=sorted(known_carriers())
            )
        return carrier
    candidates = detection.detect(number)
    codes = list(dict.fromkeys(c.carrier for c in candidates))
    verified = list(dict.fromkeys(c.carrier for c in candidates if c.check_digit_verified))
    # Brands one connector answers for (Colissimo and La Poste) are one choice, not two.
    for group in (verified, codes):
        if group and len({registry.connector_code(code) for code in group}) == 1:
            return group[0]
        if group is verified and verified:
            break
    if not codes:
        raise CarrierNotDetected(
            "No carrier recognises this tracking number; give the carrier.",
            field="carrier",
            tracking_number=number,
        )
    raise CarrierNotDetected(
        "Several carriers use numbers like this one; give the carrier.",
        field="carrier",
        tracking_number=number,
        candidates=codes,
    )


def same_connector(carrier: str) -> list[str]:
    """*carrier* and the brands one connector follows with it (colissimo, laposte…)."""
    return registry.codes_of(registry.connector_code(carrier))


def registers(carrier: str, account: CarrierAccount | None) -> bool:
    """Whether the carrier pushes only for numbers registered with it (see registration)."""
    connector = registry.get(carrier)
    return account is not None and connector is not None and connector.register is not None


def account_for(shop: Shop | int, carrier: str) -> CarrierAccount | None:
    """The shop's active account for *carrier*'s connector (the first created), if any: a
    La Poste account follows Colissimo and Chronopost parcels too."""
    shop_id = shop if isinstance(shop, int) else shop.pk
    return (
        CarrierAccount.objects.filter(
            shop_id=shop_id, carrier__in=same_connector(carrier), is_active=True
        )
        .order_by("pk")
        .first()
    )


def _shipping_lines(order: Order) -> QuerySet[ParcelLine]:
    """The parcel lines that ship *order*'s goods: a replacement's lines (goods sent again,
    see :mod:`.replacement`) never count, a superseded parcel's do (its goods did leave)."""
    return ParcelLine.objects.filter(parcel__order=order, parcel__is_replacement=False)


def _lines_plan(order: Order, inputs: Sequence[ParcelInput]) -> list[list[tuple[OrderLine, int]]]:
    """Check each parcel's lines against what is left to ship; return them per parcel."""
    lines = {line.position: line for line in order.lines.all()}
    packed: dict[int, int] = defaultdict(int)
    for line_id, quantity in _shipping_lines(order).values_list("order_line_id", "quantity"):
        packed[line_id] += quantity
    plans: list[list[tuple[OrderLine, int]]] = []
    for index, data in enumerate(inputs):
        plan: list[tuple[OrderLine, int]] = []
        if data.lines is None:
            for line in lines.values():
                left = line.quantity_active - line.quantity_collected - packed[line.pk]
                if left > 0:
                    plan.append((line, left))
                    packed[line.pk] += left
        else:
            for item in data.lines:
                found = lines.get(item.line)
                if found is None:
                    raise InvalidInput(
                        f"The order has no line {item.line}.", field=f"parcels.{index}.lines"
                    )
                line = found
                left = line.quantity_active - line.quantity_collected - packed[line.pk]
                if not 1 <= item.quantity <= left:
                    raise InvalidInput(
                        f"Line {item.line}: {item.quantity} asked, {left} left to ship.",
                        field=f"parcels.{index}.lines",
                        line=item.line,
                        left=left,
                    )
                plan.append((line, item.quantity))
                packed[line.pk] += item.quantity
        plans.append(plan)
    return plans


def parcels_create(
    *, shop: Shop, order_id: int, parcels: Sequence[ParcelInput], actor: str = SYSTEM
) -> list[Parcel]:
    """Ship an order in one or several parcels (or add parcels to a shipped order).

    The first parcels of an order ship it (``order.shipped`` with the carriers and numbers);
    later ones are recorded as ``order.parcel_added``. A parcel without a carrier gets the
    one its number tells, or the call is refused (never a guess). Lines not named go in the
    parcel when it is the only one given; quantities cannot exceed what is left to ship.
    All or nothing: a refused parcel refuses the call.
    """
    if not 1 <= len(parcels) <= 50:
        raise InvalidInput("Give 1 to 50 parcels.", field="parcels")
    prepared: list[tuple[ParcelInput, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for index, data in enumerate(parcels):
        number = normalise_number(data.tracking_number)
        if not 4 <= len(number) <= 64:
            raise InvalidInput(
                "A tracking number has 4 to 64 characters.",
                field=f"parcels.{index}.tracking_number",
            )
        carrier = choose_carrier(number, data.carrier)
        if (carrier, number) in seen:
            raise InvalidInput(
                f"Parcel {number} is given twice.", field=f"parcels.{index}.tracking_number"
            )
        seen.add((carrier, number))
        prepared.append((data, number, carrier))
    with transaction.atomic():
        try:
            order = Order.objects.select_for_update().get(pk=order_id, shop=shop)
        except Order.DoesNotExist:
            raise NotFound("No such order.", order_id=order_id) from None
        order.shop = shop
        if order.fulfilment_mode != Mode.DELIVERY:
            raise NotShippable("A Click & Collect order is not shipped.", order_id=order.pk)
        first = action_allowed(Action.SHIP, order.fulfilment_mode, order.status)
        if not first and OrderStatus(order.status) not in _SHIPPED:
            raise NotShippable(
                f"An order that is {order.status} cannot be shipped.",
                order_id=order.pk,
                status=order.status,
            )
        for _data, number, carrier in prepared:
            if ParcelLeg.objects.filter(
                shop=shop, tracking_number=number, carrier__in=same_connector(carrier)
            ).exists():
                raise DuplicateParcel(
                    f"The shop already follows {number} with this carrier.",
                    order_id=order.pk,
                    tracking_number=number,
                )
        plans = _lines_plan(order, [data for data, _n, _c in prepared])
        now = timezone.now()
        created: list[Parcel] = []
        try:
            with transaction.atomic():
                for (data, number, carrier), plan in zip(prepared, plans, strict=True):
                    created.append(_create_parcel(shop, order, data, number, carrier, plan, now))
        except IntegrityError:
            raise DuplicateParcel(
                "The shop already follows one of these tracking numbers.", order_id=order.pk
            ) from None
        shipped_quantities(order)
        facts = [
            {"parcel_id": p.pk, "carrier": p.carrier, "tracking_number": p.tracking_number,
             "tracking_url": p.tracking_url}
            for p in created
        ]  # fmt: skip
        payload: dict[str, Any] = {**facts[0], "parcels": facts}
        if first:
            order_apply_action(
                shop=shop, order_id=order.pk, action=Action.SHIP, actor=actor, payload=payload
            )
            shipped_quantities(order)  # the lifecycle ships everything; parcels tell what left
        else:
            event = OrderEvent.objects.create(
                shop_id=shop.pk, order=order, type="order.parcel_added", actor=actor,
                payload=payload,
            )  # fmt: skip
            publish_recorded(order, event)
    return created


def _create_parcel(
    shop: Shop,
    order: Order,
    data: ParcelInput,
    number: str,
    carrier: str,
    plan: list[tuple[OrderLine, int]],
    now: Any,
    *,
    replacement: bool = False,
) -> Parcel:
    connector = registry.get(carrier)
    url = data.tracking_url or (connector.public_url(number) if connector else "")
    parcel = Parcel.objects.create(
        shop=shop,
        order=order,
        carrier=carrier,
        service=data.service[:64],
        tracking_number=number,
        tracking_url=url[:500],
        shipped_at=now,
        is_replacement=replacement,
    )
    ParcelLine.objects.bulk_create(
        [ParcelLine(parcel=parcel, order_line=line, quantity=qty) for line, qty in plan]
    )
    account = account_for(shop, carrier)
    pollable = account is not None and connector is not None
    ParcelLeg.objects.create(
        shop=shop,
        parcel=parcel,
        carrier=carrier,
        tracking_number=number,
        role=ParcelLeg.Role.ORIGIN,
        account=account if pollable else None,
        next_poll_at=now + schedule.jittered(schedule.FIRST_POLL_DELAY) if pollable else None,
        register_at=now if registers(carrier, account) else None,
    )
    return parcel


def shipped_quantities(order: Order) -> None:
    """Set each line's shipped quantity to what its parcels carry (split shipments);
    replacement parcels carry goods already shipped and are not counted."""
    packed = dict(
        _shipping_lines(order)
        .values("order_line_id")
        .annotate(total=Sum("quantity"))
        .values_list("order_line_id", "total")
    )
    for line in order.lines.all():
        shipped = min(packed.get(line.pk, 0), line.quantity_active - line.quantity_collected)
        if line.quantity_shipped != shipped:
            OrderLine.objects.filter(pk=line.pk).update(quantity_shipped=shipped)


def leg_add(*, shop: Shop, parcel_id: int, carrier: str, tracking_number: str) -> ParcelLeg:
    """Follow a parcel's hand-off to a destination carrier under its own number."""
    number = normalise_number(tracking_number)
    carrier = choose_carrier(number, carrier)
    parcel = Parcel.objects.filter(shop=shop, pk=parcel_id).first()
    if parcel is None:
        raise NotFound("No such parcel.", parcel_id=parcel_id)
    account = account_for(shop, carrier)
    pollable = account is not None and registry.get(carrier) is not None
    try:
        with transaction.atomic():
            return ParcelLeg.objects.create(
                shop=shop,
                parcel=parcel,
                carrier=carrier,
                tracking_number=number,
                role=ParcelLeg.Role.DESTINATION,
                account=account if pollable else None,
                next_poll_at=timezone.now() if pollable else None,
                register_at=timezone.now() if registers(carrier, account) else None,
            )
    except IntegrityError:
        raise DuplicateParcel("The shop already follows this tracking number.") from None


# --- carrier accounts ---------------------------------------------------------------------


def _check_credentials(carrier: str, credentials: Mapping[str, str]) -> dict[str, str]:
    connector = registry.get(carrier)
    clean = {str(k): str(v) for k, v in credentials.items() if str(v).strip()}
    if connector is not None:
        missing = [name for name in connector.credential_names if name not in clean]
        if missing:
            raise InvalidInput(
                f"{connector.name} needs: {', '.join(missing)}.",
                field="credentials",
                missing=missing,
            )
    return clean


def account_create(
    *,
    shop: Shop,
    carrier: str,
    credentials: Mapping[str, str] | None = None,
    label: str = "",
    base_url: str = "",
    requests_per_minute: int | None = None,
    requests_per_day: int | None = None,
) -> tuple[CarrierAccount, str]:
    """Add a carrier account; return it and its push secret (shown only now)."""
    if not is_known_carrier(carrier):
        raise InvalidInput(f"Unknown carrier {carrier!r}.", field="carrier")
    if requests_per_minute is not None and not 1 <= requests_per_minute <= 100_000:
        raise InvalidInput("1 to 100000 requests per minute.", field="requests_per_minute")
    if requests_per_day is not None and not 1 <= requests_per_day <= 100_000_000:
        raise InvalidInput("1 to 100000000 requests per day.", field="requests_per_day")
    clean = _check_credentials(carrier, credentials or {})
    push_secret = "psk_" + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            account = CarrierAccount.objects.create(
                shop=shop,
                carrier=carrier,
                label=label[:100],
                credentials_encrypted=crypto.encrypt(json.dumps(clean)) if clean else "",
                push_secret_encrypted=crypto.encrypt(push_secret),
                base_url=base_url,
                requests_per_minute=requests_per_minute,
                requests_per_day=requests_per_day,
            )
    except IntegrityError:
        raise InvalidInput(
            "The shop already has an account with this carrier and label.", field="label"
        ) from None
    _attach_legs(account)
    return account, push_secret


def _attach_legs(account: CarrierAccount) -> None:
    """Legs of this carrier without an account start being polled with it."""
    if registry.get(account.carrier) is None:
        return
    ParcelLeg.objects.filter(
        shop_id=account.shop_id, carrier__in=same_connector(account.carrier), account__isnull=True
    ).exclude(parcel__status__in=["delivered", "returned", "expired"]).update(
        account=account,
        next_poll_at=timezone.now(),
        register_at=timezone.now() if registers(account.carrier, account) else None,
    )


def account_delete(*, shop: Shop, account_id: int) -> None:
    account = CarrierAccount.objects.filter(shop=shop, pk=account_id).first()
    if account is None:
        raise NotFound("No such carrier account.", account_id=account_id)
    with transaction.atomic():
        ParcelLeg.objects.filter(account=account).update(
            account=None, next_poll_at=None, register_at=None
        )
        account.delete()


def account_config(account: CarrierAccount) -> Account:
    """What the connector needs, decrypted (never logged, never returned by the API)."""
    connector = registry.get(account.carrier)
    credentials = (
        json.loads(crypto.decrypt(account.credentials_encrypted))
        if account.credentials_encrypted
        else {}
    )
    return Account(
        base_url=account.base_url or (connector.default_base_url if connector else ""),
        credentials=credentials,
        # A merchant-set URL (sandbox) goes through the SSRF guard like any merchant URL.
        guarded=bool(account.base_url),
    )


def push_secret(account: CarrierAccount) -> str:
    return crypto.decrypt(account.push_secret_encrypted) if account.push_secret_encrypted else ""
