"""Stitching chunk transcripts of a long file back together.

Consecutive transcripts are merged inside their time overlap by aligning units (never at a
match outside it), so no word is lost or doubled at a seam; how each seam was merged is
recorded. A unit is a word, or one character in scripts written without spaces between words
(Chinese, Japanese, Thai, Lao, Khmer, Burmese; see :mod:`evaluator.scoring.units`), so those
align and cut by character, with or without timestamps. Windows are planned by :mod:`evaluator.data.windows`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evaluator.data.windows import Window
from evaluator.scoring.units import Unit, is_spaceless_char, join_units, units

__all__ = [
    "ChunkText", "TimedWord", "Seam", "Stitched", "parse_segments", "chunk_words", "merge_seam", "stitch",
]


_WORD = re.compile(r"[\w']+")

# Stitching an overlap. Timed words (from the backend's segment timestamps) are trusted to
# within a few seconds; untimed ones (spread evenly over their window) much less.
TIMED_MARGIN = 1.0  # seconds outside the overlap a timed word may still belong to it
MATCH_TOLERANCE = 3.0  # two words farther apart than this are never the same word
UNTIMED_MARGIN = 1.0  # (+ half the overlap) for words placed by an even spread
MIN_MATCHED = 3  # fewer matched words than this (or 40% of the words in the overlap) is weak
MIN_SPEECH_SECONDS = 0.2  # a stretch with less VAD speech than this is spread over all of it
ANCHOR_SECONDS = 1.0  # ... unless the windows put two matched timed words within this of each other


@dataclass(frozen=True)
class TimedWord:
    """A hypothesis unit (a word, or a character of a script written without spaces) with its
    (estimated) time in the file: the middle of the unit. ``space``: a space came before it in
    its text (joining puts one back)."""

    text: str
    time: float
    space: bool = True


@dataclass(frozen=True)
class ChunkText:
    """A chunk's transcript with the window it came from.

    ``segments``: the backend's timed segments, (start, end, text) in seconds from the
    window's start, or ``None`` when the backend gives no timestamps. ``speech``: the
    window's speech regions found by VAD, in seconds of the file, or ``None``.
    """

    window: Window
    text: str
    segments: tuple[tuple[float, float, str], ...] | None = None
    speech: tuple[tuple[float, float], ...] | None = None

    @property
    def timed(self) -> bool:
        return self.segments is not None


@dataclass(frozen=True)
class Seam:
    """How window ``index`` was joined to the text before it (stored in ``chunks``).

    Attributes:
        method: ``aligned`` (cut at the middle word the two windows agree on inside their
            overlap), ``midpoint`` (the alignment was weak: cut at the middle of the overlap by
            time), or ``adjacent`` (the windows do not overlap: texts joined).
        matched: units (words, or characters of scripts written without spaces) the alignment
            matched inside the overlap.
        cut_s: where in the file the text switches from the left window to this one.
    """

    index: int
    method: str
    matched: int
    cut_s: float | None


@dataclass(frozen=True)
class Stitched:
    """A long file's stitched transcript.

    Attributes:
        text: the units joined as written (spaces between words, none between the characters
            of a script written without spaces).
        words: each unit (word, or character of such a script) with its estimated time in the file.
        seams: one per window after the first.
        spans: stretches of the file the transcript covers: timed segments (absolute), or whole
            windows with text when the backend gives no timestamps.
    """

    text: str
    words: list[TimedWord]
    seams: list[Seam]
    spans: list[tuple[float, float]]


def _key(word: str) -> str:
    return "".join(_WORD.findall(word.lower()))


def _spread(text: str, start: float, end: float,
            speech: Sequence[tuple[float, float]] | None = None) -> list[TimedWord]:
    """Units of ``text`` (words; characters of scripts written without spaces, see
    :func:`evaluator.scoring.units.units`) placed over [start, end] in proportion to their length,
    and only over the parts of it that are speech when VAD regions are given (a segment or window
    that begins with silence then puts its first unit where the speech begins)."""
    words = units(text)
    parts = [(max(a, start), min(b, end)) for a, b in speech or () if min(b, end) - max(a, start) > 0]
    if sum(b - a for a, b in parts) < MIN_SPEECH_SECONDS:
        parts = [(start, end)]
    total_time = sum(b - a for a, b in parts)
    sizes = [_size(w.text) for w in words]
    total = sum(sizes)
    out, before = [], 0
    for w, size in zip(words, sizes, strict=True):
        offset = (before + size / 2) / total * total_time
        for a, b in parts:
            if offset <= b - a or (a, b) == parts[-1]:
                out.append(TimedWord(w.text, a + min(offset, b - a), w.space))
                break
            offset -= b - a
        before += size
    return out


def _size(unit: str) -> int:
    """A unit's share of speaking time: a character of a script written without spaces counts
    one, a word its letters and a space."""
    return 1 if is_spaceless_char(unit[0]) else len(unit) + 1


def parse_segments(raw: Any) -> tuple[tuple[float, float, str], ...] | None:
    """Segments as they cross from an actor (a list of [start, end, text], or None)."""
    return None if raw is None else tuple((float(a), float(b), str(t)) for a, b, t in raw)


def chunk_words(chunk: ChunkText) -> list[TimedWord]:
    """The chunk's words with times in the file: from its segments' timestamps when it has
    them, else spread over the window; in both cases over speech only, where VAD ran."""
    w = chunk.window
    if chunk.segments is None:
        return _spread(chunk.text, w.start, w.end, chunk.speech)
    words: list[TimedWord] = []
    for start, end, text in chunk.segments:
        a = min(max(w.start + start, w.start), w.end)
        b = min(max(w.start + end, a), w.end)
        words += _spread(text, a, b, chunk.speech)
    return words


def _align(tail: list[TimedWord], head: list[TimedWord], tolerance: float) -> list[tuple[int, int]]:
    """Matched (tail index, head index) pairs of the best local alignment of ``tail`` (the end
    of the left text) with ``head`` (the start of the right window), free at both ends because
    each window garbles the words at its cut edge. Two words match only if they agree (case
    and punctuation ignored) and lie within ``tolerance`` seconds of each other; a match scores
    1 minus its time difference over the tolerance, a mismatch or gap -1, so of two readings
    of a repeated phrase the one that puts the words at the same time wins."""
    n, m = len(tail), len(head)
    keys_t, keys_h = [_key(w.text) for w in tail], [_key(w.text) for w in head]

    def gain(i: int, j: int) -> float | None:
        dt = abs(tail[i].time - head[j].time)
        if not keys_t[i] or keys_t[i] != keys_h[j] or dt >= tolerance:
            return None
        return 1.0 - dt / tolerance

    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    matched = [[False] * (m + 1) for _ in range(n + 1)]
    best, best_cell = 0.0, (0, 0)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            g = gain(i - 1, j - 1)
            diag = score[i - 1][j - 1] + (g if g is not None else -1.0)
            score[i][j] = max(0.0, diag, score[i - 1][j] - 1.0, score[i][j - 1] - 1.0)
            matched[i][j] = g is not None and score[i][j] == diag
            if matched[i][j] and score[i][j] > best:
                best, best_cell = score[i][j], (i, j)
    pairs = []
    i, j = best_cell
    while i > 0 and j > 0 and score[i][j] > 0:
        if matched[i][j]:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif score[i][j] == score[i - 1][j - 1] - 1.0:
            i, j = i - 1, j - 1
        elif score[i][j] == score[i - 1][j] - 1.0:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def merge_seam(left: list[TimedWord], right: list[TimedWord], overlap: tuple[float, float], *, timed: bool,
               index: int = 1) -> tuple[list[TimedWord], Seam]:
    """Join ``left`` (the text so far) and ``right`` (the next window's words), whose windows
    overlap in ``overlap`` = (start, end) seconds of the file.

    Only words that can lie inside the overlap are aligned (by their timestamps, or for
    untimed words by where an even spread puts them, with a wider margin), and two words
    match only if they are close in time, so a phrase that recurs outside the overlap is
    never taken for it. A strong alignment cuts at its middle matched word; a weak one (fewer
    than ``MIN_MATCHED`` words or 40% of the overlap's words, and for timed words fewer than two
    matches whose timestamps agree within ``ANCHOR_SECONDS``) cuts at the middle of the overlap by
    time. Each side's garbled edge lies beyond the cut and is dropped.
    """
    o0, o1 = overlap
    if o1 <= o0:
        return left + right, Seam(index, "adjacent", 0, o0)
    margin = TIMED_MARGIN if timed else UNTIMED_MARGIN + (o1 - o0) / 2
    first = next((k for k, w in enumerate(left) if w.time >= o0 - margin), len(left))
    last = next((k for k, w in enumerate(right) if w.time > o1 + margin), len(right))
    pairs = _align(left[first:], right[:last], MATCH_TOLERANCE)
    in_overlap = sum(1 for w in left[first:] if o0 <= w.time <= o1)
    needed = max(1, min(MIN_MATCHED, round(0.4 * in_overlap)))
    if len(pairs) < needed and timed:  # two words both windows put at the same moments are enough
        pairs = [(i, j) for i, j in pairs if abs(left[first + i].time - right[j].time) <= ANCHOR_SECONDS
                 and o0 <= right[j].time <= o1]
        needed = 2
    if len(pairs) >= needed:
        ti, hj = pairs[len(pairs) // 2]
        cut = (left[first + ti].time + right[hj].time) / 2
        return left[: first + ti + 1] + right[hj + 1 :], Seam(index, "aligned", len(pairs), round(cut, 3))
    mid = (o0 + o1) / 2
    if not any(w.time >= o0 for w in left) or not any(w.time <= o1 for w in right):
        mid = o0 if not any(w.time >= o0 for w in left) else o1  # one side heard nothing there
    before, after = [w for w in left if w.time < mid], [w for w in right if w.time >= mid]
    if before and after and _key(before[-1].text) == _key(after[0].text) \
            and after[0].time - before[-1].time <= ANCHOR_SECONDS:
        after = after[1:]  # both sides kept the word at the cut
    return before + after, Seam(index, "midpoint", len(pairs), round(mid, 3))


def stitch(chunks: Sequence[ChunkText]) -> Stitched:
    """Join chunk transcripts in window order, merging overlapping windows inside their
    overlap (see :func:`merge_seam`)."""
    ordered = sorted(chunks, key=lambda c: c.window.index)
    words: list[TimedWord] = []
    seams: list[Seam] = []
    spans: list[tuple[float, float]] = []
    previous: ChunkText | None = None
    for chunk in ordered:
        current = chunk_words(chunk)
        if chunk.segments is not None:
            spans += [(chunk.window.start + a, chunk.window.start + b) for a, b, t in chunk.segments if t.strip()]
        elif chunk.text.strip():
            spans.append((chunk.window.start, chunk.window.end))
        if previous is None:
            words = current
        else:
            overlap = (chunk.window.start, previous.window.end)
            words, seam = merge_seam(words, current, overlap, timed=previous.timed and chunk.timed,
                                     index=chunk.window.index)
            seams.append(seam)
        previous = chunk
    return Stitched(join_units([Unit(w.text, w.space) for w in words]), words, seams, sorted(spans))
