"""Delivery receipts of the SMS providers: Twilio's StatusCallback and Brevo's SMS webhook.

Both views authenticate first (Twilio: ``X-Twilio-Signature``, HMAC-SHA1 with the Auth
Token; Brevo: the shared ``?token=`` we put in ``webUrl``, compared in constant time),
then parse the provider's fields with pure functions and hand a :class:`Receipt` to
:func:`apply_receipt`. They never answer 500: a refused caller gets 403, a bad body 400,
and a database failure 503 (Brevo retries; Twilio does not retry status callbacks, the
message then simply stays "sent").

An unknown message id is answered 204 like a known one: the receipt may belong to another
system sharing the provider account, and a non-2xx would only make the provider retry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from suivi.api.problems import problem_response

from .receipts import Receipt, apply_receipt

logger = logging.getLogger("suivi.notifications")

SIGNATURE_HEADER = "HTTP_X_TWILIO_SIGNATURE"

# Twilio delivery error codes that mean the number itself cannot receive SMS
# (https://www.twilio.com/docs/api/errors): 30005 unknown destination handset (the number
# does not exist or is no longer in service), 30006 landline or unreachable carrier, and
# the API-time codes that can also come back here when a Messaging Service sends
# (21211 invalid number, 21612 not reachable via SMS, 21614 not a mobile number, 21635
# landline, 21610 the recipient replied STOP). 30003 (handset switched off or out of
# coverage) is deliberately *not* here: it is usually transient.
TWILIO_PERMANENT_ERRORS = frozenset({"21211", "21610", "21612", "21614", "21635", "30005", "30006"})
TWILIO_FAILED = frozenset({"undelivered", "failed"})
TWILIO_DELIVERED = frozenset({"delivered", "read"})

# Brevo SMS events (https://developers.brevo.com/docs/transactional-webhooks): the webhook
# says ``msg_status`` in snake case ("sent", "delivered", "soft_bounce", "hard_bounce"),
# the events API in camel case ("softBounce", "hardBounce", "rejected", "skip"…); both are
# accepted. A hard bounce means the number is invalid; a soft bounce (handset off for the
# whole validity period, full memory) and "rejected"/"skip" end this message without
# condemning the number.
BREVO_DELIVERED = frozenset({"delivered"})
BREVO_PERMANENT = frozenset({"hard_bounce"})
BREVO_FAILED = frozenset({"hard_bounce", "soft_bounce", "rejected", "skip", "skipped", "error"})


# --- Twilio -------------------------------------------------------------------------


def twilio_signature(auth_token: str, url: str, params: Mapping[str, Sequence[str]]) -> str:
    """Twilio's signature of a form POST: base64(HMAC-SHA1(token, url + name+value…)),
    the parameters sorted by name (and a repeated name's values sorted too)."""
    data = url
    for name in sorted(params):
        for value in sorted(params[name]):
            data += name + value
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> list[str]:
    """*url* as given, without and with its scheme's default port: Twilio may sign either
    form of an ``https`` URL depending on how the callback URL was written."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    variants = [url]
    if default is None or parts.hostname is None:
        return variants
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    if parts.port == default:
        netloc = prefix + host
    elif parts.port is None:
        netloc = f"{prefix}{host}:{default}"
    else:
        return variants
    variants.append(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))
    return variants


def twilio_signature_valid(
    auth_token: str, urls: Iterable[str], params: Mapping[str, Sequence[str]], signature: str
) -> bool:
    """Whether *signature* matches one of the URLs this request may have been sent to."""
    if not auth_token or not signature:
        return False
    for url in urls:
        for variant in url_variants(url):
            expected = twilio_signature(auth_token, variant, params)
            if hmac.compare_digest(expected.encode(), signature.encode()):
                return True
    return False


def parse_twilio_status(params: Mapping[str, str]) -> Receipt | None:
    """The receipt told by a StatusCallback, or None without a message sid or status."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
    if not sid or not status:
        return None
    error_code = (params.get("ErrorCode") or "").strip()
    failed = status in TWILIO_FAILED
    detail = f"ErrorCode {error_code}" if error_code else ""
    return Receipt(
        channel="sms",
        provider_message_id=sid,
        status=status,
        delivered=status in TWILIO_DELIVERED,
        failed=failed,
        permanent=failed and error_code in TWILIO_PERMANENT_ERRORS,
        detail=detail,
    )


def _twilio_urls(request: HttpRequest) -> list[str]:
    """The URLs Twilio may have signed: our public one (what we gave as StatusCallback,
    unaffected by a TLS-terminating proxy) and the one this request arrived on."""
    urls = []
    if settings.BASE_URL:
        urls.append(settings.BASE_URL.rstrip("/") + request.get_full_path())
    try:
        urls.append(request.build_absolute_uri())
    except Exception:  # a Host not in ALLOWED_HOSTS: only the public URL can match
        logger.debug("twilio callback: cannot rebuild the request URL", exc_info=True)
    return urls


@csrf_exempt
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's StatusCallback for an SMS: verify, then record the delivery status."""
    if request.method != "POST":
        return _method_not_allowed()
    try:
        params = {name: request.POST.getlist(name) for name in request.POST}
    except Exception:  # unreadable form (wrong encoding, too many fields)
        return problem_response(code="invalid-input", status=400, detail="Unreadable form body.")
    signature = request.META.get(SIGNATURE_HEADER, "")
    if not twilio_signature_valid(
        settings.SUIVI_TWILIO_AUTH_TOKEN, _twilio_urls(request), params, signature
    ):
        logger.warning("twilio callback refused: missing or wrong X-Twilio-Signature")
        return problem_response(
            code="invalid-signature", status=403, detail="Missing or wrong X-Twilio-Signature."
        )
    receipt = parse_twilio_status({name: values[-1] for name, values in params.items()})
    if receipt is None:
        return problem_response(
            code="invalid-input", status=400, detail="MessageSid and MessageStatus are required."
        )
    return _apply(receipt)


# --- Brevo --------------------------------------------------------------------------


def _snake(word: str) -> str:
    """``hardBounce`` → ``hard_bounce`` (Brevo spells its SMS events both ways)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", word.strip()).lower()


def parse_brevo_event(event: Mapping[str, Any]) -> Receipt | None:
    """The receipt told by one Brevo SMS event, or None without a message id or status."""
    raw_id = event.get("messageId")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or not str(raw_id):
        return None
    raw_status = event.get("msg_status") or event.get("event") or event.get("status")
    if not isinstance(raw_status, str) or not raw_status.strip():
        return None
    status = _snake(raw_status)
    reason = event.get("description") or event.get("reason") or event.get("error") or ""
    failed = status in BREVO_FAILED
    return Receipt(
        channel="sms",
        provider_message_id=str(raw_id),
        status=status,
        delivered=status in BREVO_DELIVERED,
        failed=failed,
        permanent=status in BREVO_PERMANENT,
        detail=str(reason)[:500],
    )


def brevo_token_valid(given: str, expected: str) -> bool:
    """Constant-time comparison; an empty configured token refuses everyone."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


@csrf_exempt
def brevo_status(request: HttpRequest) -> HttpResponse:
    """Brevo's transactional SMS webhook: check the token, then record each event (one
    object, or a list of them when Brevo batches)."""
    if request.method != "POST":
        return _method_not_allowed()
    if not brevo_token_valid(request.GET.get("token", ""), settings.SUIVI_BREVO_WEBHOOK_TOKEN):
        logger.warning("brevo callback refused: missing or wrong token")
        return problem_response(code="invalid-token", status=403, detail="Missing or wrong token.")
    try:
        raw = request.body
    except RequestDataTooBig:
        return problem_response(code="payload-too-large", status=413, detail="Body too large.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return problem_response(code="malformed-json", status=400, detail="The body is not JSON.")
    events = body if isinstance(body, list) else [body]
    receipts = []
    for event in events:
        receipt = parse_brevo_event(event) if isinstance(event, dict) else None
        if receipt is None:
            return problem_response(
                code="invalid-input",
                status=400,
                detail="Each event needs a messageId and a msg_status.",
            )
        receipts.append(receipt)
    for receipt in receipts:
        response = _apply(receipt)
        if response.status_code != 204:
            return response
    return HttpResponse(status=204)


# --- shared -------------------------------------------------------------------------


def _apply(receipt: Receipt) -> HttpResponse:
    try:
        known = apply_receipt(receipt)
    except Exception:
        logger.exception(
            "could not record the %s receipt of %s", receipt.status, receipt.provider_message_id
        )
        return problem_response(
            code="service-unavailable", status=503, detail="Could not record the receipt."
        )
    if not known:
        logger.info("sms receipt for unknown provider id %s ignored", receipt.provider_message_id)
    return HttpResponse(status=204)


def _method_not_allowed() -> HttpResponse:
    return problem_response(
        code="method-not-allowed",
        status=405,
        detail="Only POST is allowed.",
        headers={"Allow": "POST"},
    )
