"""Live updates: a real ASGI server process (granian, as `suivi run` starts it) streams
Server-Sent Events to a client when a carrier event is pushed."""

from __future__ import annotations

import socket
import sys
import threading
import time

import httpx
import pytest

from suivi.carriers.vocabulary import Status
from suivi.customerweb.tracking import latest_version
from suivi.notifications import links
from suivi.notifications.tests import processes

from .support import event, push, shipped_order

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server_process():
    port = free_port()
    env = processes.worker_env(25)
    proc = __import__("subprocess").Popen(
        [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--no-ws", "--log-level", "warning",
         "suivi.asgi:application"],
        env=env, stdout=__import__("subprocess").PIPE, stderr=__import__("subprocess").STDOUT,
        process_group=0,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        processes.wait_until(up, 30, "the live server")
        yield base
    finally:
        processes.stop(proc)


def test_a_pushed_carrier_event_reaches_the_open_stream(shop_a, live_server_process) -> None:
    order = shipped_order(shop_a)
    url = f"{live_server_process}/t/{links.tracking_token(order.pk)}/live"
    seen: list[str] = []
    ready = threading.Event()

    def read() -> None:
        with httpx.stream("GET", url, timeout=20) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["access-control-allow-origin"] == "*"
            for line in response.iter_lines():
                if line.startswith("data: "):
                    seen.append(line[6:])
                    ready.set()
                    if len(seen) >= 2:
                        return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(15), "no first event"
    assert seen[0] == latest_version(order.pk)
    time.sleep(1.5)  # the poller has taken its high-water marks
    push(
        shop_a,
        "6A12345678901",
        [
            event(
                "6A12345678901",
                Status.OUT_FOR_DELIVERY,
                0.1,
                "En cours de livraison",
                "Paris 11",
                code="MD2",
            )
        ],
    )
    reader.join(15)
    assert len(seen) == 2, seen
    assert seen[1] == latest_version(order.pk) != seen[0]


def test_a_forged_token_gets_no_stream(live_server_process) -> None:
    response = httpx.get(f"{live_server_process}/t/1.AAAAAAAAAAAAAAAA/live", timeout=5)
    assert response.status_code == 404
    assert httpx.get(f"{live_server_process}/space/", timeout=5).status_code == 404
