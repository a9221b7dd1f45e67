"""Back-office URLs of the orders area (names prefixed ``orders-``)."""

from django.urls import path

from . import views_orders as views

urlpatterns = [
    path("", views.order_list, name="orders-list"),
    path("actions/", views.order_bulk, name="orders-bulk"),
    path("<int:order_id>/", views.order_page, name="orders-detail"),
    path("<int:order_id>/action/", views.order_action, name="orders-action"),
    path("<int:order_id>/ship/", views.order_ship, name="orders-ship"),
    path("<int:order_id>/cancel/", views.order_cancel_view, name="orders-cancel"),
    path(
        "<int:order_id>/lines/<int:position>/cancel/",
        views.order_cancel_line,
        name="orders-cancel-line",
    ),
    path(
        "<int:order_id>/messages/<int:message_id>/resend/",
        views.order_resend,
        name="orders-resend",
    ),
]
