"""Live tracking updates: Server-Sent Events from an ASGI process, off the WSGI workers.

A browser on the tracking page holds one long connection here (``GET /t/<token>/live``).
Holding it on a WSGI worker would tie up a thread per open page; this process holds
thousands on one event loop. One poller per process reads what changed since its last look
(new ``OrderEvent`` rows and new carrier ``TrackingEvent`` rows, two primary-key range
scans a second, whatever the number of open pages) and wakes the pages of those orders,
which then fetch their fragment from the WSGI server.

The stream carries no personal data: only the page's new version string. The signed token
in the URL is the same proof the page itself needs; the answer allows any origin because it
carries no credentials (``suivi run`` serves it on its own port).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .changes import changes_since, high_water_marks, latest_version

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PATH = re.compile(r"^/t/([0-9a-z]{1,13}\.[A-Za-z0-9_-]{16})/live$")
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
MAX_STREAM_SECONDS = 600.0  # then the browser reconnects (EventSource does it by itself)


class Hub:
    """Subscriptions by order id, fed by one polling task."""

    def __init__(self) -> None:
        self.queues: dict[int, set[asyncio.Queue[str]]] = defaultdict(set)
        self.task: asyncio.Task[None] | None = None
        self.last_order_event = 0
        self.last_tracking_event = 0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="suivi-live-db")

    async def _db(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def subscribe(self, order_id: int) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=16)
        self.queues[order_id].add(queue)
        self.start()
        return queue

    def unsubscribe(self, order_id: int, queue: asyncio.Queue[str]) -> None:
        queues = self.queues.get(order_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self.queues[order_id]

    async def _run(self) -> None:
        self.last_order_event, self.last_tracking_event = await self._db(high_water_marks)
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if not self.queues:
                continue
            try:
                changed, self.last_order_event, self.last_tracking_event = await self._db(
                    changes_since, self.last_order_event, self.last_tracking_event
                )
            except Exception:  # a database hiccup: try again next second
                await self._db(_close_connection)
                continue
            for order_id in changed & set(self.queues):
                version = await self._db(latest_version, order_id)
                for queue in list(self.queues.get(order_id, ())):
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait(version)


def _close_connection() -> None:
    from django.db import connection

    connection.close()


def _order_of(token: str) -> int | None:
    from suivi.notifications import links

    return links.order_from_tracking_token(token)


hub = Hub()


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _stream(scope: Scope, receive: Receive, send: Send, order_id: int) -> None:
    queue = hub.subscribe(order_id)
    disconnected = asyncio.Event()

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                return

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                    (b"access-control-allow-origin", b"*"),
                ],
            }
        )
        # The version the page was built from (?v=…) may already be old: say the current one.
        current = await hub._db(latest_version, order_id)
        first = f"retry: 5000\nevent: update\ndata: {current}\n\n"
        await send({"type": "http.response.body", "body": first.encode(), "more_body": True})
        deadline = time.monotonic() + MAX_STREAM_SECONDS
        while not disconnected.is_set() and time.monotonic() < deadline:
            try:
                version = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
                chunk = f"event: update\ndata: {version}\n\n"
            except TimeoutError:
                chunk = ": keep-alive\n\n"
            await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        pass  # the client went away mid-write
    finally:
        watcher.cancel()
        hub.unsubscribe(order_id, queue)


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI application of the live process."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope.get("path", "")
    if path == "/healthz":
        await _plain(send, 200, b"ok")
        return
    match = PATH.match(path)
    if scope.get("method") != "GET" or match is None:
        await _plain(send, 404, b"not found")
        return
    order_id = await hub._db(_order_of, match.group(1))
    if not order_id:
        await _plain(send, 404, b"not found")
        return
    await _stream(scope, receive, send, order_id)
