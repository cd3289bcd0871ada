"""Source: an ``audiofolder`` directory (audio files + ``metadata.csv`` or ``metadata.jsonl``
with a ``file_name`` column), at the top level or one sub-folder per split."""

from __future__ import annotations

import os
from typing import Any

from evaluator.data.registry import Source
from evaluator.errors import DatasetError

__all__ = ["SOURCES", "is_audiofolder", "load_audiofolder", "read_metadata"]


def is_audiofolder(path: str) -> bool:
    """A folder holding a metadata file, or sub-folders that do."""
    def has(folder: str) -> bool:
        return any(os.path.exists(os.path.join(folder, m)) for m in ("metadata.csv", "metadata.jsonl"))

    return os.path.isdir(path) and (has(path) or any(
        has(os.path.join(path, e)) for e in os.listdir(path) if os.path.isdir(os.path.join(path, e))))


def read_metadata(folder: str) -> Any | None:
    """A ``datasets.Dataset`` for one audiofolder level, or None if it has no metadata file.

    The ``audio`` column holds absolute file paths (decoded later by :mod:`evaluator.data.audio`);
    building it this way avoids ``datasets``' audio encoding, which needs torchcodec.
    """
    import datasets

    csv_path = os.path.join(folder, "metadata.csv")
    jsonl_path = os.path.join(folder, "metadata.jsonl")
    if os.path.exists(csv_path):
        import csv

        with open(csv_path, newline="", encoding="utf-8-sig") as fh:  # -sig: Excel writes a BOM
            records = list(csv.DictReader(fh))
    elif os.path.exists(jsonl_path):
        import json

        with open(jsonl_path, encoding="utf-8-sig") as fh:
            records = [json.loads(line) for line in fh if line.strip()]
    else:
        return None
    if records and "file_name" not in records[0]:
        raise DatasetError(f"{csv_path if os.path.exists(csv_path) else jsonl_path} needs a file_name column")
    if not records:
        raise DatasetError(f"the metadata file in {folder} lists no files")
    columns: dict[str, list[Any]] = {"audio": []}
    for record in records:
        columns["audio"].append(os.path.join(folder, str(record["file_name"])))
        for key, value in record.items():
            columns.setdefault(key, []).append(value)
    return datasets.Dataset.from_dict(columns)


def load_audiofolder(folder: str) -> Any:
    """An audiofolder (``metadata.csv``/``metadata.jsonl`` with ``file_name``), top level or one
    sub-folder per split, as a ``DatasetDict``."""
    import datasets

    top = read_metadata(folder)
    if top is not None:
        return datasets.DatasetDict({"train": top})
    splits = {}
    for entry in sorted(os.listdir(folder)):
        sub = os.path.join(folder, entry)
        if os.path.isdir(sub) and (found := read_metadata(sub)) is not None:
            splits[entry] = found
    if not splits:
        raise DatasetError(
            f"{folder} is neither a save_to_disk dataset nor an audiofolder: add a metadata.csv "
            "with columns file_name,transcription (or one sub-folder per split holding one)"
        )
    return datasets.DatasetDict(splits)


SOURCES = (Source("audiofolder", "an audiofolder (audio + metadata.csv with file_name,transcription; or a "
                  "sub-folder per split)", lambda spec, path: load_audiofolder(path),
                  detect=is_audiofolder, order=40, urls=False,
                  ids="the id column, else file_name as the metadata file writes it", natural_id="file_name"),)
