"""A backend that transcribes every window of a "ramp recording" perfectly: the audio is a linear
ramp, so a window's first samples say where in the file it starts, and the backend answers with
exactly the units of :func:`tests.perfect_speech.script` spoken in that window (with timed
segments, or plain text with ``?timed=false``). Long-form merging is then the only source of
errors. Spec: ``tests.perfect_backend.PerfectTranscriber:perfect``."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar

import numpy as np

from evaluator.data.windows import Window
from evaluator.models.backends.base import Backend, Segment, Transcription
from tests.perfect_speech import Script, script

__all__ = ["PerfectTranscriber", "ramp", "SECONDS", "RATE"]

RATE = 16000
SECONDS = 150.0
_LOW, _HIGH = -0.9, 0.9
_SLOPE = (_HIGH - _LOW) / (SECONDS * RATE)
_PROBE = 1600  # samples averaged to read where a window starts


def ramp(seconds: float = SECONDS) -> np.ndarray:
    """The recording: float32 samples rising linearly from -0.9 (write it as float WAV)."""
    return (_LOW + _SLOPE * np.arange(int(seconds * RATE))).astype(np.float32)


@cache
def _script(language: str) -> Script:
    return script(language, SECONDS, seed=0)


class PerfectTranscriber(Backend):
    name = "tests.perfect_backend.PerfectTranscriber"
    extra = "none"
    modules: ClassVar[tuple[str, ...]] = ()
    distributions: ClassVar[tuple[str, ...]] = ()
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    options: ClassVar[Mapping[str, Any]] = {"timed": True}
    long_form_default = "chunked"
    needs_language = True
    default_memory_mb = 50.0
    runtime_memory_mb = 200.0

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        start = (float(np.mean(audio[:_PROBE], dtype=np.float64)) - _LOW) / _SLOPE - (min(_PROBE, audio.size) - 1) / 2
        begin = max(0.0, round(start) / RATE)
        window = Window(0, begin, begin + audio.size / RATE)
        chunk = _script(str(language)).transcribe(window, timed=bool(self.effective_options["timed"]))
        segments = None if chunk.segments is None else tuple(Segment(a, b, t) for a, b, t in chunk.segments)
        return Transcription(text=chunk.text, segments=segments, end_seconds=segments[-1].end if segments else None)
