"""Playwright steps shared by the back-office browser tests: signing a staff member in
through allauth's real pages (password, then the authenticator code for owners)."""

from __future__ import annotations

import re
from typing import Any

from .support import PASSWORD, totp_code


def sign_in(page: Any, base: str, user: Any) -> None:
    """Sign *user* in with their password (and TOTP code if they have one)."""
    page.goto(f"{base}/accounts/login/")
    page.locator("input[name=login]").fill(user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    if user.totp_secret:
        page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
        page.locator("input[name=code]").fill(totp_code(user.totp_secret))
        page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/shop/"), timeout=30000)


def sign_out(page: Any) -> None:
    page.get_by_role("button", name=re.compile("Sign out|Se déconnecter")).click()
