"""Source: an ``audiofolder`` directory (audio files + ``metadata.csv`` or ``metadata.jsonl``
with a ``file_name`` column), at the top level or one sub-folder per split.

The metadata file is read as a manifest (:class:`~evaluator.data.linetable.LineTable`: rows by
position, never all in memory, and no ``datasets`` import, which costs each process that opens
the folder most of a second): ``metadata.csv`` as a CSV manifest
(:mod:`~evaluator.data.formats.delimited`), ``metadata.jsonl`` as JSON lines
(:mod:`~evaluator.data.formats.nemo`). Rows look as ``datasets``' audiofolder loader makes them:
an ``audio`` column holding the file (relative to the folder of the metadata file), ``file_name``
as written, and the file's other columns. Text and language columns are detected by the usual
names; a sample's id is the spec's id column, else a detected id column whose values are unique,
else ``file_name``. An audiofolder is read by position even when streaming is asked for.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable
from typing import Any

from evaluator.data import paths
from evaluator.data.columns import (
    ID_COLUMNS,
    LANGUAGE_COLUMNS,
    NATURAL_ID,
    ROW_INDEX,
    TEXT_COLUMNS,
    Columns,
    first_repeat,
)
from evaluator.data.formats.delimited import load_delimited, read_header
from evaluator.data.formats.nemo import load_nemo
from evaluator.data.linetable import LineTable
from evaluator.data.registry import Source
from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError

__all__ = ["AUDIO", "FILE_NAME", "SOURCES", "is_audiofolder", "load_audiofolder", "read_metadata"]

log = logging.getLogger(__name__)

AUDIO = "audio"  # the column holding each row's audio file (as datasets' audiofolder loader names it)
FILE_NAME = "file_name"  # the metadata file's column: the audio file's path as written


def is_audiofolder(path: str) -> bool:
    """A folder holding a metadata file, or sub-folders that do."""
    def has(folder: str) -> bool:
        return any(os.path.exists(os.path.join(folder, m)) for m in ("metadata.csv", "metadata.jsonl"))

    return os.path.isdir(path) and (has(path) or any(
        has(os.path.join(path, e)) for e in os.listdir(path) if os.path.isdir(os.path.join(path, e))))


def _pick(names: Iterable[str], wanted: str | None, candidates: tuple[str, ...], what: str, where: str) -> str | None:
    names = list(names)
    if wanted:
        if wanted not in names:
            raise DatasetError(f"{what} column {wanted!r} is not in {where}; columns are: {', '.join(names)}")
        return wanted
    lowered = {n.lower(): n for n in names}
    return next((lowered[c] for c in candidates if c in lowered), None)


def _first_record(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise DatasetError(f"{path} line {number} is not JSON ({exc}): fix or delete the line") from exc
                if not isinstance(record, dict):
                    raise DatasetError(f"{path} line {number} is not a JSON object")
                return record
    return {}


def _audiofolder_rows(inner: LineTable, spec: DatasetSpec, names: list[str], text: str, language: str | None,
                      where: str) -> LineTable:
    """``inner`` (the metadata file read as a manifest: ``file_name`` the audio cell, its text as
    written under :data:`NATURAL_ID`) with the audiofolder's rows and id column."""
    if spec.id_column == ROW_INDEX:
        ident = None
    else:
        ident = _pick(names, spec.id_column, ID_COLUMNS, "id", where) or FILE_NAME
        if spec.id_column is None and ident != FILE_NAME and (found := first_repeat(inner.values(ident))):
            value, a, b = found
            log.warning("column %r has repeated values (%r on rows %d and %d; e.g. several speakers per sentence); "
                        "not using it as the sample id", ident, value, a, b)
            ident = FILE_NAME
    columns = Columns(audio=AUDIO, text=text, id=ident, language=language)

    def parse(record: str, number: int) -> dict[str, Any]:
        row = inner.parse(record, number)
        row[AUDIO] = row.pop(FILE_NAME)
        row[FILE_NAME] = row.pop(NATURAL_ID, None) or f"line-{number}"  # a bad record: named by its line
        if ident and row.get(ident) is None:
            row[ident] = f"line-{number}"
        return row

    def field_of(record: str, column: str) -> Any:
        assert inner.field_of is not None
        return inner.field_of(record, NATURAL_ID if column == FILE_NAME else column)

    return inner.reshaped(parse, columns, [AUDIO, *names], field_of)


def read_metadata(spec: DatasetSpec, folder: str) -> LineTable | None:
    """The rows of one audiofolder level, or None if it has no metadata file.

    Raises:
        DatasetError: the metadata file lacks ``file_name`` or a text column, or lists no files.
    """
    csv_path = os.path.join(folder, "metadata.csv")
    jsonl_path = os.path.join(folder, "metadata.jsonl")
    if os.path.exists(csv_path):
        path = csv_path
        names = read_header(csv_path)[0]
    elif os.path.exists(jsonl_path):
        path = jsonl_path
        names = list(_first_record(jsonl_path))
    else:
        return None
    where = f"{paths.basename(path)} in {folder}"
    if FILE_NAME not in names:
        raise DatasetError(f"{path} needs a {FILE_NAME} column (it has {', '.join(names) or 'none'})")
    text = _pick(names, spec.text_column, TEXT_COLUMNS, "text", where)
    if text is None:
        raise DatasetError(f"no reference text column found among {', '.join(names)} in {where}; pass "
                           f"--text-column (looked for {', '.join(TEXT_COLUMNS)})")
    language = _pick(names, spec.language_column, LANGUAGE_COLUMNS, "language", where)
    manifest = Columns(audio=FILE_NAME, text=text, id=NATURAL_ID, language=language)
    if path == csv_path:
        inner = load_delimited(spec, csv_path, columns=manifest)
    else:
        inner = load_nemo(dataclasses.replace(spec, audio_column=FILE_NAME, text_column=text, id_column=None,
                                              language_column=language), jsonl_path)
    if len(inner) == 0:
        raise DatasetError(f"the metadata file in {folder} lists no files")
    return _audiofolder_rows(inner, spec, names, text, language, where)


def load_audiofolder(spec: DatasetSpec, folder: str) -> dict[str, LineTable]:
    """An audiofolder, top level or one sub-folder per split: its rows per split."""
    top = read_metadata(spec, folder)
    if top is not None:
        return {"train": top}
    splits = {}
    for entry in sorted(os.listdir(folder)):
        sub = os.path.join(folder, entry)
        if os.path.isdir(sub) and (found := read_metadata(spec, sub)) is not None:
            splits[entry] = found
    if not splits:
        raise DatasetError(
            f"{folder} is neither a save_to_disk dataset nor an audiofolder: add a metadata.csv "
            "with columns file_name,transcription (or one sub-folder per split holding one)"
        )
    return splits


SOURCES = (Source("audiofolder", "an audiofolder (audio + metadata.csv with file_name,transcription; or a "
                  "sub-folder per split)", load_audiofolder,
                  detect=is_audiofolder, order=40, urls=False,
                  ids="the id column, else file_name as the metadata file writes it", natural_id=FILE_NAME),)
