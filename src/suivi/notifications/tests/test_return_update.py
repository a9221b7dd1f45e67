"""The return update: what the customer reads when the shop decides on their return."""

from __future__ import annotations

import re
from typing import Any

import pytest

from suivi.notifications.catalog import EMAIL, EVENTS, PUSH, SMS, event_key_for
from suivi.notifications.context import order_context, sample_context
from suivi.notifications.links import order_space_url
from suivi.notifications.rendering import render
from suivi.orders.models import Order
from suivi.shops.models import Shop
from suivi.testing import make_order

TRACKING = "https://suivi.test/t/Xk3p9QmZ7vB2nL8rT4wY6cA0dE"
LINKS = {"tracking": TRACKING, "preferences": "https://suivi.test/p/Xk3p9QmZ7vB2nL8rT4wY6cA0"}


@pytest.fixture(autouse=True)
def base_url(settings: Any) -> None:
    settings.BASE_URL = "https://suivi.test"


def _visible(html: str) -> str:
    """The text of an HTML document: inline tags dropped, whitespace (and NBSP) collapsed."""
    html = re.sub(r"</?(?:strong|a)\b[^>]*>", "", html)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _in_html(phrase: str, html: str) -> bool:
    return " ".join(phrase.split()) in _visible(html)


def _ctx(order: Order, locale: str, type_: str, **payload: Any) -> dict[str, Any]:
    order = (
        Order.objects.select_related("shop", "customer", "pickup_location")
        .prefetch_related("lines")
        .get(pk=order.pk)
    )
    event = {
        "type": type_,
        "payload": {"return_id": 7, "order_id": order.pk, "to": type_.split(".")[1]} | payload,
    }
    return order_context(
        order,
        locale=locale,
        events=[event],
        links=LINKS,
        marketing=None,
        informed_channels=["email"],
        settings=None,
    )


def _all(locale: str, ctx: dict[str, Any]) -> dict[str, Any]:
    return {
        channel: render(event_key="return_update", channel=channel, locale=locale, context=ctx)
        for channel in (EMAIL, SMS, PUSH)
    }


def test_only_the_shops_decisions_are_told() -> None:
    assert EVENTS["return_update"].essential and EVENTS["return_update"].defaults == {EMAIL}
    for step in ("approved", "refused", "received", "refunded"):
        assert event_key_for(f"return.{step}", {}) == "return_update"
    assert event_key_for("return.requested", {}) is None
    assert event_key_for("return.cancelled", {}) is None


@pytest.mark.parametrize(
    ("locale", "subject", "status", "label_phrase"),
    [
        (
            "fr",
            "Votre demande de retour est acceptée (commande {ref})",
            "Votre demande de retour concernant la commande {ref} est acceptée.",
            "Votre étiquette de retour vous attend dans votre espace client",
        ),
        (
            "en",
            "Your return request is approved (order {ref})",
            "Your return request for order {ref} is approved.",
            "Your return label is waiting in your customer space",
        ),
    ],
)
def test_an_approval_with_a_label_points_to_the_customer_space(
    shop_a: Shop, locale: str, subject: str, status: str, label_phrase: str
) -> None:
    order = make_order(shop_a, paid=True)
    ctx = _ctx(order, locale, "return.approved", has_label=True)
    space = order_space_url(order.pk)
    assert space == f"https://suivi.test/space/orders/{order.pk}/"
    assert ctx["links"]["order"] == space
    assert ctx["return"]["status"] == "approved" and ctx["return"]["has_label"] is True

    result = _all(locale, ctx)
    email = result[EMAIL]
    assert email.problems == []
    assert email.subject == subject.format(ref=order.reference)
    expected = status.format(ref=order.reference)
    assert expected in email.text and _in_html(expected, email.html)
    assert label_phrase in email.text and _in_html(label_phrase, email.html)
    assert space in email.text and f'href="{space}"' in email.html
    assert TRACKING in email.text  # the standard footer still links to the tracking page

    sms = result[SMS]
    assert order.reference in sms.text and space in sms.text
    assert TRACKING not in sms.text  # one link is enough in an SMS
    assert sms.segments is not None and sms.segments.encoding == "GSM-7"

    push = result[PUSH]
    assert ("acceptée" if locale == "fr" else "approved") in push.subject
    assert order.reference in push.text


