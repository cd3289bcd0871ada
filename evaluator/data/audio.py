"""Decode audio from a dataset cell to 16 kHz mono float32, without torchcodec.

Datasets are read with ``Audio(decode=False)`` so a cell is ``{"bytes": ..., "path": ...}``
(or, for in-memory datasets, ``{"array": ..., "sampling_rate": ...}``); soundfile decodes
WAV/FLAC/OGG/MP3 (the fast path); any other container PyAV reads (AAC/ALAC ``.m4a``, ``.mp4``,
WebM/Opus, Matroska) goes through :mod:`evaluator.data.containers`; soxr resamples. A path may
be an fsspec URL (``s3://``, ``gs://``, ``hf://``, ``memory://``; see :mod:`evaluator.data.paths`).

Cell keys the manifest sources add (all optional):

- ``offset`` / ``duration``: a segment of the file, in seconds (NeMo ``offset``, Kaldi
  ``segments``): only that part is read, by seeking. A segment that starts past the end of its
  file, or ends more than :data:`MAX_OVERSHOOT` seconds after it, is an error; a smaller
  overshoot is cut at the end of the file (as Kaldi's ``extract-segments`` does).
- ``where``: where the cell came from (``manifest.jsonl line 17``), named in every error.
- ``error``: the row could not be read (a line that is not JSON, a ``wav.scp`` command pipe...):
  decoding raises :class:`~evaluator.errors.DatasetError` with this message, so the sample
  becomes an error row and the rest of the run goes on.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import numpy as np

from evaluator.data import paths
from evaluator.data.containers import AV_EXTENSIONS, av_duration, av_read
from evaluator.errors import AudioDecodeError, DatasetError, MissingDependencyError

__all__ = ["SAMPLE_RATE", "MIN_SECONDS", "MAX_OVERSHOOT", "audio_duration", "audio_warning", "decode_audio",
           "decode_audio_range", "to_mono_16k"]

SAMPLE_RATE = 16_000
# A segment may end this many seconds past the end of its file (rounding in the manifest); it is
# cut at the end. Kaldi's extract-segments allows the same by default (--max-overshoot=0.5).
MAX_OVERSHOOT = 0.5


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


def _where(cell: Any, path: str | None = None) -> str:
    """`` (a.wav, manifest.jsonl line 3)`` for messages: what was read and where it was listed."""
    parts = [p for p in (path, cell.get("where") if isinstance(cell, dict) else None) if p]
    return f" ({', '.join(parts)})" if parts else ""


def _parts(cell: Any, base_dir: str | None = None) -> tuple[bytes | None, str | None]:
    """(bytes, path) of a cell without an in-memory array; raises the row's own error."""
    data: bytes | None = None
    path: str | None = None
    if isinstance(cell, dict):
        if cell.get("error"):
            raise DatasetError(str(cell["error"]))
        data, path = cell.get("bytes"), cell.get("path")
    elif isinstance(cell, bytes | bytearray):
        data = bytes(cell)
    elif isinstance(cell, str | os.PathLike):
        path = os.fspath(cell)
    else:
        raise AudioDecodeError(f"unsupported audio cell of type {type(cell).__name__}")
    if data is None and path is not None and base_dir:
        path = paths.join(base_dir, path)
    if data is None and path is None:
        raise AudioDecodeError("audio cell has neither bytes nor a path")
    return data, path


@contextmanager
def _opened(cell: Any, base_dir: str | None = None) -> Iterator[tuple[str | IO[bytes], str | None]]:
    """(what soundfile/PyAV open: a local path or a file object, the path for messages)."""
    data, path = _parts(cell, base_dir)
    if data is not None:
        if len(data) == 0:
            raise AudioDecodeError(f"audio is empty (0 bytes){_where(cell, path)}")
        yield io.BytesIO(data), path
        return
    assert path is not None
    try:
        found = paths.exists(path)
    except MissingDependencyError:
        raise
    except Exception as exc:  # a remote filesystem that cannot be asked
        raise AudioDecodeError(f"cannot reach audio file{_where(cell, path)}: {exc}") from exc
    if not found:
        raise AudioDecodeError(f"audio file not found: {path}{_where(cell)}; check the path (a relative "
                               "path is read from the folder of the file that lists it)")
    if paths.size(path) == 0:
        raise AudioDecodeError(f"audio file is empty (0 bytes){_where(cell, path)}")
    if not paths.is_url(path):
        yield path, path
        return
    with paths.open_binary(path) as fh:
        yield fh, path


def _rewind(source: str | IO[bytes]) -> None:
    if not isinstance(source, str):
        source.seek(0)


def _with_pyav(path: str | None) -> bool:
    return bool(path) and os.path.splitext(str(path).split("?", 1)[0])[1].lower() in AV_EXTENSIONS


def _file_seconds(source: str | IO[bytes], path: str | None, cell: Any) -> float:
    """The whole file's duration from its header (soundfile, else PyAV)."""
    import soundfile as sf

    failure: Exception | None = None
    if not _with_pyav(path):
        try:
            info = sf.info(source)
            return info.frames / info.samplerate
        except Exception as exc:
            failure = exc
            _rewind(source)
    try:
        return av_duration(source)
    except MissingDependencyError as exc:
        raise AudioDecodeError(f"cannot read audio header{_where(cell, path)}: {failure or exc}; {exc}") from exc
    except Exception as exc:
        raise AudioDecodeError(f"cannot read audio header{_where(cell, path)}: {exc}"
                               + (f" (soundfile: {failure})" if failure else "")) from exc


