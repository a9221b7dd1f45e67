"""Claim services: opening, the thread, statuses, resolutions, and who may do what."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from suivi.claims import selectors, services
from suivi.claims.errors import ClaimClosed, InvalidClaimTransition
from suivi.claims.models import Claim, ClaimMessage
from suivi.claims.sla import answer_due
from suivi.core.errors import InvalidInput, NotFound
from suivi.orders.models import OrderEvent

from .support import Person, jpeg_with_gps, upload

PARIS = ZoneInfo("Europe/Paris")
S = Claim.Status


def open_claim(person: Person, **overrides: Any) -> Claim:
    data: dict[str, Any] = {
        "customer_user": person.user,
        "order": person.order,
        "kind": "not_received",
        "description": "Le colis n'est jamais arrivé.",
    }
    return services.claim_open(**(data | overrides))


def reload(claim: Claim) -> Claim:
    return Claim.objects.get(pk=claim.pk)


def claim_events(claim: Claim) -> list[str]:
    return list(
        OrderEvent.objects.filter(order_id=claim.order_id, type__startswith="claim.")
        .order_by("id")
        .values_list("type", flat=True)
    )


# --- opening ----------------------------------------------------------------------------


def test_a_customer_opens_a_claim_on_their_order(claire: Person) -> None:
    before = timezone.now()

    claim = open_claim(claire, requested_resolution="reship")

    claim = reload(claim)
    assert claim.shop_id == claire.order.shop_id
    assert claim.customer_id == claire.order.customer_id
    assert (claim.kind, claim.status) == ("not_received", S.OPEN)
    assert claim.requested_resolution == "reship" and claim.resolution == "none"
    assert claim.due_at is not None and claim.due_at > before + dt.timedelta(days=1)
    assert claim.reference == f"C-{claim.pk}"
    event = OrderEvent.objects.get(order=claire.order, type="claim.opened")
    assert event.payload["order_id"] == claire.order.pk
    assert event.payload["claim_id"] == claim.pk
    assert event.payload["status"] == "open"
    assert event.actor == f"customer:{claire.order.customer_id}"


def test_nobody_opens_a_claim_on_someone_elses_order(claire: Person, bruno: Person) -> None:
    with pytest.raises(NotFound):
        open_claim(bruno, order=claire.order)
    with pytest.raises(NotFound):
        open_claim(claire, customer_user=AnonymousUser())
    assert not Claim.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "bored"}, "kind"),
        ({"description": "   "}, "description"),
        ({"description": "x" * 5001}, "description"),
        ({"requested_resolution": "a pony"}, "resolution"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    claire: Person, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        open_claim(claire, **overrides)

    assert caught.value.field == field
    assert not Claim.objects.exists()
    assert claim_events_of(claire) == []


def claim_events_of(person: Person) -> list[str]:
    return list(
        OrderEvent.objects.filter(order=person.order, type__startswith="claim.").values_list(
            "type", flat=True
        )
    )


@pytest.mark.parametrize(
    ("written", "due"),
    [
        # Monday morning → end of Wednesday.
        (dt.datetime(2026, 3, 9, 9, 0), dt.datetime(2026, 3, 11, 23, 59, 59)),
        # Friday afternoon → end of Tuesday (the weekend does not count).
        (dt.datetime(2026, 3, 13, 15, 0), dt.datetime(2026, 3, 17, 23, 59, 59)),
        # Saturday → end of Tuesday too.
        (dt.datetime(2026, 3, 14, 10, 0), dt.datetime(2026, 3, 17, 23, 59, 59)),
        # Thursday 30 April: 1 May is a French public holiday → end of Tuesday 5 May.
        (dt.datetime(2026, 4, 30, 10, 0), dt.datetime(2026, 5, 5, 23, 59, 59)),
    ],
)
def test_the_shop_has_two_business_days_to_answer(written: dt.datetime, due: dt.datetime) -> None:
    at = written.replace(tzinfo=PARIS)
    assert answer_due(at, country="FR", tz="Europe/Paris") == due.replace(tzinfo=PARIS)


def test_the_due_date_follows_the_shops_country_holidays() -> None:
    # 1 May is no holiday in the United States.
    at = dt.datetime(2026, 4, 30, 10, 0, tzinfo=ZoneInfo("America/New_York"))
    due = answer_due(at, country="US", tz="America/New_York")
    assert due.date() == dt.date(2026, 5, 4)


# --- the thread -------------------------------------------------------------------------


def test_a_staff_answer_moves_an_open_claim_along_and_clears_the_due_date(
    claire: Person, agent: Any
) -> None:
    claim = open_claim(claire)

    message = services.claim_reply_staff(claim=claim, user=agent, body="Nous enquêtons.")

    claim = reload(claim)
    assert claim.status == S.IN_PROGRESS and claim.due_at is None
    assert claim.first_answered_at is not None
    assert (message.author_kind, message.author_id, message.internal) == ("staff", agent.pk, False)
    assert claim_events(claim) == ["claim.opened", "claim.replied"]


def test_asking_the_customer_waits_for_them_and_their_answer_puts_the_shop_back_on_the_clock(
    claire: Person, agent: Any
) -> None:
    claim = open_claim(claire)
    services.claim_reply_staff(
        claim=claim, user=agent, body="Une photo du carton ?", ask_customer=True
    )
    assert reload(claim).status == S.WAITING_CUSTOMER

    services.claim_reply_customer(
        customer_user=claire.user,
        claim=claim,
        body="La voici.",
        photos=[upload("carton.jpg", jpeg_with_gps())],
    )

    claim = reload(claim)
    assert claim.status == S.IN_PROGRESS and claim.due_at is not None
    [reply] = claim.messages.filter(author_kind="customer")
    assert reply.photos.count() == 1 and reply.author_id == claire.user.pk
    assert claim_events(claim) == [
        "claim.opened",
        "claim.replied",
        "claim.customer_replied",
    ]


def test_an_internal_note_changes_nothing_the_customer_sees(claire: Person, agent: Any) -> None:
    claim = open_claim(claire)
    due = reload(claim).due_at

    note = services.claim_reply_staff(
        claim=claim, user=agent, body="Client déjà remboursé une fois.", internal=True
    )

    claim = reload(claim)
    assert note.internal and claim.status == S.OPEN and claim.due_at == due
    assert claim_events(claim) == ["claim.opened"]  # nothing recorded, nothing published
    assert selectors.customer_thread(claim) == []
    assert [m.pk for m in selectors.staff_thread(claim)] == [note.pk]


def test_a_customer_cannot_write_an_internal_note(claire: Person) -> None:
    claim = open_claim(claire)
    # The database refuses it even if a service had a bug.
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimMessage.objects.create(
            shop_id=claim.shop_id, claim=claim, author_kind="customer", body="x", internal=True
        )


def test_a_reply_needs_words_or_a_photo(claire: Person, agent: Any) -> None:
    claim = open_claim(claire)
    with pytest.raises(InvalidInput):
        services.claim_reply_customer(customer_user=claire.user, claim=claim, body=" ")
    with pytest.raises(InvalidInput):
        services.claim_reply_staff(claim=claim, user=agent, body="")
    message = services.claim_reply_customer(
        customer_user=claire.user, claim=claim, body="", photos=[upload("a.jpg", jpeg_with_gps())]
    )
    assert message.body == "" and message.photos.count() == 1


def test_another_customer_cannot_reply(claire: Person, bruno: Person) -> None:
    claim = open_claim(claire)
    with pytest.raises(NotFound):
        services.claim_reply_customer(customer_user=bruno.user, claim=claim, body="Coucou")
    assert not ClaimMessage.objects.exists()


# --- statuses and resolutions -----------------------------------------------------------


def test_resolving_records_the_resolution_and_a_customer_reply_reopens(
    claire: Person, agent: Any
) -> None:
    claim = open_claim(claire)

    services.claim_resolve(
        claim=claim, user=agent, resolution="refund", note="Remboursement de 49,90 €."
    )

    claim = reload(claim)
    assert (claim.status, claim.resolution) == (S.RESOLVED, "refund")
    assert claim.resolution_note == "Remboursement de 49,90 €."
    assert claim.resolved_at is not None and claim.due_at is None
    event = OrderEvent.objects.filter(type="claim.updated").get(order=claire.order)
    assert event.payload["resolution"] == "refund"
    assert event.payload["status"] == "resolved" and event.payload["from"] == "open"
    assert "Remboursement de 49,90 €." in event.payload["message"]

    services.claim_reply_customer(customer_user=claire.user, claim=claim, body="Pas reçu !")

    claim = reload(claim)
    assert claim.status == S.IN_PROGRESS and claim.resolved_at is None
    assert claim.resolution == "refund"  # what was decided stays visible
    assert claim.due_at is not None


def test_a_resolution_must_be_one_of_the_list(claire: Person, agent: Any) -> None:
    claim = open_claim(claire)
    for bad in ("none", "a pony"):
        with pytest.raises(InvalidInput):
            services.claim_resolve(claim=claim, user=agent, resolution=bad)
    assert reload(claim).status == S.OPEN


def test_statuses_follow_the_transition_table(claire: Person, agent: Any) -> None:
    claim = open_claim(claire)
    with pytest.raises(InvalidInput):
        services.claim_set_status(claim=claim, user=agent, status="resolved")
    with pytest.raises(InvalidInput):
        services.claim_set_status(claim=claim, user=agent, status="lost")

    services.claim_set_status(claim=claim, user=agent, status="closed", note="Doublon.")
    claim = reload(claim)
    assert claim.status == S.CLOSED and claim.due_at is None
    assert claim.messages.get().body == "Doublon."
    with pytest.raises(InvalidClaimTransition):
        services.claim_set_status(claim=claim, user=agent, status="waiting_customer")
    with pytest.raises(ClaimClosed):
        services.claim_reply_customer(customer_user=claire.user, claim=claim, body="Et alors ?")
    with pytest.raises(ClaimClosed):
        services.claim_reply_staff(claim=claim, user=agent, body="Bonjour")
    with pytest.raises(ClaimClosed):
        services.claim_resolve(claim=claim, user=agent, resolution="refund")
    services.claim_reply_staff(
        claim=claim, user=agent, body="Note sur un dossier clos", internal=True
    )

    services.claim_set_status(claim=claim, user=agent, status="in_progress")
    assert reload(claim).status == S.IN_PROGRESS
    assert claim_events(claim) == ["claim.opened", "claim.updated", "claim.updated"]


def test_setting_the_same_status_again_records_nothing(claire: Person, agent: Any) -> None:
    claim = open_claim(claire)
    services.claim_set_status(claim=claim, user=agent, status="in_progress")
    services.claim_set_status(claim=claim, user=agent, status="in_progress")
    assert claim_events(claim) == ["claim.opened", "claim.updated"]


def test_only_the_shops_staff_may_answer_decide_or_assign(
    claire: Person, agent: Any, outsider: Any
) -> None:
    claim = open_claim(claire)
    stranger = get_user_model().objects.create_user(username="random")
    for user in (outsider, stranger, AnonymousUser(), claire.user):
        with pytest.raises(NotFound):
            services.claim_reply_staff(claim=claim, user=user, body="Hello")
        with pytest.raises(NotFound):
            services.claim_set_status(claim=claim, user=user, status="closed")
        with pytest.raises(NotFound):
            services.claim_resolve(claim=claim, user=user, resolution="refund")
        with pytest.raises(NotFound):
            services.claim_assign(claim=claim, user=user, assignee=agent)
    with pytest.raises(NotFound):
        services.claim_assign(claim=claim, user=agent, assignee=outsider)
    assert reload(claim).status == S.OPEN and not ClaimMessage.objects.exists()

    services.claim_assign(claim=claim, user=agent, assignee=agent)
    assert reload(claim).assignee_id == agent.pk


# --- selectors --------------------------------------------------------------------------


def test_customers_see_only_their_own_claims(claire: Person, bruno: Person, agent: Any) -> None:
    mine = open_claim(claire)
    theirs = open_claim(bruno)

    assert list(selectors.claims_of_user(claire.user)) == [mine]
    assert list(selectors.claims_of_user(AnonymousUser())) == []
    assert selectors.claim_of_user(claire.user, mine.pk) == mine
    with pytest.raises(NotFound):
        selectors.claim_of_user(claire.user, theirs.pk)
    with pytest.raises(NotFound):
        selectors.claim_of_user(claire.user, 10**9)
    assert list(selectors.claims_of_shop(claire.order.shop)) == [mine]
    with pytest.raises(NotFound):
        selectors.claim_of_shop(claire.order.shop, theirs.pk)


def test_the_shop_queue_puts_the_most_urgent_first(claire: Person, agent: Any) -> None:
    answered = open_claim(claire)
    services.claim_reply_staff(claim=answered, user=agent, body="Vu.")
    late = open_claim(claire)
    Claim.objects.filter(pk=late.pk).update(due_at=timezone.now() - dt.timedelta(days=1))
    soon = open_claim(claire)

    queue = list(selectors.claims_of_shop(claire.order.shop))

    assert queue == [late, soon, answered]
