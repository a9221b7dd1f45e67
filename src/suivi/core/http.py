"""The one HTTP seam: every outbound call (SMS providers, push services, merchant webhooks).

- Timeouts always, redirects never followed: a 3xx is an answer, not an instruction (a
  merchant URL must not bounce us onto an internal address).
- Merchant-supplied URLs go through :func:`request_public`, which refuses what
  :func:`check_public_url` refuses: only http(s), no credentials, no ambiguous numeric
  host (``http://2130706433/``, ``http://0177.0.0.1/``, ``http://127.1/``), and the host
  must resolve to public addresses only; private, loopback, link-local, shared (CGNAT),
  multicast and reserved ranges — also when embedded in IPv6 (``::ffff:10.0.0.1``, 6to4,
  NAT64) — are refused unless the operator lists them in
  ``SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS`` (CIDRs, e.g. ``127.0.0.0/8`` for local tests).
  The unspecified address (``0.0.0.0``, ``::``) and multicast are refused even then.
- The check is made again *when the connection is opened*, on the very addresses the
  socket connects to (a network backend under httpx does it), so a second DNS answer
  (DNS rebinding) or a parser disagreement cannot reach an address that was not checked.
  The URL keeps its host name, so the Host header, TLS SNI and certificate check, and the
  connection pool (keyed by host name) are all the ordinary ones.
- A merchant URL gets a *total* time limit (a server dripping one byte at a time cannot
  hold a worker) and at most :data:`MAX_PUBLIC_RESPONSE_BYTES` of its answer are read.
- Operator-configured provider URLs (Twilio, Brevo, a push service) are trusted as such:
  :func:`request`.

Tests exercise the real thing against HTTP servers on loopback, which the test settings
allow through ``SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS``.
"""

from __future__ import annotations

import email.utils
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import httpcore
import httpx
from django.conf import settings

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
#: Total time allowed for one call to a merchant URL when the caller gives none.
DEFAULT_PUBLIC_TIMEOUT = 10.0
#: At most this much of a merchant's answer is read (we keep an excerpt for diagnosis).
MAX_PUBLIC_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Suivi/0.1 (+https://github.com/suivi)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeURL(ValueError):
    """A merchant-supplied URL that we refuse to call; the message says why."""


class UnresolvableHost(UnsafeURL):
    """The URL's host does not resolve (now). :func:`request_public` reports this as an
    ``httpx.ConnectError`` instead — DNS can fail for a while — while a form validating a
    URL with :func:`check_public_url` can show it like any other refusal."""


@dataclass(frozen=True)
class CheckedURL:
    """A URL whose host resolved to *address* (first of *addresses*), allowed by the policy."""

    url: str
    host: str
    address: str
    addresses: tuple[str, ...] = ()


# Never a destination, whatever the operator allows: "this host" and multicast.
_NEVER = [
    ipaddress.ip_network(cidr)
    for cidr in ("0.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32", "::/128", "ff00::/8")
]
# Not public, beyond what this Python's ``ipaddress`` flags know (3.11 before 3.11.10 misses
# some of these): IETF protocol assignments, shared address space (CGNAT), benchmarking,
# deprecated IPv6 site-local, local-use NAT64, documentation.
_NOT_PUBLIC = [
    ipaddress.ip_network(cidr)
    for cidr in (
        "192.0.0.0/24",
        "100.64.0.0/10",
        "198.18.0.0/15",
        "fec0::/10",
        "64:ff9b:1::/48",
        "2001:db8::/32",
        "3fff::/20",
    )
]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# The last label of a host "ends in a number": URL parsers (WHATWG) and inet_aton read such a
# host as an IPv4 address in one of its legacy forms (decimal, octal, hex, fewer parts).
_NUMERIC_LABEL = re.compile(r"(?:[0-9]+|0[xX][0-9a-fA-F]*)")


def _allowed_networks() -> list[IPNetwork]:
    return [
        ipaddress.ip_network(cidr, strict=False)
        for cidr in getattr(settings, "SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS", [])
    ]


def _normalize(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) *is* its IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id:
            return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return address


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4 or well-known-prefix NAT64 address leads to, if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: IPAddress) -> bool:
    address = _normalize(address)
    if (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or any(address in network for network in _NOT_PUBLIC)
    ):
        return False
    embedded = _embedded_ipv4(address)
    return embedded is None or _is_public(embedded)


