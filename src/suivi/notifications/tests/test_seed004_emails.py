"""Seed 004, each email end to end: from the order action to the message in a real SMTP
server, for delivery and Click & Collect orders, in French and English."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from suivi.notifications import dispatch
from suivi.orders.inputs import LineCancellation
from suivi.orders.lifecycle import Mode
from suivi.orders.models import Order
from suivi.orders.services import order_apply_action, order_cancel, order_cancel_lines
from suivi.shops.models import Shop
from suivi.testing import make_order

from .smtp_server import SMTPServer

pytestmark = pytest.mark.django_db
MODES = [Mode.DELIVERY, Mode.CLICK_AND_COLLECT]


def _deliver() -> None:
    while dispatch.run_once().claimed:
        pass


def _parts(mail: EmailMessage) -> tuple[str, str]:
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def _last_mail(smtp: SMTPServer, order: Order, event: str) -> EmailMessage:
    mails = [m for m in smtp.to(order.email) if m["X-Suivi-Event"] == event]
    assert len(mails) == 1, [m["X-Suivi-Event"] for m in smtp.to(order.email)]
    return mails[0]


def _order(shop: Shop, mode: Mode, language: str) -> Order:
    order = make_order(shop, mode=mode, paid=False, email=f"{mode.value}-{language}@example.fr")
    Order.objects.filter(pk=order.pk).update(language=language)
    order_apply_action(shop=shop, order_id=order.pk, action="confirm_payment")
    return order


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_confirmation_after_payment(
    shop_a: Shop, smtp: SMTPServer, mode: Mode, language: str
) -> None:
    order = _order(shop_a, mode, language)
    order.refresh_from_db()
    _deliver()
    mail = _last_mail(smtp, order, "confirmed")
    text, html = _parts(mail)
    assert order.reference in mail["Subject"]
    for part in (text, html):
        assert "Pull marin" in part and "/t/" in part and "/p/" in part  # lines, tracking, choices
    total = f"{order.total_amount:.2f}"
    assert (total.replace(".", ",") if language == "fr" else total) in text


@pytest.mark.parametrize("mode", MODES)
def test_ready_when_the_merchant_marks_the_order(
    shop_a: Shop, smtp: SMTPServer, mode: Mode
) -> None:
    order = _order(shop_a, mode, "fr")
    order_apply_action(shop=shop_a, order_id=order.pk, action="start_preparation")
    order_apply_action(shop=shop_a, order_id=order.pk, action="mark_ready")
    _deliver()
    event = "ready_to_ship" if mode is Mode.DELIVERY else "ready_for_pickup"
    text, html = _parts(_last_mail(smtp, order, event))
    if mode is Mode.CLICK_AND_COLLECT:
        assert "boutique" in text.lower() and "12 rue de la République" in text
    assert "/t/" in text and "/t/" in html


def test_shipped_when_handed_to_the_carrier(shop_a: Shop, smtp: SMTPServer) -> None:
    order = _order(shop_a, Mode.DELIVERY, "fr")
    for action in ("start_preparation", "mark_ready"):
        order_apply_action(shop=shop_a, order_id=order.pk, action=action)
    order_apply_action(
        shop=shop_a, order_id=order.pk, action="ship",
        payload={"carrier": "colissimo", "tracking_number": "6A12345678901"},
    )  # fmt: skip
    _deliver()
    text, html = _parts(_last_mail(smtp, order, "shipped"))
    assert "6A12345678901" in text and "6A12345678901" in html
    assert "/t/" in text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_whole_cancellation_apologises_for_items_sold_in_store(
    shop_a: Shop, smtp: SMTPServer, mode: Mode, language: str
) -> None:
    order = _order(shop_a, mode, language)
    order_cancel(shop=shop_a, order_id=order.pk, reason="sold_in_store")
    _deliver()
    text, html = _parts(_last_mail(smtp, order, "cancelled"))
    assert "/t/" in text and "/t/" in html and "Pull marin" in html
    if language == "fr":
        assert "désolé" in text.lower() or "excus" in text.lower()
        assert "vendu" in text.lower() and ("magasin" in text.lower() or "boutique" in text.lower())
    else:
        assert "sorry" in text.lower() or "apolog" in text.lower()
        assert "sold in" in text.lower() and "store" in text.lower()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_partial_cancellation_strikes_lines_and_shows_the_new_total(
    shop_a: Shop, smtp: SMTPServer, mode: Mode, language: str
) -> None:
    order = _order(shop_a, mode, language)
    bonnet = order.lines.get(sku="BONNET")
    order_cancel_lines(
        shop=shop_a, order_id=order.pk,
        cancellations=[LineCancellation(position=bonnet.position, quantity=1)], reason="sold_in_store",
    )  # fmt: skip
    order.refresh_from_db()
    _deliver()
    text, html = _parts(_last_mail(smtp, order, "partially_cancelled"))
    new_total = f"{order.total_amount:.2f}"
    new_total = new_total.replace(".", ",") if language == "fr" else new_total
    assert new_total in text and new_total in html
    # the cancelled line is struck through in HTML and clearly marked in text
    assert ("<s>" in html or "<del" in html or "line-through" in html) and "Bonnet" in html
    bonnet_lines = [line for line in text.splitlines() if "Bonnet" in line]
    assert bonnet_lines and any(
        w in " ".join(bonnet_lines).lower() for w in ("annul", "cancel", "~~", "[x]")
    )
