"""The v1 API object (placeholder until the API module lands)."""

from ninja import NinjaAPI

api = NinjaAPI(title="Suivi API", version="1", urls_namespace="api-v1")
