"""Resolving a claim with what the resolution does: a replacement parcel, a credit note, a
compensation — all or nothing, and the customer told once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from suivi.carriers.vocabulary import Reason, Status
from suivi.claims import resolution, services
from suivi.claims.errors import ClaimClosed
from suivi.claims.models import Claim
from suivi.core.errors import DomainError, InvalidInput, NotFound
from suivi.customers.models import Customer
from suivi.notifications.models import OutboxMessage
from suivi.orders.models import CreditNote, Order, OrderEvent
from suivi.shipments.ingest import ingest
from suivi.shipments.models import Parcel, ParcelLeg
from suivi.shipments.tests.factories import at, number, scan, shipped_order, update
from suivi.shops.models import Shop

from .support import Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipped(shop_a: Shop) -> Person:
    """A customer of shop A with an account and an order shipped in one parcel."""
    order, _parcels = shipped_order(shop_a)
    user = get_user_model().objects.create_user(username="ines", email=order.email)
    Customer.objects.filter(pk=order.customer_id).update(user=user)
    return Person(
        user=user, order=Order.objects.select_related("shop", "customer").get(pk=order.pk)
    )


def _claim(person: Person, kind: str = "damaged") -> Claim:
    return services.claim_open(
        customer_user=person.user, order=person.order, kind=kind, description="Cassé."
    )


def _carrier(shop: Shop, tracking: str, status: Status, day: int) -> None:
    """One carrier scan through the real ingestion (a push)."""
    reason = Reason.LOST if status is Status.EXCEPTION else Reason.NONE
    ingest(
        shop,
        [("laposte", update(tracking, scan(tracking, status, at(day), reason=reason)))],
        source="push",
    )


def _order_state(person: Person) -> tuple[str, list[int]]:
    order = Order.objects.get(pk=person.order.pk)
    return order.status, [line.quantity_shipped for line in order.lines.order_by("position")]


def _line(person: Person, position: int) -> Any:
    return person.order.lines.get(position=position)


def _frozen(claim: Claim) -> tuple[object, ...]:
    claim.refresh_from_db()
    return (
        claim.status,
        claim.resolution,
        claim.resolution_note,
        claim.resolved_at,
        Parcel.objects.filter(order_id=claim.order_id).count(),
        CreditNote.objects.filter(order_id=claim.order_id).count(),
        OrderEvent.objects.filter(order_id=claim.order_id).count(),
        OutboxMessage.objects.filter(order_id=claim.order_id).count(),
    )


def test_reship_creates_the_parcel_and_resolves_in_one_go(shipped: Person, agent: Any) -> None:
    claim = _claim(shipped)
    parcel = resolution.claim_resolve_by_reship(
        claim=claim,
        user=agent,
        tracking_number="6A98765432109",
        lines=[resolution.ClaimLine(_line(shipped, 1).pk, 1)],
        note="Demain.",
    )
    claim.refresh_from_db()
    assert (claim.status, claim.resolution) == ("resolved", "reship")
    assert "6A98765432109" in claim.resolution_note and "Demain." in claim.resolution_note
    assert ParcelLeg.objects.filter(parcel=parcel, tracking_number="6A98765432109").exists()
    types = list(
        OrderEvent.objects.filter(order=shipped.order).order_by("pk").values_list("type", flat=True)
    )
    assert types[-2:] == ["shipment.replacement", "claim.updated"]
    [message] = OutboxMessage.objects.filter(order=shipped.order, event_type="claim.updated")
    assert "6A98765432109" in message.events[0]["payload"]["message"]


@pytest.mark.parametrize("tracking", ["ZZ", "NOT A NUMBER AT ALL"])
def test_a_bad_tracking_number_writes_nothing(shipped: Person, agent: Any, tracking: str) -> None:
    claim = _claim(shipped)
    before = _frozen(claim)
    with pytest.raises(DomainError):  # InvalidInput, CarrierNotDetected
        resolution.claim_resolve_by_reship(
            claim=claim,
            user=agent,
            tracking_number=tracking,
            lines=[resolution.ClaimLine(_line(shipped, 1).pk, 1)],
        )
    assert _frozen(claim) == before


def test_a_failure_after_the_parcel_rolls_the_parcel_back(
    shipped: Person, agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = _claim(shipped)
    before = _frozen(claim)

    def refuse(**kwargs: Any) -> Claim:
        raise InvalidInput("refused late")

    monkeypatch.setattr(resolution, "claim_resolve", refuse)
    with pytest.raises(InvalidInput):
        resolution.claim_resolve_by_reship(
            claim=claim,
            user=agent,
            tracking_number=number(),
            lines=[resolution.ClaimLine(_line(shipped, 1).pk, 1)],
        )
    assert _frozen(claim) == before


def test_a_closed_claim_is_refused_before_anything_is_written(shipped: Person, agent: Any) -> None:
    claim = _claim(shipped)
    services.claim_set_status(claim=claim, user=agent, status="closed")
    before = _frozen(claim)
    with pytest.raises(ClaimClosed):
        resolution.claim_resolve_by_reship(
            claim=claim,
            user=agent,
            tracking_number=number(),
            lines=[resolution.ClaimLine(_line(shipped, 1).pk, 1)],
        )
    assert _frozen(claim) == before


def test_outsiders_cannot_resolve(shipped: Person, outsider: Any) -> None:
    claim = _claim(shipped)
    before = _frozen(claim)
    with pytest.raises(NotFound):
        resolution.claim_resolve_by_refund(
            claim=claim, user=outsider, lines=[resolution.ClaimLine(_line(shipped, 1).pk, 1)]
        )
    with pytest.raises(NotFound):
        resolution.claim_resolve_by_compensation(claim=claim, user=outsider, amount="5")
    assert _frozen(claim) == before


def test_refund_issues_a_credit_note_and_quotes_the_amount(shipped: Person, agent: Any) -> None:
    claim = _claim(shipped)
    credit_note = resolution.claim_resolve_by_refund(
        claim=claim, user=agent, lines=[resolution.ClaimLine(_line(shipped, 1).pk, 1)]
    )
    assert credit_note is not None
    assert credit_note.total_amount == Decimal("49.90")
    assert [ln["quantity"] for ln in credit_note.lines] == [1]
    claim.refresh_from_db()
    assert (claim.status, claim.resolution) == ("resolved", "refund")
    assert credit_note.number in claim.resolution_note and "49,90" in claim.resolution_note


def test_refund_beyond_what_was_billed_writes_nothing(shipped: Person, agent: Any) -> None:
    claim = _claim(shipped)
    before = _frozen(claim)
    with pytest.raises(InvalidInput):
        resolution.claim_resolve_by_refund(
            claim=claim, user=agent, lines=[resolution.ClaimLine(_line(shipped, 1).pk, 5)]
        )
    with pytest.raises(InvalidInput):
        resolution.claim_resolve_by_refund(claim=claim, user=agent, lines=[])
    assert _frozen(claim) == before


def test_compensation_quotes_the_amount(shipped: Person, agent: Any) -> None:
    claim = _claim(shipped)
    resolution.claim_resolve_by_compensation(claim=claim, user=agent, amount="10,5", note="Pardon")
    claim.refresh_from_db()
    assert (claim.status, claim.resolution) == ("resolved", "compensation")
    assert "10,50" in claim.resolution_note and "Pardon" in claim.resolution_note


@pytest.mark.parametrize("amount", ["", "abc", "0", "-3", "NaN", "100000"])
def test_a_bad_compensation_amount_writes_nothing(shipped: Person, agent: Any, amount: str) -> None:
    claim = _claim(shipped)
    before = _frozen(claim)
    with pytest.raises(InvalidInput):
        resolution.claim_resolve_by_compensation(claim=claim, user=agent, amount=amount)
    assert _frozen(claim) == before


def test_time_to_resolution(shipped: Person, agent: Any) -> None:
    claim = _claim(shipped)
    assert resolution.time_to_resolution(claim) is None
    services.claim_resolve(claim=claim, user=agent, resolution="expedited_delivery")
    Claim.objects.filter(pk=claim.pk).update(created_at=claim.resolved_at - dt.timedelta(hours=30))
    claim.refresh_from_db()
    assert resolution.time_to_resolution(claim) == dt.timedelta(hours=30)


def test_reshipping_a_lost_parcel_supersedes_it_until_the_replacement_delivers(
    shipped: Person, agent: Any
) -> None:
    [lost] = Parcel.objects.filter(order=shipped.order)
    _carrier(shipped.order.shop, lost.tracking_number, Status.IN_TRANSIT, 16)
    _carrier(shipped.order.shop, lost.tracking_number, Status.EXCEPTION, 17)
    assert _order_state(shipped) == ("in_transit", [2, 1])
    claim = _claim(shipped, kind="not_received")
    replacement = resolution.claim_resolve_by_reship(
        claim=claim,
        user=agent,
        tracking_number=number(),
        lines=[
            resolution.ClaimLine(_line(shipped, 1).pk, 2),
            resolution.ClaimLine(_line(shipped, 2).pk, 1),
        ],
    )
    lost.refresh_from_db()
    assert replacement.is_replacement and lost.superseded_by == replacement
    assert _order_state(shipped) == ("in_transit", [2, 1])  # shipped once, nothing more
    _carrier(shipped.order.shop, replacement.tracking_number, Status.IN_TRANSIT, 18)
    _carrier(shipped.order.shop, replacement.tracking_number, Status.DELIVERED, 19)
    assert _order_state(shipped) == ("delivered", [2, 1])


def test_reshipping_a_damaged_item_of_a_delivered_order_supersedes_nothing(
    shipped: Person, agent: Any
) -> None:
    [first] = Parcel.objects.filter(order=shipped.order)
    _carrier(shipped.order.shop, first.tracking_number, Status.DELIVERED, 17)
    assert _order_state(shipped) == ("delivered", [2, 1])
    version = Order.objects.get(pk=shipped.order.pk).version
    replacement = resolution.claim_resolve_by_reship(
        claim=_claim(shipped, kind="damaged"),
        user=agent,
        tracking_number=number(),
        lines=[resolution.ClaimLine(_line(shipped, 1).pk, 1)],
    )
    assert not Parcel.objects.filter(superseded_by__isnull=False).exists()
    _carrier(shipped.order.shop, replacement.tracking_number, Status.IN_TRANSIT, 18)
    assert _order_state(shipped) == ("delivered", [2, 1])
    _carrier(shipped.order.shop, replacement.tracking_number, Status.DELIVERED, 19)
    assert _order_state(shipped) == ("delivered", [2, 1])
    assert Order.objects.get(pk=shipped.order.pk).version == version


def test_goods_received_never_supersede_their_parcel(shipped: Person, agent: Any) -> None:
    """A damaged, wrong or missing item came in a parcel: whatever the carrier said of it,
    that parcel keeps speaking for the order; other kinds pick the undelivered parcels."""
    lines = [_line(shipped, 1)]
    for kind in ("damaged", "wrong_item", "missing_item"):
        assert resolution.superseded_parcels(Claim(order=shipped.order, kind=kind), lines) == []
    [parcel] = Parcel.objects.filter(order=shipped.order)
    for kind in ("not_received", "delayed", "other"):
        claim = Claim(shop=shipped.order.shop, order=shipped.order, kind=kind)
        assert resolution.superseded_parcels(claim, lines) == [parcel.pk]
