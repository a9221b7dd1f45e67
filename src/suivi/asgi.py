"""ASGI entry point of the live-updates process (``granian --interface asgi suivi.asgi:application``).

Only the tracking page's Server-Sent Events are served here (see
:mod:`suivi.customerweb.live`); every other page is served by the WSGI server.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "suivi.settings")
django.setup()

from suivi.customerweb.live import application  # noqa: E402

__all__ = ["application"]
