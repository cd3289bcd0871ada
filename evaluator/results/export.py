"""Manifests of a run's predictions in the formats other tools score, one file per model and dataset.

- ``open-asr-leaderboard``: JSON lines ``{"audio_filepath", "duration", "time", "text", "pred_text"}``
  named ``MODEL_<model>_DATASET_<dataset>_<split>.jsonl``, as the Open ASR Leaderboard's
  ``normalizer.eval_utils.write_manifest`` writes them, so its ``score_results(dir)`` reads them
  unchanged (rows of a chunked set keep ``parent_id`` and ``chunk_index`` so it joins them).
- ``nemo``: a NeMo manifest with ``pred_text`` (``audio_filepath``, ``duration``, ``text``,
  ``pred_text``), which NeMo's ``speech_to_text_eval.py`` scores.
- ``csv``: ``id,reference,hypothesis,seconds,audio_seconds``.

Error rows have no prediction: they are left out of every manifest and counted in the result
(:attr:`ExportResult.errors`), never written as an empty prediction.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluator.errors import ConfigError

__all__ = ["EXPORT_FORMATS", "ExportedFile", "ExportResult", "export_run", "manifest_name"]

EXPORT_FORMATS = ("open-asr-leaderboard", "nemo", "csv")
# Fields of the dataset row's metadata that the leaderboard uses to join a chunked set's rows.
CHUNK_FIELDS = ("parent_id", "chunk_index")


@dataclass(frozen=True)
class ExportedFile:
    """One manifest: its path, the model and dataset it holds, rows written and error rows left out."""

    path: Path
    model: str
    dataset: str
    rows: int
    errors: int


@dataclass
class ExportResult:
    """What :func:`export_run` wrote."""

    files: list[ExportedFile] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(f.errors for f in self.files)


def _safe(text: str) -> str:
    """A file-name part: path separators and characters other tools choke on become ``-``."""
    return re.sub(r"[^A-Za-z0-9._+=-]+", "-", text).strip("-") or "x"


def manifest_name(fmt: str, model: str, dataset: str, split: str) -> str:
    """The file name of a model's manifest on a dataset in ``fmt``."""
    if fmt == "open-asr-leaderboard":
        return f"MODEL_{_safe(model)}_DATASET_{_safe(dataset)}_{_safe(split)}.jsonl"
    if fmt == "nemo":
        return f"{_safe(model)}__{_safe(dataset)}__{_safe(split)}.json"
    return f"{_safe(model)}__{_safe(dataset)}__{_safe(split)}.csv"


def _dataset_roots(config: dict[str, Any]) -> dict[str, str]:
    """Dataset name -> the local folder its sample ids are relative to (local sources only)."""
    roots: dict[str, str] = {}
    for spec in config.get("datasets") or ([config["dataset"]] if config.get("dataset") else []):
        source = str(spec.get("source") or "")
        if ":" in source.split("/")[0] and not os.path.exists(source):  # FORMAT:path
            source = source.partition(":")[2]
        if not source or "://" in source or not os.path.exists(source):
            continue
        name = spec.get("name") or spec.get("source")
        roots[str(name)] = source if os.path.isdir(source) else os.path.dirname(source)
    return roots


def _audio_path(sample_id: str, root: str | None) -> str:
    """The sample's audio file when its id names a file under the dataset's folder, else its id."""
    if root is not None:
        candidate = os.path.join(root, sample_id)
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return sample_id


def _chunk_fields(metadata: Any) -> dict[str, Any]:
    if not metadata:
        return {}
    values = json.loads(metadata) if isinstance(metadata, str) else dict(metadata)
    if all(key in values for key in CHUNK_FIELDS):
        return {key: values[key] for key in CHUNK_FIELDS}
    return {}


def _write(fmt: str, path: Path, rows: Iterable[dict[str, Any]]) -> None:
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "reference", "hypothesis", "seconds", "audio_seconds"])
            for row in rows:
                writer.writerow([row["id"], row["text"], row["pred_text"], row["time"], row["duration"]])
        return
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            record = {"audio_filepath": row["audio_filepath"], "duration": row["duration"]}
            if fmt == "open-asr-leaderboard":
                record["time"] = row["time"]
            record["text"] = row["text"]
            record["pred_text"] = row["pred_text"]
            record.update(row["chunk"])
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def export_run(con: Any, run_id: str, fmt: str, out: str | os.PathLike[str],
               models: Iterable[str] | None = None) -> ExportResult:
    """Write one manifest per (model, dataset) of run ``run_id`` into the folder ``out``.

    Args:
        con: a DuckDB connection to the results database.
        fmt: one of :data:`EXPORT_FORMATS`.
        models: only these model specs (``None``: every model of the run).

    Raises:
        ConfigError: an unknown format, a run that does not exist or holds no rows.
    """
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; valid: {', '.join(EXPORT_FORMATS)}")
    found = con.execute("SELECT config FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if found is None:
        raise ConfigError(f"no run {run_id!r} in the database")
    config = json.loads(found[0]) if isinstance(found[0], str) else (found[0] or {})
    roots = _dataset_roots(config)
    wanted = None if models is None else list(models)
    query = ("SELECT model, dataset, split, sample_id, audio_seconds, inference_seconds, reference, hypothesis, "
             "error, metadata FROM results WHERE run_id = ? ORDER BY model, dataset, sample_index NULLS LAST, "
             "sample_id")
    groups: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
    for row in con.execute(query, [run_id]).fetchall():
        if wanted is None or row[0] in wanted:
            groups.setdefault((row[0], row[1], row[2]), []).append(row)
    if not groups:
        raise ConfigError(f"run {run_id} has no rows{'' if wanted is None else ' for ' + ', '.join(wanted)}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    result = ExportResult()
    for (model, dataset, split), rows in groups.items():
        good = [r for r in rows if r[8] is None]
        records = [{
            "id": r[3], "audio_filepath": _audio_path(r[3], roots.get(dataset)), "duration": r[4], "time": r[5],
            "text": r[6] or "", "pred_text": r[7] or "", "chunk": _chunk_fields(r[9]),
        } for r in good]
        path = folder / manifest_name(fmt, model, dataset, split)
        _write(fmt, path, records)
        result.files.append(ExportedFile(path, model, dataset, len(records), len(rows) - len(good)))
    return result
