"""A merchant's webhook receiver on loopback, checking signatures as the specification says.

The check (:func:`check_standard_webhook`) is written here from the Standard Webhooks
specification — deliberately not with :mod:`suivi.notifications.webhook_signing`, which
signs our requests, so a shared bug cannot agree with itself. Every request is recorded
with what was found wrong with it (``problem``, "" when the signature is good); answers are
scripted (status, headers, body, delay) and default to 204.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def check_standard_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    tolerance: int = 300,
) -> str:
    """Return "" if *body* and *headers* carry a valid Standard Webhooks signature made
    with *secret* (``whsec_<base64>``), else what is wrong."""
    h = {k.lower(): v for k, v in headers.items()}
    msg_id = h.get("webhook-id")
    ts = h.get("webhook-timestamp")
    sigs = h.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        return "missing header"
    if not ts.isdigit():
        return "timestamp not an integer"
    now = time.time() if now is None else now
    if abs(now - int(ts)) > tolerance:
        return "timestamp outside tolerance"
    if not secret.startswith("whsec_"):
        return "secret not in whsec_ form"
    key = base64.b64decode(secret[len("whsec_") :])
    to_sign = msg_id.encode() + b"." + ts.encode() + b"." + body
    expected = "v1," + base64.b64encode(hmac.new(key, to_sign, hashlib.sha256).digest()).decode()
    for candidate in sigs.split(" "):
        if hmac.compare_digest(candidate.encode(), expected.encode()):
            return ""
    return "no matching signature"


@dataclass
class Answer:
    """A scripted answer for the next request."""

    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before answering (a slow receiver)


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    problem: str
    at: float


class FakeWebhookReceiver:
    """``with FakeWebhookReceiver(secret, [Answer(500), Answer(200)]) as rx: rx.url``"""

    def __init__(self, secret: str, answers: list[Answer] | None = None) -> None:
        self.secret = secret
        self.answers: deque[Answer] = deque(answers or [])
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                problem = check_standard_webhook(receiver.secret, headers, body)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.command, self.path, headers, body, problem, time.time())
                    )
                    answer = receiver.answers.popleft() if receiver.answers else Answer()
                if answer.delay:
                    receiver._stop.wait(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the sender gave up (timeout): nothing to answer to

            do_GET = do_POST
            do_PUT = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/suivi"

    def __enter__(self) -> FakeWebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
