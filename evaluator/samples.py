"""Built-in datasets, named ``builtin:NAME`` on the command line.

- ``builtin:sample`` (the default): 24 short English clips with exact transcripts, committed
  in ``evaluator/sample_data`` (see its ``LICENSES.md``).
- ``builtin:long``: long-form recordings made from those clips with pauses between them, so the
  reference is known exactly: a 15-minute file and a 4-minute file. Built on first use into
  the cache directory (deterministic: same seed, same audio).
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

from evaluator.audio import SAMPLE_RATE, decode_audio
from evaluator.errors import DatasetError

__all__ = ["BUILTIN_PREFIX", "BUILTINS", "builtin_dir", "sample_data_dir", "build_long_form"]

BUILTIN_PREFIX = "builtin:"
BUILTINS = ("sample", "long")
_LONG_VERSION = 1
# (file id, minutes, seed)
_LONG_FILES = (("long-15min", 15.0, 15), ("long-4min", 4.0, 4))


def sample_data_dir() -> str:
    """The bundled sample set: an audiofolder with ``metadata.csv``."""
    return str(Path(__file__).parent / "sample_data")


def builtin_dir(name: str) -> str:
    """Folder of a built-in dataset (``sample`` or ``long``), building it if needed."""
    if name == "sample":
        return sample_data_dir()
    if name == "long":
        from evaluator.weights import cache_dir

        target = cache_dir() / f"long-form-v{_LONG_VERSION}"
        if not (target / "metadata.csv").exists():
            build_long_form(target)
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


def build_long_form(target: Path) -> Path:
    """Write the ``builtin:long`` audiofolder to ``target`` (atomically)."""
    import soundfile as sf

    with open(os.path.join(sample_data_dir(), "metadata.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    clips = [(decode_audio(os.path.join(sample_data_dir(), r["file_name"])), r["transcription"]) for r in rows]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".long-form-"))
    with open(tmp / "metadata.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_name", "id", "transcription", "language"])
        for file_id, minutes, seed in _LONG_FILES:
            audio, text = _long_recording(clips, minutes, seed)
            sf.write(tmp / f"{file_id}.flac", audio, SAMPLE_RATE, subtype="PCM_16")
            writer.writerow([f"{file_id}.flac", file_id, text, "en"])
    try:
        os.replace(tmp, target)
    except OSError:  # another process built it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target
