"""Channel registry: one file per channel or provider, one line here each."""

from __future__ import annotations

from functools import cache
from importlib import import_module

from django.conf import settings

from .base import Channel, Outcome, Outgoing

_REGISTRY = {
    "email": "suivi.notifications.channels.email:EmailChannel",
    "sms:twilio": "suivi.notifications.channels.sms_twilio:TwilioSms",
    "sms:brevo": "suivi.notifications.channels.sms_brevo:BrevoSms",
    "push": "suivi.notifications.channels.webpush:WebPushChannel",
    "webhook": "suivi.notifications.channels.webhook:WebhookChannel",
}


class ChannelNotConfigured(LookupError):
    """The operator has not configured a provider for this channel."""


def registry_key(channel: str) -> str:
    if channel == "sms":
        provider = settings.SUIVI_SMS_PROVIDER
        if not provider:
            raise ChannelNotConfigured("No SMS provider is configured (SUIVI_SMS_PROVIDER).")
        return f"sms:{provider}"
    return channel


@cache
def _load(key: str) -> Channel:
    try:
        path = _REGISTRY[key]
    except KeyError:
        raise ChannelNotConfigured(f"Unknown channel or provider {key!r}.") from None
    module, name = path.split(":")
    cls = getattr(import_module(module), name)
    instance: Channel = cls()
    return instance


def get_channel(channel: str) -> Channel:
    """Return the channel object for *channel* ("email", "sms", "push", "webhook")."""
    return _load(registry_key(channel))


def reset() -> None:
    """Forget built channels (tests that change provider settings)."""
    _load.cache_clear()


__all__ = ["Channel", "ChannelNotConfigured", "Outcome", "Outgoing", "get_channel", "reset"]