def _read(source: str | IO[bytes], path: str | None, cell: Any, start: float = 0.0,
          duration: float | None = None) -> tuple[np.ndarray, int]:
    """(frames x channels float32, rate) of ``[start, start + duration)`` seconds, by seeking."""
    import soundfile as sf

    failure: Exception | None = None
    if not _with_pyav(path):
        try:
            with sf.SoundFile(source) as fh:
                rate = fh.samplerate
                if start > 0:
                    fh.seek(min(round(start * rate), fh.frames))
                frames = -1 if duration is None else max(0, round(duration * rate))
                return fh.read(frames, dtype="float32", always_2d=True), rate
        except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
            failure = exc
            _rewind(source)
    try:
        return av_read(source, start, duration)
    except MissingDependencyError as exc:
        raise AudioDecodeError(f"cannot decode audio{_where(cell, path)}: {failure or exc}; {exc}") from exc
    except Exception as exc:
        raise AudioDecodeError(f"cannot decode audio{_where(cell, path)}: {exc}"
                               + (f" (soundfile: {failure})" if failure else "")) from exc


def _has_array(cell: Any) -> bool:
    return isinstance(cell, dict) and cell.get("array") is not None


def _is_segment(cell: Any) -> bool:
    return isinstance(cell, dict) and (cell.get("offset") is not None or cell.get("duration") is not None)


def _segment(cell: dict[str, Any], total: float, path: str | None) -> tuple[float, float]:
    """(start, end) seconds of a segment cell inside a file of ``total`` seconds.

    Raises:
        AudioDecodeError: the segment is empty, negative, starts past the end of the file or ends
            more than :data:`MAX_OVERSHOOT` seconds after it.
    """
    start = float(cell.get("offset") or 0.0)
    length = cell.get("duration")
    end = total if length is None else start + float(length)
    where = _where(cell, path)
    if start < 0 or end <= start:
        raise AudioDecodeError(f"segment {start:.3f}-{end:.3f} s is empty or negative{where}: fix its offset "
                               "and duration (or start and end times)")
    if start >= total:
        raise AudioDecodeError(f"segment starts at {start:.3f} s, past the end of its file ({total:.3f} s "
                               f"long){where}: fix the offset or remove the line")
    if end > total + MAX_OVERSHOOT:
        raise AudioDecodeError(f"segment {start:.3f}-{end:.3f} s ends past the end of its file ({total:.3f} s "
                               f"long, {MAX_OVERSHOOT} s allowed){where}: fix the duration or end time")
    return start, min(end, total)


def audio_duration(cell: Any) -> float:
    """Duration in seconds, from the file header (no decoding) when the cell is a file; a
    segment's own length when the cell is a segment."""
    if _has_array(cell):
        array = np.asarray(cell["array"])
        return max(array.shape) / float(cell["sampling_rate"])
    with _opened(cell) as (source, path):
        total = _file_seconds(source, path, cell)
    if _is_segment(cell):
        start, end = _segment(cell, total, path)
        return end - start
    return total


def decode_audio_range(cell: Any, start: float, end: float) -> np.ndarray:
    """Decode only ``[start, end)`` seconds of a file (seeking), as 16 kHz mono float32, so
    memory is bounded by the window, not the file. For a segment cell, times count from the
    segment's start and stop at its end."""
    if _has_array(cell):
        audio = decode_audio(cell)
        return audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    with _opened(cell) as (source, path):
        if _is_segment(cell):
            seg_start, seg_end = _segment(cell, _file_seconds(source, path, cell), path)
            _rewind(source)
            start, end = seg_start + start, min(seg_start + end, seg_end)
        samples, rate = _read(source, path, cell, start, max(0.0, end - start))
    return to_mono_16k(samples, rate)


def decode_audio(cell: Any, base_dir: str | None = None) -> np.ndarray:
    """Decode one dataset audio cell (the whole file, or only its segment) to 16 kHz mono float32.

    Args:
        cell: ``{"bytes", "path"}`` (optionally with ``offset``/``duration``/``where``),
            ``{"array", "sampling_rate"}``, raw bytes, a path or an fsspec URL.
        base_dir: directory that relative paths are resolved against.

    Raises:
        AudioDecodeError: the audio is missing, empty or unreadable; the message says which.
        DatasetError: the row itself could not be read (``cell["error"]``).
    """
    if _has_array(cell):
        return to_mono_16k(np.asarray(cell["array"]), int(cell["sampling_rate"]))
    with _opened(cell, base_dir) as (source, path):
        start, length = 0.0, None
        if _is_segment(cell):
            total = _file_seconds(source, path, cell)
            start, end = _segment(cell, total, path)
            _rewind(source)
            length = None if end >= total else end - start
        samples, rate = _read(source, path, cell, start, length)
    if samples.size == 0:
        raise AudioDecodeError(f"audio has no samples{_where(cell, path)}")
    return to_mono_16k(samples, rate)
