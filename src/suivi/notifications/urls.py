"""Public URLs of the notification engine: message links and provider callbacks."""

from django.urls import include, path

from . import views, views_sms

app_name = "notifications"

urlpatterns = [
    path("p/<str:token>", views.preferences, name="preferences"),
    path("notifications/callbacks/twilio/", views_sms.twilio_status, name="twilio-status"),
    path("notifications/callbacks/brevo/", views_sms.brevo_status, name="brevo-status"),
    path("notifications/esp/", include("anymail.urls")),
]
