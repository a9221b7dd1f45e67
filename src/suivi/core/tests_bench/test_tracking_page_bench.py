"""The tracking page benchmark still works: a tiny run, its JSON checked, never its speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[4]
SCRIPT = ROOT / "bench" / "tracking_page.py"

ENDPOINTS = ("minimal", "page", "json", "healthz")
FIGURES = {
    *(f"{e}_{k}" for e in ENDPOINTS for k in ("rps", "p50_ms", "p99_ms", "errors", "queries")),
    "page_vs_minimal_ratio",
    "json_vs_minimal_ratio",
    "server_rss_mb",
    "orders",
    "orders_with_parcels",
    "tracking_events",
    "setup_s",
    "valid",
}

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
    own = urlunsplit(urlsplit(url)._replace(path=f"/suivi_bench_tracking_smoke_{os.getpid()}"))
    return "postgres", ["--db", "postgres", "--database-url", own]


def test_the_tracking_page_benchmark_measures_every_endpoint_and_ends_with_json() -> None:
    # given a tiny run on the suite's database
    kind, args = database_args()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    # when it runs
    proc = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(SCRIPT), "--smoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    # then it ran to the end (1: some request failed, 2: the run itself broke) and its
    # last line holds every figure
    output = proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, output
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["benchmark"] == "tracking_page", output
    assert summary["targets"] == {"page_vs_minimal_ratio": 0.6, "json_vs_minimal_ratio": 0.6}
    result = summary["results"][kind]
    assert result.keys() >= FIGURES

    # and the data has orders with parcels and their scans
    assert result["orders"] >= 200
    assert 0 < result["orders_with_parcels"] < result["orders"]
    assert result["tracking_events"] >= 3 * result["orders_with_parcels"]

    # and the minimal view and the health check answered every request, the minimal view
    # with its one query
    for name in ("minimal", "healthz"):
        assert result[f"{name}_errors"] == {}, (name, output)
        assert result[f"{name}_rps"] > 0, name
        assert result[f"{name}_p99_ms"] >= result[f"{name}_p50_ms"] > 0, name
    assert result["minimal_queries"] == 1
    assert result["healthz_queries"] == 0
    assert result["server_rss_mb"] > 0

    # and the page and its JSON answered every request, from their stored public pages
    # (one query each)
    for name in ("page", "json"):
        assert result[f"{name}_requests"] > 0, name
        assert result[f"{name}_errors"] == {}, (name, output)
        assert result[f"{name}_queries"] == 1, name
    assert result["pages_prebuilt"] > 0
    assert result["valid"] is summary["valid"] is True
