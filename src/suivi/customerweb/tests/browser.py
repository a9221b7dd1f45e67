"""Browser tests' plumbing: Suivi's real servers on the test database and Debian's Chromium
driven by Playwright (never a downloaded browser).

``Site`` starts what ``suivi run`` starts — granian WSGI for the pages, granian ASGI for the
live updates — with emails going to the test's SMTP server. Screenshots go to
``var/test-artifacts/screenshots/`` (``SUIVI_ARTIFACTS_DIR`` to change it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings

from suivi.notifications.tests import processes
from suivi.notifications.tests.smtp_server import free_port

CHROMIUM = os.environ.get("SUIVI_CHROMIUM", "/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
ARTIFACTS = Path(
    os.environ.get(
        "SUIVI_ARTIFACTS_DIR",
        Path(__file__).resolve().parents[4] / "var" / "test-artifacts" / "screenshots",
    )
)


def require_chromium() -> None:
    """Fail under CI (a browser test must run there), skip on a machine without Chromium."""
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return
    message = f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Site:
    base: str
    live: str
    processes: list[subprocess.Popen[bytes]]


@contextmanager
def site(smtp_port: int, *, worker: bool = False, **env_extra: str) -> Iterator[Site]:
    """The web server and the live server on free ports, against the test database; with
    *worker*, ``suivi worker`` too (the notifications leave through the outbox)."""
    port, live_port = free_port(), free_port()
    base, live = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{live_port}"
    env = processes.worker_env(
        smtp_port,
        SUIVI_BASE_URL=base,
        SUIVI_LIVE_URL=live,
        SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS="127.0.0.0/8",
        SUIVI_PRIVATE_DIR=str(Path(settings.DATA_DIR) / "private-browser"),
        **env_extra,
    )
    common = ["--host", "127.0.0.1", "--workers", "1", "--no-ws", "--log-level", "warning"]
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "granian", "--interface", "wsgi", "--port", str(port),
             "--blocking-threads", "4", *common, "suivi.wsgi:application"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, process_group=0,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "granian", "--interface", "asgi", "--port", str(live_port),
             *common, "suivi.asgi:application"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, process_group=0,
        ),
    ]  # fmt: skip
    if worker:
        started.append(processes.start(["worker"], env))

    def up(url: str) -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        processes.wait_until(lambda: up(base) and up(live), 40, "the web and live servers")
        yield Site(base, live, started)
    finally:
        for proc in started:
            processes.stop(proc)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium under Playwright."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # between browser steps are synchronous and safe (Django's documented escape hatch).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under the artifacts folder; return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {}
    kind = "phone" if size.get("width", 0) < 600 else "desktop"
    path = ARTIFACTS / f"{name}-{kind}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


UNLABELLED = """() => {
  const bad = [];
  document.querySelectorAll("input, select, textarea, button").forEach((el) => {
    if (el.type === "hidden" || el.disabled && el.type !== "text") return;
    if (el.tagName === "BUTTON" || el.type === "submit") {
      if (!(el.innerText || el.value || el.getAttribute("aria-label") || "").trim()) bad.push(el.outerHTML);
      return;
    }
    const labelled = (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`))
      || el.closest("label") || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!labelled) bad.push(el.outerHTML);
  });
  document.querySelectorAll("img").forEach((img) => { if (!img.hasAttribute("alt")) bad.push(img.outerHTML); });
  if (!document.documentElement.lang) bad.push("<html> without lang");
  return bad;
}"""


def assert_accessible(page: Any) -> None:
    """Every control has a label (or text), every image an alt, the page a language."""
    problems = page.evaluate(UNLABELLED)
    assert problems == [], f"{page.url}: {problems}"
