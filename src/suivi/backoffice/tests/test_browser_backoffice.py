"""The back office in a real browser (Debian Chromium, headless, through Playwright)
against Suivi's real servers and worker, the customer's emails read from a real SMTP
server: the scenarios of issue 6. Desktop screenshots of the main pages are kept under
var/test-artifacts/screenshots/ (``backoffice-*-desktop.png``)."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from suivi.claims import services as claims
from suivi.claims.models import Claim
from suivi.claims.tests.support import jpeg_with_gps, upload
from suivi.customerweb.tests.browser import DESKTOP, assert_accessible, chromium, screenshot, site
from suivi.customerweb.tests.support import customer_user, shipped_order
from suivi.notifications.tests.smtp_server import SMTPServer
from suivi.orders.lifecycle import Mode
from suivi.orders.models import Order
from suivi.shipments.models import Parcel
from suivi.shops.models import Membership, Shop
from suivi.testing import make_order

from .browser_staff import sign_in
from .support import staff_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def private_dir(settings: Any) -> None:
    """The private files' folder of the servers site() starts (claim photos)."""
    settings.SUIVI_PRIVATE_DIR = Path(settings.DATA_DIR) / "private-browser"


def _page(browser: Any) -> Any:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15000)
    return page


def _click(page: Any, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    page.wait_for_load_state()


def _status(order: Order) -> str:
    order.refresh_from_db()
    return order.status


def _open_order(page: Any, order: Order) -> None:
    page.get_by_role("link", name="Orders", exact=True).click()
    page.get_by_label("Search").fill(order.reference)
    _click(page, "Search")
    page.get_by_role("link", name=order.reference).click()
    page.wait_for_url(re.compile(rf"/orders/{order.pk}/$"))


def _mail(smtp: SMTPServer, address: str, event: str) -> EmailMessage:
    for _ in range(150):
        found = [m for m in smtp.to(address) if m["X-Suivi-Event"] == event]
        if found:
            return found[-1]
        smtp.wait_for(len(smtp.messages) + 1, timeout=0.2)
    raise AssertionError(
        f"no {event} email to {address}: {[m['X-Suivi-Event'] for m in smtp.to(address)]}"
    )


def test_an_owner_signs_in_with_password_and_authenticator_code(shop_a: Shop, smtp: Any) -> None:
    cache.clear()
    owner = staff_user(shop_a, Membership.Role.OWNER)
    with site(smtp.port) as server, chromium() as browser:
        page = _page(browser)
        sign_in(page, server.base, owner)
        page.wait_for_url(re.compile(rf"/shop/{shop_a.slug}/$"))
        assert_accessible(page)
        assert page.get_by_role("heading", name="Today").is_visible()
        screenshot(page, "backoffice-home")


def test_logistics_ships_a_delivery_order_in_two_parcels_and_a_store_hands_over_a_click_and_collect(
    shop_a: Shop, smtp: Any
) -> None:
    cache.clear()
    logistics = staff_user(shop_a, Membership.Role.LOGISTICS)
    store = staff_user(shop_a, Membership.Role.LOGISTICS, email="boutique@maison.example")
    delivery = make_order(shop_a, paid=False, email="livraison@example.fr")
    pickup = make_order(shop_a, mode=Mode.CLICK_AND_COLLECT, paid=False, email="retrait@example.fr")
    with site(smtp.port, worker=True) as server, chromium() as browser:
        page = _page(browser)
        sign_in(page, server.base, logistics)
        page.get_by_role("link", name="Orders", exact=True).click()
        assert_accessible(page)
        screenshot(page, "backoffice-orders")

        # Paid → to prepare → in preparation → ready to ship ("à expédier").
        _open_order(page, delivery)
        for button, status in [("Confirm payment", "to_prepare"),
                               ("Start preparation", "in_preparation"),
                               ("Mark ready to ship", "ready_to_ship")]:  # fmt: skip
            _click(page, button)
            assert page.get_by_text(f"{delivery.reference} is now:").is_visible()
            assert _status(delivery) == status
        assert_accessible(page)
        screenshot(page, "backoffice-order")

        # Shipped in two parcels: the sweater in one, the beanie in the other.
        page.get_by_role("link", name="Ship in several parcels").click()
        page.get_by_label("Tracking number of parcel 1").fill("6A11111111111")
        page.get_by_label("Carrier of parcel 1").select_option("colissimo")
        page.get_by_label("Parcel 1: quantity of PULL-M").fill("2")
        page.get_by_label("Parcel 1: quantity of BONNET").fill("0")
        page.get_by_label("Tracking number of parcel 2").fill("6A22222222222")
        page.get_by_label("Carrier of parcel 2").select_option("colissimo")
        page.get_by_label("Parcel 2: quantity of PULL-M").fill("0")
        page.get_by_label("Parcel 2: quantity of BONNET").fill("1")
        assert_accessible(page)
        screenshot(page, "backoffice-ship")
        _click(page, "Ship")
        page.wait_for_url(re.compile(rf"/orders/{delivery.pk}/$"))
        assert _status(delivery) == "shipped"
        parcels = {p.tracking_number: p for p in Parcel.objects.filter(order=delivery)}
        assert set(parcels) == {"6A11111111111", "6A22222222222"}
        assert [
            (pl.order_line.sku, pl.quantity) for pl in parcels["6A22222222222"].lines.all()
        ] == [("BONNET", 1)]
        assert page.get_by_text("6A22222222222").first.is_visible()
        assert "6A11111111111" in _mail(smtp, delivery.email, "shipped").as_string()

        # The store takes the Click & Collect order to collected.
        page.get_by_role("button", name="Sign out").click()
        sign_in(page, server.base, store)
        _open_order(page, pickup)
        for button, status in [("Confirm payment", "to_prepare"),
                               ("Start preparation", "in_preparation"),
                               ("Mark ready for pickup", "ready_for_pickup")]:  # fmt: skip
            _click(page, button)
            assert _status(pickup) == status
        # The customer is told where to come (a step still waiting when the next one comes
        # is merged into it, so the customer has been told before collecting).
        ready = _mail(smtp, pickup.email, "ready_for_pickup")
        assert "12 rue de la République" in ready.get_body(("plain",)).get_content()
        _click(page, "Mark collected")
        assert _status(pickup) == "collected"


def test_whole_and_partial_cancellations_email_the_customer(shop_a: Shop, smtp: Any) -> None:
    cache.clear()
    service = staff_user(shop_a, Membership.Role.CUSTOMER_SERVICE)
    whole = make_order(shop_a, paid=True, email="annulee@example.fr")
    partial = make_order(shop_a, paid=True, email="partielle@example.fr")
    with site(smtp.port, worker=True) as server, chromium() as browser:
        page = _page(browser)
        sign_in(page, server.base, service)

        # The whole order: a confirmation page, then cancelled.
        _open_order(page, whole)
        page.get_by_role("link", name="Cancel order").click()
        page.get_by_label("Reason").select_option("out_of_stock")
        assert_accessible(page)
        screenshot(page, "backoffice-cancel-order")
        _click(page, "Cancel order")
        assert _status(whole) == "cancelled"

        # The red cross on one line: the beanie goes, the sweater stays.
        _open_order(page, partial)
        page.get_by_label("Quantity of BONNET to cancel").fill("1")
        row = page.get_by_role("row").filter(has_text="BONNET")
        row.get_by_role("button", name="Cancel this line").click()
        assert page.get_by_text("New order total").is_visible()
        screenshot(page, "backoffice-cancel-line")
        _click(page, "Cancel line")
        partial.refresh_from_db()
        assert (
            partial.status == "to_prepare"
            and partial.lines.get(sku="BONNET").quantity_cancelled == 1
        )

        # The customer's emails, from the real SMTP server.
        apology = _mail(smtp, whole.email, "cancelled")
        text = apology.get_body(("plain",)).get_content().lower()
        assert "sorry" in text or "désolé" in text or "excus" in text
        summary = _mail(smtp, partial.email, "partially_cancelled")
        html = summary.get_body(("html",)).get_content()
        plain = summary.get_body(("plain",)).get_content()
        assert ("<s>" in html or "<del" in html or "line-through" in html) and "Bonnet" in html
        total = f"{partial.total_amount:.2f}"
        assert total.replace(".", ",") in plain or total in plain


def test_customer_service_answers_a_claim_and_resolves_it_by_reship(
    shop_a: Shop, smtp: Any
) -> None:
    cache.clear()
    service = staff_user(shop_a, Membership.Role.CUSTOMER_SERVICE)
    order = shipped_order(shop_a, email="abime@example.fr")
    user = customer_user(order)
    claim = claims.claim_open(
        customer_user=user, order=Order.objects.select_related("shop", "customer").get(pk=order.pk),
        kind="damaged", description="Le pull est arrivé déchiré.",
        photos=[upload("pull.jpg", jpeg_with_gps())],
    )  # fmt: skip
    with site(smtp.port, worker=True) as server, chromium() as browser:
        page = _page(browser)
        sign_in(page, server.base, service)
        page.get_by_role("link", name="Claims", exact=True).click()
        assert_accessible(page)
        screenshot(page, "backoffice-claims")
        page.get_by_role("link", name=claim.reference).click()
        page.wait_for_url(re.compile(rf"/claims/{claim.pk}/$"))
        assert page.get_by_text("Le pull est arrivé déchiré.").is_visible()
        photo = page.get_by_role("img", name="Customer photo 1")
        assert photo.evaluate("i => i.complete && i.naturalWidth > 0")

        page.get_by_label("Message", exact=True).fill("Toutes nos excuses, nous renvoyons un pull.")
        _click(page, "Send reply")
        mail = _mail(smtp, order.email, "claim_update")
        assert "Toutes nos excuses" in mail.get_body(("plain",)).get_content()

        page.get_by_label("Resolution", exact=True).select_option("reship")
        page.get_by_label("Tracking number of the new parcel").fill("6A33333333333")
        page.get_by_label("Carrier (optional, detected from the number)").fill("colissimo")
        page.get_by_label("Quantity of Pull marin").fill("1")
        assert_accessible(page)
        screenshot(page, "backoffice-claim")
        _click(page, "Resolve")
        claim.refresh_from_db()
        assert claim.status == Claim.Status.RESOLVED and claim.resolution == "reship"
        assert Parcel.objects.filter(order=order, tracking_number="6A33333333333").exists()
        assert page.get_by_text(re.compile("Resolved in")).first.is_visible()


def test_a_role_without_the_right_is_refused(shop_a: Shop, smtp: Any) -> None:
    cache.clear()
    service = staff_user(shop_a, Membership.Role.CUSTOMER_SERVICE)
    logistics = staff_user(shop_a, Membership.Role.LOGISTICS)
    order = make_order(shop_a, paid=True)
    with site(smtp.port) as server, chromium() as browser:
        page = _page(browser)
        sign_in(page, server.base, service)
        _open_order(page, order)
        # Customer service sees no fulfilment button, and typing the URL is refused.
        assert page.get_by_role("button", name="Start preparation").count() == 0
        page.goto(f"{server.base}/shop/{shop_a.slug}/orders/{order.pk}/ship/")
        assert page.get_by_role("heading", name="Not allowed").is_visible()
        assert_accessible(page)
        screenshot(page, "backoffice-refused")
        page.get_by_role("button", name="Sign out").click()

        sign_in(page, server.base, logistics)
        assert page.get_by_role("link", name="Notifications", exact=True).count() == 0
        response = page.goto(f"{server.base}/shop/{shop_a.slug}/notifications/")
        assert response.status == 403
        assert page.get_by_text("does not allow this page or action").is_visible()
    order.refresh_from_db()
    assert order.status == "to_prepare"


PAGES = [
    ("notifications-rules", "backoffice:notifications-rules"),
    ("notifications-templates", "backoffice:notifications-templates"),
    ("notifications-branding", "backoffice:notifications-branding"),
    ("returns", "backoffice:returns-list"),
    ("settings", "backoffice:settings"),
    ("settings-locations", "backoffice:settings-locations"),
    ("settings-carriers", "backoffice:settings-carriers"),
    ("settings-api-keys", "backoffice:settings-api-keys"),
    ("settings-webhooks", "backoffice:settings-webhooks"),
    ("settings-policies", "backoffice:settings-policies"),
    ("operations", "backoffice:operations"),
]


def test_the_owners_pages_and_the_template_preview(shop_a: Shop, smtp: Any) -> None:
    from django.urls import reverse

    cache.clear()
    owner = staff_user(shop_a, Membership.Role.OWNER)
    shipped_order(shop_a)
    with site(smtp.port) as server, chromium() as browser:
        page = _page(browser)
        sign_in(page, server.base, owner)
        for name, url_name in PAGES:
            response = page.goto(server.base + reverse(url_name, args=[shop_a.slug]))
            assert response.status == 200, name
            assert_accessible(page)
            screenshot(page, f"backoffice-{name}")

        # The template editor previews as one types.
        editor = reverse(
            "backoffice:notifications-template", args=[shop_a.slug, "shipped", "sms", "en"]
        )
        page.goto(server.base + editor)
        page.get_by_label("SMS text").fill("Hello {{ customer.first_name }}, parcel on its way 🚚")
        page.get_by_text("UCS-2").first.wait_for()
        assert_accessible(page)
        screenshot(page, "backoffice-template-editor")
