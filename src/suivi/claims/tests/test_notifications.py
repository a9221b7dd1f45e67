"""Every answer of the shop notifies the customer; internal notes never do."""

from __future__ import annotations

from typing import Any

from django.core import mail

from suivi.claims import services
from suivi.claims.models import Claim
from suivi.notifications import dispatch
from suivi.notifications.models import OutboxMessage

from .support import Person


def open_claim(person: Person) -> Claim:
    return services.claim_open(
        customer_user=person.user,
        order=person.order,
        kind="damaged",
        description="Le vase est cassé.",
    )


def customer_messages(person: Person) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(order=person.order, customer__isnull=False).order_by("id")
    )


def test_a_staff_reply_plans_an_email_to_the_customer_of_the_order(
    claire: Person, bruno: Person, agent: Any
) -> None:
    claim = open_claim(claire)
    open_claim(bruno)
    assert customer_messages(claire) == []  # opening a claim tells the shop, not the customer

    services.claim_reply_staff(claim=claim, user=agent, body="Nous renvoyons un vase demain.")

    [message] = customer_messages(claire)
    assert message.shop_id == claire.order.shop_id
    assert message.customer_id == claire.order.customer_id
    assert (message.channel, message.recipient) == ("email", claire.order.email)
    assert (message.event_key, message.event_type) == ("claim_update", "claim.replied")
    assert message.status == OutboxMessage.Status.PENDING
    payload = message.events[0]["payload"]
    assert payload["message"] == "Nous renvoyons un vase demain."
    assert payload["reference"] == claim.reference and payload["status"] == "in_progress"
    assert customer_messages(bruno) == []


def test_an_internal_note_and_the_customers_own_reply_notify_nobody(
    claire: Person, agent: Any
) -> None:
    claim = open_claim(claire)

    services.claim_reply_staff(claim=claim, user=agent, body="Fragile, déjà vu.", internal=True)
    services.claim_reply_customer(customer_user=claire.user, claim=claim, body="Des nouvelles ?")

    assert customer_messages(claire) == []
    assert not OutboxMessage.objects.filter(order=claire.order).exists()


def test_every_reply_and_decision_is_its_own_message(claire: Person, agent: Any) -> None:
    claim = open_claim(claire)

    services.claim_reply_staff(claim=claim, user=agent, body="Première réponse.")
    services.claim_reply_staff(claim=claim, user=agent, body="Seconde réponse.", ask_customer=True)
    services.claim_resolve(claim=claim, user=agent, resolution="reship", note="Départ lundi.")
    services.claim_set_status(claim=claim, user=agent, status="closed")

    sent = customer_messages(claire)
    assert [m.event_type for m in sent] == [
        "claim.replied",
        "claim.replied",
        "claim.updated",
        "claim.updated",
    ]
    assert all(m.status == OutboxMessage.Status.PENDING for m in sent)  # never merged
    assert sent[2].events[0]["payload"]["resolution"] == "reship"
    assert "Départ lundi." in sent[2].events[0]["payload"]["message"]


def test_the_worker_emails_the_reply_to_the_customer(claire: Person, agent: Any) -> None:
    claim = open_claim(claire)
    mail.outbox.clear()

    services.claim_reply_staff(claim=claim, user=agent, body="Un coursier passe jeudi.")
    while dispatch.run_once().claimed:
        pass

    [email] = mail.outbox
    assert email.to == [claire.order.email]
    assert claire.order.reference in email.subject and claim.reference in email.subject
    assert "Un coursier passe jeudi." in str(email.body)
