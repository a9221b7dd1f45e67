"""URLs of claims in the customer space (mounted under /space/claims/)."""

from django.urls import path  # noqa: F401

app_name = "claims"

urlpatterns: list = []
