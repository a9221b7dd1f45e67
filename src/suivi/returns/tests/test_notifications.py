"""The shop's decisions on a return tell the customer; the customer's own steps do not."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from suivi.notifications import dispatch
from suivi.notifications.links import order_space_url
from suivi.notifications.models import CustomerPreference, OutboxMessage
from suivi.orders.models import CreditNote, Order
from suivi.returns import services
from suivi.returns.models import ReturnRequest
from suivi.returns.services import ReturnItem
from suivi.shops.models import Shop

from .support import customer_user, delivered_order, lines_of, pdf_upload, staff_user

pytestmark = pytest.mark.django_db


def request_one(order: Order, user: Any) -> ReturnRequest:
    lines = lines_of(order)
    return services.return_request(
        user=user, order=order, lines=[ReturnItem(lines["PULL-M"].pk, 1, "wrong_size")]
    )


def return_messages(order: Order) -> list[OutboxMessage]:
    """The customer messages the return steps of *order* planned, oldest first."""
    return list(
        OutboxMessage.objects.filter(
            order=order, customer__isnull=False, event_type__startswith="return."
        ).order_by("id")
    )


def deliver_all() -> None:
    while dispatch.run_once().claimed:
        pass


def test_approving_plans_an_email_to_the_customer_of_the_order(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    other = delivered_order(shop_a, email="bruno@example.fr")
    ret = request_one(order, customer_user(order))
    request_one(other, customer_user(other, "bruno@example.fr"))
    assert return_messages(order) == []  # the request itself tells the customer nothing

    services.return_approve(
        ret=ret, user=staff_user(shop_a), instructions="Déposez-le au bureau de poste.",
        label=pdf_upload(),
    )  # fmt: skip

    [message] = return_messages(order)
    assert (message.shop_id, message.customer_id) == (shop_a.pk, order.customer_id)
    assert (message.channel, message.recipient) == ("email", order.email)
    assert (message.event_key, message.event_type) == ("return_update", "return.approved")
    assert message.status == OutboxMessage.Status.PENDING
    payload = message.events[0]["payload"]
    assert payload["return_id"] == ret.pk and payload["has_label"] is True
    assert return_messages(other) == []


def test_the_customers_own_request_and_cancellation_notify_nobody(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    before = OutboxMessage.objects.filter(order=order).count()

    ret = request_one(order, user)
    services.return_cancel(ret=ret, user=user)

    assert return_messages(order) == []
    assert OutboxMessage.objects.filter(order=order).count() == before


def test_every_decision_is_its_own_message_even_after_a_service_opt_out(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    CustomerPreference.objects.create(customer_id=order.customer_id, service_opt_out=True)
    ret = request_one(order, customer_user(order))
    staff = staff_user(shop_a)

    services.return_approve(ret=ret, user=staff, instructions="Par la poste.")
    services.return_mark_received(ret=ret, user=staff)
    services.return_refund(ret=ret, user=staff)

    sent = return_messages(order)
    assert [m.event_type for m in sent] == ["return.approved", "return.received", "return.refunded"]
    assert all(m.event_key == "return_update" for m in sent)
    assert all(m.status == OutboxMessage.Status.PENDING for m in sent)  # essential, never merged


def test_the_worker_emails_the_refusal_with_its_reason(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    ret = request_one(order, customer_user(order))
    deliver_all()  # the shipping and delivery emails
    mail.outbox.clear()

    services.return_refuse(ret=ret, user=staff_user(shop_a), reason="Article porté et lavé.")
    deliver_all()

    [email] = mail.outbox
    assert email.to == [order.email]
    assert email.subject == f"Votre demande de retour est refusée (commande {order.reference})"
    body = str(email.body)
    assert "« Article porté et lavé. »" in body  # read from the return: not in the event
    assert order_space_url(order.pk) in body


def test_the_worker_emails_the_refund_with_amount_and_credit_note(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    ret = request_one(order, customer_user(order))
    staff = staff_user(shop_a)
    services.return_approve(ret=ret, user=staff, instructions="Par la poste.")
    deliver_all()
    mail.outbox.clear()

    services.return_refund(ret=ret, user=staff)
    deliver_all()

    note = CreditNote.objects.get(order=order)
    [email] = mail.outbox
    assert email.subject == f"Votre demande de retour est remboursée (commande {order.reference})"
    body = str(email.body)
    assert "Montant remboursé : 49,90\u00a0€" in body
    assert f"Avoir n° {note.number}" in body
