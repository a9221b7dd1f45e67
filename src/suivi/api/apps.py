from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "suivi.api"
    label = "api"
