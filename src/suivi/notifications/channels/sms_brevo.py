"""SMS through Brevo's transactional SMS API.

One ``POST {SUIVI_BREVO_API_URL}/v3/transactionalSMS/send`` per message (the current
endpoint; ``/v3/transactionalSMS/sms`` is deprecated), authenticated by the ``api-key``
header, JSON body ``{sender, recipient, content, type, tag, webUrl, unicodeEnabled}``.
Brevo answers ``201 {"messageId": …}``; errors are ``{"code", "message"}`` with HTTP 400
(``invalid_parameter``, ``missing_parameter``…), 401 (``unauthorized``), 402
(``not_enough_credits``), 403 (``permission_denied``), 429 (rate limit, with
``x-sib-ratelimit-reset``) or 5xx. See https://developers.brevo.com/docs/transactional-sms-endpoints
and https://developers.brevo.com/docs/how-it-works.

Brevo's recipient is the international number *without* the leading "+" (its example is
``33689965433``). Its delivery reports go to ``webUrl``, which carries our shared token
(``?token=SUIVI_BREVO_WEBHOOK_TOKEN``) because Brevo does not sign SMS webhooks.

Brevo has no idempotency key either: ``accepts_idempotency_key`` is False.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from django.conf import settings

from suivi.core import http

from .base import Channel, Outcome, Outgoing, retry_after

API_PATH = "/v3/transactionalSMS/send"
CALLBACK_PATH = "/notifications/callbacks/brevo/"

# GSM 03.38 default alphabet and its extension table (an extension character costs two
# septets but needs no Unicode). Anything else — "ê", "ç", "’", "«", emoji — makes Brevo
# send UCS-2, which it only does when told ``unicodeEnabled``; otherwise such characters
# arrive as "?" on the handset.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# Words in an ``invalid_parameter`` message that point at the recipient number rather than
# at our sender or content (Brevo does not document a dedicated code for a bad number).
_RECIPIENT_WORDS = ("recipient", "phone", "mobile", "msisdn")


def is_gsm7(text: str) -> bool:
    """Whether *text* fits the GSM 7-bit alphabet (no Unicode needed)."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def brevo_recipient(e164: str) -> str:
    """Brevo wants the international number as digits: ``+33612345678`` → ``33612345678``."""
    return e164.strip().removeprefix("+")


def send_url(api_url: str) -> str:
    return api_url.rstrip("/") + API_PATH


def webhook_url(base_url: str, token: str) -> str:
    """Where Brevo posts delivery reports, or "" when it could not reach or prove itself
    (no public base URL, or no shared token: the view refuses everything then)."""
    if not base_url or not token:
        return ""
    return f"{base_url.rstrip('/')}{CALLBACK_PATH}?token={quote(token, safe='')}"


def build_payload(
    item: Outgoing, *, default_sender: str, base_url: str, webhook_token: str
) -> dict[str, Any]:
    """The JSON body of the send request for *item*."""
    text = str(item.content.get("text", ""))
    payload: dict[str, Any] = {
        "sender": str(item.content.get("sender", "") or "") or default_sender,
        "recipient": brevo_recipient(item.recipient),
        "content": text,
        "type": "transactional",
        "tag": f"suivi-shop-{item.shop_id}",
    }
    callback = webhook_url(base_url, webhook_token)
    if callback:
        payload["webUrl"] = callback
    if not is_gsm7(text):
        payload["unicodeEnabled"] = True
    return payload


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _wait(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: ``Retry-After`` if present, else Brevo's ``x-sib-ratelimit-reset``."""
    return retry_after(headers.get("Retry-After")) or retry_after(
        headers.get("x-sib-ratelimit-reset")
    )


def classify(status_code: int, text: str, headers: Mapping[str, str]) -> Outcome:
    """Turn Brevo's answer to a send request into an :class:`Outcome`.

    - 2xx: accepted; ``messageId`` (a number) is the provider id of the delivery reports.
    - 400 ``invalid_parameter`` about the recipient: permanent, contact invalidated; any
      other 400 (missing parameter, sender too long…): permanent without invalidation.
    - 401 (bad key, unrecognised IP), 402 ``not_enough_credits``, 403 (SMS not enabled on
      the account) and 404 (wrong API URL): *temporary*. The operator must act and nothing
      is wrong with the message, so it stays in the outbox and is retried with backoff
      instead of being dropped.
    - 429 and 5xx: temporary, waiting as long as Brevo says.
    - other 4xx: permanent; anything else: temporary.
    """
    document = _json_object(text)
    code = str(document.get("code", ""))
    message = str(document.get("message", "")) or text[:500]
    answer = f"{code}: {message}" if code else message
    if 200 <= status_code < 300:
        message_id = document.get("messageId")
        if (
            isinstance(message_id, int | str)
            and not isinstance(message_id, bool)
            and str(message_id)
        ):
            return Outcome.ok(str(message_id), status_code, "accepted")
        return Outcome.ok("", status_code, f"accepted without a messageId: {text[:500]}")
    if status_code in (401, 402, 403, 404):
        return Outcome.temporary(
            f"Brevo refused the account or its credits ({answer}); "
            "check SUIVI_BREVO_API_KEY, SMS credits and SUIVI_BREVO_API_URL",
            status_code,
        )
    if status_code == 429 or status_code >= 500:
        return Outcome.temporary(answer, status_code, _wait(headers))
    if status_code == 400:
        lowered = message.lower()
        about_recipient = any(word in lowered for word in _RECIPIENT_WORDS)
        return Outcome.permanent(
            answer, status_code, invalidate=code == "invalid_parameter" and about_recipient
        )
    if 400 <= status_code < 500:
        return Outcome.permanent(answer, status_code)
    return Outcome.temporary(f"unexpected answer: {answer}", status_code)


class BrevoSms(Channel):
    """SMS via Brevo. No idempotency key: Brevo's send endpoint has none."""

    name: ClassVar[str] = "sms"
    accepts_idempotency_key: ClassVar[bool] = False

    def send(self, item: Outgoing) -> Outcome:
        api_key = settings.SUIVI_BREVO_API_KEY
        if not api_key:
            return Outcome.temporary("Brevo is not configured (SUIVI_BREVO_API_KEY).")
        payload = build_payload(
            item,
            default_sender=settings.SUIVI_SMS_SENDER,
            base_url=settings.BASE_URL,
            webhook_token=settings.SUIVI_BREVO_WEBHOOK_TOKEN,
        )
        if not payload["sender"]:
            return Outcome.temporary("No SMS sender: set SUIVI_SMS_SENDER or a shop sender.")
        try:
            response = http.request(
                "POST",
                send_url(settings.SUIVI_BREVO_API_URL),
                headers={"api-key": api_key, "Accept": "application/json"},
                json=payload,
                timeout=settings.SUIVI_SMS_TIMEOUT_SECONDS,  # bounded wait per request
            )
        except httpx.TimeoutException as exc:
            return Outcome.temporary(f"timeout: {type(exc).__name__}: {exc}")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return Outcome.temporary(f"connection: {type(exc).__name__}: {exc}")
        return classify(response.status_code, response.text, response.headers)
