"""Long-form audio plans: how a model treats long files, and the windows a file is cut into.

Strategies (``--long-form``):

- ``native``: the backend's own long-form algorithm sees the whole file.
- ``none``: the evaluator does no chunking; the model gets the whole file in one call (for the
  Whisper runtimes this is their own long-form loop, so it equals ``native``).
- ``chunked``: fixed windows with overlap (:func:`plan_windows`); the transcripts are merged by
  :mod:`evaluator.scoring.merging`.
- ``vad``: windows cut at silences found by a voice-activity detector (:func:`windows_from_speech`);
  no overlap needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LongForm", "Window", "plan_windows", "windows_from_speech"]


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
