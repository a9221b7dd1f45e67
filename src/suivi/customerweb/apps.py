from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomerwebConfig(AppConfig):
    name = "suivi.customerweb"
    label = "customerweb"
    verbose_name = _("Customer web")
