"""Back-office URLs of the returns area (names prefixed ``returns-``)."""

from django.urls import path

from . import views_returns as views

urlpatterns = [
    path("", views.returns_list, name="returns-list"),
    path("<int:return_id>/", views.returns_detail, name="returns-detail"),
    path("<int:return_id>/approve", views.returns_approve, name="returns-approve"),
    path("<int:return_id>/refuse", views.returns_refuse, name="returns-refuse"),
    path("<int:return_id>/receive", views.returns_receive, name="returns-receive"),
    path("<int:return_id>/refund", views.returns_refund, name="returns-refund"),
    path("<int:return_id>/label", views.returns_label, name="returns-label"),
]
