"""Decode audio from a dataset cell to 16 kHz mono float32, without torchcodec.

Datasets are read with ``Audio(decode=False)`` so a cell is ``{"bytes": ..., "path": ...}``
(or, for in-memory datasets, ``{"array": ..., "sampling_rate": ...}``); soundfile decodes
WAV/FLAC/OGG/MP3 and soxr resamples.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from evaluator.errors import AudioDecodeError

__all__ = ["SAMPLE_RATE", "MIN_SECONDS", "audio_duration", "audio_warning", "decode_audio", "decode_audio_range",
           "to_mono_16k"]

SAMPLE_RATE = 16_000


def to_mono_16k(samples: np.ndarray, sampling_rate: int) -> np.ndarray:
    """Downmix (frames x channels) to mono and resample to 16 kHz float32.

    Raises:
        AudioDecodeError: the audio holds NaN or infinite samples (a model handed them writes
            garbage such as "!!!!!!", which would be scored as an ordinary miss).
    """
    samples = np.asarray(samples, dtype=np.float32)
    finite = np.isfinite(samples)
    if not finite.all():
        raise AudioDecodeError(f"audio holds {samples.size - int(np.count_nonzero(finite))} non-finite samples "
                               f"(NaN or infinity) of {samples.size}: the file or array is corrupt")
    if samples.ndim == 2:
        # soundfile gives (frames, channels); datasets arrays are (channels, samples).
        # Channels are the short axis.
        channel_axis = 0 if samples.shape[0] < samples.shape[1] else 1
        samples = samples.mean(axis=channel_axis, dtype=np.float32)
    elif samples.ndim != 1:
        raise AudioDecodeError(f"expected 1-D or 2-D audio, got shape {samples.shape}")
    if sampling_rate <= 0:
        raise AudioDecodeError(f"invalid sampling rate {sampling_rate}")
    if sampling_rate != SAMPLE_RATE and samples.size:
        import soxr

        samples = soxr.resample(samples, sampling_rate, SAMPLE_RATE).astype(np.float32, copy=False)
    return np.ascontiguousarray(samples)


# Shorter clips are scored, with a warning: no model here has a hard minimum (Whisper pads to
# 30 s), but a clip this short rarely holds a word and usually means a cutting error.
MIN_SECONDS = 0.1


def audio_warning(audio: np.ndarray) -> str | None:
    """A doubt worth recording about decoded 16 kHz audio (the sample is still scored), or None."""
    problems = []
    if audio.size == 0 or not np.any(audio):
        problems.append("audio is all zeros (digital silence)")
    if audio.size < MIN_SECONDS * SAMPLE_RATE:
        problems.append(f"audio is {audio.size / SAMPLE_RATE:.3f} s long, under {MIN_SECONDS} s")
    return "; ".join(problems) or None


def _source(cell: Any, base_dir: str | None = None) -> tuple[Any, str | None]:
    """(what soundfile opens, the path for messages) for a cell without an in-memory array."""
    data: bytes | None = None
    path: str | None = None
    if isinstance(cell, dict):
        data, path = cell.get("bytes"), cell.get("path")
    elif isinstance(cell, bytes | bytearray):
        data = bytes(cell)
    elif isinstance(cell, str | os.PathLike):
        path = os.fspath(cell)
    else:
        raise AudioDecodeError(f"unsupported audio cell of type {type(cell).__name__}")
    if data is None and path is not None and not os.path.isabs(path) and base_dir:
        path = os.path.join(base_dir, path)
    if data is not None:
        if len(data) == 0:
            raise AudioDecodeError(f"audio is empty (0 bytes){f' in {path}' if path else ''}")
        return io.BytesIO(data), path
    if path is not None:
        if not os.path.exists(path):
            raise AudioDecodeError(f"audio file not found: {path}")
        if os.path.getsize(path) == 0:
            raise AudioDecodeError(f"audio file is empty (0 bytes): {path}")
        return path, path
    raise AudioDecodeError("audio cell has neither bytes nor a path")


def _has_array(cell: Any) -> bool:
    return isinstance(cell, dict) and cell.get("array") is not None


def audio_duration(cell: Any) -> float:
    """Duration in seconds, from the file header (no decoding) when the cell is a file."""
    import soundfile as sf

    if _has_array(cell):
        array = np.asarray(cell["array"])
        return max(array.shape) / float(cell["sampling_rate"])
    source, path = _source(cell)
    try:
        info = sf.info(source)
    except Exception as exc:
        raise AudioDecodeError(f"cannot read audio header{f' ({path})' if path else ''}: {exc}") from exc
    return info.frames / info.samplerate


def decode_audio_range(cell: Any, start: float, end: float) -> np.ndarray:
    """Decode only ``[start, end)`` seconds of a file (seeking), as 16 kHz mono float32, so
    memory is bounded by the window, not the file."""
    import soundfile as sf

    if _has_array(cell):
        audio = decode_audio(cell)
        return audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    source, path = _source(cell)
    try:
        with sf.SoundFile(source) as fh:
            rate = fh.samplerate
            fh.seek(min(int(start * rate), fh.frames))
            samples = fh.read(max(0, int((end - start) * rate)), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioDecodeError(f"cannot decode audio{f' ({path})' if path else ''}: {exc}") from exc
    return to_mono_16k(samples, rate)


def decode_audio(cell: Any, base_dir: str | None = None) -> np.ndarray:
    """Decode one dataset audio cell to 16 kHz mono float32.

    Args:
        cell: ``{"bytes", "path"}``, ``{"array", "sampling_rate"}``, raw bytes or a path.
        base_dir: directory that relative paths are resolved against.

    Raises:
        AudioDecodeError: the audio is missing, empty or unreadable; the message says which.
    """
    import soundfile as sf

    if _has_array(cell):
        return to_mono_16k(np.asarray(cell["array"]), int(cell["sampling_rate"]))
    source, path = _source(cell, base_dir)
    try:
        samples, rate = sf.read(source, dtype="float32", always_2d=False)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        where = f" ({path})" if path else ""
        raise AudioDecodeError(f"cannot decode audio{where}: {exc}") from exc
    if samples.size == 0:
        raise AudioDecodeError(f"audio has no samples{f': {path}' if path else ''}")
    return to_mono_16k(samples, rate)
