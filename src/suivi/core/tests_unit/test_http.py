"""The HTTP seam: the SSRF policy, no redirects, time limits — against real loopback servers.

Nothing is mocked: URLs are checked by the real resolver, and requests go over real
sockets to :class:`Server`, a scripted ``ThreadingHTTPServer`` on 127.0.0.1 that records
what it received. Loopback is refused by default, so each test says which networks the
operator allows through pytest-django's ``settings`` fixture.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from suivi.core import http
from suivi.core.http import (
    MAX_PUBLIC_RESPONSE_BYTES,
    UnresolvableHost,
    UnsafeURL,
    address_allowed,
    check_public_url,
    request,
    request_public,
)

LOOPBACK = ["127.0.0.0/8"]


@dataclass
class Script:
    """One scripted answer. ``delay`` waits before anything is sent; ``drip`` sends the
    status line and headers (or, with ``drip_headers``, everything) one byte per ``drip``
    seconds."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0
    drip: float = 0.0
    drip_headers: bool = False
    hang_after: int | None = None  # send this many body bytes, then nothing more


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


class Server:
    """A scripted HTTP/1.1 server on 127.0.0.1 (port 0), recording every request."""

    def __init__(self, *answers: Script, tls: ssl.SSLContext | None = None) -> None:
        self.answers: deque[Script] = deque(answers)
        self.seen: list[Seen] = []
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.seen.append(
                    Seen(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                answer = server.answers.popleft() if server.answers else Script()
                if answer.delay:
                    server.stop.wait(answer.delay)
                head = f"HTTP/1.1 {answer.status} Scripted\r\n".encode()
                for name, value in {
                    "Content-Length": str(len(answer.body)),
                    **answer.headers,
                }.items():
                    head += f"{name}: {value}\r\n".encode()
                head += b"\r\n"
                try:
                    if answer.hang_after is not None:
                        self.wfile.write(head + answer.body[: answer.hang_after])
                        self.wfile.flush()
                        server.stop.wait(30)
                    elif answer.drip and answer.drip_headers:
                        self._drip(head + answer.body, answer.drip)
                    elif answer.drip:
                        self.wfile.write(head)
                        self.wfile.flush()
                        self._drip(answer.body, answer.drip)
                    else:
                        self.wfile.write(head + answer.body)
                except OSError:
                    pass  # the client gave up

            def _drip(self, data: bytes, every: float) -> None:
                for i in range(len(data)):
                    if server.stop.wait(every):
                        return
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()

            do_GET = do_POST = do_PUT = handle_one

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[Server] = []

    def start(*answers: Script, tls: ssl.SSLContext | None = None) -> Server:
        server = Server(*answers, tls=tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def loopback_allowed(settings: Any) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = LOOPBACK


@pytest.fixture
def nothing_allowed(settings: Any) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = []


# --- The policy: check_public_url ------------------------------------------------------

REFUSED_BY_DEFAULT = [
    "ftp://example.com/",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "http:///no-host",
    "http://user:secret@93.184.216.34/",
    "http://93.184.216.34:99999/",
    "http://127.0.0.1/",
    "http://127.8.9.10:8080/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://[::1]/",
    "http://[::1]:8080/",
    "http://0.0.0.0/",
    "http://0.0.0.0:8000/",
    "http://[::]/",
    "http://2130706433/",  # 127.0.0.1 as one decimal number
    "http://0177.0.0.1/",  # octal
    "http://0x7f.0.0.1/",  # hex
    "http://0x7f000001/",
    "http://127.1/",  # short form
    "http://017700000001/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:a9fe:a9fe]/",  # mapped 169.254.169.254
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://100.64.0.1/",  # shared address space (CGNAT)
    "http://192.0.0.8/",  # IETF protocol assignments
    "http://198.18.0.1/",  # benchmarking
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fec0::1]/",  # site-local
    "http://[ff02::1]/",
    "http://[2002:7f00:1::]/",  # 6to4 wrapping 127.0.0.1
    "http://[2002:a00:1::]/",  # 6to4 wrapping 10.0.0.1
    "http://[64:ff9b::a00:1]/",  # NAT64 to 10.0.0.1
    "http://[2001:db8::1]/",  # documentation
    "http://example.123/",  # ends in a number: an IPv4 form to URL parsers
]


@pytest.mark.parametrize("url", REFUSED_BY_DEFAULT)
def test_private_reserved_and_odd_urls_are_refused(nothing_allowed: None, url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_public_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.0.0.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://0x7f000001/",
    ],
)
def test_numeric_forms_are_refused_even_where_the_address_is_allowed(
    loopback_allowed: None, url: str
) -> None:
    """The resolver reads these as 127.0.0.1, which is allowed here: they are refused for
    their form — parsers disagree on them, which is how SSRF filters are bypassed."""
    with pytest.raises(UnsafeURL, match=r"non-standard form|Invalid IPv4"):
        check_public_url(url)


@pytest.mark.parametrize(
    "url", ["http://0.0.0.0/", "http://[::]/", "http://224.0.0.1/", "http://[ff02::1]/"]
)
def test_unspecified_and_multicast_are_refused_whatever_the_operator_allows(
    settings: Any, url: str
) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["0.0.0.0/0", "::/0"]
    with pytest.raises(UnsafeURL):
        check_public_url(url)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://93.184.216.34/webhooks", "93.184.216.34"),
        ("https://93.184.216.34:8443/x?y=1", "93.184.216.34"),
        ("https://[2606:4700::6810:85e5]/hook", "2606:4700::6810:85e5"),
        ("HTTPS://8.8.8.8/", "8.8.8.8"),
    ],
)
def test_public_addresses_are_accepted(nothing_allowed: None, url: str, address: str) -> None:
    checked = check_public_url(url)
    assert checked.address == address
    assert checked.addresses == (address,)


