"""Settings of ``bench/tracking_page.py``: Suivi's own, with the bench's URLs on top (the
same server process then serves the tracking page and the minimal view)."""

from suivi.settings import *  # noqa: F403

ROOT_URLCONF = "tracking_page_urls"
