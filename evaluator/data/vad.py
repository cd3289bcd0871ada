"""Voice-activity detection for the ``vad`` long-form strategy.

Uses the Silero VAD ONNX model that ships inside faster-whisper (offline; needs
``pip install 'evaluator[faster-whisper]'``). The file is read in blocks so memory stays
bounded for hour-long recordings; regions cut at a block edge are re-joined by
:func:`evaluator.data.windows.windows_from_speech`.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from evaluator.data.audio import SAMPLE_RATE, audio_duration, decode_audio_range
from evaluator.errors import MissingDependencyError

__all__ = ["speech_regions", "speech_in"]


def speech_regions(
    cell: Any, max_window: float, block_seconds: float = 600.0
) -> tuple[float, list[tuple[float, float]]]:
    """(duration, speech regions in seconds) of an audio cell.

    Regions are padded by 0.2 s and never longer than ``max_window`` (a longer stretch of speech
    is split at its last short pause, as Silero's ``max_speech_duration_s`` does).
    """
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError as exc:
        raise MissingDependencyError(
            "the vad long-form strategy uses faster-whisper's Silero VAD: pip install 'evaluator[faster-whisper]'"
        ) from exc
    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=200, max_speech_duration_s=max_window)
    duration = audio_duration(cell)
    regions: list[tuple[float, float]] = []
    start = 0.0
    while start < duration:
        end = min(duration, start + block_seconds)
        audio = decode_audio_range(cell, start, end)
        for ts in get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE):
            regions.append((start + ts["start"] / SAMPLE_RATE, start + ts["end"] / SAMPLE_RATE))
        start = end
    return duration, regions


def speech_in(audio: np.ndarray, offset: float = 0.0) -> list[tuple[float, float]] | None:
    """Speech regions (seconds, shifted by ``offset``) of decoded 16 kHz audio, or ``None``
    when faster-whisper's Silero VAD is not installed (the signal is then left out)."""
    if importlib.util.find_spec("faster_whisper") is None:
        return None
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=200)
    return [(round(offset + ts["start"] / SAMPLE_RATE, 3), round(offset + ts["end"] / SAMPLE_RATE, 3))
            for ts in get_speech_timestamps(audio, options, sampling_rate=SAMPLE_RATE)]
