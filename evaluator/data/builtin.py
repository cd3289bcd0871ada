"""Built-in datasets, named ``builtin:NAME`` on the command line.

- ``builtin:sample`` (the default): 24 short English clips with exact transcripts, committed
  in ``evaluator/data/sample_data`` (see its ``LICENSES.md``).
- ``builtin:multilingual``: 40 short clips in 11 languages (espeak-ng sentences in English,
  German, French, Spanish, Italian, Portuguese, Russian and Mandarin, plus pytest-audioeval's
  Spanish, French, Hindi, Italian, Japanese, Polish, Portuguese and Chinese clips), committed in
  ``evaluator/data/sample_data_multilingual`` (see its ``LICENSES.md``); ``language`` column in ISO 639-1.
- ``builtin:long``: long-form recordings made from those clips with pauses between them, so the
  reference is known exactly: a 15-minute file and a 4-minute file. Built on first use into
  the cache directory (deterministic: same seed, same audio).
- ``builtin:repeats``: one 16-minute recording (``repeats-16min``) of the same clips where
  sentences recur close together (a clip is said again 0.2-20 s after it started, right across
  the seams of overlapping windows) with short pauses (0.2-1.2 s): the adversarial case for
  stitching long-form windows. Built on first use into the cache directory, deterministic.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

from evaluator.data.audio import SAMPLE_RATE, decode_audio
from evaluator.errors import DatasetError

__all__ = ["BUILTIN_PREFIX", "BUILTINS", "builtin_dir", "sample_data_dir", "build_long_form", "build_repeats"]

BUILTIN_PREFIX = "builtin:"
BUILTINS = ("sample", "multilingual", "long", "repeats")
_LONG_VERSION = 1
# (file id, minutes, seed)
_LONG_FILES = (("long-15min", 15.0, 15), ("long-4min", 4.0, 4))
_REPEATS_VERSION = 1
_REPEATS_FILE = ("repeats-16min", 16.0, 16)
# A clip is said again (after a new clip, with this probability) when its last occurrence
# started at most _REPEAT_WITHIN_S before the repeat starts; candidates: the last 3 new clips.
_REPEAT_PROBABILITY = 0.6
_REPEAT_WITHIN_S = 20.0
_REPEAT_CANDIDATES = 3
_REPEAT_PAUSE_S = (0.2, 1.2)


def sample_data_dir() -> str:
    """The bundled sample set: an audiofolder with ``metadata.csv``."""
    return str(Path(__file__).parent / "sample_data")


def builtin_dir(name: str) -> str:
    """Folder of a built-in dataset (``sample``, ``multilingual``, ``long`` or ``repeats``),
    building it if needed."""
    if name == "sample":
        return sample_data_dir()
    if name == "multilingual":
        return str(Path(__file__).parent / "sample_data_multilingual")
    if name in ("long", "repeats"):
        from evaluator.cache import cache_dir

        folder, build = (f"long-form-v{_LONG_VERSION}", build_long_form) if name == "long" \
            else (f"repeats-v{_REPEATS_VERSION}", build_repeats)
        target = cache_dir() / folder
        if not (target / "metadata.csv").exists():
            build(target)
        return str(target)
    raise DatasetError(f"unknown built-in dataset {BUILTIN_PREFIX}{name}; valid: "
                       + ", ".join(BUILTIN_PREFIX + b for b in BUILTINS))


def _long_recording(clips: list[tuple[np.ndarray, str]], minutes: float, seed: int) -> tuple[np.ndarray, str]:
    """Clips in shuffled rounds with pauses of 0.3-2.5 s (and a 6 s pause every ~2 minutes)."""
    rng = random.Random(seed)
    target = minutes * 60 * SAMPLE_RATE
    parts: list[np.ndarray] = []
    words: list[str] = []
    length = 0
    since_long_pause = 0
    while length < target:
        order = list(range(len(clips)))
        rng.shuffle(order)
        for i in order:
            audio, text = clips[i]
            pause_s = 6.0 if since_long_pause > 120 * SAMPLE_RATE else rng.uniform(0.3, 2.5)
            since_long_pause = 0 if pause_s == 6.0 else since_long_pause + len(audio)
            pause = np.zeros(int(pause_s * SAMPLE_RATE), dtype=np.float32)
            parts += [pause, audio]
            words.append(text)
            length += len(pause) + len(audio)
            if length >= target:
                break
    parts.append(np.zeros(SAMPLE_RATE, dtype=np.float32))
    return np.concatenate(parts), " ".join(words)


def repeats_layout(lengths: list[int], minutes: float, seed: int) -> tuple[list[tuple[int, int, bool]], int]:
    """Where each clip goes in the ``builtin:repeats`` recording: ``(clip index, start sample,
    is_repeat)`` per occurrence, and the length of the speech part in samples.

    Clips come in seeded shuffled rounds; after each new clip, with probability 0.6, one of the
    last 3 new clips whose last occurrence started at most 20 s before is said again (so a
    sentence recurs within 20 s, start to start). Pauses are 0.2-1.2 s.
    """
    rng = random.Random(seed)
    target = int(minutes * 60 * SAMPLE_RATE)
    within = int(_REPEAT_WITHIN_S * SAMPLE_RATE)
    layout: list[tuple[int, int, bool]] = []
    last_start: dict[int, int] = {}
    recent: list[int] = []  # the last new clips, newest last
    length = 0

    def place(clip: int, repeat: bool) -> None:
        nonlocal length
        start = length + int(rng.uniform(*_REPEAT_PAUSE_S) * SAMPLE_RATE)
        layout.append((clip, start, repeat))
        last_start[clip] = start
        length = start + lengths[clip]

    while length < target:
        order = list(range(len(lengths)))
        rng.shuffle(order)
        for clip in order:
            place(clip, False)
            recent = (recent + [clip])[-_REPEAT_CANDIDATES:]
            if rng.random() < _REPEAT_PROBABILITY:
                # the repeat starts at most 1.2 s (the longest pause) from now
                latest = length + int(_REPEAT_PAUSE_S[1] * SAMPLE_RATE)
                candidates = [c for c in recent if latest - last_start[c] <= within]
                if candidates:
                    place(rng.choice(candidates), True)
            if length >= target:
                break
    return layout, length


def _repeats_recording(clips: list[tuple[np.ndarray, str]], minutes: float, seed: int) -> tuple[np.ndarray, str]:
    """The ``builtin:repeats`` recording (see :func:`repeats_layout`) and its reference."""
    layout, length = repeats_layout([len(audio) for audio, _ in clips], minutes, seed)
    audio = np.zeros(length + SAMPLE_RATE, dtype=np.float32)  # 1 s of silence at the end
    for clip, start, _ in layout:
        audio[start : start + len(clips[clip][0])] = clips[clip][0]
    return audio, " ".join(clips[clip][1] for clip, _, _ in layout)


def _sample_clips() -> list[tuple[np.ndarray, str]]:
    """The bundled clips, decoded, with their transcripts, in ``metadata.csv`` order."""
    with open(os.path.join(sample_data_dir(), "metadata.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [(decode_audio(os.path.join(sample_data_dir(), r["file_name"])), r["transcription"]) for r in rows]


def _write_audiofolder(target: Path, recordings: list[tuple[str, np.ndarray, str]]) -> Path:
    """Write ``(file id, audio, reference)`` recordings as an English audiofolder at ``target``,
    atomically (built in a temporary folder beside it, then renamed)."""
    import soundfile as sf

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    with open(tmp / "metadata.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_name", "id", "transcription", "language"])
        for file_id, audio, text in recordings:
            sf.write(tmp / f"{file_id}.flac", audio, SAMPLE_RATE, subtype="PCM_16")
            writer.writerow([f"{file_id}.flac", file_id, text, "en"])
    try:
        os.replace(tmp, target)
    except OSError:  # another process built it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def build_long_form(target: Path) -> Path:
    """Write the ``builtin:long`` audiofolder to ``target`` (atomically)."""
    clips = _sample_clips()
    return _write_audiofolder(target, [(file_id, *_long_recording(clips, minutes, seed))
                                       for file_id, minutes, seed in _LONG_FILES])


def build_repeats(target: Path) -> Path:
    """Write the ``builtin:repeats`` audiofolder to ``target`` (atomically)."""
    file_id, minutes, seed = _REPEATS_FILE
    return _write_audiofolder(target, [(file_id, *_repeats_recording(_sample_clips(), minutes, seed))])
