"""Outbound webhooks to the merchants' own systems, signed the Standard Webhooks way.

One POST per message: the exact JSON text of ``content["body"]``, with
``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature`` (see
:mod:`suivi.notifications.webhook_signing`). The id is the message's idempotency key, the
same on every retry and replay, so the receiver can dedupe; the timestamp and signature are
fresh on every attempt. The URL is the merchant's, so the call goes through
:func:`suivi.core.http.request_public` (SSRF guard, no redirects, total time limit).

How an answer is classified (the specification's "delivery success and failure"):

- 2xx: delivered.
- 410 Gone: the receiver asks us to stop: permanent, and the endpoint is disabled
  (``invalidate``).
- A URL the policy refuses (private address, bad scheme…): permanent, endpoint disabled;
  the answer says why, for the merchant to fix the URL.
- Anything else is a failure that is retried with backoff (``temporary``), honouring
  ``Retry-After``: timeouts and connection errors, 3xx (redirects are not followed; the
  merchant should update the URL), 408/425/429, 5xx — and the other 4xx too. Standard
  Webhooks and the Svix-style providers it comes from retry every non-2xx: a 401 or 404
  from a receiver is usually a deploy in progress or a secret being rotated, which the
  merchant fixes within the retry schedule (days), and the dispatcher disables an endpoint
  that keeps failing (``outbox.py``), so retrying costs little and loses nothing.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

import httpx

from suivi.core import http
from suivi.notifications.webhook_signing import headers_for

from .base import Channel, Outcome, Outgoing, retry_after

#: Seconds allowed for a whole delivery (connect, send, answer). Standard Webhooks
#: recommends 15 to 30 s so receivers have time to process; we take the low end so a slow
#: endpoint holds a worker as little as possible.
TIMEOUT_SECONDS = 15.0
#: Characters of the receiver's answer kept on the attempt.
ANSWER_CHARS = 500
#: Response headers whose value we keep as the provider message id, first found wins.
ID_HEADERS = ("webhook-receipt-id", "x-request-id", "request-id", "x-amzn-requestid")
USER_AGENT = f"{http.USER_AGENT} webhooks"


def webhook_id(idempotency_key: str) -> str:
    """The ``webhook-id`` of a message: its idempotency key, as it is when it is a safe
    header token without ``.`` (the signed text joins id, timestamp and body with dots, so
    the specification forbids them in the id); otherwise a digest of the key, which is just
    as stable across retries and replays."""
    key = idempotency_key
    safe = key and len(key) <= 200 and key.isascii() and key.isprintable()
    if safe and not any(c in key for c in ". ,"):
        return key
    return "msg_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def _excerpt(response: httpx.Response) -> str:
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        text = response.content.decode("utf-8", errors="replace")
    return text[:ANSWER_CHARS]


class WebhookChannel(Channel):
    name: ClassVar[str] = "webhook"
    accepts_idempotency_key: ClassVar[bool] = True

    def __init__(self, timeout_seconds: float = TIMEOUT_SECONDS) -> None:
        self.timeout_seconds = timeout_seconds

    def send(self, item: Outgoing) -> Outcome:
        url = str(item.target.get("url") or item.recipient or "")
        secret = item.target.get("secret")
        if not url:
            return Outcome.permanent("The webhook endpoint has no URL.", invalidate=True)
        body = item.content.get("body", "")
        payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        try:
            signed = headers_for(str(secret or ""), webhook_id(item.idempotency_key), payload)
        except ValueError as exc:
            return Outcome.permanent(
                f"The endpoint's signing secret is missing or malformed ({exc}); "
                "generate a new one.",
                invalidate=True,
            )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **signed,
        }
        try:
            response = http.request_public(
                "POST", url, headers=headers, content=payload, timeout=self.timeout_seconds
            )
        except http.UnsafeURL as exc:
            return Outcome.permanent(f"URL refused, nothing was sent: {exc}", invalidate=True)
        except httpx.TimeoutException:
            return Outcome.temporary(f"No answer within {self.timeout_seconds:g} s.")
        except httpx.HTTPError as exc:
            return Outcome.temporary(f"{type(exc).__name__}: {exc}")
        return self.classify(response)

    def classify(self, response: httpx.Response) -> Outcome:
        status = response.status_code
        answer = _excerpt(response)
        if 200 <= status < 300:
            provider_id = next(
                (response.headers[h] for h in ID_HEADERS if response.headers.get(h)), ""
            )
            return Outcome.ok(provider_id[:200], status_code=status, answer=answer)
        if status == 410:
            return Outcome.permanent(
                f"HTTP 410 Gone: the receiver asks us to stop sending. {answer}".strip(),
                status_code=status,
                invalidate=True,
            )
        wait = retry_after(response.headers.get("retry-after"))
        if 300 <= status < 400:
            location = response.headers.get("location", "(none)")
            return Outcome.temporary(
                f"HTTP {status}: redirect to {location} not followed; "
                "update the endpoint URL to the final address.",
                status_code=status,
                retry_after_seconds=wait,
            )
        return Outcome.temporary(
            f"HTTP {status}: {answer}".strip(), status_code=status, retry_after_seconds=wait
        )
