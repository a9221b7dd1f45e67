from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArchiveConfig(AppConfig):
    name = "suivi.archive"
    label = "archive"
    verbose_name = _("Proofs of purchase")

    def ready(self) -> None:
        from . import wiring

        wiring.connect()
