from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "suivi.notifications"
    label = "notifications"

    def ready(self) -> None:
        from . import checks, wiring  # noqa: F401 - checks register themselves

        wiring.connect()
