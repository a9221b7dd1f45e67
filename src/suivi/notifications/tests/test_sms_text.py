"""SMS encoding and segment counting, at every boundary that changes the bill."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suivi.core.money import format_money
from suivi.notifications.sms_text import (
    GSM_BASIC,
    GSM_EXTENSION,
    SegmentInfo,
    gsm_friendly,
    is_gsm7,
    segment_info,
)

EURO = "€"  # extension table: two septets
EMOJI = "\N{GRINNING FACE}"  # outside the BMP: two UTF-16 code units
NOT_GSM = "ê"  # common in French, absent from GSM 03.38


# --- GSM-7 ------------------------------------------------------------------------------


def test_empty_text_costs_nothing() -> None:
    assert segment_info("") == SegmentInfo("GSM-7", 0, 0, 0, 160, 160)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [
        (1, 1, 160, 159),
        (159, 1, 160, 1),
        (160, 1, 160, 0),
        (161, 2, 153, 145),  # concatenated: 153 + 8
        (306, 2, 153, 0),
        (307, 3, 153, 152),
        (459, 3, 153, 0),
        (460, 4, 153, 152),
    ],
)
def test_gsm7_single_and_concatenated_limits(
    length: int, segments: int, per_segment: int, remaining: int
) -> None:
    info = segment_info("a" * length)
    assert info.encoding == "GSM-7"
    assert (info.characters, info.units) == (length, length)
    assert (info.segments, info.per_segment, info.remaining_in_segment) == (
        segments,
        per_segment,
        remaining,
    )


@pytest.mark.parametrize("char", sorted(GSM_EXTENSION))
def test_each_extension_character_counts_two_septets(char: str) -> None:
    info = segment_info("ab" + char)
    assert info.encoding == "GSM-7"
    assert (info.characters, info.units) == (3, 4)


def test_extension_characters_fill_a_single_segment_at_80() -> None:
    assert segment_info(EURO * 80).segments == 1
    assert segment_info(EURO * 80).remaining_in_segment == 0
    over = segment_info(EURO * 80 + "a")
    assert (over.units, over.segments) == (161, 2)


def test_an_escape_sequence_is_never_split_between_two_parts() -> None:
    # 152 + 2 + 152 = 306 septets = exactly 2 × 153, but the euro cannot straddle parts:
    # part 1 holds 152 septets, part 2 the euro and 151 letters, part 3 the last letter.
    info = segment_info("a" * 152 + EURO + "a" * 152)
    assert info.units == 306
    assert info.segments == 3
    assert info.remaining_in_segment == 152
    # Shifted by one the euro fits the end of part 1: two parts, full.
    shifted = segment_info("a" * 151 + EURO + "a" * 153)
    assert (shifted.units, shifted.segments, shifted.remaining_in_segment) == (306, 2, 0)


def test_the_whole_basic_alphabet_is_gsm7_at_one_septet_each() -> None:
    text = "".join(sorted(GSM_BASIC))
    info = segment_info(text)
    assert info.encoding == "GSM-7"
    assert info.units == len(text) == info.characters


# --- UCS-2 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "char", ["ê", "â", "î", "ô", "û", "ç", "ë", "ï", "œ", "’", "«", "…", "\u00a0"]
)
def test_one_character_outside_gsm_switches_the_whole_text_to_ucs2(char: str) -> None:
    info = segment_info("a" * 100 + char)
    assert info.encoding == "UCS-2"
    assert (info.units, info.segments, info.per_segment) == (101, 2, 67)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [(70, 1, 70, 0), (71, 2, 67, 63), (134, 2, 67, 0), (135, 3, 67, 66)],
)
def test_ucs2_single_and_concatenated_limits(
    length: int, segments: int, per_segment: int, remaining: int
) -> None:
    info = segment_info(NOT_GSM * length)
    assert info.encoding == "UCS-2"
    assert info.units == length
    assert (info.segments, info.per_segment, info.remaining_in_segment) == (
        segments,
        per_segment,
        remaining,
    )


def test_an_emoji_is_one_character_and_two_code_units() -> None:
    info = segment_info(EMOJI)
    assert (info.encoding, info.characters, info.units) == ("UCS-2", 1, 2)
    assert segment_info(EMOJI * 35).segments == 1
    over = segment_info(EMOJI * 35 + "a")
    assert (over.characters, over.units, over.segments) == (36, 71, 2)


def test_a_surrogate_pair_is_never_split_between_two_parts() -> None:
    info = segment_info("a" * 66 + EMOJI + "a" * 66)
    assert info.units == 134  # exactly 2 × 67 if the pair could be cut
    assert info.segments == 3
    shifted = segment_info("a" * 65 + EMOJI + "a" * 67)
    assert (shifted.units, shifted.segments) == (134, 2)


def test_extension_characters_count_one_unit_once_the_text_is_ucs2() -> None:
    info = segment_info(EURO + NOT_GSM)
    assert (info.encoding, info.units) == ("UCS-2", 2)


# --- properties -------------------------------------------------------------------------

_ALPHABET = st.sampled_from([*sorted(GSM_BASIC | GSM_EXTENSION), NOT_GSM, EMOJI, "’", "…"])


@given(st.text(alphabet=_ALPHABET, max_size=500))
def test_segment_counts_are_consistent(text: str) -> None:
    info = segment_info(text)
    single = 160 if info.encoding == "GSM-7" else 70
    part = 153 if info.encoding == "GSM-7" else 67
    assert info.characters == len(text)
    assert info.encoding == ("GSM-7" if is_gsm7(text) else "UCS-2")
    if not text:
        assert info.segments == 0
    elif info.units <= single:
        assert (info.segments, info.per_segment) == (1, single)
        assert info.remaining_in_segment == single - info.units
    else:
        assert info.per_segment == part
        # Never better than perfect packing, never worse than losing one unit per part.
        assert math.ceil(info.units / part) <= info.segments <= math.ceil(info.units / (part - 1))
        assert 0 <= info.remaining_in_segment < part


# --- gsm_friendly -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typographic", "plain"),
    [
        ("’", "'"),
        ("‘", "'"),
        ("“", '"'),
        ("”", '"'),
        ("«", '"'),
        ("»", '"'),
        ("–", "-"),
        ("—", "-"),
        ("…", "..."),
        ("\u00a0", " "),
        ("\u202f", " "),
        ("\u2009", " "),
    ],
)
def test_gsm_friendly_replaces_typographic_characters(typographic: str, plain: str) -> None:
    assert not is_gsm7(typographic)
    assert gsm_friendly(f"a{typographic}b") == f"a{plain}b"


def test_a_typical_french_sms_becomes_gsm7_and_one_segment() -> None:
    price = format_money(Decimal("1234.50"), "EUR", "fr")  # babel: narrow no-break spaces
    text = (
        f"Maison Lumière\u00a0: l’équipe vous remercie\u202f! Total\u00a0: {price} "
        "– « à très vite »…"
    )
    assert segment_info(text).encoding == "UCS-2"
    friendly = gsm_friendly(text)
    assert friendly == (
        'Maison Lumière : l\'équipe vous remercie ! Total : 1 234,50 € - " à très vite "...'
    )
    info = segment_info(friendly)
    assert (info.encoding, info.segments) == ("GSM-7", 1)


def test_gsm_friendly_keeps_letters_and_emoji_unless_asked_to_fold_letters() -> None:
    text = f"Fenêtre reçue, cœur {EMOJI} é è à ù"
    assert gsm_friendly(text) == text
    folded = gsm_friendly(text, fold_letters=True)
    assert folded == f"Fenetre recue, coeur {EMOJI} é è à ù"
    assert gsm_friendly("Fenêtre reçue, cœur", fold_letters=True) == "Fenetre recue, coeur"
    assert is_gsm7(gsm_friendly("Fenêtre reçue, cœur", fold_letters=True))


@given(
    st.text(
        alphabet=st.sampled_from(sorted(GSM_BASIC) + list("’‘“”«»–—…\u00a0\u202f")), max_size=300
    )
)
def test_gsm_friendly_makes_french_typography_gsm7_and_is_idempotent(text: str) -> None:
    friendly = gsm_friendly(text)
    assert is_gsm7(friendly)
    assert gsm_friendly(friendly) == friendly
