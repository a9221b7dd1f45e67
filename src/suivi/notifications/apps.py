from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "suivi.notifications"
    label = "notifications"

    def ready(self) -> None:
        from . import wiring

        wiring.connect()