def address_allowed(address: str, extra_networks: Iterable[Any] | None = None) -> bool:
    """Tell whether we may connect to *address*: public, or in an operator-allowed range
    (*extra_networks*, else ``SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS``); never 0.0.0.0/8,
    ``::``, multicast or broadcast."""
    ip = _normalize(ipaddress.ip_address(address))
    if any(ip in network for network in _NEVER):
        return False
    if _is_public(ip):
        return True
    networks = (
        [ipaddress.ip_network(n, strict=False) for n in extra_networks]
        if extra_networks is not None
        else _allowed_networks()
    )
    return any(ip.version == network.version and ip in network for network in networks)


def _refuse_numeric_host(host: str) -> None:
    """Refuse a host that only a legacy IPv4 parser understands (``2130706433``,
    ``0177.0.0.1``, ``0x7f.1``, ``127.1``): parsers disagree on them, so they are where
    SSRF filters get bypassed. Only the canonical dotted quad is an IPv4 literal here."""
    name = host.rstrip(".")
    if ":" in name:
        return  # IPv6 literal
    canonical = True
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        canonical = False
    if canonical:
        return
    legacy = False
    try:
        socket.inet_aton(name)
        legacy = True
    except (OSError, ValueError):
        pass
    if legacy or _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
        raise UnsafeURL(
            f"The host {host!r} is a numeric address in a non-standard form; "
            "write an IPv4 address as four decimal numbers (a.b.c.d), or use a host name."
        )


def resolve_allowed(host: str, port: int) -> list[str]:
    """Resolve *host* and return its addresses, or raise :class:`UnsafeURL` if any of them
    is not allowed (:class:`UnresolvableHost` if it does not resolve)."""
    host = host.strip("[]")
    _refuse_numeric_host(host)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnresolvableHost(f"The host {host!r} does not resolve.") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnresolvableHost(f"The host {host!r} does not resolve.")
    refused = [a for a in addresses if not address_allowed(a)]
    if refused:
        raise UnsafeURL(
            f"The host {host!r} resolves to a private or reserved address ({refused[0]}); "
            "the operator must allow that network explicitly."
        )
    return addresses


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UnsafeURL(f"The URL is malformed: {exc}") from exc
    if parsed.scheme not in {"http", "https"}:
        raise UnsafeURL("Only http and https URLs are allowed.")
    if not parsed.raw_host:
        raise UnsafeURL("The URL has no host.")
    if b"%" in parsed.raw_host:
        raise UnsafeURL("IPv6 zone identifiers are not allowed in the host.")
    if parsed.userinfo:
        raise UnsafeURL("Credentials in the URL are not allowed; use the signing secret.")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise UnsafeURL(f"The port {parsed.port} is out of range.")
    return parsed


def check_public_url(url: str) -> CheckedURL:
    """Refuse *url* unless it is http(s) to a host that resolves only to allowed addresses.

    The URL is parsed by httpx, the same parser that :func:`request_public` sends with."""
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = resolve_allowed(host, port)
    return CheckedURL(url=url, host=host, address=addresses[0], addresses=tuple(addresses))


# --- Merchant URLs: the connection itself is guarded ------------------------------------

# Monotonic deadline of the current merchant call (set by request_public, per thread).
_deadline: ContextVar[float | None] = ContextVar("suivi_http_deadline", default=None)


