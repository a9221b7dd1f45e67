"""SMS through Twilio's Programmable Messaging REST API.

One ``POST {SUIVI_TWILIO_API_URL}/2010-04-01/Accounts/{AccountSid}/Messages.json`` per
message, HTTP Basic auth (Account SID, Auth Token), form-encoded ``To``, ``From`` (or
``MessagingServiceSid``), ``Body`` and ``StatusCallback``. Twilio answers ``201`` with the
Message resource (its ``sid`` is the id the delivery receipts carry) or an error document
``{"code", "message", "more_info", "status"}`` whose ``code`` is in Twilio's error dictionary
(https://www.twilio.com/docs/api/errors).

Twilio has no idempotency key for message creation: a retry after a crash between its
``201`` and our commit may send the SMS twice. The dispatcher's lease makes that rare;
``accepts_idempotency_key`` says so honestly.

Parsing and classification are pure functions (:func:`build_form`, :func:`classify`) so
that they are unit-testable without a server; :class:`TwilioSms` only adds settings and I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from django.conf import settings

from suivi.core import http

from .base import Channel, Outcome, Outgoing, retry_after

API_PATH = "/2010-04-01/Accounts/{account_sid}/Messages.json"
CALLBACK_PATH = "/notifications/callbacks/twilio/"

# Error codes that say the *recipient number* cannot get SMS: the contact point is marked
# unusable so nothing more is planned to it. Twilio error dictionary:
#   21211 Invalid 'To' phone number            21614 'To' number is not a valid mobile number
#   21612 'To' number not currently reachable via SMS (To/From cannot be connected)
#   21635 'To' number cannot be a landline     21268 premium rate / information service number
#   21610 attempt to send to an unsubscribed recipient (the person replied STOP)
INVALID_RECIPIENT_CODES = frozenset({21211, 21268, 21612, 21614, 21635})
UNSUBSCRIBED_CODE = 21610

# An alphanumeric sender ID: 1 to 11 letters, digits or spaces, at least one letter
# (all digits would be read as a phone number).
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")


def messages_url(api_url: str, account_sid: str) -> str:
    """The Messages list resource of *account_sid* under the configured API base URL."""
    return api_url.rstrip("/") + API_PATH.format(account_sid=account_sid)


def status_callback_url(base_url: str) -> str:
    """Where Twilio posts delivery receipts, or "" when this Suivi has no public URL
    (then Twilio simply sends none and messages stay "sent")."""
    return base_url.rstrip("/") + CALLBACK_PATH if base_url else ""


def sender_fields(sender: str, configured_from: str) -> dict[str, str]:
    """Choose who the SMS comes from.

    The shop's alphanumeric sender ID (``content["sender"]``, e.g. "MaisonLum") is used when
    it is a valid one, because that is what the customer recognises; otherwise the
    operator's ``SUIVI_TWILIO_FROM``, which may be a phone number or a Messaging Service SID
    (``MG…``, then Twilio picks the number and the sender ID from the service's pool).
    """
    fields: dict[str, str] = {}
    if configured_from.startswith("MG"):
        fields["MessagingServiceSid"] = configured_from
    if sender and _ALPHANUMERIC_SENDER.match(sender):
        fields["From"] = sender
    elif configured_from and not configured_from.startswith("MG"):
        fields["From"] = configured_from
    return fields


def build_form(item: Outgoing, *, configured_from: str, base_url: str) -> dict[str, str]:
    """The form fields of the Create Message request for *item*."""
    form = {"To": item.recipient, "Body": str(item.content.get("text", ""))}
    form.update(sender_fields(str(item.content.get("sender", "") or ""), configured_from))
    callback = status_callback_url(base_url)
    if callback:
        form["StatusCallback"] = callback
    return form


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error_code(document: Mapping[str, Any]) -> int | None:
    code = document.get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return None


def classify(status_code: int, text: str, headers: Mapping[str, str]) -> Outcome:
    """Turn Twilio's answer to a Create Message request into an :class:`Outcome`.

    - 2xx: accepted; the Message ``sid`` is the provider id receipts refer to.
    - 400 with an invalid-recipient code or 21610 (STOP): permanent, contact invalidated.
    - 401/403 (code 20003 "Authenticate", suspended account) and 404 (unknown account SID,
      wrong API URL): *temporary*. They say our configuration is wrong, not the message;
      a permanent outcome would silently drop every SMS until the operator notices, whereas
      temporary keeps them in the outbox, retried with backoff, visible as failing attempts
      until the credentials are fixed.
    - 429 (code 20429) and 5xx: temporary, honouring ``Retry-After`` when given.
    - any other 4xx: permanent (the request itself is refused; retrying cannot help).
    - anything else (3xx from a misconfigured URL, 1xx): temporary.
    """
    document = _json_object(text)
    code = _error_code(document)
    message = str(document.get("message", "")) or text[:500]
    answer = f"{code}: {message}" if code is not None else message
    if 200 <= status_code < 300:
        sid = document.get("sid")
        if isinstance(sid, str) and sid:
            return Outcome.ok(sid, status_code, f"{document.get('status', 'accepted')}")
        # Accepted all the same: retrying would send the SMS twice.
        return Outcome.ok("", status_code, f"accepted without a sid: {text[:500]}")
    if status_code in (401, 403, 404):
        return Outcome.temporary(
            f"Twilio refused our credentials or account ({answer}); "
            "check SUIVI_TWILIO_ACCOUNT_SID / SUIVI_TWILIO_AUTH_TOKEN / SUIVI_TWILIO_API_URL",
            status_code,
        )
    if status_code == 429 or status_code >= 500:
        return Outcome.temporary(answer, status_code, retry_after(headers.get("Retry-After")))
    if 400 <= status_code < 500:
        if code in INVALID_RECIPIENT_CODES or code == UNSUBSCRIBED_CODE:
            return Outcome.permanent(answer, status_code, invalidate=True)
        return Outcome.permanent(answer, status_code)
    return Outcome.temporary(f"unexpected answer: {answer}", status_code)


class TwilioSms(Channel):
    """SMS via Twilio. No idempotency key: Twilio's Create Message has none."""

    name: ClassVar[str] = "sms"
    accepts_idempotency_key: ClassVar[bool] = False

    def send(self, item: Outgoing) -> Outcome:
        account_sid = settings.SUIVI_TWILIO_ACCOUNT_SID
        auth_token = settings.SUIVI_TWILIO_AUTH_TOKEN
        if not account_sid or not auth_token:
            # Configuration, not the message: keep it for when the operator fixes it.
            return Outcome.temporary(
                "Twilio is not configured (SUIVI_TWILIO_ACCOUNT_SID, SUIVI_TWILIO_AUTH_TOKEN)."
            )
        form = build_form(
            item, configured_from=settings.SUIVI_TWILIO_FROM, base_url=settings.BASE_URL
        )
        if "From" not in form and "MessagingServiceSid" not in form:
            return Outcome.temporary(
                "No SMS sender: set SUIVI_TWILIO_FROM or an alphanumeric shop sender."
            )
        try:
            response = http.request(
                "POST",
                messages_url(settings.SUIVI_TWILIO_API_URL, account_sid),
                headers={"Accept": "application/json"},
                data=form,
                auth=(account_sid, auth_token),
                timeout=settings.SUIVI_SMS_TIMEOUT_SECONDS,  # bounded wait per request
            )
        except httpx.TimeoutException as exc:
            return Outcome.temporary(f"timeout: {type(exc).__name__}: {exc}")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return Outcome.temporary(f"connection: {type(exc).__name__}: {exc}")
        return classify(response.status_code, response.text, response.headers)
