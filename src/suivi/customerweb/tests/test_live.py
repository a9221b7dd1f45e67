"""Live updates: a real ASGI server process (granian, as `suivi run` starts it) streams
Server-Sent Events to a client when a carrier event is pushed."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from suivi.carriers.vocabulary import Status
from suivi.customerweb.changes import latest_version
from suivi.notifications import links

from .browser import site
from .support import event, push, shipped_order

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_server_process():
    """The live process as `suivi run` starts it (with the web server beside it)."""
    with site(25) as server:
        yield server.live


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
