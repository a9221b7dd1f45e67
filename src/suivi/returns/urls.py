"""URLs of returns in the customer space (mounted under /space/returns/)."""

from django.urls import path

from . import views

app_name = "returns"

urlpatterns = [
    path("", views.return_list, name="list"),
    path("new/<int:order_id>/", views.return_new, name="new"),
    path("<int:return_id>/", views.return_detail, name="detail"),
    path("<int:return_id>/cancel", views.return_cancel, name="cancel"),
    path("<int:return_id>/label", views.return_label, name="label"),
]
