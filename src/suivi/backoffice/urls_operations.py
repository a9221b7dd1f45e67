"""Back-office URLs of the operations area (names prefixed ``operations-``)."""

from django.urls import path

from .views_operations import overview, retry

urlpatterns = [
    path("", overview, name="operations"),
    path("messages/<int:message_id>/retry/", retry, name="operations-retry"),
]
