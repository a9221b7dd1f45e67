"""Fixtures of the notification tests: a real SMTP server and the settings to reach it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from suivi.notifications import channels

from .smtp_server import SMTPServer


@pytest.fixture
def smtp(settings: Any) -> Iterator[SMTPServer]:
    server = SMTPServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "notifications@suivi.test"
    settings.BASE_URL = "https://suivi.test"
    channels.reset()
    yield server
    server.stop()
    channels.reset()
