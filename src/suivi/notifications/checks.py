"""System checks: configuration mistakes that silently break a channel."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register(deploy=True)  # `suivi manage check --deploy`: a dev machine has no real contact
def vapid_subject_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Apple's push service refuses a VAPID subject on localhost (403 BadJwtToken)."""
    subject = settings.SUIVI_VAPID_SUBJECT
    if subject.endswith("@localhost") or "://localhost" in subject:
        return [
            Warning(
                f"SUIVI_VAPID_SUBJECT is {subject!r}: push services (Apple's at least) refuse "
                "a contact on localhost, so web push to Safari will fail.",
                hint="Set SUIVI_VAPID_SUBJECT to a real mailto: address or https: URL.",
                id="suivi.W001",
            )
        ]
    return []


@register()
def sms_provider_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A configured SMS provider without its credentials would retry every SMS for hours."""
    provider = settings.SUIVI_SMS_PROVIDER
    missing = {
        "twilio": [
            name
            for name in ("SUIVI_TWILIO_ACCOUNT_SID", "SUIVI_TWILIO_AUTH_TOKEN", "SUIVI_TWILIO_FROM")
            if not getattr(settings, name)
        ],
        "brevo": [name for name in ("SUIVI_BREVO_API_KEY",) if not getattr(settings, name)],
    }
    if provider and provider not in missing:
        return [
            Warning(
                f"SUIVI_SMS_PROVIDER is {provider!r}, which Suivi does not know.",
                hint="Use twilio or brevo, or leave it empty.",
                id="suivi.W002",
            )
        ]
    if provider and missing[provider]:
        return [
            Warning(
                f"The {provider} SMS provider is selected but {', '.join(missing[provider])} "
                "is not set: every SMS will wait and retry.",
                id="suivi.W003",
            )
        ]
    return []
