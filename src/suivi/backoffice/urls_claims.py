"""Back-office URLs of the claims area (names prefixed ``claims-``)."""

from django.urls import path

from . import views_claims as views

urlpatterns = [
    path("", views.claims_list, name="claims-list"),
    path("<int:claim_id>/", views.claims_detail, name="claims-detail"),
    path("<int:claim_id>/reply", views.claims_reply, name="claims-reply"),
    path("<int:claim_id>/assign", views.claims_assign, name="claims-assign"),
    path("<int:claim_id>/status", views.claims_status, name="claims-status"),
    path("<int:claim_id>/resolve", views.claims_resolve, name="claims-resolve"),
    path("<int:claim_id>/photos/<int:photo_id>", views.claims_photo, name="claims-photo"),
]
