from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "suivi.shops"
    label = "shops"
    verbose_name = "Shops"
