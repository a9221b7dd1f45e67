"""Archive tests write their files under a temporary private folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def private_dir(settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "private"
    settings.SUIVI_PRIVATE_DIR = folder
    return folder


@pytest.fixture(autouse=True)
def english(settings: Any) -> Any:
    """These tests read the English messages (French has its own catalogue test)."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
