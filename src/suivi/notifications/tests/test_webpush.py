"""Web Push: a browser could read what we send, and push services' answers are understood.

Everything is real except the push service, which is :mod:`fake_push` on loopback: the
channel signs, encrypts and POSTs through :mod:`suivi.core.http`; the test then decrypts
the body with the subscription's private key, as the browser would.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import http_ece
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ImproperlyConfigured

from suivi.notifications import vapid
from suivi.notifications.channels import get_channel, reset
from suivi.notifications.channels.base import Outgoing
from suivi.notifications.channels.webpush import (
    MAX_PLAINTEXT_BYTES,
    WebPushChannel,
    build_payload,
    topic,
)
from suivi.notifications.tests.fake_push import FakePushService, Refused, verify_vapid

SUBJECT = "mailto:operator@example.com"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Browser:
    """A subscription made the way a browser makes one: a P-256 ECDH pair + 16 auth bytes."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def subscribe(cls, endpoint: str) -> Browser:
        return cls(endpoint, ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    @property
    def target(self) -> dict[str, str]:
        """What ``PushSubscription.toJSON()`` gives: endpoint and base64url keys."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "p256dh": b64(point), "auth": b64(self.auth)}

    def read(self, body: bytes) -> dict[str, Any]:
        """Decrypt a push message body (RFC 8291 aes128gcm) and parse its JSON."""
        plaintext = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        result: dict[str, Any] = json.loads(plaintext.decode("utf-8"))
        return result


def outgoing(target: dict[str, str], **content: Any) -> Outgoing:
    base = {
        "title": "Votre commande est en route",
        "body": "Le colis WEB-000042 a quitté l’entrepôt.",
        "url": "https://boutique.example.fr/suivi/WEB-000042",
        "tag": "order-42",
        "urgency": "normal",
        "ttl": 3600,
    }
    base.update(content)
    return Outgoing(
        message_id=1,
        idempotency_key="msg-1",
        shop_id=1,
        channel="push",
        recipient="sub-1",
        content=base,
        target=target,
    )


@pytest.fixture(autouse=True)
def vapid_settings(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.DATA_DIR = tmp_path
    settings.SUIVI_VAPID_PRIVATE_KEY = ""
    settings.SUIVI_VAPID_SUBJECT = SUBJECT
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    vapid.reset_cache()
    yield
    vapid.reset_cache()


@pytest.fixture
def service() -> Iterator[FakePushService]:
    with FakePushService() as fake:
        yield fake


@pytest.fixture
def browser(service: FakePushService) -> Browser:
    return Browser.subscribe(service.endpoint())


# --- The acceptance test: a browser can read it ------------------------------------------


def test_browser_decrypts_the_payload(service: FakePushService, browser: Browser) -> None:
    outcome = WebPushChannel().send(outgoing(browser.target))

    assert outcome.kind == "ok", outcome
    assert outcome.status_code == 201
    [request] = service.received
    assert request.problem == ""
    assert outcome.provider_message_id.startswith(f"{service.origin}/m/")
    assert browser.read(request.body) == {
        "title": "Votre commande est en route",
        "body": "Le colis WEB-000042 a quitté l’entrepôt.",
        "url": "https://boutique.example.fr/suivi/WEB-000042",
        "tag": "order-42",
    }


def test_another_subscription_cannot_decrypt(service: FakePushService, browser: Browser) -> None:
    WebPushChannel().send(outgoing(browser.target))
    stranger = Browser.subscribe(browser.endpoint)
    same_key_other_auth = Browser(browser.endpoint, browser.private_key, os.urandom(16))

    for reader in (stranger, same_key_other_auth):
        with pytest.raises(http_ece.ECEException):
            reader.read(service.received[0].body)


def test_request_headers_follow_rfc_8030(service: FakePushService, browser: Browser) -> None:
    WebPushChannel().send(outgoing(browser.target, ttl=600, urgency="high", tag="order-42"))

    headers = service.received[0].headers
    assert headers["ttl"] == "600"
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["urgency"] == "high"
    assert headers["topic"] == topic("order-42")
    assert headers["authorization"].startswith("vapid t=")


def test_defaults_normal_urgency_one_day_ttl_and_no_topic_without_tag(
    service: FakePushService, browser: Browser
) -> None:
    item = outgoing(browser.target, tag="", urgency="low")
    del item.content["ttl"]

    assert WebPushChannel().send(item).kind == "ok"
    headers = service.received[0].headers
    assert headers["ttl"] == "86400"
    assert headers["urgency"] == "normal"
    assert "topic" not in headers


def test_topic_is_stable_per_tag_url_safe_and_hides_the_tag() -> None:
    first = topic("order-WEB-000042")

    assert first == topic("order-WEB-000042")
    assert first != topic("order-WEB-000043")
    assert len(first) == 32
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert "000042" not in first
    assert len(topic("commande n° 42 — expédiée 📦" * 20)) == 32


def test_vapid_claims_name_the_push_service_and_the_operator(
    service: FakePushService, browser: Browser
) -> None:
    before = time.time()
    WebPushChannel().send(outgoing(browser.target))

    request = service.received[0]
    assert request.problem == ""
    assert request.claims["aud"] == service.origin
    assert request.claims["sub"] == SUBJECT
    assert before + 11 * 3600 < request.claims["exp"] <= time.time() + 12 * 3600 + 1
    assert request.vapid_key == vapid.application_server_key()


def test_unicode_content_survives(service: FakePushService, browser: Browser) -> None:
    item = outgoing(browser.target, title="Colis expédié 📦", body='Ligne 1\nCitation "ok" — ✓')

    assert WebPushChannel().send(item).kind == "ok"
    payload = browser.read(service.received[0].body)
    assert payload["title"] == "Colis expédié 📦"
    assert payload["body"] == 'Ligne 1\nCitation "ok" — ✓'


def test_batch_encrypts_each_message_to_its_own_subscription(service: FakePushService) -> None:
    browsers = [Browser.subscribe(service.endpoint()) for _ in range(3)]
    items = [outgoing(b.target, title=f"Message {i}") for i, b in enumerate(browsers)]

    outcomes = WebPushChannel().send_batch(items)

    assert [o.kind for o in outcomes] == ["ok", "ok", "ok"]
    by_path = {r.path: r for r in service.received}
    for i, b in enumerate(browsers):
        request = by_path[b.endpoint.removeprefix(service.origin)]
        assert b.read(request.body)["title"] == f"Message {i}"


def test_registry_gives_the_web_push_channel() -> None:
    reset()
    try:
        assert isinstance(get_channel("push"), WebPushChannel)
    finally:
        reset()


# --- Size ---------------------------------------------------------------------------------


def test_long_body_is_shortened_to_fit_4096_bytes(
    service: FakePushService, browser: Browser
) -> None:
    long_body = ('Un "long" récit — avec des émojis 📦 et des retours\n' * 400).strip()
    item = outgoing(browser.target, body=long_body)

    assert WebPushChannel().send(item).kind == "ok"
    request = service.received[0]
    assert request.problem == ""
    assert len(request.body) <= 4096
    payload = browser.read(request.body)
    assert payload["title"] == item.content["title"]
    assert payload["url"] == item.content["url"]
    assert payload["tag"] == item.content["tag"]
    assert payload["body"].endswith("…")
    assert long_body.startswith(payload["body"].removesuffix("…"))
    # As long as fits: a few more characters would not.
    plaintext = build_payload(item.content)
    assert MAX_PLAINTEXT_BYTES - 16 < len(plaintext) <= MAX_PLAINTEXT_BYTES


def test_payload_at_the_limit_is_sent_whole(service: FakePushService, browser: Browser) -> None:
    content = outgoing(browser.target, body="").content
    room = MAX_PLAINTEXT_BYTES - len(build_payload(content))
    item = outgoing(browser.target, body="x" * room)

    assert len(build_payload(item.content)) == MAX_PLAINTEXT_BYTES
    assert WebPushChannel().send(item).kind == "ok"
    request = service.received[0]
    assert len(request.body) == 4096
    assert browser.read(request.body)["body"] == "x" * room


def test_huge_title_is_shortened_after_the_body(service: FakePushService, browser: Browser) -> None:
    item = outgoing(browser.target, title="T" * 5000, body="B" * 5000)

    assert WebPushChannel().send(item).kind == "ok"
    payload = browser.read(service.received[0].body)
    assert payload["body"] == ""
    assert payload["title"].startswith("TTT") and payload["title"].endswith("…")
    assert payload["url"] == item.content["url"]


def test_url_too_long_to_fit_is_permanent_without_request(
    service: FakePushService, browser: Browser
) -> None:
    item = outgoing(browser.target, url="https://example.fr/" + "a" * 5000)

    outcome = WebPushChannel().send(item)

    assert (outcome.kind, outcome.invalidate) == ("permanent", False)
    assert service.received == []


# --- Push service answers -----------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
def test_gone_subscription_is_invalidated(
    service: FakePushService, browser: Browser, status: int
) -> None:
    service.answer(status, body='{"reason":"Unregistered"}')

    outcome = WebPushChannel().send(outgoing(browser.target))

    assert (outcome.kind, outcome.invalidate, outcome.status_code) == ("permanent", True, status)
    assert "Unregistered" in outcome.answer


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_refusals_that_do_not_prove_the_subscription_gone(
    service: FakePushService, browser: Browser, status: int
) -> None:
    service.answer(status)

    outcome = WebPushChannel().send(outgoing(browser.target))

    assert (outcome.kind, outcome.invalidate, outcome.status_code) == ("permanent", False, status)


def test_key_mismatch_is_permanent_but_keeps_the_subscription(
    service: FakePushService, browser: Browser
) -> None:
    other_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    service.bind(
        browser.endpoint,
        b64(
            other_key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        ),
    )

    outcome = WebPushChannel().send(outgoing(browser.target))

    assert (outcome.kind, outcome.invalidate, outcome.status_code) == ("permanent", False, 403)
    assert "applicationServerKey" in service.received[0].problem


def test_subscription_bound_to_our_key_is_accepted(
    service: FakePushService, browser: Browser
) -> None:
    service.bind(browser.endpoint, vapid.application_server_key())

    assert WebPushChannel().send(outgoing(browser.target)).kind == "ok"


@pytest.mark.parametrize(
    ("status", "headers", "expected_delay"),
    [
        (429, {"Retry-After": "120"}, 120.0),
        (500, {}, None),
        (502, {}, None),
        (503, {"Retry-After": "30"}, 30.0),
    ],
)
def test_throttling_and_server_errors_are_retried(
    service: FakePushService,
    browser: Browser,
    status: int,
    headers: dict[str, str],
    expected_delay: float | None,
) -> None:
    service.answer(status, headers)

    outcome = WebPushChannel().send(outgoing(browser.target))

    assert (outcome.kind, outcome.invalidate, outcome.status_code) == ("temporary", False, status)
    assert outcome.retry_after_seconds == expected_delay


def test_timeout_is_temporary(service: FakePushService, browser: Browser) -> None:
    service.answer(201, delay=5)

    started = time.monotonic()
    outcome = WebPushChannel(timeout=0.3).send(outgoing(browser.target))

    assert outcome.kind == "temporary"
    assert "Timeout" in outcome.answer
    assert time.monotonic() - started < 4.5  # the service answers after 5 s


def test_connection_refused_is_temporary(browser: Browser) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the send: nobody listens
    target = {**browser.target, "endpoint": f"http://127.0.0.1:{port}/wpush/v2/x"}

    outcome = WebPushChannel().send(outgoing(target))

    assert outcome.kind == "temporary"
    assert "ConnectError" in outcome.answer


# --- Subscriptions we must not or cannot use ----------------------------------------------


def test_loopback_endpoint_is_refused_unless_the_operator_allows_it(
    settings: Any, service: FakePushService, browser: Browser
) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = []

    outcome = WebPushChannel().send(outgoing(browser.target))

    assert (outcome.kind, outcome.invalidate) == ("permanent", True)
    assert "private" in outcome.answer
    assert service.received == []


def _bad_targets(good: dict[str, str]) -> list[dict[str, Any]]:
    off_curve = b"\x04" + b"\x01" * 64
    return [
        {**good, "p256dh": "not base64url!!"},
        {**good, "p256dh": b64(b"\x04" + os.urandom(31))},  # truncated point
        {**good, "p256dh": b64(off_curve)},  # 65 bytes, not on P-256
        {**good, "auth": b64(os.urandom(8))},  # auth must be 16 bytes
        {**good, "auth": "%%%"},
        {k: v for k, v in good.items() if k != "auth"},
        {k: v for k, v in good.items() if k != "p256dh"},
        {**good, "endpoint": ""},
        {**good, "endpoint": "ftp://127.0.0.1/push"},
        {**good, "endpoint": "not a url"},
        {**good, "p256dh": 42},
    ]


def test_malformed_subscriptions_are_invalidated_without_a_request(
    service: FakePushService, browser: Browser
) -> None:
    channel = WebPushChannel()
    for target in _bad_targets(browser.target):
        outcome = channel.send(outgoing(target))
        assert (outcome.kind, outcome.invalidate) == ("permanent", True), (target, outcome)
    assert service.received == []


def test_standard_base64_and_padding_in_keys_are_tolerated(
    service: FakePushService, browser: Browser
) -> None:
    target = dict(browser.target)
    for name in ("p256dh", "auth"):
        raw = base64.urlsafe_b64decode(target[name] + "==")
        target[name] = base64.b64encode(raw).decode()  # "+", "/" and "=" padding

    assert WebPushChannel().send(outgoing(target)).kind == "ok"
    assert browser.read(service.received[0].body)["tag"] == "order-42"


def test_misconfigured_subject_is_temporary_and_keeps_the_subscription(
    settings: Any, service: FakePushService, browser: Browser
) -> None:
    settings.SUIVI_VAPID_SUBJECT = "operator"

    outcome = WebPushChannel().send(outgoing(browser.target))

    assert (outcome.kind, outcome.invalidate) == ("temporary", False)
    assert "sub" in outcome.answer
    assert service.received == []


# --- The fake service really checks (so the tests above can fail) -------------------------


def _post(
    service: FakePushService, endpoint: str, authorization: str, **extra: str
) -> httpx.Response:
    headers = {"Authorization": authorization, "TTL": "60", "Content-Encoding": "aes128gcm"}
    headers.update(extra)
    body = bytes(16) + (4096).to_bytes(4, "big") + bytes([65]) + b"\x04" * 65 + bytes(17)
    return httpx.post(endpoint, headers=headers, content=body, trust_env=False)


def test_fake_service_accepts_our_header_and_rejects_forgeries(service: FakePushService) -> None:
    endpoint = service.endpoint()
    good = vapid.authorization_header(endpoint)["Authorization"]
    token = good.split("t=", 1)[1].split(",", 1)[0]
    key = good.rsplit("k=", 1)[1]
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    other_k = b64(
        other.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    header, _, signature = token.split(".")
    forged_claims = b64(json.dumps({"aud": service.origin, "exp": 2**40, "sub": SUBJECT}).encode())

    assert _post(service, endpoint, good).status_code == 201
    assert _post(service, endpoint, f"vapid t={token}, k={key}").status_code == 201
    assert _post(service, endpoint, f"vapid t={token},k={other_k}").status_code == 401
    assert (
        _post(
            service, endpoint, f"vapid t={header}.{forged_claims}.{signature},k={key}"
        ).status_code
        == 401
    )
    assert _post(service, endpoint, f"WebPush {token}").status_code == 401
    assert _post(service, endpoint, good, TTL="soon").status_code == 400
    assert _post(service, endpoint, good, **{"Content-Encoding": "aesgcm"}).status_code == 400
    assert _post(service, endpoint, good, Urgency="urgent").status_code == 400
    assert _post(service, endpoint, good, Topic="x" * 33).status_code == 400
    assert [r.problem == "" for r in service.received] == [True, True] + [False] * 7


def test_fake_service_checks_audience_and_expiry(service: FakePushService) -> None:
    endpoint = service.endpoint()
    elsewhere = vapid.authorization_header("https://fcm.googleapis.com/fcm/send/x")["Authorization"]
    expired = vapid.authorization_header(endpoint, now=time.time() - 13 * 3600)["Authorization"]

    assert _post(service, endpoint, elsewhere).status_code == 401
    assert _post(service, endpoint, expired).status_code == 401
    assert "aud" in service.received[0].problem
    assert "exp" in service.received[1].problem
    with pytest.raises(Refused, match="24 hours"):
        verify_vapid(
            vapid.authorization_header(endpoint, now=time.time() + 13 * 3600)["Authorization"],
            service.origin,
        )


def test_fake_service_refuses_bodies_over_4096_bytes(service: FakePushService) -> None:
    endpoint = service.endpoint()
    body = bytes(16) + (4096).to_bytes(4, "big") + bytes([65]) + b"\x04" * 65 + bytes(4100)
    headers = {
        "TTL": "60",
        "Content-Encoding": "aes128gcm",
        **vapid.authorization_header(endpoint),
    }

    assert httpx.post(endpoint, headers=headers, content=body, trust_env=False).status_code == 413


# --- VAPID keys ---------------------------------------------------------------------------


def _public_point(key: ec.EllipticCurvePrivateKey) -> str:
    return b64(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def test_generated_key_is_kept_private_and_reused(tmp_path: Path) -> None:
    first = vapid.application_server_key()
    path = tmp_path / "vapid_private.pem"

    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["vapid_private.pem"]  # no temp left over
    vapid.reset_cache()
    assert vapid.application_server_key() == first
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    assert _public_point(loaded) == first


def test_application_server_key_is_an_uncompressed_p256_point() -> None:
    text = vapid.application_server_key()
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    assert "=" not in text and "+" not in text and "/" not in text
    assert len(raw) == 65 and raw[0] == 0x04
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


@pytest.mark.parametrize("form", ["pem-pkcs8", "pem-sec1", "raw"])
def test_key_from_settings_is_used(settings: Any, tmp_path: Path, form: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    if form == "raw":
        configured = b64(key.private_numbers().private_value.to_bytes(32, "big"))
    else:
        private_format = (
            serialization.PrivateFormat.PKCS8
            if form == "pem-pkcs8"
            else serialization.PrivateFormat.TraditionalOpenSSL
        )
        configured = key.private_bytes(
            serialization.Encoding.PEM, private_format, serialization.NoEncryption()
        ).decode()
    settings.SUIVI_VAPID_PRIVATE_KEY = configured

    assert vapid.application_server_key() == _public_point(key)
    assert not (tmp_path / "vapid_private.pem").exists()
    endpoint = "https://updates.push.services.mozilla.com/wpush/v2/abc"
    claims, k = verify_vapid(
        vapid.authorization_header(endpoint)["Authorization"],
        "https://updates.push.services.mozilla.com",
    )
    assert k == _public_point(key)
    assert claims["aud"] == "https://updates.push.services.mozilla.com"


@pytest.mark.parametrize(
    "configured",
    [
        "not a key",
        b64(bytes(range(20))),  # neither a 32-byte scalar nor DER
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    ],
    ids=["garbage", "wrong-length", "bad-pem"],
)
def test_unreadable_key_setting_is_a_configuration_error(settings: Any, configured: str) -> None:
    settings.SUIVI_VAPID_PRIVATE_KEY = configured

    with pytest.raises(ImproperlyConfigured):
        vapid.application_server_key()


def test_corrupt_key_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "vapid_private.pem"
    path.write_text("garbage")

    with pytest.raises(ImproperlyConfigured):
        vapid.application_server_key()
    assert path.read_text() == "garbage"


@pytest.mark.parametrize(
    ("endpoint", "aud"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc:def", "https://fcm.googleapis.com"),
        ("https://web.push.apple.com:443/QGx", "https://web.push.apple.com"),
        (
            "HTTPS://Updates.Push.Services.Mozilla.com/wpush/v2/x",
            "https://updates.push.services.mozilla.com",
        ),
        ("http://127.0.0.1:8123/p?q=1", "http://127.0.0.1:8123"),
    ],
)
def test_audience_is_the_endpoint_origin(endpoint: str, aud: str) -> None:
    assert vapid.audience(endpoint) == aud
