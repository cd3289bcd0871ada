"""Audio in the containers soundfile cannot read (AAC/ALAC ``.m4a``, ``.mp4``, WebM/Opus,
Matroska ``.mka``, ...), decoded with PyAV (FFmpeg), which faster-whisper already installs.

Samples come back as soundfile gives them, ``(frames, channels)`` float32 at the file's own rate
(integer PCM scaled the way soundfile scales it), so a lossless file decodes to exactly the
samples of the same audio in a WAV, and :func:`evaluator.data.audio.to_mono_16k` resamples both
the same way.
"""

from __future__ import annotations

from typing import IO, Any

import numpy as np

from evaluator.errors import AudioDecodeError, MissingDependencyError

__all__ = ["AV_EXTENSIONS", "av_duration", "av_read"]

# Extensions soundfile never reads: sent to PyAV straight away (other files try soundfile first).
AV_EXTENSIONS = frozenset({".m4a", ".mp4", ".m4b", ".aac", ".webm", ".mka", ".mkv", ".mov", ".3gp", ".amr",
                           ".wma", ".ac3"})

_SCALE = {"u8": None, "s16": 2.0**15, "s32": 2.0**31, "s64": 2.0**63, "flt": None, "dbl": None}


def _av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise MissingDependencyError(
            "decoding this container (m4a, mp4, webm, mka...) needs PyAV: pip install 'av<19'") from exc
    return av


def _open(source: str | IO[bytes]) -> tuple[Any, Any]:
    av = _av()
    container = av.open(source, mode="r")
    streams = container.streams.audio
    if not streams:
        container.close()
        raise AudioDecodeError("the file holds no audio stream")
    return container, streams[0]


def _as_float(frame: Any) -> np.ndarray:
    """One decoded frame as (samples, channels) float32."""
    name = frame.format.name.rstrip("p")
    channels = len(frame.layout.channels)
    array = frame.to_ndarray()
    array = array if frame.format.is_planar else array.reshape(-1, channels).T  # now (channels, samples)
    if name == "u8":
        out = (array.astype(np.float32) - 128.0) / 128.0
    elif _SCALE.get(name):
        out = (array / _SCALE[name]).astype(np.float32)
    else:
        out = array.astype(np.float32, copy=False)
    return out.T


def av_duration(source: str | IO[bytes]) -> float:
    """Seconds of audio, from the container's header when it says (else by decoding)."""
    container, stream = _open(source)
    with container:
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / 1_000_000
        rate = stream.codec_context.sample_rate or stream.rate
        return sum(frame.samples for frame in container.decode(stream)) / float(rate)


def av_read(source: str | IO[bytes], start: float = 0.0, duration: float | None = None) -> tuple[np.ndarray, int]:
    """``(samples, rate)`` of ``[start, start + duration)`` seconds (to the end when duration is
    None), seeking to ``start`` rather than decoding what comes before it."""
    container, stream = _open(source)
    with container:
        rate = int(stream.codec_context.sample_rate or stream.rate)
        if start > 0 and stream.time_base is not None:
            try:
                container.seek(int(start / stream.time_base), stream=stream, backward=True, any_frame=False)
            except Exception:  # an unseekable stream: decode from the start instead
                container.seek(0)
        parts: list[np.ndarray] = []
        first: float | None = None
        position = 0.0
        end = None if duration is None else start + duration
        for frame in container.decode(stream):
            at = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else position
            position = at + frame.samples / rate
            if position <= start:
                continue
            if first is None:
                first = at
            parts.append(_as_float(frame))
            if end is not None and position >= end:
                break
    if not parts:
        return np.zeros((0, 1), dtype=np.float32), rate
    samples = np.concatenate(parts, axis=0)
    skip = max(0, round((start - (first or 0.0)) * rate)) if start > 0 else 0
    stop = None if duration is None else skip + max(0, round(duration * rate))
    return samples[skip:stop], rate
