"""SMS length: which encoding a text needs and how many segments it costs.

An SMS carries 140 bytes. Texts made only of the GSM 03.38 alphabet travel as 7-bit septets
(160 per message); one character outside it switches the whole text to UCS-2 (UTF-16 code
units, 70 per message). A longer text is split into parts that each lose room to the
concatenation header: 153 septets or 67 code units per part. Two more rules decide the
count near the boundaries, and both are followed here:

- a character of the GSM extension table (``^ { } \\ [ ~ ] | €`` and form feed) is sent as an
  escape plus the character, two septets that are never split across two parts;
- a character outside the Basic Multilingual Plane (most emoji) is a UTF-16 surrogate pair,
  two code units that are never split across two parts either.

Providers bill per segment, so the editor shows :func:`segment_info` and the French default
templates go through :func:`gsm_friendly`, which swaps the typographic characters French
text is full of (’ « » … and non-breaking spaces) for their GSM equivalents instead of
paying for UCS-2.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"
Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet (0x1B, the escape to the extension table, excluded).
GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the extension table: an escape septet plus their own, so two septets each.
GSM_EXTENSION: Final = frozenset("^{}\\[~]|€\f")

SINGLE_LIMIT: Final[dict[str, int]] = {GSM7: 160, UCS2: 70}
PART_LIMIT: Final[dict[str, int]] = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class SegmentInfo:
    """What a text costs as an SMS.

    ``characters`` counts code points; ``units`` counts septets (GSM-7, extension characters
    count 2) or UTF-16 code units (UCS-2, emoji count 2). ``per_segment`` is the room of one
    segment as sent (160/70 alone, 153/67 in a concatenated message) and
    ``remaining_in_segment`` what is left in the last one. An empty text is 0 segments.
    """

    encoding: Encoding
    characters: int
    units: int
    segments: int
    per_segment: int
    remaining_in_segment: int


def is_gsm7(text: str) -> bool:
    """Tell whether *text* can travel in the GSM 7-bit alphabet."""
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def _unit_costs(text: str, encoding: Encoding) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def segment_info(text: str) -> SegmentInfo:
    """Return the encoding, length and segment count of *text* sent as one SMS."""
    encoding: Encoding = GSM7 if is_gsm7(text) else UCS2
    costs = _unit_costs(text, encoding)
    units = sum(costs)
    single = SINGLE_LIMIT[encoding]
    if units <= single:
        segments = 1 if units else 0
        return SegmentInfo(encoding, len(text), units, segments, single, single - units)
    # Concatenated: fill parts greedily, never splitting a two-unit character.
    part = PART_LIMIT[encoding]
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return SegmentInfo(encoding, len(text), units, segments, part, part - used)


# Typographic characters with a GSM-7 equivalent. Everything else is kept as is.
_GSM_FRIENDLY: Final[dict[int, str]] = {
    ord(k): v
    for k, v in {
        "\u2019": "'",  # ’ right single quotation mark (the French apostrophe)
        "\u2018": "'",  # ‘
        "\u201a": "'",  # ‚
        "\u2032": "'",  # ′
        "\u02bc": "'",  # ʼ modifier letter apostrophe
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\u00ab": '"',  # «
        "\u00bb": '"',  # »
        "\u2039": "'",  # ‹
        "\u203a": "'",  # ›
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # – en dash
        "\u2014": "-",  # — em dash
        "\u2015": "-",  # horizontal bar
        "\u2212": "-",  # minus sign
        "\u2026": "...",  # … ellipsis
        "\u00a0": " ",  # no-break space (before : ; ! ? » in French)
        "\u202f": " ",  # narrow no-break space (French thousands, babel money)
        "\u2007": " ",  # figure space
        "\u2009": " ",  # thin space
        "\u200a": " ",  # hair space
        "\u2002": " ",  # en space
        "\u2003": " ",  # em space
        "\u200b": "",  # zero-width space
        "\u2060": "",  # word joiner
        "\ufeff": "",  # zero-width no-break space
        "\u00ad": "",  # soft hyphen
        "\t": " ",
        "\u2022": "-",  # • bullet
        "\u00d7": "x",  # × multiplication sign
    }.items()
}

# Letters outside GSM-7 that have a GSM letter as their base (ê → e). Only with fold_letters.
_FOLDED_LIGATURES: Final[dict[str, str]] = {"œ": "oe", "Œ": "OE"}


def _fold_letter(ch: str) -> str:
    if ch in GSM_BASIC or ch in GSM_EXTENSION:
        return ch
    if ch in _FOLDED_LIGATURES:
        return _FOLDED_LIGATURES[ch]
    if ch == "ç":  # GSM has the capital only; the lower-case base letter reads better
        return "c"
    base = unicodedata.normalize("NFD", ch)[0]
    return base if base in GSM_BASIC else ch


def gsm_friendly(text: str, *, fold_letters: bool = False) -> str:
    """Replace typographic characters that would force UCS-2 by their GSM-7 equivalents.

    Apostrophes and quotes, dashes, the ellipsis and every kind of non-breaking or thin
    space are swapped; letters are kept (``ê`` stays ``ê`` and makes the text UCS-2) unless
    *fold_letters* asks to drop accents GSM-7 lacks (``ê`` → ``e``, ``ç`` → ``c``, ``œ`` →
    ``oe``), keeping those it has (``é è à ù``). Emoji and other scripts are never changed.
    """
    text = text.translate(_GSM_FRIENDLY)
    if fold_letters:
        text = "".join(_fold_letter(ch) for ch in text)
    return text
