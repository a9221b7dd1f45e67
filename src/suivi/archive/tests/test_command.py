"""``suivi manage archive_verify``: a report per shop, non-zero exit on tampering."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from suivi.archive.models import ArchivedDocument
from suivi.shops.models import Shop
from suivi.testing import make_order

from .support import archive_text

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("archive_verify", *args, stdout=out)
    return out.getvalue()


def test_intact_chains_verify(shop_a: Shop, shop_b: Shop) -> None:
    order = make_order(shop_a)
    archive_text(order, "a")
    archive_text(order, "b")

    output = _run()

    assert f"shop {shop_a.slug} (id {shop_a.pk}): 2 documents, 0 purged, head #2" in output
    assert f"shop {shop_b.slug} (id {shop_b.pk}): 0 documents" in output
    assert "All chains verify." in output


def test_tampering_is_reported_and_fails_the_command(
    shop_a: Shop, shop_b: Shop, private_dir: Path
) -> None:
    order = make_order(shop_a)
    first = archive_text(order, "a")
    archive_text(order, "b")
    ArchivedDocument.objects.filter(pk=first.pk).update(title="edited")
    (private_dir / "archive" / first.path).write_bytes(b"edited")
    out = io.StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("archive_verify", stdout=out)

    assert failure.value.returncode == 1
    assert "#1: metadata" in out.getvalue()
    assert "#1: file_modified" in out.getvalue()
    assert "TAMPERED (2 problems)" in out.getvalue()
    # Only the other shop: that one is intact.
    assert "All chains verify." in _run("--shop", shop_b.slug)
    # Rows only: the file is not read.
    with pytest.raises(CommandError):
        _run("--shop", shop_a.slug, "--skip-files")


def test_an_unknown_shop_is_an_error(shop_a: Shop) -> None:
    with pytest.raises(CommandError) as failure:
        _run("--shop", "nope")
    assert failure.value.returncode == 2


def test_the_suivi_cli_runs_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "suivi.cli", "manage", "archive_verify", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--shop" in result.stdout
