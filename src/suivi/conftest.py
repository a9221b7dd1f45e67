"""Shared fixtures: always two shops, so that a tenant leak fails a test."""

from __future__ import annotations

import os

import pytest

from suivi.shops.models import Shop
from suivi.shops.services import IssuedApiKey, api_key_create
from suivi.testing import make_shop


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    return (
        f"suivi database: {settings.DATABASES['default']['ENGINE']} (CI={os.environ.get('CI', '')})"
    )


@pytest.fixture
def shop_a(db: None) -> Shop:
    return make_shop("Maison Lumière", invoicing_enabled=True)


@pytest.fixture
def shop_b(db: None) -> Shop:
    return make_shop("Épicerie Bleue")


@pytest.fixture
def key_a(shop_a: Shop) -> IssuedApiKey:
    return api_key_create(shop=shop_a, name="tests A")


@pytest.fixture
def key_b(shop_b: Shop) -> IssuedApiKey:
    return api_key_create(shop=shop_b, name="tests B")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI=true a skipped test is a failure: a missing service must not pass silently."""
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("CI", "").lower() == "true"
        and report.skipped
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under CI=true (a required service or part did not run): {report.longrepr}"
        )


@pytest.fixture(autouse=True)
def _fresh_notification_config() -> None:
    """Shop ids are reused between tests on SQLite: never carry a cached configuration over."""
    from suivi.notifications import config

    config.forget()
