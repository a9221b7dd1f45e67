"""Email through Django's email backends: SMTP by default, any ESP through django-anymail.

One connection is opened per batch and reused for every message (measured: a new SMTP
connection per message is about half as fast). Each message gets a ``Message-ID`` derived
from its idempotency key, so a message sent again after a crash carries the same id and
receiving systems can tell it is a duplicate.

SMTP answers are classified per RFC 5321: 4xx replies, refused connections and timeouts
are temporary; a 5xx on the recipient (550/551/553: no such mailbox, bad address) is a
hard bounce — permanent, and the address is marked invalid; other 5xx are permanent for
this message only. When the server goes away mid-batch, the rest of the batch is not tried
(they are retried later) rather than hammered one by one.
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import socket
from collections.abc import Sequence
from typing import Any, ClassVar, cast

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from . import mime
from .base import Channel, Outcome, Outgoing, ResultCallback

HARD_BOUNCE_CODES = frozenset({550, 551, 553})
CONNECTION_ERRORS = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    socket.timeout,
    TimeoutError,
    OSError,
)


def message_id(item: Outgoing) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "suivi.localhost"
    digest = hashlib.sha256(item.idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_message(item: Outgoing, connection: Any = None) -> EmailMultiAlternatives:
    content = item.content
    headers = {"Message-ID": message_id(item), **content.get("headers", {})}
    email = EmailMultiAlternatives(
        subject=content["subject"],
        body=content["text"],
        from_email=content.get("from_email") or settings.DEFAULT_FROM_EMAIL,
        to=[item.recipient],
        reply_to=[content["reply_to"]] if content.get("reply_to") else None,
        headers=headers,
        connection=connection,
    )
    if content.get("html"):
        email.attach_alternative(content["html"], "text/html")
    return email


def _smtp_code(exc: BaseException) -> int | None:
    code = getattr(exc, "smtp_code", None)
    if isinstance(code, int):
        return code
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        for value in exc.recipients.values():
            return int(value[0])
    return None


def classify(exc: BaseException) -> Outcome:
    """Turn an exception from an email backend into an outcome."""
    code = _smtp_code(exc)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException)):
        if code is not None and 400 <= code < 500:
            return Outcome.temporary(text, status_code=code)
        if code in HARD_BOUNCE_CODES:
            return Outcome.permanent(text, status_code=code, invalidate=True)
        return Outcome.permanent(text, status_code=code)
    if isinstance(exc, CONNECTION_ERRORS):
        return Outcome.temporary(text)
    # anymail: AnymailRecipientsRefused (the ESP rejected the address), AnymailAPIError.
    name = type(exc).__name__
    if name == "AnymailRecipientsRefused":
        return Outcome.permanent(text, invalidate=True)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (408, 429):
        return Outcome.permanent(text, status_code=status)
    return Outcome.temporary(text, status_code=status if isinstance(status, int) else None)


def _fast_bytes(item: Outgoing, connection: Any) -> bytes | None:
    """The message as wire bytes when the backend is Django's SMTP one (else None)."""
    if not isinstance(connection, SMTPBackend) or connection.connection is None:
        return None
    content = item.content
    return mime.build(
        from_email=content.get("from_email") or settings.DEFAULT_FROM_EMAIL,
        to=item.recipient,
        subject=content["subject"],
        text=content["text"],
        html=content.get("html", ""),
        message_id=message_id(item),
        reply_to=content.get("reply_to", ""),
        headers=content.get("headers", {}),
    )


def smtp_send(connection: SMTPBackend, item: Outgoing, raw: bytes) -> None:
    """Hand *raw* to the open SMTP connection (raises smtplib's exceptions)."""
    _name, envelope_from = mime.split_address(
        item.content.get("from_email") or settings.DEFAULT_FROM_EMAIL
    )
    assert connection.connection is not None
    refused = connection.connection.sendmail(envelope_from, [item.recipient], raw)
    if refused:  # only when some recipients were refused; ours is the only one
        raise smtplib.SMTPRecipientsRefused(refused)


class EmailChannel(Channel):
    name: ClassVar[str] = "email"
    accepts_idempotency_key: ClassVar[bool] = True  # as the Message-ID

    def send(self, item: Outgoing) -> Outcome:
        return self.send_batch([item])[0]

    def send_batch(
        self, items: Sequence[Outgoing], on_result: ResultCallback | None = None
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []

        def done(item: Outgoing, outcome: Outcome) -> None:
            outcomes.append(outcome)
            if on_result is not None:
                on_result(item, outcome)

        connection = get_connection(fail_silently=False)
        try:
            connection.open()
        except Exception as exc:
            outcome = classify(exc)
            for item in items:
                done(item, outcome)
            return outcomes
        try:
            broken: Outcome | None = None
            for item in items:
                if broken is not None:
                    done(item, broken)
                    continue
                raw = _fast_bytes(item, connection)
                if raw is not None:
                    try:
                        smtp_send(cast(SMTPBackend, connection), item, raw)
                    except Exception as exc:
                        outcome = classify(exc)
                        if isinstance(exc, CONNECTION_ERRORS) and not isinstance(
                            exc, smtplib.SMTPResponseException
                        ):
                            broken = Outcome.temporary(f"not tried: the server went away ({exc})")
                        done(item, outcome)
                        continue
                    done(item, Outcome.ok(message_id(item), answer="accepted"))
                    continue
                email = build_message(item, connection)
                try:
                    sent = connection.send_messages([email])
                except Exception as exc:
                    outcome = classify(exc)
                    if isinstance(exc, CONNECTION_ERRORS) and not isinstance(
                        exc, smtplib.SMTPResponseException
                    ):
                        broken = Outcome.temporary(f"not tried: the server went away ({exc})")
                    done(item, outcome)
                    continue
                if not sent:
                    done(item, Outcome.temporary("the backend sent nothing"))
                    continue
                status = getattr(email, "anymail_status", None)
                provider_id = (
                    str(status.message_id) if status is not None and status.message_id else ""
                ) or message_id(item)
                done(item, Outcome.ok(provider_id, answer="accepted"))
        finally:
            with contextlib.suppress(Exception):  # closing a dead connection is best effort
                connection.close()
        return outcomes
