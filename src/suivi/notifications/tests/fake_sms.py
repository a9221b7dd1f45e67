"""SMS providers on loopback that check requests the way Twilio and Brevo do.

Each fake is a real HTTP server (``ThreadingHTTPServer`` on 127.0.0.1, port 0, daemon
thread). It records every request with what was found wrong with it (``problem``), refuses
bad ones with the provider's own status codes and error documents, and otherwise answers
with the provider's success shape or with a scripted answer queued by the test (429, 5xx,
a specific error code, a slow answer).

Shapes follow the providers' documentation:

- Twilio, Create Message (https://www.twilio.com/docs/messaging/api/message-resource):
  ``POST /2010-04-01/Accounts/{AC…}/Messages.json``, HTTP Basic (Account SID, Auth Token),
  form-encoded; 201 with the Message resource; errors ``{"code", "message", "more_info",
  "status"}`` (20003 Authenticate → 401, 21211 invalid 'To' → 400, 21602/21603/21604
  missing Body/From/To → 400, 20404 unknown resource → 404).
- Brevo (https://developers.brevo.com/docs/transactional-sms-endpoints):
  ``POST /v3/transactionalSMS/send``, header ``api-key``, JSON; 201 ``{"messageId": n}``;
  errors ``{"code", "message"}`` (``unauthorized`` → 401, ``missing_parameter`` /
  ``invalid_parameter`` → 400).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Refused(Exception):
    """A request the provider rejects: status and error document."""

    def __init__(self, status: int, document: dict[str, Any]) -> None:
        super().__init__(str(document))
        self.status = status
        self.document = document


@dataclass
class Answer:
    """A scripted answer for the next *valid* request."""

    status: int
    body: Any = None  # dict → JSON; str → as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    """One request as the provider saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    status: int = 0
    problem: str = ""
    form: dict[str, list[str]] = field(default_factory=dict)
    json: Any = None


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FakeProvider:
    """Common server machinery; subclasses implement :meth:`verify` and :meth:`success`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Queue the answer to the next request that passes verification."""
        self.script.append(Answer(status, body, dict(headers or {}), delay))

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- to override -------------------------------------------------------------------

    def verify(self, record: Received) -> None:
        raise NotImplementedError

    def success(self, record: Received) -> Answer:
        raise NotImplementedError

    # -- machinery ---------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        record = Received(handler.command, handler.path, headers, body)
        try:
            self.verify(record)
            with self._lock:
                answer = self.script.popleft() if self.script else None
            if answer is None:
                answer = self.success(record)
        except Refused as exc:
            record.problem = str(exc.document.get("message", exc.document))
            answer = Answer(exc.status, exc.document)
        record.status = answer.status
        with self._lock:
            self.received.append(record)
        if answer.delay:
            time.sleep(answer.delay)
        payload = answer.body
        data = (
            payload.encode()
            if isinstance(payload, str)
            else b""
            if payload is None
            else json.dumps(payload).encode()
        )
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                provider._handle(self)

            def do_GET(self) -> None:
                provider._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


# --- Twilio -------------------------------------------------------------------------

_TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-f]{32})/Messages\.json$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def _twilio_error(status: int, code: int, message: str) -> Refused:
    return Refused(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


class FakeTwilio(FakeProvider):
    """Twilio's Messages resource for one account."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sids: list[str] = []

    def verify(self, record: Received) -> None:
        match = _TWILIO_PATH.match(urlsplit(record.path).path)
        if record.method != "POST" or not match:
            raise _twilio_error(404, 20404, f"The requested resource {record.path} was not found")
        authorization = record.headers.get("authorization", "")
        scheme, _, encoded = authorization.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            user = password = ""
        if (
            scheme.lower() != "basic"
            or user != self.account_sid
            or password != self.auth_token
            or match["sid"] != self.account_sid
        ):
            raise _twilio_error(401, 20003, "Authenticate")
        content_type = record.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            raise _twilio_error(400, 21604, "A 'To' phone number is required.")
        record.form = parse_qs(record.body.decode(), keep_blank_values=True)
        form = {name: values[-1] for name, values in record.form.items()}
        if not form.get("To"):
            raise _twilio_error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            raise _twilio_error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            raise _twilio_error(400, 21602, "Message body is required.")
        if not _E164.match(form["To"]):
            raise _twilio_error(400, 21211, f"Invalid 'To' Phone Number: {form['To']}")
        callback = form.get("StatusCallback")
        if callback is not None and urlsplit(callback).scheme not in {"http", "https"}:
            raise _twilio_error(400, 21609, "Invalid StatusCallback url")

    def success(self, record: Received) -> Answer:
        sid = "SM" + uuid.uuid4().hex
        self.sids.append(sid)
        form = {name: values[-1] for name, values in record.form.items()}
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"
        return Answer(
            201,
            {
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "body": form["Body"],
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
                "to": form["To"],
                "uri": uri,
            },
        )


# --- Brevo --------------------------------------------------------------------------

_BREVO_PATH = "/v3/transactionalSMS/send"
_BREVO_RECIPIENT = re.compile(r"^\+?\d{6,15}$")
_BREVO_SENDER = re.compile(r"^([A-Za-z0-9 ]{1,11}|\d{1,15})$")


def _brevo_error(status: int, code: str, message: str) -> Refused:
    return Refused(status, {"code": code, "message": message})


class FakeBrevo(FakeProvider):
    """Brevo's transactional SMS endpoint for one API key."""

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self._ids = count(1511882900176220)
        self.message_ids: list[int] = []

    def verify(self, record: Received) -> None:
        if record.method != "POST" or urlsplit(record.path).path != _BREVO_PATH:
            raise _brevo_error(404, "document_not_found", "Not found")
        if record.headers.get("api-key", "") != self.api_key:
            raise _brevo_error(401, "unauthorized", "Key not found")
        if record.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise _brevo_error(400, "bad_request", "Content-Type must be application/json")
        try:
            body = json.loads(record.body)
        except ValueError:
            raise _brevo_error(400, "bad_request", "Input must be a valid JSON object") from None
        if not isinstance(body, dict):
            raise _brevo_error(400, "bad_request", "Input must be a valid JSON object")
        record.json = body
        for name in ("sender", "recipient", "content"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise _brevo_error(400, "missing_parameter", f"{name} is missing")
        if not _BREVO_RECIPIENT.match(body["recipient"]):
            raise _brevo_error(400, "invalid_parameter", "Invalid phone number")
        if not _BREVO_SENDER.match(body["sender"]):
            raise _brevo_error(
                400,
                "invalid_parameter",
                "sender is limited to 11 alphanumeric or 15 numeric characters",
            )
        if body.get("type", "transactional") not in {"transactional", "marketing"}:
            raise _brevo_error(400, "invalid_parameter", "type is not valid")
        if "unicodeEnabled" in body and not isinstance(body["unicodeEnabled"], bool):
            raise _brevo_error(400, "invalid_parameter", "unicodeEnabled must be a boolean")
        web_url = body.get("webUrl")
        if web_url is not None and urlsplit(str(web_url)).scheme not in {"http", "https"}:
            raise _brevo_error(400, "invalid_parameter", "webUrl is not a valid URL")

    def success(self, record: Received) -> Answer:
        message_id = next(self._ids)
        self.message_ids.append(message_id)
        return Answer(201, {"messageId": message_id})
