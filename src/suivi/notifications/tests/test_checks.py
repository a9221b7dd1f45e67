"""System checks warn about configurations that silently break a channel."""

from __future__ import annotations

from typing import Any

from suivi.notifications.checks import sms_provider_check, vapid_subject_check


def test_a_localhost_vapid_subject_is_warned_about(settings: Any) -> None:
    settings.SUIVI_VAPID_SUBJECT = "mailto:operator@localhost"
    assert [w.id for w in vapid_subject_check()] == ["suivi.W001"]
    settings.SUIVI_VAPID_SUBJECT = "mailto:ops@shop.example"
    assert vapid_subject_check() == []


def test_an_sms_provider_without_credentials_is_warned_about(settings: Any) -> None:
    settings.SUIVI_SMS_PROVIDER = "twilio"
    settings.SUIVI_TWILIO_ACCOUNT_SID = ""
    [warning] = sms_provider_check()
    assert warning.id == "suivi.W003" and "SUIVI_TWILIO_ACCOUNT_SID" in warning.msg
    settings.SUIVI_SMS_PROVIDER = "carrier-pigeon"
    assert [w.id for w in sms_provider_check()] == ["suivi.W002"]
    settings.SUIVI_SMS_PROVIDER = ""
    assert sms_provider_check() == []
