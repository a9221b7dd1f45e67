"""Back-office URLs of the notifications area (names prefixed ``notifications-``)."""

from django.urls import path

from . import views_notifications as views

_TEMPLATE = "templates/<slug:event_key>/<slug:channel>/<slug:locale>/"

urlpatterns = [
    path("", views.rules, name="notifications-rules"),
    path("rules/save/", views.rules_save, name="notifications-rules-save"),
    path("rules/reset/", views.rules_reset_view, name="notifications-rules-reset"),
    path("settings/", views.settings_page, name="notifications-settings"),
    path("settings/save/", views.settings_save, name="notifications-settings-save"),
    path("branding/", views.branding_page, name="notifications-branding"),
    path("branding/save/", views.branding_save, name="notifications-branding-save"),
    path("branding/logo/", views.branding_logo, name="notifications-branding-logo"),
    path("templates/", views.templates_list, name="notifications-templates"),
    path(_TEMPLATE, views.template_editor, name="notifications-template"),
    path(_TEMPLATE + "save/", views.template_save, name="notifications-template-save"),
    path(_TEMPLATE + "reset/", views.template_reset, name="notifications-template-reset"),
    path(_TEMPLATE + "preview/", views.preview, name="notifications-preview"),
    path(_TEMPLATE + "test/", views.test_send, name="notifications-test"),
]