def _remaining(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("The total time limit for this request was reached.")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Every read and write on a merchant connection is bounded by the call's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _remaining(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolve, check every address, then connect to a checked address (never a name)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve_allowed(host, port)
        except UnresolvableHost as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        error: Exception = httpcore.ConnectError(f"Could not connect to {host!r}.")
        for address in addresses:  # in resolver order, like socket.create_connection
            try:
                stream = super().connect_tcp(
                    address,
                    port,
                    _remaining(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _DeadlineStream(stream)
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise UnsafeURL("Unix sockets are not allowed for merchant URLs.")


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that uses :class:`_GuardedBackend`."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # httpx does not expose the network backend; we build the pool it would build,
        # with ours. tests_unit/test_http.py fails if this stops taking effect.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(),
        )


_LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=20)


@lru_cache(maxsize=1)
def _shared_client() -> httpx.Client:
    return httpx.Client(
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        limits=_LIMITS,
        trust_env=False,
    )


@lru_cache(maxsize=1)
def _public_client() -> httpx.Client:
    return httpx.Client(
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        transport=_GuardedTransport(_LIMITS),
        trust_env=False,
    )


def client() -> httpx.Client:
    """Return the process-wide client for provider URLs (connection pooling)."""
    return _shared_client()


def _timeout(timeout: float | None) -> httpx.Timeout:
    return httpx.Timeout(timeout, connect=min(timeout, 5.0)) if timeout else DEFAULT_TIMEOUT


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | str | None = None,
    data: Mapping[str, Any] | None = None,
    json: Any = None,
    auth: tuple[str, str] | None = None,
    timeout: float | None = None,
    params: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Call an operator-configured provider URL (no redirects, bounded time)."""
    return client().request(
        method,
        url,
        headers=headers,
        content=content,
        data=data,
        json=json,
        auth=auth,
        params=params,
        timeout=_timeout(timeout),
    )


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` header: delta-seconds or an HTTP date
    (RFC 9110 §10.2.3); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@contextmanager
def _deadline_in(seconds: float) -> Iterator[None]:
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


_NOT_KEPT = {"content-encoding", "content-length", "transfer-encoding"}


def request_public(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | str | None = None,
    timeout: float | None = None,
) -> httpx.Response:
    """Call a merchant-supplied URL.

    Raises :class:`UnsafeURL` when the policy refuses the URL or an address its host
    resolves to (before anything is sent), ``httpx.TimeoutException`` when *timeout*
    seconds (default :data:`DEFAULT_PUBLIC_TIMEOUT`) pass in total, other
    ``httpx.HTTPError`` on transport errors (an unresolvable host is an
    ``httpx.ConnectError``). A 3xx is returned as it is. The returned response is fully
    read, with at most :data:`MAX_PUBLIC_RESPONSE_BYTES` of (decoded) content.
    """
    try:
        check_public_url(url)  # the clear refusal; the connection checks again what it uses
    except UnresolvableHost as exc:
        raise httpx.ConnectError(str(exc)) from exc
    total = timeout if timeout else DEFAULT_PUBLIC_TIMEOUT
    # The Host header is the URL's (httpx writes it); a caller cannot point it elsewhere.
    sent = {k: v for k, v in (headers or {}).items() if k.lower() != "host"}
    if not any(k.lower() == "accept-encoding" for k in sent):
        sent["Accept-Encoding"] = "identity"  # we keep an excerpt; no decompression bombs
    with (
        _deadline_in(total),
        _public_client().stream(
            method, url, headers=sent, content=content, timeout=_timeout(total)
        ) as response,
    ):
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk[: MAX_PUBLIC_RESPONSE_BYTES - len(body)]
            if len(body) >= MAX_PUBLIC_RESPONSE_BYTES:
                break
        return httpx.Response(
            response.status_code,
            headers=[
                (k, v) for k, v in response.headers.multi_items() if k.lower() not in _NOT_KEPT
            ],
            content=bytes(body),
            request=response.request,
            extensions={"http_version": response.extensions.get("http_version", b"HTTP/1.1")},
        )
