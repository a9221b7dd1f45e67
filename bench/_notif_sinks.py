"""The receiving ends of the notifications benchmark, each run as a process of its own (so
it never shares a GIL with what it measures), and the clients that feed them raw.

    python bench/_notif_sinks.py smtp     a real aiosmtpd SMTP server on a free loopback port
    python bench/_notif_sinks.py http     a threaded HTTP/1.1 receiver answering 204

Each prints ``READY <port>`` once it listens, then answers commands read on stdin, one per
line, with one line of JSON on stdout:

    STATS           {"count", "unique", "duplicates", "bytes", "cpu_s", "last_at"}
    DUMP <path>     writes every arrival [key, order reference, unix time] as JSON to <path>
    RESET           forgets what arrived
    QUIT            stops

An arrival's key is the email's ``Message-ID`` (or the webhook's ``webhook-id``) — the
engine derives both from the message's idempotency key, so the same message sent twice
shows up as a duplicate. Times are ``time.time()``: the same clock in every process of the
machine, to compare with the commit times the benchmark records.

No Django here. :class:`SinkProcess` starts and drives a sink from the benchmark driver.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


class Arrivals:
    """What a sink received, thread-safe (appending to a list is atomic under the GIL)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, float]] = []
        self.bytes = 0
        self.lock = threading.Lock()

    def add(self, key: str, order: str, at: float, size: int) -> None:
        self.items.append((key, order, at))
        self.bytes += size

    def stats(self) -> dict[str, Any]:
        items = list(self.items)
        unique = len({key for key, _, _ in items})
        return {
            "count": len(items),
            "unique": unique,
            "duplicates": len(items) - unique,
            "bytes": self.bytes,
            "cpu_s": round(time.process_time(), 3),
            "last_at": max((at for _, _, at in items), default=0.0),
        }

    def reset(self) -> None:
        self.items = []
        self.bytes = 0


def _header(data: bytes, name: bytes, end: int) -> str:
    """Return the value of header *name* (exact case, as the sender writes it) in the first
    *end* bytes of *data*, "" if absent. Cheap: no email parsing in the sink."""
    start = data.find(b"\n" + name + b":", 0, end)
    if start < 0:
        if not data.startswith(name + b":"):
            return ""
        start = -1
    start += len(name) + 2
    stop = data.find(b"\n", start)
    return data[start:stop].strip().decode("ascii", "replace")


# --- SMTP ---------------------------------------------------------------------------------


class SmtpHandler:
    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.time()
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode()
        end = data.find(b"\r\n\r\n")
        end = len(data) if end < 0 else end
        key = _header(data, b"Message-ID", end) or _header(data, b"Message-Id", end)
        order = _header(data, b"X-Suivi-Order", end)
        self.arrivals.add(key or f"no-id-{len(self.arrivals.items)}", order, at, len(data))
        return "250 Message accepted for delivery"


def serve_smtp(port: int, arrivals: Arrivals) -> tuple[int, Any]:
    from aiosmtpd.controller import Controller

    controller = Controller(
        SmtpHandler(arrivals),
        hostname=HOST,
        port=port or free_port(),
        data_size_limit=10 * 1024 * 1024,
        ready_timeout=10,
    )
    controller.start()
    return controller.port, controller.stop


# --- HTTP ---------------------------------------------------------------------------------


class _HttpHandler(socketserver.BaseRequestHandler):
    """HTTP/1.1 keep-alive, parsed by hand (only the framing and two headers): the
    standard library's handler parses headers through the email package, several times the
    CPU of what it serves here."""

    arrivals: Arrivals

    def handle(self) -> None:
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        while True:
            while (end := buffer.find(b"\r\n\r\n")) < 0:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, buffer = buffer[: end + 2], buffer[end + 4 :]
            length = 0
            key = ""
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value)
                elif lname == b"webhook-id":
                    key = value.strip().decode("ascii", "replace")
                elif lname == b"connection" and b"close" in value.lower():
                    close = True
            while len(buffer) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            body, buffer = buffer[:length], buffer[length:]
            at = time.time()
            order = ""
            if (i := body.find(b'"reference":"')) >= 0:
                order = body[i + 13 : body.find(b'"', i + 13)].decode("utf-8", "replace")
            self.arrivals.add(key or f"no-id-{len(self.arrivals.items)}", order, at, length)
            sock.sendall(b"HTTP/1.1 204 No Content\r\nServer: bench-sink\r\n\r\n")
            if close:
                return


