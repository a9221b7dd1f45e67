"""The customer's journey in a real browser (Debian Chromium, headless, through Playwright)
against Suivi's real servers: look an order up, watch it change live when the carrier
pushes an event, sign up, see the history, download the invoice, file a claim with a photo,
request a return, change preferences, subscribe this device to push. Screenshots at phone
and desktop sizes are kept under var/test-artifacts/screenshots/."""

from __future__ import annotations

import base64
import io
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.cache import cache
from PIL import Image

from suivi.carriers.vocabulary import Status
from suivi.notifications import links
from suivi.notifications.models import CustomerPreference, PushSubscription

from .browser import DESKTOP, PHONE, assert_accessible, chromium, screenshot, site
from .support import PERSONAL, event, push, shipped_order

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "Une-phrase-longue-42"


def _push_stub() -> str:
    """Chromium's push service is Google's (no network here): the browser's subscribe() is
    replaced by one returning a subscription with a real P-256 key, as a browser would."""
    key = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    p256dh = base64.urlsafe_b64encode(key).decode().rstrip("=")
    auth = base64.urlsafe_b64encode(b"browser-auth-16b").decode().rstrip("=")
    return f"""
    if (window.PushManager) {{
      PushManager.prototype.subscribe = function () {{
        return Promise.resolve({{ toJSON: function () {{ return {{
          endpoint: "https://127.0.0.1:9/push/device-1",
          keys: {{ p256dh: "{p256dh}", auth: "{auth}" }} }}; }} }});
      }};
    }}"""


