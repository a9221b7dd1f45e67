from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "suivi.core"
    label = "core"
