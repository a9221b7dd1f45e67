"""The back office in a real browser (Debian Chromium, headless, through Playwright)
against Suivi's real servers and worker, the customer's emails read from a real SMTP
server: the scenarios of issue 6. Desktop screenshots go to var/test-artifacts/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache

from suivi.customerweb.tests.browser import DESKTOP, assert_accessible, chromium, screenshot, site
from suivi.shops.models import Membership, Shop

from .browser_staff import sign_in
from .support import staff_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _page(browser: Any) -> Any:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    return context.new_page()


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
