"""Back-office URLs of the settings area (names prefixed ``settings-``)."""

from django.urls import path

from . import views_settings as views

urlpatterns = [
    path("", views.index, name="settings"),
    # Stores and warehouses
    path("locations/", views.location_list, name="settings-locations"),
    path("locations/new/", views.location_new, name="settings-location-new"),
    path("locations/<int:location_id>/", views.location_edit, name="settings-location-edit"),
    path(
        "locations/<int:location_id>/delete/",
        views.location_delete,
        name="settings-location-delete",
    ),
    # Carrier accounts
    path("carriers/", views.carrier_list, name="settings-carriers"),
    path("carriers/new/", views.carrier_new, name="settings-carrier-new"),
    path("carriers/<int:account_id>/delete/", views.carrier_delete, name="settings-carrier-delete"),
    path("carriers/<int:account_id>/test/", views.carrier_test, name="settings-carrier-test"),
    # API keys
    path("api-keys/", views.api_keys, name="settings-api-keys"),
    path(
        "api-keys/<int:key_id>/revoke/",
        views.api_key_revoke_view,
        name="settings-api-key-revoke",
    ),
    # Webhook endpoints
    path("webhooks/", views.webhook_list, name="settings-webhooks"),
    path("webhooks/new/", views.webhook_new, name="settings-webhook-new"),
    path("webhooks/<int:endpoint_id>/", views.webhook_edit, name="settings-webhook-edit"),
    path(
        "webhooks/<int:endpoint_id>/delete/",
        views.webhook_delete,
        name="settings-webhook-delete",
    ),
    path(
        "webhooks/<int:endpoint_id>/rotate-secret/",
        views.webhook_rotate,
        name="settings-webhook-rotate",
    ),
    path(
        "webhooks/<int:endpoint_id>/enable/",
        views.webhook_enable,
        name="settings-webhook-enable",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/",
        views.webhook_deliveries,
        name="settings-webhook-deliveries",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:message_id>/replay/",
        views.webhook_replay,
        name="settings-webhook-replay",
    ),
    # Policies and delivery promises
    path("policies/", views.policies_view, name="settings-policies"),
    path("policies/promises/", views.promises_save, name="settings-promises"),
]
