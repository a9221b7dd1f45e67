"""The orders benchmark still works: a tiny run, its JSON checked, never its speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[4]
SCRIPT = ROOT / "bench" / "orders.py"

FIGURES = {
    "create_rps",
    "create_p50_ms",
    "create_p99_ms",
    "transition_rps",
    "transition_p50_ms",
    "transition_p99_ms",
    "raw_insert_orders_per_s",
    "api_vs_raw_ratio",
    "server_rss_mb",
    "errors",
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
    own = urlunsplit(urlsplit(url)._replace(path=f"/suivi_bench_smoke_{os.getpid()}"))
    return "postgres", ["--db", "postgres", "--database-url", own]


def test_the_orders_benchmark_runs_and_ends_with_its_figures_as_json() -> None:
    # given a tiny run on the suite's database
    kind, args = database_args()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    # when it runs
    proc = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(SCRIPT), "--quick", "--smoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    # then it succeeds and its last line holds every figure, with work done and no error
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["benchmark"] == "orders"
    assert summary["targets"] == {"create_rps": 1000, "transition_rps": 2000}
    assert summary["cores"] >= 1
    result = summary["results"][kind]
    assert result.keys() >= FIGURES
    assert result["errors"] == {}
    assert result["valid"] is True
    for figure in ("create_rps", "transition_rps", "raw_insert_orders_per_s", "server_rss_mb"):
        assert result[figure] > 0, figure
    assert result["database_check"]["consistent"] is True