def test_allowed_networks_open_exactly_what_they_list(settings: Any) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = LOOPBACK
    assert check_public_url("http://127.0.0.1:8080/x").address == "127.0.0.1"
    assert check_public_url("http://127.99.0.1/").address == "127.99.0.1"
    # The mapped form is the same address, so the same answer.
    assert check_public_url("http://[::ffff:127.0.0.1]:8080/").address == "::ffff:127.0.0.1"
    # Another family or another range stays refused.
    for url in ("http://[::1]/", "http://10.0.0.1/", "http://169.254.169.254/"):
        with pytest.raises(UnsafeURL):
            check_public_url(url)


def test_a_host_name_is_judged_by_what_it_resolves_to(settings: Any) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = []
    with pytest.raises(UnsafeURL, match="private or reserved"):
        check_public_url("http://localhost:8000/")
    resolved = {info[4][0] for info in socket.getaddrinfo("localhost", 80)}
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8", "::1/128"]
    checked = check_public_url("http://localhost:8000/")
    assert set(checked.addresses) == resolved
    assert checked.host == "localhost"


def test_an_unresolvable_host_is_its_own_refusal(nothing_allowed: None) -> None:
    with pytest.raises(UnresolvableHost):
        check_public_url("https://nothing-here.invalid/hook")


def test_address_allowed_takes_explicit_networks() -> None:
    assert address_allowed("93.184.216.34", [])
    assert not address_allowed("10.0.0.5", [])
    assert address_allowed("10.0.0.5", ["10.0.0.0/24"])
    assert address_allowed("::ffff:10.0.0.5", ["10.0.0.0/24"])
    assert not address_allowed("10.0.1.5", ["10.0.0.0/24"])
    assert not address_allowed("0.0.0.0", ["0.0.0.0/0"])  # noqa: S104 (an address, not a bind)


# --- Live requests to merchant URLs: request_public ------------------------------------


def test_the_request_reaches_the_server_with_the_right_host_header(
    loopback_allowed: None, serve: Any
) -> None:
    server = serve(Script(201, {"X-Receipt": "r-1"}, b'{"ok":true}'))
    response = request_public(
        "POST",
        server.url("/hooks/in?shop=7"),
        headers={"Content-Type": "application/json", "X-Extra": "1"},
        content=b'{"a":1}',
        timeout=5,
    )
    assert response.status_code == 201
    assert response.headers["x-receipt"] == "r-1"
    assert response.json() == {"ok": True}
    [seen] = server.seen
    assert (seen.method, seen.path, seen.body) == ("POST", "/hooks/in?shop=7", b'{"a":1}')
    # A non-default port belongs in the Host header.
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"
    assert seen.headers["x-extra"] == "1"
    assert seen.headers["user-agent"] == http.USER_AGENT


def test_a_host_name_is_kept_in_the_host_header(settings: Any, serve: Any) -> None:
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8", "::1/128"]
    server = serve(Script(204, body=b""))
    response = request_public("GET", f"http://localhost:{server.port}/x", timeout=5)
    assert response.status_code == 204
    assert server.seen[0].headers["host"] == f"localhost:{server.port}"


def test_a_caller_cannot_point_the_host_header_elsewhere(
    loopback_allowed: None, serve: Any
) -> None:
    server = serve(Script())
    request_public("GET", server.url(), headers={"host": "intranet.internal"}, timeout=5)
    assert server.seen[0].headers["host"] == f"127.0.0.1:{server.port}"


def test_a_refused_url_sends_nothing(nothing_allowed: None, serve: Any) -> None:
    server = serve(Script())
    with pytest.raises(UnsafeURL):
        request_public("POST", server.url(), content=b"x", timeout=5)
    with pytest.raises(UnsafeURL):
        request_public("POST", f"http://localhost:{server.port}/hook", content=b"x", timeout=5)
    with pytest.raises(UnsafeURL):
        request_public("POST", f"http://2130706433:{server.port}/hook", timeout=5)
    assert server.seen == []


