"""Back-office URLs of the operations area (names prefixed ``operations-``)."""

from django.urls import path

from . import views

# Placeholder until the area's views land: the shop's home page under the area's name.
urlpatterns = [path("", views.home, name="operations")]
