"""The SMTP fast path writes the same message Django would, readable by any mail parser."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suivi.notifications.channels import mime
from suivi.notifications.channels.base import Outgoing
from suivi.notifications.channels.email import build_message


def _parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _item(
    subject: str, text: str, html: str, sender: str = '"Maison Lumière" <n@suivi.test>'
) -> Outgoing:
    return Outgoing(
        message_id=1, idempotency_key="42:email:a@b.fr", shop_id=1, channel="email",
        recipient="claire@example.fr",
        content={
            "subject": subject, "text": text, "html": html, "from_email": sender,
            "reply_to": "sav@maison.fr", "headers": {"List-Unsubscribe": "<https://s.test/p/1.x>"},
        },
    )  # fmt: skip


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")


def _fast(item: Outgoing) -> EmailMessage:
    raw = mime.build(
        from_email=item.content["from_email"], to=item.recipient, subject=item.content["subject"],
        text=item.content["text"], html=item.content["html"], message_id="<m1@suivi.test>",
        reply_to=item.content["reply_to"], headers=item.content["headers"],
    )  # fmt: skip
    assert raw is not None
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    return _parse(raw)


def _django(item: Outgoing) -> EmailMessage:
    return _parse(build_message(item).message().as_bytes())


@pytest.mark.parametrize(
    "subject",
    ["Votre commande CMD-1 est expédiée", "Order CMD-1 shipped", "Très " * 60, "Emoji 📦 livré"],
)
def test_the_fast_message_reads_like_djangos(subject: str) -> None:
    text = "Bonjour Claire,\n\n.ligne qui commence par un point\n" + "é" * 300 + "\nFin"
    html = "<p>Bonjour <strong>Claire</strong></p>" + "<p>" + "x" * 2000 + "</p>"
    item = _item(subject, text, html)

    fast, slow = _fast(item), _django(item)

    for header in ("From", "To", "Subject", "Reply-To", "List-Unsubscribe"):
        # Django's folding may leave spaces at the ends of a long subject; ours does not
        assert " ".join(str(fast[header]).split()) == " ".join(str(slow[header]).split()), header
    for kind in ("plain", "html"):
        fast_body, slow_body = fast.get_body((kind,)), slow.get_body((kind,))
        assert fast_body is not None and slow_body is not None
        # on the wire both end lines with CRLF; parsers differ only in how they keep them
        assert _lines(fast_body.get_content()) == _lines(slow_body.get_content())


@settings(max_examples=200, deadline=None)
@given(subject=st.text(max_size=300), text=st.text(max_size=2000), name=st.text(max_size=60))
def test_any_text_survives_the_fast_path(subject: str, text: str, name: str) -> None:
    name = name.replace('"', "").replace("\\", "")
    item = _item(subject, text, "<p>x</p>", sender=f'"{name}" <n@suivi.test>')
    fast = _fast(item)
    assert str(fast["Subject"]) == " ".join(subject.split())
    body = fast.get_body(("plain",))
    assert body is not None
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert _lines(body.get_content()).rstrip("\n") == expected.rstrip("\n")


def test_a_non_ascii_address_takes_the_slow_path() -> None:
    assert mime.build(
        from_email="n@suivi.test", to="élodie@exemple.fr", subject="s", text="t", html="",
        message_id="<m@s>",
    ) is None  # fmt: skip
