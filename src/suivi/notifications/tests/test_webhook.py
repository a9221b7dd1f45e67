"""Outbound webhooks: signed so a Standard Webhooks receiver accepts them, and the
receiver's answers understood.

Everything is real except the merchant, which is :mod:`fake_webhook` on loopback: the
channel signs and POSTs through :mod:`suivi.core.http`; the receiver checks the signature
with its own implementation of the specification. The signing module is also checked
against the specification's published test vector, which neither side of these tests wrote.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from suivi.notifications.channels import get_channel
from suivi.notifications.channels.base import Outgoing
from suivi.notifications.channels.webhook import WebhookChannel, webhook_id
from suivi.notifications.tests.fake_webhook import (
    Answer,
    FakeWebhookReceiver,
    check_standard_webhook,
)
from suivi.notifications.webhook_signing import (
    SignatureError,
    generate_secret,
    headers_for,
    sign,
    verify,
)

# The Standard Webhooks / Svix published test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = generate_secret()
OTHER_SECRET = generate_secret()
BODY = json.dumps(
    {
        "type": "order.shipped",
        "timestamp": "2025-03-01T10:00:00+00:00",
        "data": {"order": {"reference": "WEB-000042", "note": "Livrée à Lyon — 2ᵉ étage"}},
    },
    ensure_ascii=False,
    separators=(",", ":"),
)
KEY = "9001:webhook:endpoint:3"


def outgoing(url: str, *, secret: str = SECRET, key: str = KEY, body: str = BODY) -> Outgoing:
    return Outgoing(
        message_id=1,
        idempotency_key=key,
        shop_id=1,
        channel="webhook",
        recipient=url,
        content={"body": body, "event_type": "order.shipped"},
        target={"url": url, "secret": secret},
    )


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Any) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(SECRET) as rx:
        yield rx


# --- Signing --------------------------------------------------------------------------


def test_signing_reproduces_the_published_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY.encode()) == (
        VECTOR_SIGNATURE
    )
    headers = headers_for(VECTOR_SECRET, VECTOR_ID, VECTOR_BODY, timestamp=VECTOR_TIMESTAMP)
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def test_verify_accepts_the_published_vector() -> None:
    headers = {
        "Webhook-Id": VECTOR_ID,
        "Webhook-Timestamp": str(VECTOR_TIMESTAMP),
        "Webhook-Signature": VECTOR_SIGNATURE,
    }
    verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP + 10)
    # The prefix is optional for the key, as in the reference libraries.
    verify(VECTOR_SECRET.removeprefix("whsec_"), headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_the_independent_checker_agrees_with_signing() -> None:
    now = int(time.time())
    headers = headers_for(SECRET, "msg_1", BODY, timestamp=now)
    assert check_standard_webhook(SECRET, headers, BODY.encode()) == ""
    assert check_standard_webhook(OTHER_SECRET, headers, BODY.encode()) == "no matching signature"


def test_a_generated_secret_is_whsec_and_32_random_bytes() -> None:
    secrets = {generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def signed(
    body: str | bytes = BODY, *, secret: str = SECRET, at: int | None = None
) -> dict[str, str]:
    return headers_for(secret, "msg_abc", body, timestamp=at)


def test_verify_refuses_another_secret() -> None:
    with pytest.raises(SignatureError, match="No webhook-signature matches"):
        verify(OTHER_SECRET, signed(), BODY)


def test_verify_refuses_a_tampered_body() -> None:
    with pytest.raises(SignatureError, match="No webhook-signature matches"):
        verify(SECRET, signed(), BODY.replace("WEB-000042", "WEB-000043"))
    with pytest.raises(SignatureError):
        verify(SECRET, signed(), BODY + " ")


def test_verify_refuses_a_tampered_id_or_timestamp() -> None:
    headers = signed()
    with pytest.raises(SignatureError):
        verify(SECRET, {**headers, "webhook-id": "msg_abd"}, BODY)
    moved = str(int(headers["webhook-timestamp"]) - 1)
    with pytest.raises(SignatureError):
        verify(SECRET, {**headers, "webhook-timestamp": moved}, BODY)


def test_verify_refuses_an_old_or_future_timestamp() -> None:
    now = 1_750_000_000
    verify(SECRET, signed(at=now - 300), BODY, now=now)
    verify(SECRET, signed(at=now + 300), BODY, now=now)
    with pytest.raises(SignatureError, match="too old"):
        verify(SECRET, signed(at=now - 301), BODY, now=now)
    with pytest.raises(SignatureError, match="future"):
        verify(SECRET, signed(at=now + 301), BODY, now=now)
    with pytest.raises(SignatureError, match="too old"):
        verify(SECRET, signed(at=now - 61), BODY, tolerance_seconds=60, now=now)
    with pytest.raises(SignatureError, match="too old"):  # with the real clock
        verify(SECRET, signed(at=int(time.time()) - 3600), BODY)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_refuses_missing_headers(missing: str) -> None:
    headers = signed()
    del headers[missing]
    with pytest.raises(SignatureError, match="Missing"):
        verify(SECRET, headers, BODY)


@pytest.mark.parametrize("value", ["", "12.5", "-1", "１２３", "now", " 1750000000"])
def test_verify_refuses_a_timestamp_that_is_not_an_integer(value: str) -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, {**signed(), "webhook-timestamp": value}, BODY)


def test_verify_accepts_any_matching_v1_among_several() -> None:
    headers = signed()
    good = headers["webhook-signature"]
    others = "v1,bm9wZQ== v1a,aGVsbG8= v2,xyz v1,%%%"
    verify(SECRET, {**headers, "webhook-signature": f"{others} {good}"}, BODY)
    # A v1a (asymmetric) entry carrying the HMAC value is not a v1 signature.
    with pytest.raises(SignatureError):
        verify(SECRET, {**headers, "webhook-signature": "v1a," + good[3:]}, BODY)
    with pytest.raises(SignatureError):
        verify(SECRET, {**headers, "webhook-signature": others}, BODY)


@pytest.mark.parametrize("index", [0, 1, 15, 30, 31])
def test_a_signature_altered_in_any_byte_fails(index: int) -> None:
    headers = signed()
    digest = bytearray(base64.b64decode(headers["webhook-signature"].removeprefix("v1,")))
    digest[index] ^= 0x01
    altered = "v1," + base64.b64encode(bytes(digest)).decode()
    with pytest.raises(SignatureError):
        verify(SECRET, {**headers, "webhook-signature": altered}, BODY)


def test_a_truncated_or_extended_signature_fails() -> None:
    headers = signed()
    digest = base64.b64decode(headers["webhook-signature"].removeprefix("v1,"))
    for variant in (digest[:16], digest[:-1], digest + b"\x00", b""):
        value = "v1," + base64.b64encode(variant).decode()
        with pytest.raises(SignatureError):
            verify(SECRET, {**headers, "webhook-signature": value}, BODY)


def test_during_a_rotation_both_secrets_verify() -> None:
    headers = headers_for([SECRET, OTHER_SECRET], "msg_rot", BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(SECRET, headers, BODY)
    verify(OTHER_SECRET, headers, BODY)
    assert check_standard_webhook(OTHER_SECRET, headers, BODY.encode()) == ""
    with pytest.raises(SignatureError):
        verify(generate_secret(), headers, BODY)


def test_signing_refuses_an_id_with_a_dot_and_a_bad_secret() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        sign(SECRET, "msg.1", 1, BODY)
    with pytest.raises(ValueError, match="base64"):
        sign("whsec_not base64!", "msg_1", 1, BODY)
    with pytest.raises(SignatureError):
        verify("whsec_not base64!", signed(), BODY)


IDS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:",
    min_size=1,
    max_size=60,
)
NOW = 1_750_000_000


@hypothesis_settings(max_examples=300, deadline=None)
@given(body=st.one_of(st.binary(max_size=4096), st.text(max_size=1024)), msg_id=IDS)
def test_sign_then_verify_round_trips(body: bytes | str, msg_id: str) -> None:
    headers = headers_for(SECRET, msg_id, body, timestamp=NOW)
    verify(SECRET, headers, body, now=NOW)
    raw = body.encode() if isinstance(body, str) else body
    verify(SECRET, headers, raw, now=NOW)  # text is signed as its UTF-8 bytes
    assert check_standard_webhook(SECRET, headers, raw, now=NOW) == ""


@hypothesis_settings(max_examples=300, deadline=None)
@given(body=st.binary(min_size=1, max_size=4096), data=st.data())
def test_any_single_byte_change_fails_verification(body: bytes, data: st.DataObject) -> None:
    headers = headers_for(SECRET, "msg_prop", body, timestamp=NOW)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    changed = bytearray(body)
    changed[index] ^= flip
    with pytest.raises(SignatureError):
        verify(SECRET, headers, bytes(changed), now=NOW)


# --- The channel, against the receiver -------------------------------------------------


def test_the_channel_is_registered_and_gives_its_key() -> None:
    channel = get_channel("webhook")
    assert isinstance(channel, WebhookChannel)
    assert channel.accepts_idempotency_key


def test_a_delivery_is_signed_and_accepted(receiver: FakeWebhookReceiver) -> None:
    receiver.answers.append(Answer(200, {"X-Request-Id": "rcv-77"}, b"r" * 800))
    outcome = WebhookChannel().send(outgoing(receiver.url))
    assert outcome.kind == "ok"
    assert outcome.status_code == 200
    assert outcome.provider_message_id == "rcv-77"
    assert outcome.answer == "r" * 500
    [seen] = receiver.received
    assert seen.problem == ""
    assert (seen.method, seen.path) == ("POST", "/hooks/suivi")
    assert seen.body == BODY.encode("utf-8")  # the exact text, byte for byte
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["webhook-id"] == KEY
    assert abs(int(seen.headers["webhook-timestamp"]) - time.time()) < 5
    assert seen.headers["user-agent"].startswith("Suivi/")
    # What a merchant would run with our documented verify():
    verify(SECRET, seen.headers, seen.body)


def test_a_receiver_with_another_secret_rejects_it() -> None:
    with FakeWebhookReceiver(OTHER_SECRET) as rx:
        WebhookChannel().send(outgoing(rx.url))
    assert rx.received[0].problem == "no matching signature"


def test_retries_keep_the_id_with_a_fresh_timestamp(receiver: FakeWebhookReceiver) -> None:
    receiver.answers.extend([Answer(503), Answer(204)])
    channel = WebhookChannel()
    first = channel.send(outgoing(receiver.url))
    time.sleep(1.1)  # timestamps are whole seconds
    second = channel.send(outgoing(receiver.url))
    assert (first.kind, second.kind) == ("temporary", "ok")
    a, b = receiver.received
    assert a.problem == b.problem == ""
    assert a.headers["webhook-id"] == b.headers["webhook-id"] == KEY
    assert int(b.headers["webhook-timestamp"]) > int(a.headers["webhook-timestamp"])
    assert a.headers["webhook-signature"] != b.headers["webhook-signature"]
    assert a.body == b.body


def test_an_id_with_dots_becomes_a_stable_digest(receiver: FakeWebhookReceiver) -> None:
    key = "order.shipped:42:2025-03-01T10:00:00.123456+00:00:webhook:endpoint:3"
    channel = WebhookChannel()
    channel.send(outgoing(receiver.url, key=key))
    channel.send(outgoing(receiver.url, key=key))
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {webhook_id(key)}
    assert "." not in webhook_id(key)
    assert webhook_id(key) != webhook_id(key + "x")
    assert all(r.problem == "" for r in receiver.received)


def test_a_redirect_is_not_followed() -> None:
    with (
        FakeWebhookReceiver(SECRET) as elsewhere,
        FakeWebhookReceiver(SECRET, [Answer(302, {"Location": elsewhere.url})]) as rx,
    ):
        outcome = WebhookChannel().send(outgoing(rx.url))
    assert outcome.kind == "temporary"
    assert outcome.status_code == 302
    assert f"redirect to {elsewhere.url} not followed" in outcome.answer
    assert len(rx.received) == 1
    assert elsewhere.received == []


def test_410_gone_stops_and_disables_the_endpoint(receiver: FakeWebhookReceiver) -> None:
    receiver.answers.append(Answer(410, body=b"unsubscribed"))
    outcome = WebhookChannel().send(outgoing(receiver.url))
    assert outcome.kind == "permanent"
    assert outcome.invalidate
    assert outcome.status_code == 410
    assert "unsubscribed" in outcome.answer


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        (Answer(500, body=b"boom"), None),
        (Answer(502), None),
        (Answer(429, {"Retry-After": "7"}), 7.0),
        (Answer(503, {"Retry-After": "120"}), 120.0),
        (Answer(408), None),
        (Answer(404, body=b"no route"), None),
        (Answer(401), None),
    ],
)
def test_other_failures_are_retried(
    receiver: FakeWebhookReceiver, answer: Answer, wait: float | None
) -> None:
    receiver.answers.append(answer)
    outcome = WebhookChannel().send(outgoing(receiver.url))
    assert outcome.kind == "temporary"
    assert outcome.status_code == answer.status
    assert outcome.retry_after_seconds == wait
    assert outcome.answer.startswith(f"HTTP {answer.status}")
    assert not outcome.invalidate


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "2130706433", "0x7f.0.0.1", "[::ffff:127.0.0.1]"]
)
def test_a_private_url_is_refused_and_nothing_is_sent(
    settings: Any, receiver: FakeWebhookReceiver, host: str
) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = []
    outcome = WebhookChannel().send(outgoing(f"http://{host}:{receiver.port}/hooks/suivi"))
    assert outcome.kind == "permanent"
    assert outcome.invalidate
    assert outcome.answer.startswith("URL refused, nothing was sent")
    assert receiver.received == []


def test_a_non_http_url_is_refused() -> None:
    outcome = WebhookChannel().send(outgoing("file:///etc/passwd"))
    assert (outcome.kind, outcome.invalidate) == ("permanent", True)
    assert "http and https" in outcome.answer


def test_a_timeout_is_retried(receiver: FakeWebhookReceiver) -> None:
    receiver.answers.append(Answer(200, delay=5))
    started = time.monotonic()
    outcome = WebhookChannel(timeout_seconds=0.5).send(outgoing(receiver.url))
    assert time.monotonic() - started < 4.5  # the receiver answers after 5 s
    assert outcome.kind == "temporary"
    assert "No answer within 0.5 s" in outcome.answer
    assert len(receiver.received) == 1  # it did arrive; the receiver dedupes the retry


def test_a_closed_port_is_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = WebhookChannel(timeout_seconds=2).send(outgoing(f"http://127.0.0.1:{port}/"))
    assert outcome.kind == "temporary"
    assert "ConnectError" in outcome.answer


def test_a_malformed_secret_sends_nothing(receiver: FakeWebhookReceiver) -> None:
    outcome = WebhookChannel().send(outgoing(receiver.url, secret="whsec_???"))
    assert (outcome.kind, outcome.invalidate) == ("permanent", True)
    assert "secret" in outcome.answer
    assert receiver.received == []


def test_a_batch_reports_each_outcome_in_order(receiver: FakeWebhookReceiver) -> None:
    receiver.answers.extend([Answer(200), Answer(410), Answer(500)])
    outcomes = WebhookChannel().send_batch([outgoing(receiver.url, key=f"k{i}") for i in range(3)])
    assert [o.kind for o in outcomes] == ["ok", "permanent", "temporary"]
    assert [r.headers["webhook-id"] for r in receiver.received] == ["k0", "k1", "k2"]
