"""URLs of the proofs of purchase in the customer space (mounted under /space/documents/)."""

from django.urls import path

from . import views

app_name = "archive"

urlpatterns = [
    path("<int:order_id>/", views.document_list, name="list"),
    path("<int:order_id>/invoice/", views.invoice, name="invoice"),
    path(
        "<int:order_id>/credit-notes/<int:credit_note_id>/",
        views.credit_note,
        name="credit_note",
    ),
    path("<int:order_id>/<int:document_id>/", views.download, name="download"),
]
