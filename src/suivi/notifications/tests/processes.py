"""Start real worker processes (``suivi worker``, Celery workers) on the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection


def database_url() -> str:
    """The URL of the database the tests run on (the test database, not the dev one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def worker_env(smtp_port: int, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "suivi.settings",
        "DATABASE_URL": database_url(),
        "SUIVI_DATA_DIR": str(settings.DATA_DIR),
        "SUIVI_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "SUIVI_EMAIL_HOST": "127.0.0.1",
        "SUIVI_EMAIL_PORT": str(smtp_port),
        "SUIVI_DEFAULT_FROM_EMAIL": "notifications@suivi.test",
        "SUIVI_BASE_URL": "https://suivi.test",
        "SUIVI_LOG_LEVEL": "WARNING",
        "SUIVI_WORKER_POLL_SECONDS": "0.1",
    }
    env.update(extra)
    return env


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "suivi.cli", *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        process_group=0,
    )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> str:
    """Stop the process group; return what it printed (for failure messages)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate(timeout=5)
    return out.decode(errors="replace")[-4000:]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def fresh_broker(kind: str, *, redis_url: str, queue: str) -> str:
    """The URL of a running broker with an empty *queue* (Redis: the whole database is
    flushed); skips the test when the broker is down (a failure under CI=true)."""
    import pytest

    if kind == "redis":
        import redis

        client = redis.Redis.from_url(redis_url)
        try:
            client.flushdb()
        except redis.ConnectionError as exc:
            pytest.skip(f"Redis is not running on 127.0.0.1:6379 ({exc})")
        return redis_url
    from kombu import Connection

    try:
        with Connection(RABBITMQ, connect_timeout=5) as connection:
            channel = connection.channel()
            channel.queue_declare(queue=queue, durable=True, auto_delete=False)
            channel.queue_purge(queue)
    except OSError as exc:
        pytest.skip(f"RabbitMQ is not running on 127.0.0.1:5672 ({exc})")
    return RABBITMQ
