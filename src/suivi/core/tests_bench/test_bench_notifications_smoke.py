"""The notifications benchmark still works: a tiny run, its JSON checked, never its speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[4]
SCRIPT = ROOT / "bench" / "notifications.py"

FIGURES = {
    "emails_per_s_1w",
    "emails_per_s_2w",
    "webhooks_per_s_1w",
    "webhooks_per_s_2w",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "latency_events_per_s",
    "worker_rss_mb",
    "lost",
    "duplicates",
    "valid",
    "ratio_2w_vs_smtplib_small",
    "breakdown_email",
    "breakdown_webhook",
}
PHASES = ("email_1w", "email_2w", "webhook_1w", "webhook_2w", "latency")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SCRIPT.exists(), reason="bench/ is not in this checkout"),
]


def database_args() -> tuple[str, list[str]]:
    """Benchmark the database the suite runs on: PostgreSQL when DATABASE_URL says so."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return "sqlite", ["--db", "sqlite"]
    # A database of its own on the same server, created and dropped by the script.
    own = urlunsplit(urlsplit(url)._replace(path=f"/suivi_bench_notif_smoke_{os.getpid()}"))
    return "postgres", ["--db", "postgres", "--database-url", own]


def test_the_notifications_benchmark_delivers_every_message_once_and_ends_with_json() -> None:
    # given a tiny run on the suite's database
    kind, args = database_args()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    # when it runs
    proc = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(SCRIPT), "--smoke", "--latency", "20x1", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    # then it succeeds and its last line holds every figure
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["benchmark"] == "notifications"
    assert summary["targets"] == {
        "emails_per_s_2_workers": 1000,
        "latency_p99_ms": 1000,
        "latency_events_per_s": 200,
    }
    assert summary["valid"] is True
    result = summary["results"][kind]
    assert result.keys() >= FIGURES
    for figure in ("emails_per_s_1w", "emails_per_s_2w", "webhooks_per_s_2w", "worker_rss_mb"):
        assert result[figure] > 0, figure
    for name in ("smtplib_small", "smtplib_real_size", "httpx_one_connection"):
        assert summary["baseline"][name]["per_s"] > 0, name

    # and every message reached the sink exactly once (Message-IDs / webhook-ids counted
    # there) and is recorded as sent, none dead
    assert result["lost"] == 0
    assert result["duplicates"] == 0
    for name in PHASES:
        phase = result[name]
        assert phase["lost"] == 0 and phase["duplicates"] == 0, name
        assert not phase["database"]["by_status"].get("dead"), name
        assert phase["database"]["outcomes"] == {"ok": phase["database"]["attempts"]}, name
    for name in PHASES[:4]:
        phase = result[name]
        assert phase["unique"] == phase["messages"] == phase["arrived"], name
    assert result["latency"]["arrived"] == result["latency"]["events"]
    assert result["latency"]["unexpected"] == 0
    for name in ("breakdown_email", "breakdown_webhook"):
        assert result[name]["lost"] == 0 and result[name]["duplicates"] == 0, name
