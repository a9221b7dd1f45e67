"""Fixtures of the customer-web tests: the notification tests' real SMTP server."""

from suivi.notifications.tests.conftest import smtp

__all__ = ["smtp"]
