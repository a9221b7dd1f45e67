"""URLs of archive in the customer space (mounted under /space/archive/)."""

from django.urls import path  # noqa: F401

app_name = "archive"

urlpatterns: list = []
