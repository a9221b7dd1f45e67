from django.apps import AppConfig


class ShipmentsConfig(AppConfig):
    name = "suivi.shipments"
    label = "shipments"

    def ready(self) -> None:
        from . import wiring

        wiring.connect()