def test_an_approval_without_a_label_says_to_follow_the_instructions(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    email = _all("fr", _ctx(order, "fr", "return.approved", has_label=False))[EMAIL]
    assert "Suivez les instructions de votre espace client" in email.text
    assert "étiquette" not in email.text


@pytest.mark.parametrize(
    ("locale", "amount_line", "note_line", "push_amount"),
    [
        (
            "fr",
            "Montant remboursé : 64,90\u00a0€",
            "Avoir n° AV-2025-0042",
            "Montant remboursé : 64,90 €.",  # a push is one line of plain spaces
        ),
        (
            "en",
            "Amount refunded: €64.90",
            "Credit note no. AV-2025-0042",
            "Amount refunded: €64.90.",
        ),
    ],
)
def test_a_refund_gives_the_amount_and_the_credit_note(
    shop_a: Shop, locale: str, amount_line: str, note_line: str, push_amount: str
) -> None:
    order = make_order(shop_a, paid=True)
    ctx = _ctx(
        order,
        locale,
        "return.refunded",
        amount="64.90",
        currency="EUR",
        credit_note_number="AV-2025-0042",
    )
    assert ctx["return"]["amount"] == ("64,90\u00a0€" if locale == "fr" else "€64.90")
    assert ctx["return"]["credit_note_number"] == "AV-2025-0042"

    result = _all(locale, ctx)
    email = result[EMAIL]
    assert ("remboursée" if locale == "fr" else "is refunded") in email.subject
    assert amount_line in email.text and note_line in email.text
    assert _in_html(amount_line, email.html) and _in_html(note_line, email.html)
    space = order_space_url(order.pk)
    assert space in email.text and f'href="{space}"' in email.html
    assert push_amount in result[PUSH].text
    assert space in result[SMS].text


@pytest.mark.parametrize(
    ("locale", "phrase"),
    [("fr", "le remboursement va suivre"), ("en", "your refund will follow")],
)
def test_receipt_of_the_goods_says_the_refund_follows(
    shop_a: Shop, locale: str, phrase: str
) -> None:
    order = make_order(shop_a, paid=True)
    email = _all(locale, _ctx(order, locale, "return.received"))[EMAIL]
    assert phrase in email.text and _in_html(phrase, email.html)
    assert ("reçue" if locale == "fr" else "received") in email.subject


@pytest.mark.parametrize(("locale", "heading"), [("fr", "Motif du refus"), ("en", "Reason")])
def test_a_refusal_quotes_the_shops_reason(shop_a: Shop, locale: str, heading: str) -> None:
    order = make_order(shop_a, paid=True)
    ctx = _ctx(order, locale, "return.refused", reason="Article <porté> & lavé.")
    assert ctx["return"]["reason"] == "Article <porté> & lavé."
    assert ctx["event"]["reason_label"] == ""  # the shop's words, not a delivery reason code
    email = _all(locale, ctx)[EMAIL]
    assert heading in email.text and "Article <porté> & lavé." in email.text
    assert "Article &lt;porté&gt; &amp; lavé." in email.html  # escaped in HTML


def test_an_unusable_amount_is_left_out(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    for payload in (
        {"amount": "64.90"},
        {"amount": "abc", "currency": "EUR"},
        {"amount": "64.90", "currency": "XXQ"},
        {"amount": "NaN", "currency": "EUR"},
    ):
        ctx = _ctx(order, "fr", "return.refunded", **payload)
        assert ctx["return"]["amount"] == "", payload
        email = render(event_key="return_update", channel=EMAIL, locale="fr", context=ctx)
        assert email.problems == [] and "Montant remboursé" not in email.text


def test_claim_updates_also_point_to_the_customer_space(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    space = order_space_url(order.pk)
    for locale, phrase in (("fr", "dans votre espace client"), ("en", "in your customer space")):
        ctx = _ctx(order, locale, "claim.replied", reference="R-7", status="in_progress")
        email = render(event_key="claim_update", channel=EMAIL, locale=locale, context=ctx)
        assert phrase in email.text and space in email.text
        assert f'href="{space}"' in email.html
        assert "page de suivi" not in email.text and "tracking page" not in email.text


def test_the_preview_shows_an_approval_with_a_label(shop_a: Shop) -> None:
    ctx = sample_context(shop_a, event_key="return_update", locale="fr", links=LINKS)
    assert ctx["return"]["status"] == "approved" and ctx["return"]["has_label"] is True
    assert ctx["links"]["order"] == "https://suivi.test/space/orders/0/"  # opens no order
    email = render(event_key="return_update", channel=EMAIL, locale="fr", context=ctx)
    assert "est acceptée" in email.subject and "étiquette" in email.text


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("step", ["approved", "refused", "received", "refunded"])
def test_every_sms_is_gsm7_with_the_customer_space_link(
    shop_a: Shop, step: str, locale: str
) -> None:
    order = make_order(shop_a, paid=True)
    extra = {"amount": "64.90", "currency": "EUR"} if step == "refunded" else {}
    sms = render(
        event_key="return_update",
        channel=SMS,
        locale=locale,
        context=_ctx(order, locale, f"return.{step}", **extra),
    )
    assert sms.segments is not None and sms.segments.encoding == "GSM-7", sms.text
    assert sms.segments.segments <= 2, sms.text
    assert order.reference in sms.text and sms.text.endswith(order_space_url(order.pk))
