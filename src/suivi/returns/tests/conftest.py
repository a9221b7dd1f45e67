"""Return tests keep their private files in a temporary directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def private_dir(settings: Any, tmp_path: Path) -> Path:
    path = tmp_path / "private"
    settings.SUIVI_PRIVATE_DIR = path
    return path
