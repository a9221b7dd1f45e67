"""The committed gettext catalogues are complete and compiled."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parents[2] / "locale"


def _catalog(language: str):  # type: ignore[no-untyped-def]
    with (LOCALE_DIR / language / "LC_MESSAGES" / "django.po").open("rb") as handle:
        return read_po(handle, locale=language)


def test_every_french_message_is_translated_and_not_fuzzy() -> None:
    untranslated = [m.id for m in _catalog("fr") if m.id and (not m.string or m.fuzzy)]
    assert untranslated == []


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_compiled_catalogue_matches_its_source(language: str) -> None:
    # given the .po and the committed .mo (compile with `python scripts/i18n.py compile`)
    source = {m.id: m.string for m in _catalog(language) if m.id}
    with (LOCALE_DIR / language / "LC_MESSAGES" / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    # then every translated message reads back identically
    for msgid, msgstr in source.items():
        if isinstance(msgid, str) and msgstr:
            assert compiled.gettext(msgid) == msgstr, msgid
