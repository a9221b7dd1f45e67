"""docs/lifecycle.md is generated from the lifecycle table and must be kept up to date."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from suivi.orders.lifecycle import Mode, Status

ROOT = Path(__file__).resolve().parents[4]
SCRIPT = ROOT / "scripts" / "gen_lifecycle_docs.py"
PAGE = ROOT / "docs" / "lifecycle.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_lifecycle_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_lifecycle_page_is_what_the_generator_writes_from_the_table() -> None:
    # If this fails, run: python scripts/gen_lifecycle_docs.py
    assert PAGE.read_text(encoding="utf-8") == _generator().render()


def test_the_lifecycle_page_shows_every_status_and_a_diagram_per_mode() -> None:
    page = _generator().render()
    assert page.count("```mermaid\nstateDiagram-v2\n") == len(Mode)
    for status in Status:
        assert f"| `{status.value}` |" in page
