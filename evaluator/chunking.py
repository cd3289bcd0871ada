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


def _overlap_alignment(tail: list[str], head: list[str], expected: float) -> list[tuple[int, int]]:
    """Matched (tail index, head index) pairs of the best local alignment of ``tail`` (the end
    of the left window) with ``head`` (the start of the right one): match +1, mismatch or gap -1,
    free ends everywhere, because both windows garble the words at their cut edges. Among equal
    scores the alignment whose implied overlap is nearest ``expected`` words wins."""
    n, m = len(tail), len(head)
    score = [[0] * (m + 1) for _ in range(n + 1)]
    best, best_cell = 0, (0, 0)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            diag = score[i - 1][j - 1] + (1 if tail[i - 1] == head[j - 1] else -1)
            score[i][j] = max(0, diag, score[i - 1][j] - 1, score[i][j - 1] - 1)
            if score[i][j] > best or (
                score[i][j] == best > 0
                and abs((n - i) + j - expected) < abs((n - best_cell[0]) + best_cell[1] - expected)
            ):
                best, best_cell = score[i][j], (i, j)
    if best < max(1, min(2, round(expected))):  # one agreeing word is chance unless the overlap is tiny
        return []
    pairs = []
    i, j = best_cell
    while i > 0 and j > 0 and score[i][j] > 0:
        if tail[i - 1] == head[j - 1] and score[i][j] == score[i - 1][j - 1] + 1:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif score[i][j] == score[i - 1][j - 1] - 1:
            i, j = i - 1, j - 1
        elif score[i][j] == score[i - 1][j] - 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def merge_words(left: list[str], right: list[str], expected_overlap: float) -> list[str]:
    """Merge two word lists whose end and start overlap by about ``expected_overlap`` words.

    The end of ``left`` is aligned with the start of ``right`` (words compared without case and
    punctuation; insertions, deletions and garbled edges allowed, since each window hears the
    seam differently). The merge cuts at the middle matched word of the overlap: words before it
    come from ``left``, words after it from ``right``, so each side's unreliable edge is
    dropped. Without two agreeing words (one when ~1 word is expected to overlap) the lists are
    concatenated.
    """
    if not left or not right:
        return left + right
    span = int(3 * expected_overlap) + 10
    offset = max(0, len(left) - span)
    tail = [_key(w) for w in left[offset:]]
    head = [_key(w) for w in right[:span]]
    pairs = _overlap_alignment(tail, head, expected_overlap)
    if not pairs:
        return left + right
    ti, hj = pairs[len(pairs) // 2]
    return left[: offset + ti + 1] + right[hj + 1 :]


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
