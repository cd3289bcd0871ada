"""Builders for what tests store and read: result rows, runs, small results databases and small
audiofolder datasets. Tests name only what their assertions depend on; everything else takes a
plain default here.

- :func:`result_row`: one row of the ``results`` table as a mapping, scored by
  :func:`evaluator.scoring.rows.finalize_row` (as an actor scores it), or left unscored.
- :func:`create_run`: a run in a :class:`~evaluator.results.store.Store`, with its models in order.
- :func:`write_run`: a new database file holding one run and its rows.
- :func:`tone`, :func:`audio_bytes`: a sine, and samples encoded as an audio file in memory.
- :func:`write_audiofolder`: an audiofolder (clips plus ``metadata.csv``).
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evaluator.results.store import Store
from evaluator.scoring.rows import finalize_row

__all__ = ["RUNTIME", "result_row", "create_run", "write_run", "tone", "audio_bytes", "write_audiofolder",
           "write_metadata"]

#: The columns an actor fills besides the text and the scores: a fast CPU run on one worker.
RUNTIME: dict[str, Any] = {"decode_seconds": 0.01, "device": "cpu", "worker": "w0", "long_form": "native",
                           "num_chunks": 1}


def result_row(run_id: str, model: str, sample_id: str, reference: str | None, hypothesis: str | None, *,
               dataset: str = "ds", split: str = "test", index: int | None = None, language: str | None = "en",
               audio_seconds: float | None = 2.0, inference_seconds: float | None = 0.5, error: str | None = None,
               scored: bool = True, scored_as: str | None = None, **extra: Any) -> dict[str, Any]:
    """A result row of ``model`` on ``sample_id``; the backend is the spec's prefix.

    ``scored``: fill the scoring columns with :func:`finalize_row` (an error row keeps NULL
    scores); ``scored_as``: score in this language instead of the row's (a row as an older
    version scored it). ``extra``: any other column (a misspelled one fails on insert).
    """
    row: dict[str, Any] = {
        "run_id": run_id, "model": model, "backend": model.split(":")[0], "dataset": dataset, "split": split,
        "sample_id": sample_id, "language": language, "audio_seconds": audio_seconds, "reference": reference,
        "hypothesis": hypothesis, "inference_seconds": inference_seconds, "error": error, **extra,
    }
    if index is not None:
        row["sample_index"] = index
    if not scored:
        return row
    if scored_as is None:
        return finalize_row(row)
    return {**finalize_row({**row, "language": scored_as}), "language": language}


def create_run(store: Store, run_id: str, name: str | None = "", *, models: Sequence[str] | None = None,
               config: Mapping[str, Any] | None = None, normalizer: tuple[str, str] = ("n", "1"),
               version: str = "t") -> str:
    """Create run ``run_id`` (named ``name``, the run id when left out) in ``store``; ``models``:
    the specs in the order the run was given them (the leaderboard's tie order). Returns the id."""
    full = dict(config or {})
    if models is not None:
        full["models"] = [{"spec": m} for m in models]
    store.create_run(run_id, run_id if name == "" else name, full, evaluator_version=version,
                     normalizer=normalizer, host={})
    return run_id


def write_run(path: str | Path, run_id: str, rows: Sequence[Mapping[str, Any]], **run: Any) -> str:
    """A database at ``path`` holding run ``run_id`` (see :func:`create_run` for ``run``) and its
    ``rows``. Returns the path."""
    with Store(str(path)) as store:
        create_run(store, run_id, **run)
        store.insert_results(rows)
    return str(path)


def tone(rate: int, seconds: float = 0.25, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    """A float32 sine of ``seconds`` at ``rate`` Hz."""
    t = np.arange(int(round(rate * seconds))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def audio_bytes(samples: np.ndarray, rate: int, fmt: str = "WAV") -> bytes:
    """``samples`` encoded as a ``fmt`` file (WAV, FLAC, OGG, ...) in memory."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt)
    return buf.getvalue()


def write_audiofolder(folder: str | Path, clips: Mapping[str, np.ndarray | bytes | Path],
                      metadata: Sequence[Mapping[str, Any]], *, rate: int = 16_000,
                      **soundfile_options: Any) -> Path:
    """An audiofolder at ``folder``: each clip (file name -> mono samples, the bytes of a file,
    or a file to copy) and ``metadata`` rows (their keys are the header, ``file_name`` first by
    convention) in ``metadata.csv``. Samples are written at ``rate`` with :mod:`soundfile`
    (``soundfile_options``: e.g. ``subtype="FLOAT"``)."""
    import soundfile as sf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, clip in clips.items():
        if isinstance(clip, Path):
            shutil.copyfile(clip, folder / name)
        elif isinstance(clip, bytes):
            (folder / name).write_bytes(clip)
        else:
            sf.write(folder / name, clip, rate, **soundfile_options)
    write_metadata(folder, metadata)
    return folder


def write_metadata(folder: str | Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """``metadata.csv`` of an audiofolder: the first row's keys are the header."""
    with open(Path(folder) / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def save_sample_set(target: str | Path) -> Path:
    """The bundled sample set as a ``save_to_disk`` dataset (``audio`` paths, ``text``, ``id``):
    a local dataset that ``--streaming`` reads as a stream (an audiofolder is read by position)."""
    import os

    import datasets

    from evaluator.data.builtin import sample_data_dir

    folder = sample_data_dir()
    with open(os.path.join(folder, "metadata.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    datasets.Dataset.from_dict({
        "audio": [os.path.join(folder, r["file_name"]) for r in rows],
        "text": [r["transcription"] for r in rows], "id": [r["id"] for r in rows],
    }).save_to_disk(str(target))
    return Path(target)
