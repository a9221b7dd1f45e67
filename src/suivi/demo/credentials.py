"""The demo's logins and API keys, kept in a private file of the data directory.

The database stores only password hashes and API key digests, so the secrets are written
once, when the demo is created, to ``<data dir>/demo-credentials.txt`` (mode 0600); ``suivi
run`` prints them again from there. A demo recreated in another database leaves a file whose
keys match nothing: :func:`credentials_match_database` tells.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from suivi.shops.models import ApiKey
from suivi.shops.services import api_key_digest

FILE_NAME = "demo-credentials.txt"
_HEADER = (
    "# Suivi demo credentials, written when the demo data was created. Keep this file private:\n"
    "# the database stores only password hashes and API key digests.\n"
)


@dataclass(frozen=True)
class Login:
    """A demo login and who it is."""

    email: str
    description: str


@dataclass(frozen=True)
class ApiKeyCredential:
    """A demo shop's API key."""

    shop_slug: str
    shop_name: str
    secret: str


@dataclass(frozen=True)
class DemoCredentials:
    """Every secret of the demo: one password for all logins, one API key per shop."""

    password: str
    logins: tuple[Login, ...]
    api_keys: tuple[ApiKeyCredential, ...]


def credentials_path() -> Path:
    """Return where the demo credentials are kept."""
    return Path(settings.DATA_DIR) / FILE_NAME


def write_credentials(credentials: DemoCredentials, path: Path | None = None) -> Path:
    """Write *credentials* atomically to a file only the owner can read; return its path."""
    path = path or credentials_path()
    lines = [_HEADER, f"password\t{credentials.password}\n"]
    lines += [f"login\t{login.email}\t{login.description}\n" for login in credentials.logins]
    lines += [
        f"api_key\t{key.shop_slug}\t{key.shop_name}\t{key.secret}\n" for key in credentials.api_keys
    ]
    # mkstemp creates the file with mode 0600 before any secret is written to it.
    fd, tmp = tempfile.mkstemp(prefix=".demo-credentials-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(lines)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_credentials(path: Path | None = None) -> DemoCredentials | None:
    """Return the credentials stored at *path*, or None if there is no readable file."""
    path = path or credentials_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    password = ""
    logins: list[Login] = []
    keys: list[ApiKeyCredential] = []
    for raw in text.splitlines():
        fields = raw.split("\t")
        if fields[0] == "password" and len(fields) == 2:
            password = fields[1]
        elif fields[0] == "login" and len(fields) == 3:
            logins.append(Login(fields[1], fields[2]))
        elif fields[0] == "api_key" and len(fields) == 4:
            keys.append(ApiKeyCredential(fields[1], fields[2], fields[3]))
    if not password:
        return None
    return DemoCredentials(password=password, logins=tuple(logins), api_keys=tuple(keys))


def credentials_match_database(credentials: DemoCredentials) -> bool:
    """Tell whether every stored API key is an active key of this database."""
    digests = {api_key_digest(key.secret) for key in credentials.api_keys}
    if not digests:
        return False
    found = ApiKey.objects.filter(digest__in=digests, revoked_at__isnull=True).count()
    return found == len(digests)


def format_credentials(credentials: DemoCredentials) -> str:
    """Return the credentials as the lines ``suivi run`` and ``suivi demo`` print."""
    width = max((len(login.email) for login in credentials.logins), default=0)
    lines = [f"  Demo logins (password for all: {credentials.password})"]
    lines += [f"    {login.email:<{width}}  {login.description}" for login in credentials.logins]
    lines.append("  Demo API keys (send as 'Authorization: Bearer <key>')")
    name_width = max((len(key.shop_name) for key in credentials.api_keys), default=0)
    lines += [f"    {key.shop_name:<{name_width}}  {key.secret}" for key in credentials.api_keys]
    return "\n".join(lines)


def credentials_banner() -> list[str]:
    """Return the lines about the demo credentials that ``suivi run`` prints at start."""
    from suivi.shops.models import Shop

    credentials = read_credentials()
    if credentials is not None and credentials_match_database(credentials):
        return [format_credentials(credentials), f"  (from {credentials_path()})"]
    if credentials is not None:
        return [
            f"  {credentials_path()} holds keys of another database;"
            " `suivi demo --reset` recreates the demo and its credentials."
        ]
    if Shop.objects.exists():
        return ["  No demo credentials on file (the shops were not made by `suivi demo`)."]
    return []
