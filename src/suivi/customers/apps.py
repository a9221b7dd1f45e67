from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "suivi.customers"
    label = "customers"
