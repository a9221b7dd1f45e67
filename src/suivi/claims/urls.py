"""URLs of claims in the customer space (mounted under /space/claims/)."""

from django.urls import path

from . import views

app_name = "claims"

urlpatterns = [
    path("", views.claim_list, name="list"),
    path("new/", views.claim_new, name="new"),
    path("<int:claim_id>/", views.claim_detail, name="detail"),
    path("<int:claim_id>/photos/<int:photo_id>", views.claim_photo, name="photo"),
]