def test_the_customer_journey(shop_a, smtp, tmp_path) -> None:
    cache.clear()
    shop_a.invoicing_enabled = True
    shop_a.support_email = "service@lumiere.example"
    shop_a.save()
    order = shipped_order(shop_a)
    assert order.invoice.number  # the shop invoices at payment
    number = "6A12345678901"
    with site(smtp.port) as server, chromium() as browser:
        for viewport in (PHONE, DESKTOP):
            context = browser.new_context(viewport=viewport, locale="fr-FR")
            page = context.new_page()
            page.goto(f"{server.base}/track/")
            screenshot(page, "lookup")
            page.close()
            context.close()

        context = browser.new_context(viewport=PHONE, locale="fr-FR")
        context.grant_permissions(["notifications"], origin=server.base)
        context.add_init_script(_push_stub())
        page = context.new_page()

        # 1. Look the order up (number + email: proof of ownership in this browser), with
        #    the keyboard only.
        page.goto(f"{server.base}/track/")
        assert_accessible(page)
        for _ in range(20):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.name") == "reference":
                break
        assert page.evaluate("document.activeElement.name") == "reference"
        page.keyboard.type(order.reference)
        page.keyboard.press("Tab")
        page.keyboard.type(order.email)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/t/"))
        assert_accessible(page)
        assert PERSONAL["line"] in page.content()
        screenshot(page, "tracking")

        # 2. The carrier pushes "delivered": the page changes without a reload.
        page.evaluate("window.__sameDocument = true")
        page.wait_for_timeout(1500)  # the stream is open and the poller has its marks
        push(shop_a, number, [event(number, Status.DELIVERED, 0.01, "Votre colis est livré.",
                                    "Lyon 2", code="DI1")])  # fmt: skip
        page.get_by_text("Votre colis est livré.").wait_for(timeout=15000)
        assert page.evaluate("window.__sameDocument") is True
        screenshot(page, "tracking-live-update")

        # 3. Sign up with the order's email, confirm it from the email received.
        page.goto(f"{server.base}/accounts/signup/")
        page.locator("input[name=email]").fill(order.email)
        page.locator("input[name=password1]").fill(PASSWORD)
        page.locator("input[name=password2]").fill(PASSWORD)
        assert_accessible(page)
        screenshot(page, "signup")
        page.locator("main form button[type=submit]").last.click()
        messages = smtp.wait_for(1, timeout=15)
        assert messages, "no confirmation email"
        body = messages[-1].message.get_body(("plain",)).get_content()
        confirm = re.search(r"http://127\.0\.0\.1:\d+/accounts/confirm-email/\S+", body).group(0)
        page.goto(confirm)
        page.locator("main form button[type=submit]").last.click()
        page.goto(f"{server.base}/accounts/login/")
        page.locator("input[name=login]").fill(order.email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_url(re.compile(r"/space/"))

        # 4. The history, then the order.
        assert order.reference in page.content()
        assert_accessible(page)
        screenshot(page, "history")
        page.get_by_role("link", name=re.compile(order.reference)).click()
        page.wait_for_url(re.compile(rf"/space/orders/{order.pk}/"))
        assert_accessible(page)
        screenshot(page, "order")
        _journey_documents_claims_returns(page, server, order, tmp_path)

        # 8. Preferences: SMS on, quiet hours.
        page.goto(f"{server.base}/space/preferences/")
        page.get_by_label("SMS").check()
        page.locator("input[name$=quiet_start]").fill("22:00")
        page.get_by_role("button", name=re.compile("Enregistrer|Save")).click()
        page.get_by_text(re.compile("enregistrés|saved")).wait_for()
        pref = CustomerPreference.objects.get(customer_id=order.customer_id)
        assert "sms" in pref.channels and str(pref.quiet_start) == "22:00:00"
        assert_accessible(page)
        screenshot(page, "preferences")

        # 9. This device subscribes to push notifications.
        page.goto(f"{server.base}/space/account/")
        page.get_by_role("button", name=re.compile("notifications")).click()
        page.locator("#push-status").get_by_text(re.compile(".+")).wait_for()
        assert PushSubscription.objects.filter(
            customer_id=order.customer_id, endpoint="https://127.0.0.1:9/push/device-1"
        ).exists(), page.locator("#push-status").inner_text()
        assert_accessible(page)
        screenshot(page, "account")
        context.close()

        # The same pages at desktop size.
        context = browser.new_context(viewport=DESKTOP, locale="en-GB")
        page = context.new_page()
        page.goto(f"{server.base}/accounts/login/")
        page.locator("input[name=login]").fill(order.email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_url(re.compile(r"/space/"))
        screenshot(page, "history")
        page.goto(f"{server.base}/space/orders/{order.pk}/")
        screenshot(page, "order")
        for name, path in (("tracking", f"/t/{links.tracking_token(order.pk)}"),
                           ("claims", "/space/claims/"), ("returns", "/space/returns/"),
                           ("documents", f"/space/documents/{order.pk}/"),
                           ("preferences", "/space/preferences/"), ("account", "/space/account/"),
                           ("guide", "/guide/")):  # fmt: skip
            page.goto(f"{server.base}{path}")
            assert_accessible(page)
            screenshot(page, name)
        # The public page (no session) in another browser: no personal data.
        public = browser.new_context(viewport=PHONE)
        other = public.new_page()
        other.goto(f"{server.base}/t/{links.tracking_token(order.pk)}")
        assert PERSONAL["street"] not in other.content() and PERSONAL["line"] not in other.content()
        screenshot(other, "tracking-public")
        public.close()
        context.close()


def _journey_documents_claims_returns(page, server, order, tmp_path) -> None:
    from pypdf import PdfReader

    # 5. The invoice, as a PDF whose text is the invoice's.
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(order.invoice.number)).click()
    pdf = PdfReader(download.value.path())
    text = "\n".join(p.extract_text() for p in pdf.pages)
    assert order.invoice.number in text and order.reference in text
    assert "Pull marin" in text

    # 6. A claim with a photo.
    page.get_by_role("link", name=re.compile("Signaler un problème|Report a problem")).click()
    page.wait_for_url(re.compile(r"/space/claims/new"))
    page.get_by_label(re.compile("endommagé|Damaged", re.I)).check()
    page.get_by_label(re.compile("Décrivez|Describe")).fill("Le carton est arrivé écrasé.")
    photo = tmp_path / "carton.jpg"
    photo.write_bytes(photo_bytes())
    page.locator("input[type=file][name=photos]").set_input_files(str(photo))
    assert_accessible(page)
    screenshot(page, "claim-form")
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/space/claims/\d+/$"))
    assert "Le carton est arrivé écrasé." in page.content()
    image = page.locator("main img").first
    assert image.evaluate("i => i.complete && i.naturalWidth > 0")
    screenshot(page, "claim")

    # 7. A return of one item, the order being delivered.
    page.goto(f"{server.base}/space/orders/{order.pk}/")
    page.get_by_role("link", name=re.compile("Retourner des articles|Return items")).click()
    page.wait_for_url(re.compile(r"/space/returns/new/"))
    first_line = order.lines.order_by("position").first()
    page.locator(f"select[name=qty_{first_line.pk}]").select_option("1")
    page.locator(f"select[name=reason_{first_line.pk}]").select_option(index=1)
    assert_accessible(page)
    screenshot(page, "return-form")
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/space/returns/\d+/$"))
    screenshot(page, "return")


def photo_bytes() -> bytes:
    image = Image.new("RGB", (640, 480), (200, 80, 40))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()
