"""Demo parcels: ready-to-ship demo orders are shipped and carrier stories pushed through the
real ingestion (La Poste codes, French local times), so the demo shows parcels in transit,
out for delivery, at a relay point, delivered, after a failed attempt, held at customs,
stalled, and a split shipment — with the notifications they trigger. No carrier account is
created: the demo never calls a carrier over the network."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.utils import timezone

from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingEvent
from suivi.orders.models import Order, OrderLine
from suivi.shipments import stalled
from suivi.shipments.ingest import ingest
from suivi.shipments.services import ParcelInput, ParcelLineInput, parcels_create
from suivi.shops.models import Shop

PARIS = ZoneInfo("Europe/Paris")
ACTOR = "demo"

# (code, status, reason, hours before now, label, place)
Step = tuple[str, Status, Reason, float, str, str]
_DECLARED: Step = (
    "DR1",
    Status.INFO_RECEIVED,
    Reason.NONE,
    50,
    "Votre colis est en préparation chez l'expéditeur.",
    "",
)
_TAKEN: Step = ("PC1", Status.IN_TRANSIT, Reason.NONE, 40, "Votre colis a été déposé.", "Lyon")
_SORTED: Step = (
    "ET1",
    Status.IN_TRANSIT,
    Reason.NONE,
    30,
    "Votre colis est en cours d'acheminement.",
    "Chilly-Mazarin",
)
_OUT: Step = (
    "MD2",
    Status.OUT_FOR_DELIVERY,
    Reason.NONE,
    3,
    "Votre colis est en cours de livraison.",
    "Paris 11",
)
STORIES: dict[str, list[Step]] = {
    "in_transit": [_DECLARED, _TAKEN, _SORTED],
    "out_for_delivery": [_DECLARED, _TAKEN, _SORTED, _OUT],
    "relay_point": [
        _DECLARED, _TAKEN, _SORTED,
        ("AG1", Status.AVAILABLE_FOR_PICKUP, Reason.NONE, 2, "Votre colis est disponible dans votre point de retrait.", "Tabac de la Gare"),
    ],
    "delivered": [
        _DECLARED, _TAKEN, _SORTED, ("MD2", Status.OUT_FOR_DELIVERY, Reason.NONE, 8, "Votre colis est en cours de livraison.", "Paris 11"),
        ("DI1", Status.DELIVERED, Reason.NONE, 5, "Votre colis est livré.", "Paris 11"),
    ],
    "failed_attempt": [
        _DECLARED, _TAKEN, _SORTED, ("MD2", Status.OUT_FOR_DELIVERY, Reason.NONE, 6, "Votre colis est en cours de livraison.", "Paris 11"),
        ("ND1", Status.FAILED_ATTEMPT, Reason.RECIPIENT_ABSENT, 4, "Votre colis n'a pas pu être distribué.", "Paris 11"),
    ],
    "customs_hold": [
        ("PC2", Status.IN_TRANSIT, Reason.NONE, 90, "Votre colis a été pris en charge dans le pays d'expédition.", "Montréal"),
        ("ET2", Status.IN_TRANSIT, Reason.NONE, 70, "Votre colis a quitté le pays d'expédition.", "Montréal"),
        ("DO1", Status.IN_TRANSIT, Reason.NONE, 20, "Votre colis est entré en douane.", "Roissy"),
        ("DO3", Status.EXCEPTION, Reason.CUSTOMS_HOLD, 10, "Votre colis est retenu en douane.", "Roissy"),
    ],
    "stalled": [
        ("DR1", Status.INFO_RECEIVED, Reason.NONE, 24 * 10, "Votre colis est en préparation chez l'expéditeur.", ""),
        ("PC1", Status.IN_TRANSIT, Reason.NONE, 24 * 9, "Votre colis a été déposé.", "Lyon"),
    ],
}  # fmt: skip
_CUSTOMS = {"DO1": "entered", "DO2": "released", "DO3": "held"}
RELAY = {
    "name": "Tabac de la Gare",
    "line1": "2 place de la Gare",
    "postcode": "75011",
    "city": "Paris",
    "opening_hours": {"mon": [["08:00", "19:00"]], "sat": [["09:00", "13:00"]], "sun": []},
}


def _events(number: str, steps: Sequence[Step], now: datetime) -> tuple[TrackingEvent, ...]:
    return tuple(
        TrackingEvent(
            tracking_number=number,
            status=status,
            reason=reason,
            occurred_at=(now - timedelta(hours=hours)).astimezone(PARIS).replace(microsecond=0),
            raw_code=code,
            raw_label=label,
            location=place,
            country="CA" if place == "Montréal" else "FR",
            customs=_CUSTOMS.get(code, ""),
        )
        for code, status, reason, hours, label, place in steps
    )


def _number(order: Order, index: int) -> str:
    return f"6A{order.pk % 10**9:09d}{index:02d}"


def _customer_orders(shop: Shop, count: int) -> None:
    """Orders of the demo customer (the account of the demo), ready to ship: being the
    newest, they get the first stories (in transit, out for delivery, relay point, delivered)."""
    from suivi.customers.services import customers_link_user
    from suivi.orders.lifecycle import Action
    from suivi.orders.services import order_apply_action, order_create
    from suivi.testing import order_input

    from .specs import CUSTOMER_EMAIL

    for index in range(count):
        reference = f"{shop.slug[:3].upper()}-CLIENT-{index + 1}"
        if Order.objects.filter(shop=shop, reference=reference).exists():
            continue  # the demo was loaded before: the customer has their orders
        order = order_create(
            shop=shop,
            data=order_input(
                reference=reference,
                email=CUSTOMER_EMAIL,
                paid=True,
            ),
            actor=ACTOR,
        )
        order_apply_action(shop=shop, order_id=order.pk, action=Action.MARK_READY, actor=ACTOR)
    user = get_user_model().objects.filter(username=CUSTOMER_EMAIL).first()
    if user is not None:
        customers_link_user(user=user, email=CUSTOMER_EMAIL)


def demo_tracking(shops: Sequence[Shop], *, now: datetime | None = None) -> int:
    """Ship a few ready demo orders per shop and push their carrier stories; return parcels."""
    now = now or timezone.now()
    count = 0
    for shop in shops:
        _customer_orders(shop, 4)
        ready = list(
            Order.objects.filter(
                shop=shop,
                status__in=["ready_to_ship", "in_preparation", "to_prepare", "routed"],
                fulfilment_mode="delivery",
            ).order_by("-pk")[: len(STORIES) + 1]
        )
        if len(ready) < len(STORIES) + 1:
            continue  # a demo too small to tell every story
        items = []
        for order, (name, steps) in zip(ready, STORIES.items(), strict=False):
            number = _number(order, 1)
            parcels_create(
                shop=shop,
                order_id=order.pk,
                actor=ACTOR,
                parcels=[ParcelInput(number, "colissimo")],
            )
            relay = name == "relay_point"
            update = ShipmentUpdate(
                number,
                _events(number, steps, now),
                estimated_delivery=now + timedelta(days=1) if name == "in_transit" else None,
                pickup_deadline=now + timedelta(days=10) if relay else None,
                relay_point=RELAY if relay else None,
            )
            items.append(("colissimo", update))
            count += 1
        # A split shipment: the first lines delivered, the rest still on the way.
        split = ready[len(STORIES)]
        lines = list(split.lines.all())
        if len(lines) >= 2:
            first, second = _number(split, 1), _number(split, 2)
            parcels_create(
                shop=shop, order_id=split.pk, actor=ACTOR,
                parcels=[
                    ParcelInput(first, "colissimo", lines=[_whole(lines[0])]),
                    ParcelInput(second, "colissimo", lines=[_whole(line) for line in lines[1:]]),
                ],
            )  # fmt: skip
            items.append(
                ("colissimo", ShipmentUpdate(first, _events(first, STORIES["delivered"], now)))
            )
            items.append(
                ("colissimo", ShipmentUpdate(second, _events(second, STORIES["in_transit"], now)))
            )
            count += 2
        ingest(shop, items, source="push", now=now)
    stalled.detect(now=now)
    return count


def _whole(line: OrderLine) -> ParcelLineInput:
    return ParcelLineInput(line=line.position, quantity=line.quantity_active)
