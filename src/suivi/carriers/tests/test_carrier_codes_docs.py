"""docs/carrier-codes.md is generated from the connectors' code tables and kept current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def test_the_codes_page_is_what_the_generator_writes() -> None:
    # If this fails, run: python scripts/gen_carrier_codes_docs.py
    spec = importlib.util.spec_from_file_location(
        "gen_carrier_codes_docs", ROOT / "scripts" / "gen_carrier_codes_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (ROOT / "docs" / "carrier-codes.md").read_text(encoding="utf-8")
    assert page == module.render()
