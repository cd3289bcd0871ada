"""Text units for aligning transcripts: words where a script puts spaces between words, single
characters (with their combining marks) where it does not.

Chinese, Japanese, Thai, Lao, Khmer and Burmese are written without spaces between words, so a
whitespace "word" of theirs can be a whole sentence. :func:`units` cuts such text into one unit per
character (a base character and the combining marks that follow it: a Thai vowel sign stays with
its consonant), and everything else into whitespace-separated words; mixed text ("用Python写") gets
both. Each unit records whether a space came before it, so :func:`join_units` puts the text back
together as it was written. The decision is made per character by script, not per language, so
text needs no language tag to be cut right.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["Unit", "SPACELESS_RANGES", "is_spaceless_char", "units", "join_units"]

# Unicode blocks of scripts written without spaces between words (and their punctuation).
SPACELESS_RANGES: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x31A0, 0x31FF),  # Bopomofo extended, CJK strokes, Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAA60, 0xAA7F),  # Myanmar extended-A
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFF0F), (0xFF1A, 0xFF20), (0xFF3B, 0xFF40), (0xFF5B, 0xFF65),  # full-width punctuation
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)


@dataclass(frozen=True)
class Unit:
    """One unit of text: ``text``, and ``space``: a space came before it (always true for a word
    of a spaced script, so joining puts one back)."""

    text: str
    space: bool


def is_spaceless_char(ch: str) -> bool:
    """The character belongs to a script written without spaces between words."""
    code = ord(ch)
    return any(a <= code <= b for a, b in SPACELESS_RANGES)


def units(text: str) -> list[Unit]:
    """``text`` cut into words and, in scripts written without spaces, single characters (a base
    character with the combining marks after it). Whitespace only separates; it is not a unit."""
    out: list[Unit] = []
    current, space, spaceless = "", False, False
    gap = False  # whitespace since the last unit began
    for ch in text:
        if ch.isspace():
            gap = True
            continue
        if current and not gap and unicodedata.category(ch).startswith("M"):
            current += ch  # a combining mark stays with its base character
            continue
        if is_spaceless_char(ch):
            if current:
                out.append(Unit(current, space))
            current, space, spaceless, gap = ch, gap, True, False
            continue
        if current and not gap and not spaceless:
            current += ch
            continue
        if current:
            out.append(Unit(current, space))
        current, space, spaceless, gap = ch, gap or not out, False, False
    if current:
        out.append(Unit(current, space))
    return out


def join_units(parts: list[Unit]) -> str:
    """The units as text: a space before each unit that had one (never before the first)."""
    return "".join((" " if u.space and i else "") + u.text for i, u in enumerate(parts))
