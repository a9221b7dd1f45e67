"""Extract, check and compile the gettext catalogues.

``python scripts/i18n.py extract`` runs Django's makemessages (needs GNU gettext, a
developer tool); ``compile`` writes the .mo files with Babel (pure Python), so neither a
newcomer nor CI needs gettext installed. The compiled .mo files are committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "src" / "suivi" / "locale"
LANGUAGES = ("fr", "en")


def extract() -> None:
    """Refresh the .po files from the source (marks new strings untranslated)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "suivi.settings"}
    args = [sys.executable, "-m", "django", "makemessages", "--no-obsolete", "--no-location"]
    args += ["--ignore", "*/tests/*", "--ignore", "tests/*"]
    for language in LANGUAGES:
        args += ["-l", language]
    subprocess.run(args, cwd=ROOT / "src" / "suivi", env=env, check=True)  # noqa: S603 (our argv)


def compile_all() -> None:
    """Write every .mo from its .po."""
    for po_path in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle)
        with po_path.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog)
        print(f"compiled {po_path.relative_to(ROOT)}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "compile"
    if command == "extract":
        extract()
    elif command == "compile":
        compile_all()
    else:
        sys.exit("usage: i18n.py extract|compile")
