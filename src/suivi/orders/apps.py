from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "suivi.orders"
    label = "orders"
