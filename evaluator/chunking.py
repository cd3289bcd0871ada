"""Long-form audio: window plans with provenance, and stitching chunk transcripts back together.

Strategies (``--long-form``):

- ``native``: the backend's own long-form algorithm sees the whole file.
- ``none``: the evaluator does no chunking; the model gets the whole file in one call (for the
  Whisper runtimes this is their own long-form loop, so it equals ``native``).
- ``chunked``: fixed windows with overlap; consecutive transcripts are merged where they overlap
  by aligning words, so no word is lost or doubled at a seam.
- ``vad``: windows cut at silences found by a voice-activity detector; no overlap needed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LongForm", "Window", "ChunkText", "plan_windows", "windows_from_speech", "merge_words", "stitch"]


@dataclass(frozen=True)
class LongForm:
    """How one model's actors treat audio longer than ``window`` seconds.

    Attributes:
        strategy: ``native``, ``none`` (whole file to the backend), ``chunked`` or ``vad``.
        window: longest window handed to the model (``chunked`` window, ``vad`` limit).
        overlap: overlap between ``chunked`` windows.
    """

    strategy: str
    window: float
    overlap: float

    @property
    def splits(self) -> bool:
        return self.strategy in ("chunked", "vad")


@dataclass(frozen=True)
class Window:
    """One chunk of a file: ``index`` in the file's plan, ``start``/``end`` in seconds."""

    index: int
    start: float
    end: float


@dataclass(frozen=True)
class ChunkText:
    """A chunk's transcript with the window it came from."""

    window: Window
    text: str


def plan_windows(duration: float, window: float, overlap: float) -> list[Window]:
    """Windows of ``window`` seconds stepping by ``window - overlap`` that cover ``duration``.

    The last window is moved back to end at ``duration`` (more overlap) rather than being a
    sliver, so every window is at most ``window`` long.
    """
    if window <= 0 or not 0 <= overlap < window:
        raise ValueError(f"need window > 0 and 0 <= overlap < window, got window={window}, overlap={overlap}")
    if duration <= window:
        return [Window(0, 0.0, duration)]
    step = window - overlap
    count = math.ceil((duration - window) / step) + 1
    windows = []
    for i in range(count):
        start = min(i * step, duration - window)
        windows.append(Window(i, round(start, 3), round(min(start + window, duration), 3)))
    return windows


def windows_from_speech(speech: Sequence[tuple[float, float]], duration: float, max_window: float) -> list[Window]:
    """Group speech regions (start, end seconds) into windows no longer than ``max_window``,
    cutting only in the silences between regions. A single region longer than the limit is
    split into equal parts (the one place a word may be cut)."""
    windows: list[tuple[float, float]] = []
    for start, end in speech:
        start, end = max(0.0, start), min(duration, end)
        if end <= start:
            continue
        if windows and end - windows[-1][0] <= max_window:
            windows[-1] = (windows[-1][0], end)
            continue
        if end - start > max_window:
            parts = math.ceil((end - start) / max_window)
            size = (end - start) / parts
            windows.extend((start + i * size, start + (i + 1) * size) for i in range(parts))
        else:
            windows.append((start, end))
    return [Window(i, round(s, 3), round(e, 3)) for i, (s, e) in enumerate(windows)]


_WORD = re.compile(r"[\w']+")


def _key(word: str) -> str:
    return "".join(_WORD.findall(word.lower()))


def merge_words(left: list[str], right: list[str], expected_overlap: float) -> list[str]:
    """Merge two word lists whose end and start overlap by about ``expected_overlap`` words.

    Every overlap length ``k`` is scored by how many aligned words agree (compared without
    case and punctuation), minus a penalty for straying from the expected length; the best
    ``k`` wins (ties: the one nearest the expected length). The first half of the overlap is
    taken from ``left`` and the second half from ``right``, since words near a window's edge
    are the least reliable. With no agreement at all the lists are concatenated.
    """
    if not left or not right:
        return left + right
    lk = [_key(w) for w in left]
    rk = [_key(w) for w in right]
    best_k, best = 0, 0.0
    for k in range(1, min(len(left), len(right)) + 1):
        matches = sum(1 for a, b in zip(lk[len(lk) - k :], rk[:k], strict=True) if a == b)
        if matches == 0:
            continue
        score = 2 * matches - k - 1.5 * abs(k - expected_overlap)
        if score > best or (score == best and best_k and abs(k - expected_overlap) < abs(best_k - expected_overlap)):
            best_k, best = k, score
    if best_k == 0:
        return left + right
    half = best_k // 2
    return left[: len(left) - best_k + half] + right[half:]


def stitch(chunks: Sequence[ChunkText]) -> str:
    """Join chunk transcripts in window order, merging overlapping windows by word alignment."""
    ordered = sorted(chunks, key=lambda c: c.window.index)
    words: list[str] = []
    previous: ChunkText | None = None
    for chunk in ordered:
        current = chunk.text.split()
        overlap = 0.0 if previous is None else previous.window.end - chunk.window.start
        if previous is None or overlap <= 0:
            words += current
        else:
            span = max(chunk.window.end - chunk.window.start, 1e-6)
            expected = len(current) * overlap / span
            words = merge_words(words, current, expected)
        previous = chunk
    return " ".join(words)
