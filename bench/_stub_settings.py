"""Settings for ``--api stub``: Suivi's settings with the stub API's URLs."""

from suivi.settings import *  # noqa: F403

ROOT_URLCONF = "_stub_api"