def test_the_connection_itself_checks_the_address(nothing_allowed: None, serve: Any) -> None:
    """Past check_public_url (as after a DNS answer that changed — rebinding), the
    connection re-checks the address it is about to use: nothing reaches the server."""
    server = serve(Script())
    with pytest.raises(UnsafeURL):
        http._public_client().get(server.url())
    with pytest.raises(UnsafeURL):
        http._public_client().get(f"http://0x7f000001:{server.port}/")
    assert server.seen == []


def test_a_redirect_is_returned_not_followed(loopback_allowed: None, serve: Any) -> None:
    elsewhere = serve(Script())
    first = serve(Script(302, {"Location": elsewhere.url("/internal")}, b""))
    response = request_public("POST", first.url(), content=b"{}", timeout=5)
    assert response.status_code == 302
    assert response.headers["location"] == elsewhere.url("/internal")
    assert len(first.seen) == 1
    assert elsewhere.seen == []


def test_provider_requests_do_not_follow_redirects_either(serve: Any) -> None:
    elsewhere = serve(Script())
    first = serve(Script(307, {"Location": elsewhere.url()}, b""))
    response = request("GET", first.url(), timeout=5)
    assert response.status_code == 307
    assert elsewhere.seen == []


def test_a_slow_answer_times_out(loopback_allowed: None, serve: Any) -> None:
    server = serve(Script(delay=5))
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        request_public("POST", server.url(), content=b"{}", timeout=0.5)
    assert time.monotonic() - started < 4.5  # the server answers after 5 s
    assert len(server.seen) == 1


def test_the_time_limit_is_total_against_a_dripping_body(
    loopback_allowed: None, serve: Any
) -> None:
    """One byte every 0.2 s never trips a per-read timeout of 1 s; the total limit does."""
    server = serve(Script(body=b"x" * 100, drip=0.2))
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        request_public("GET", server.url(), timeout=1.0)
    assert time.monotonic() - started < 8  # the whole body would take 20 s


def test_the_time_limit_is_total_against_dripping_headers(
    loopback_allowed: None, serve: Any
) -> None:
    server = serve(Script(body=b"x", drip=0.2, drip_headers=True))
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        request_public("GET", server.url(), timeout=1.0)
    assert time.monotonic() - started < 8


def test_only_the_start_of_a_large_answer_is_read(loopback_allowed: None, serve: Any) -> None:
    server = serve(Script(500, body=b"e" * (5 * MAX_PUBLIC_RESPONSE_BYTES)))
    response = request_public("POST", server.url(), timeout=5)
    assert response.status_code == 500
    assert response.content == b"e" * MAX_PUBLIC_RESPONSE_BYTES


def test_reading_stops_at_the_limit(loopback_allowed: None, serve: Any) -> None:
    """The server announces more and then stalls: we stop reading at the limit instead of
    waiting for the rest."""
    size = 3 * MAX_PUBLIC_RESPONSE_BYTES
    server = serve(Script(200, body=b"s" * size, hang_after=MAX_PUBLIC_RESPONSE_BYTES + 10))
    started = time.monotonic()
    response = request_public("GET", server.url(), timeout=10)
    assert time.monotonic() - started < 8  # not the 10 s time limit
    assert response.content == b"s" * MAX_PUBLIC_RESPONSE_BYTES


def test_the_pooled_connection_is_reused_and_still_works(
    loopback_allowed: None, serve: Any
) -> None:
    server = serve(Script(body=b"one"), Script(body=b"two"))
    assert request_public("GET", server.url(), timeout=5).text == "one"
    assert request_public("GET", server.url(), timeout=5).text == "two"
    assert len(server.seen) == 2


def test_transport_failures_are_httpx_errors(loopback_allowed: None, settings: Any) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        request_public("POST", f"http://127.0.0.1:{port}/", timeout=2)
    # DNS can fail for a while: a transport error (retried), not a refusal of the URL.
    with pytest.raises(httpx.ConnectError):
        request_public("POST", "https://nothing-here.invalid/hook", timeout=2)


def self_signed_tls(tmp_path: Any, sni_seen: list[str | None]) -> ssl.SSLContext:
    """A server TLS context with a self-signed certificate for localhost, recording the
    name each client asked for (SNI)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    context.sni_callback = lambda _sock, server_name, _ctx: sni_seen.append(server_name)
    return context


def test_https_sends_the_host_name_as_sni_and_verifies_the_certificate(
    settings: Any, serve: Any, tmp_path: Any
) -> None:
    """Connecting to the checked address does not weaken TLS: the handshake names the
    host (SNI), and a certificate no public authority signed is refused before any byte
    of the request is sent."""
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8", "::1/128"]
    sni_seen: list[str | None] = []
    server = serve(Script(), tls=self_signed_tls(tmp_path, sni_seen))
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        request_public("POST", f"https://localhost:{server.port}/hook", content=b"{}", timeout=5)
    assert sni_seen == ["localhost"]
    assert server.seen == []