class _ThreadingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve_http(port: int, arrivals: Arrivals) -> tuple[int, Any]:
    handler = type("Handler", (_HttpHandler,), {"arrivals": arrivals})
    server = _ThreadingServer((HOST, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="http-sink")
    thread.start()
    return int(server.server_address[1]), server.shutdown


# --- the sink process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def sink_main(kind: str, port: int) -> int:
    arrivals = Arrivals()
    serve = serve_smtp if kind == "smtp" else serve_http
    port, stop = serve(port, arrivals)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver stops us with QUIT or SIGTERM
    print(f"READY {port}", flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "STATS":
            print(json.dumps(arrivals.stats()), flush=True)
        elif command == "DUMP":
            Path(arg).write_text(json.dumps(list(arrivals.items)))
            print(json.dumps({"dumped": len(arrivals.items)}), flush=True)
        elif command == "RESET":
            arrivals.reset()
            print(json.dumps({"reset": True}), flush=True)
        elif command == "QUIT":
            break
        else:
            print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)
    with contextlib.suppress(Exception):
        stop()
    return 0


class SinkProcess:
    """Start a sink process and talk to it (from the benchmark driver)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,  # Ctrl-C in the terminal reaches the driver only
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.close()
            raise RuntimeError(f"the {kind} sink did not start: {line!r}")
        self.port = int(line.split()[1])
        self.lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def command(self, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self.lock:
            self.proc.stdin.write(text + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.kind} sink stopped")
        return dict(json.loads(line))

    def stats(self) -> dict[str, Any]:
        return self.command("STATS")

    def reset(self) -> None:
        self.command("RESET")

    def arrivals(self, path: Path) -> list[tuple[str, str, float]]:
        self.command(f"DUMP {path}")
        items = json.loads(path.read_text())
        path.unlink()
        return [(str(k), str(o), float(t)) for k, o, t in items]

    def wait_for(
        self, count: int, timeout: float, poll: float = 0.05, stalled: float = 0.0
    ) -> dict[str, Any]:
        """Wait until *count* arrivals (or *timeout*, or *stalled* seconds without any)."""
        deadline = time.monotonic() + timeout
        last_count, last_change = -1, time.monotonic()
        while True:
            stats = self.stats()
            now = time.monotonic()
            if stats["count"] >= count or now > deadline:
                return stats
            if stats["count"] != last_count:
                last_count, last_change = stats["count"], now
            elif stalled and now - last_change > stalled:
                return stats
            time.sleep(poll)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.write("QUIT\n")
                self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                if stream:
                    stream.close()


# --- raw clients (the baselines) ----------------------------------------------------------


def smtplib_baseline(port: int, messages: list[bytes], seconds: float) -> dict[str, Any]:
    """Send *messages* (complete RFC 5322 bytes) through one reused smtplib connection, as
    fast as the sink takes them, for at most *seconds*; return the rate and client CPU."""
    import smtplib

    conn = smtplib.SMTP(HOST, port, timeout=30)
    conn.ehlo()
    cpu0, started = time.process_time(), time.perf_counter()
    deadline = started + seconds
    done = 0
    for data in messages:
        conn.sendmail("bench@suivi.localhost", ["customer@example.fr"], data)
        done += 1
        if done % 50 == 0 and time.perf_counter() > deadline:
            break
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    conn.quit()
    return {
        "messages": done,
        "per_s": round(done / wall, 1) if wall else 0.0,
        "client_cpu_ms": round(cpu * 1000 / max(1, done), 3),
        "seconds": round(wall, 3),
    }


def http_baseline(port: int, bodies: list[bytes], seconds: float) -> dict[str, Any]:
    """POST *bodies* through one reused httpx connection (the engine's HTTP client library,
    without the engine): the rate and the client CPU."""
    import httpx

    done = 0
    with httpx.Client(base_url=f"http://{HOST}:{port}", trust_env=False) as client:
        client.post("/warm", content=b"{}", headers={"webhook-id": "warm"})
        cpu0, started = time.process_time(), time.perf_counter()
        deadline = started + seconds
        for i, body in enumerate(bodies):
            response = client.post(
                "/hook",
                content=body,
                headers={"content-type": "application/json", "webhook-id": f"base-{i}"},
            )
            if response.status_code != 204:
                raise RuntimeError(f"the receiver answered {response.status_code}")
            done += 1
            if done % 50 == 0 and time.perf_counter() > deadline:
                break
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    return {
        "messages": done,
        "per_s": round(done / wall, 1) if wall else 0.0,
        "client_cpu_ms": round(cpu * 1000 / max(1, done), 3),
        "seconds": round(wall, 3),
    }


def small_email(i: int, run: str) -> bytes:
    """A small plain-text email with a unique Message-ID."""
    return (
        f"From: bench@suivi.localhost\r\nTo: customer@example.fr\r\n"
        f"Subject: Message {i}\r\nMessage-ID: <base-{run}-{i}@suivi.localhost>\r\n"
        f"X-Suivi-Order: BASE-{i}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Bonjour, votre commande BASE-{i} est confirmée.\r\n"
    ).encode()


def resized_email(sample: bytes, i: int, run: str) -> bytes:
    """*sample* (a real email captured by the sink) with a unique Message-ID."""
    head, sep, body = sample.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"message-id:")]
    lines.append(f"Message-ID: <base-{run}-{i}@suivi.localhost>".encode())
    return b"\r\n".join(lines) + sep + body


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("smtp", "http"):
        sys.exit("usage: _notif_sinks.py smtp|http [port]")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(sink_main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0))
