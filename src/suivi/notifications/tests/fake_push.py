"""A push service on loopback that checks requests the way FCM or Mozilla autopush do.

It verifies VAPID (RFC 8292) itself with ``cryptography`` — deliberately not with
py_vapid, which signs our requests, so a shared bug cannot agree with itself — and the
RFC 8030 headers, then answers 201 Created with a Location, or a scripted answer.
Every request is recorded with what was found wrong with it (``problem``), so tests can
also prove that a bad request *is* refused.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_BODY = 4096
URGENCIES = {"very-low", "low", "normal", "high"}
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SUB = re.compile(r"^(mailto:[^@\s]+@[^@\s]+|https://\S+)$")
_AUTH = re.compile(r"^vapid\s+(?P<params>.+)$", re.IGNORECASE)


def _b64decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Refused(Exception):
    """A request the service rejects: status and reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Answer:
    """A scripted answer for the next request (after the request has been verified)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    delay: float = 0.0


@dataclass
class Received:
    """One request as the push service saw it."""

    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    status: int
    problem: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    vapid_key: str = ""


def verify_vapid(
    authorization: str, origin: str, now: float | None = None
) -> tuple[dict[str, Any], str]:
    """Check an ``Authorization: vapid t=…, k=…`` header; return (claims, k) or raise Refused."""
    now = time.time() if now is None else now
    match = _AUTH.match(authorization.strip())
    if not match:
        raise Refused(401, "Authorization scheme is not vapid")
    params: dict[str, str] = {}
    for part in match["params"].split(","):  # RFC 7235 auth-params: optional whitespace
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise Refused(401, f"malformed auth-param {part!r}")
        params[name.strip().lower()] = value.strip()
    if set(params) != {"t", "k"}:
        raise Refused(401, f"expected t and k, got {sorted(params)}")
    try:
        point = _b64decode(params["k"])
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        header_b64, claims_b64, signature_b64 = params["t"].split(".")
        header = json.loads(_b64decode(header_b64))
        claims = json.loads(_b64decode(claims_b64))
        signature = _b64decode(signature_b64)
    except (ValueError, json.JSONDecodeError) as exc:
        raise Refused(401, f"unreadable token or key: {exc}") from exc
    if len(point) != 65 or point[0] != 0x04:
        raise Refused(401, "k is not an uncompressed P-256 point")
    if header.get("alg") != "ES256":
        raise Refused(401, f"alg must be ES256, got {header.get('alg')!r}")
    if len(signature) != 64:
        raise Refused(401, "ES256 signature must be 64 bytes (r||s)")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused(401, "JWT signature does not verify with k") from None
    if claims.get("aud") != origin:
        raise Refused(401, f"aud {claims.get('aud')!r} is not {origin!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now:
        raise Refused(401, "exp missing or in the past")
    if exp > now + 86400:
        raise Refused(401, "exp more than 24 hours ahead")
    if not isinstance(claims.get("sub"), str) or not _SUB.match(claims["sub"]):
        raise Refused(401, f"sub {claims.get('sub')!r} is not a mailto: or https: URL")
    return claims, params["k"]


class FakePushService:
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: deque[Answer] = deque()
        self.bound_keys: dict[str, str] = {}  # path → applicationServerKey it was made with
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def endpoint(self, token: str | None = None) -> str:
        """A subscription endpoint URL on this service."""
        return f"{self.origin}/wpush/v2/{token or uuid.uuid4().hex}"

    def bind(self, endpoint: str, application_server_key: str) -> None:
        """Remember the key a subscription was created with (then others get 403, as FCM)."""
        self.bound_keys[endpoint.removeprefix(self.origin)] = application_server_key

    def answer(
        self, status: int, headers: dict[str, str] | None = None, body: str = "", delay: float = 0.0
    ) -> None:
        self.script.append(Answer(status, dict(headers or {}), body, delay))

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.02)

    def start(self) -> FakePushService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakePushService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _verify(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[dict[str, Any], str]:
        claims, key = verify_vapid(headers.get("authorization", ""), self.origin)
        bound = self.bound_keys.get(path)
        if bound is not None and bound != key:
            raise Refused(403, "the VAPID key differs from the subscription's applicationServerKey")
        ttl = headers.get("ttl")
        if ttl is None or not ttl.isdigit():
            raise Refused(400, "TTL header missing or not a non-negative integer")
        if headers.get("content-encoding") != "aes128gcm":
            raise Refused(400, "Content-Encoding must be aes128gcm")
        if "urgency" in headers and headers["urgency"] not in URGENCIES:
            raise Refused(400, f"bad Urgency {headers['urgency']!r}")
        if "topic" in headers and not _TOPIC.match(headers["topic"]):
            raise Refused(400, f"bad Topic {headers['topic']!r}")
        if len(body) > MAX_BODY:
            raise Refused(413, f"body of {len(body)} bytes exceeds {MAX_BODY}")
        if len(body) < 86 + 17 or body[20] != 65:
            raise Refused(400, "body is not an aes128gcm message with a P-256 sender key")
        return claims, key

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        record = Received(path=handler.path, headers=headers, body=body, status=0)
        answer = Answer(201, {"Location": f"{self.origin}/m/{uuid.uuid4().hex}"})
        try:
            record.claims, record.vapid_key = self._verify(handler.path, headers, body)
            with self._lock:
                if self.script:
                    answer = self.script.popleft()
        except Refused as exc:
            record.problem = exc.reason
            answer = Answer(exc.status, {}, json.dumps({"reason": exc.reason}))
        record.status = answer.status
        with self._lock:
            self.received.append(record)
        if answer.delay:
            time.sleep(answer.delay)
        payload = answer.body.encode()
        try:
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass  # the client gave up (timeout tests)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                service._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
