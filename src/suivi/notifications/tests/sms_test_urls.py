"""A tiny URLconf for the SMS callback tests: the two routes the lead mounts in the real
``urls.py``, at the same paths (the StatusCallback / webUrl the channels send)."""

from django.urls import path

from suivi.notifications import views_sms

urlpatterns = [
    path("notifications/callbacks/twilio/", views_sms.twilio_status, name="sms-twilio-status"),
    path("notifications/callbacks/brevo/", views_sms.brevo_status, name="sms-brevo-status"),
]
