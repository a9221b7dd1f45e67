from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "suivi.api"
    label = "api"

    def ready(self) -> None:
        from suivi.core.worker import register_job

        from .jobs import purge_idempotency_records

        register_job("api.purge_idempotency_records", 15 * 60, purge_idempotency_records)
