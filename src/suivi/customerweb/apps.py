from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomerwebConfig(AppConfig):
    name = "suivi.customerweb"
    label = "customerweb"
    verbose_name = _("Customer web")

    def ready(self) -> None:
        from suivi.core.worker import register_job

        from .pages import refresh_changed

        register_job("customerweb.public_pages", 2.0, refresh_changed)
