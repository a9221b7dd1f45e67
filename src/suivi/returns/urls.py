"""URLs of returns in the customer space (mounted under /space/returns/)."""

from django.urls import path  # noqa: F401

app_name = "returns"

urlpatterns: list = []
