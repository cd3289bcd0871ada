"""Transcripts made elsewhere, read from a file, matched to a dataset's samples by id.

Formats (by extension, else by content):

- JSON lines (``.json``, ``.jsonl``, ``.manifest``): the Open ASR Leaderboard's manifests and NeMo
  manifests with ``pred_text``: the key is ``audio_filepath`` (or ``id`` / ``sample_id``), the
  prediction ``pred_text``, seconds from ``time`` where present;
- CSV / TSV (``.csv``, ``.tsv``) with a header: the key from ``id``, ``sample_id``, ``file_name``,
  ``audio_filepath`` or ``path``; the prediction from ``hypothesis``, ``pred_text``,
  ``prediction``, ``transcription`` or ``text``; seconds from ``seconds`` or ``time`` where present;
- a Kaldi ``text`` file (anything else): ``<utterance id> <words...>`` per line.

A sample finds its prediction by its id, else by the key ending in ``/<id>``, else by the same file
name, else by the same file name without its extension (each only when exactly one key matches).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from evaluator.errors import DatasetError

__all__ = ["Prediction", "Predictions", "read_predictions"]

_KEY_COLUMNS = ("id", "sample_id", "file_name", "audio_filepath", "path")
_TEXT_COLUMNS = ("hypothesis", "pred_text", "prediction", "transcription", "text")
_SECONDS_COLUMNS = ("seconds", "time")


@dataclass(frozen=True)
class Prediction:
    """One transcript: its key in the file, its text, the seconds it took (when the file says)."""

    key: str
    text: str
    seconds: float | None = None


def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def _unique(pairs: Iterable[tuple[str, str]]) -> dict[str, str | None]:
    """name -> key, or None where several keys share the name (ambiguous: never used)."""
    out: dict[str, str | None] = {}
    for name, key in pairs:
        out[name] = key if name not in out else None
    return out


@dataclass
class Predictions:
    """The transcripts of one file, with lookups by sample id."""

    path: str
    by_key: dict[str, Prediction]
    _basename: dict[str, str | None] = field(default_factory=dict, repr=False)
    _stem: dict[str, str | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._basename = _unique((k.replace("\\", "/").rsplit("/", 1)[-1], k) for k in self.by_key)
        self._stem = _unique((_stem(k), k) for k in self.by_key)

    def key_for(self, sample_id: str) -> str | None:
        """The key of ``sample_id``'s prediction, or None when no key (or several) match."""
        if sample_id in self.by_key:
            return sample_id
        suffix = "/" + sample_id.replace("\\", "/").lstrip("/")
        ends = [k for k in self.by_key if k.replace("\\", "/").endswith(suffix)]
        if len(ends) == 1:
            return ends[0]
        base = sample_id.replace("\\", "/").rsplit("/", 1)[-1]
        if self._basename.get(base):
            return self._basename[base]
        return self._stem.get(_stem(sample_id)) or None

    def get(self, sample_id: str) -> Prediction | None:
        key = self.key_for(sample_id)
        return None if key is None else self.by_key[key]

    def unmatched(self, sample_ids: Iterable[str]) -> list[str]:
        """Keys of the file that none of ``sample_ids`` matched, in file order."""
        used = {self.key_for(s) for s in sample_ids}
        return [k for k in self.by_key if k not in used]


def _seconds(value: object, where: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{where}: seconds {value!r} is not a number") from exc


def _add(found: dict[str, Prediction], prediction: Prediction, where: str) -> None:
    if prediction.key in found:
        raise DatasetError(f"{where}: {prediction.key!r} has a prediction already; keep one line per sample")
    found[prediction.key] = prediction


def _read_jsonl(text: str, name: str) -> dict[str, Prediction]:
    found: dict[str, Prediction] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise DatasetError(f"{where} is not JSON ({exc})") from exc
        key = next((record[c] for c in ("audio_filepath", "id", "sample_id") if record.get(c) is not None), None)
        if key is None or "pred_text" not in record:
            raise DatasetError(f"{where} needs 'audio_filepath' (or 'id') and 'pred_text'; it has "
                               f"{', '.join(record) or 'nothing'}")
        _add(found, Prediction(str(key), str(record["pred_text"] or ""), _seconds(record.get("time"), where)), where)
    return found


def _read_table(text: str, name: str, delimiter: str) -> dict[str, Prediction]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    columns = [c.strip() for c in reader.fieldnames or ()]
    key = next((c for c in _KEY_COLUMNS if c in columns), None)
    hyp = next((c for c in _TEXT_COLUMNS if c in columns), None)
    if key is None or hyp is None:
        raise DatasetError(f"{name} needs a header with an id column ({', '.join(_KEY_COLUMNS)}) and a prediction "
                           f"column ({', '.join(_TEXT_COLUMNS)}); it has {', '.join(columns) or 'none'}")
    seconds = next((c for c in _SECONDS_COLUMNS if c in columns), None)
    found: dict[str, Prediction] = {}
    for number, row in enumerate(reader, start=2):
        where = f"{name} line {number}"
        if not row.get(key):
            raise DatasetError(f"{where} has no {key!r}")
        _add(found, Prediction(row[key], row.get(hyp) or "", _seconds(row.get(seconds) if seconds else None, where)),
             where)
    return found


def _read_kaldi(text: str, name: str) -> dict[str, Prediction]:
    found: dict[str, Prediction] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, _, words = line.strip().partition(" ")
        _add(found, Prediction(key, words.strip()), f"{name} line {number}")
    return found


def read_predictions(path: str) -> Predictions:
    """The predictions in the file ``path``.

    Raises:
        DatasetError: the file is missing or empty, a line cannot be read, a key repeats.
    """
    if not os.path.isfile(path):
        raise DatasetError(f"no predictions file at {path}: give a leaderboard/NeMo JSONL manifest with pred_text, "
                           "a CSV/TSV (id, hypothesis[, seconds]) or a Kaldi text file")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    name = os.path.basename(path)
    if not text.strip():
        raise DatasetError(f"{path} holds no predictions (the file is empty)")
    lower = name.lower()
    stripped = text.lstrip()
    if lower.endswith((".json", ".jsonl", ".manifest")) or stripped.startswith("{"):
        found = _read_jsonl(text, name)
    elif lower.endswith(".tsv"):
        found = _read_table(text, name, "\t")
    elif lower.endswith(".csv"):
        found = _read_table(text, name, ",")
    else:
        found = _read_kaldi(text, name)
    if not found:
        raise DatasetError(f"{path} holds no predictions")
    return Predictions(path, found)
