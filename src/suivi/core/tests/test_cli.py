"""The ``suivi`` command in process: arguments, createshop, demo, manage, worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from suivi.cli import main
from suivi.shops.models import Membership, Shop
from suivi.shops.services import api_key_authenticate


@pytest.fixture(autouse=True)
def _quick_private_setup(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse and Django's commands exit this way
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("port", ["abc", "0", "70000"])
def test_a_bad_port_is_a_usage_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str], port: str
) -> None:
    code, _, err = run(capsys, "run", "--port", port)

    assert code == 2
    assert f"{port!r} is not a port number (1-65535)" in err
    assert "Traceback" not in err


def test_a_bad_port_in_the_environment_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "eighty")

    code, _, err = run(capsys, "run")

    assert code == 2
    assert "PORT: 'eighty' is not a port number" in err


def test_an_unknown_command_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "serve")

    assert code == 2
    assert "invalid choice: 'serve'" in err
    assert "createshop" in err


@pytest.mark.django_db
def test_createshop_prints_a_working_api_key_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "createshop", "--name", "Épicerie Bleue", "--invoicing")

    assert code == 0
    shop = Shop.objects.get(slug="epicerie-bleue")
    assert shop.invoicing_enabled
    secret = out.split("API key (shown once, store it now): ")[1].strip()
    api_key = api_key_authenticate(secret=secret)
    assert api_key is not None and api_key.shop == shop


@pytest.mark.django_db
def test_createshop_makes_the_owner_login_with_the_given_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from django.contrib.auth import authenticate

    code, out, _ = run(
        capsys, "createshop", "--name", "Ma Boutique", "--slug", "boutique",
        "--owner-email", "owner@boutique.example", "--owner-password", "lin-lave-240x220",
    )  # fmt: skip

    assert code == 0
    assert "Owner login: owner@boutique.example" in out
    user = authenticate(username="owner@boutique.example", password="lin-lave-240x220")
    assert user is not None
    assert Membership.objects.get(user=user).role == Membership.Role.OWNER


@pytest.mark.django_db
def test_createshop_generates_and_prints_a_password_for_a_new_owner(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from django.contrib.auth import authenticate

    code, out, _ = run(
        capsys, "createshop", "--name", "Ma Boutique", "--owner-email", "o@b.example"
    )

    assert code == 0
    password = out.split("Owner password (shown once): ")[1].split()[0]
    assert authenticate(username="o@b.example", password=password) is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--name", "  "], "--name cannot be empty."),
        (
            ["--name", "X", "--owner-email", "not-an-email"],
            "'not-an-email' is not an email address.",
        ),
        (["--name", "X", "--owner-password", "x"], "--owner-password needs --owner-email."),
        (["--name", "X", "--owner-email", "o@b.example", "--owner-password", "123"], "too weak"),
    ],
)
def test_createshop_explains_bad_input_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, "createshop", *argv)

    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not Shop.objects.exists()


@pytest.mark.django_db
def test_createshop_with_a_taken_slug_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "createshop", "--name", "Maison Lumière")

    code, _, err = run(capsys, "createshop", "--name", "Maison Lumière")

    assert code == 2
    assert "The slug 'maison-lumiere' is taken." in err
    assert Shop.objects.count() == 1


@pytest.mark.django_db
def test_demo_prints_the_logins_and_keys_it_creates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--orders", "12", "--seed", "4")

    assert code == 0
    assert "Wrote 12 orders" in out
    assert "admin@suivi.example" in out
    assert "camille.roux@maison-lumiere.example" in out
    assert out.count("sk_") == 2

    code, out, _ = run(capsys, "demo", "--orders", "3")
    assert code == 0
    assert "logins and API keys unchanged" in out


def test_demo_refuses_a_negative_number_of_orders(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "demo", "--orders", "-5")

    assert code == 2
    assert "'-5' is not a whole number >= 0" in err


@pytest.mark.django_db
def test_manage_passes_the_command_to_django(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "manage", "check")

    assert code == 0
    assert "System check identified no issues" in out


@pytest.mark.django_db(transaction=True)
def test_worker_once_runs_the_registered_jobs_and_returns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from suivi.api.models import IdempotencyRecord
    from suivi.testing import make_shop

    old = timezone.now() - timedelta(days=3)
    IdempotencyRecord.objects.create(
        shop=make_shop("Maison Lumière"), key="k", method="POST", path="/api/v1/orders",
        body_sha256="0" * 64, lock_token="t", created_at=old, claimed_at=old,
    )  # fmt: skip

    code, _, _ = run(capsys, "worker", "--once")

    assert code == 0
    assert not IdempotencyRecord.objects.exists()
