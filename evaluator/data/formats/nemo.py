"""Source: a NeMo manifest, JSON lines of ``{"audio_filepath", "text", "duration"}`` with optional
``offset`` and ``lang`` (the format NVIDIA NeMo's models and most fine-tuning recipes use).

- ``audio_filepath``: a path (relative paths are read from the manifest's folder) or URL.
- ``offset`` (seconds): when a line has one, the sample is the segment ``[offset, offset +
  duration)`` of the file, read by seeking (never the whole file); without ``offset`` the whole
  file is the sample and ``duration`` is only metadata (NeMo rounds it).
- ``lang``: the language column (ISO code). Other keys (``duration``, ``speaker``...) go to the
  row's metadata.

A sample's id is its ``audio_filepath`` as the line writes it (``clips/a.wav``), with
``@offset`` for a segment (``talk.wav@12.5``); ``--id-column`` names a field to use instead.

Rows are read by position from the file (:class:`~evaluator.data.linetable.LineTable`): opening a
million-line manifest keeps a thousand offsets in memory. A line that is not a JSON object, or
lacks its path, is an error row naming the line; the rest is evaluated.
"""

from __future__ import annotations

import json
from typing import Any

from evaluator.data import paths
from evaluator.data.columns import NATURAL_ID, Columns, manifest_id
from evaluator.data.linetable import LineTable, bad_row
from evaluator.data.registry import Source
from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError

__all__ = ["NEMO_EXTENSIONS", "SOURCES", "load_nemo", "segment_id"]

NEMO_EXTENSIONS = (".json", ".jsonl", ".manifest")
_EXAMPLE = '{"audio_filepath": "clips/a.wav", "text": "hello world", "duration": 1.5}'


def _first_record(path: str) -> tuple[dict[str, Any], int]:
    """The first line that is a JSON object, and its line number."""
    with paths.open_binary(path) as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict):
                return record, number
            if number > 1000:
                break
    raise DatasetError(f"{path} holds no JSON object line (looked at its first lines); a NeMo manifest has one "
                       f"object per line, e.g. {_EXAMPLE}")


def segment_id(location: Any, offset: Any) -> str | None:
    """A line's sample id: its audio path as written, with ``@offset`` (seconds, to the
    microsecond) for a segment."""
    if not isinstance(location, str) or not location:
        return None
    if offset is None:
        return location
    try:
        seconds = f"{float(offset):.6f}".rstrip("0").rstrip(".")
    except (TypeError, ValueError):
        return None
    return f"{location}@{seconds}"


def load_nemo(spec: DatasetSpec, path: str) -> LineTable:
    """The manifest's rows (a :class:`LineTable`); audio cells are ``{"path", "offset", "duration",
    "where"}``.

    Raises:
        DatasetError: the file is empty, holds no JSON object, or its first object lacks the
            audio path or text field.
    """
    if paths.size(path) == 0:
        raise DatasetError(f"{path} is empty: a NeMo manifest lists one sample per line, e.g. {_EXAMPLE}")
    first, line = _first_record(path)
    audio = spec.audio_column or "audio_filepath"
    text = spec.text_column or "text"
    name = paths.basename(path)
    for key, flag in ((audio, "--audio-column"), (text, "--text-column")):
        if key not in first:
            raise DatasetError(f"{name} line {line} has no {key!r} field (it has {', '.join(first) or 'none'}); "
                               f"a NeMo line looks like {_EXAMPLE}, or pass {flag}")
    language = spec.language_column or ("lang" if "lang" in first else None)
    ident = manifest_id(spec.id_column)
    columns = Columns(audio=audio, text=text, id=ident, language=language)
    base = paths.dirname(path)

    def parse(record_text: str, number: int) -> dict[str, Any]:
        where = f"{name} line {number}"
        try:
            record = json.loads(record_text)
        except ValueError as exc:
            return bad_row(columns, number, f"{where} is not JSON ({exc}): fix or delete the line")
        if not isinstance(record, dict):
            return bad_row(columns, number, f"{where} is not a JSON object: write one object per line, e.g. {_EXAMPLE}")
        location = record.get(audio)
        if not isinstance(location, str) or not location:
            return bad_row(columns, number, f"{where} has no {audio!r} path: add the audio file's path")
        if text not in record:
            return bad_row(columns, number, f"{where} has no {text!r} field: add the reference transcript")
        cell: dict[str, Any] = {"path": paths.join(base, location), "where": where}
        if record.get("offset") is not None:
            try:
                cell["offset"] = float(record["offset"])
                cell["duration"] = None if record.get("duration") is None else float(record["duration"])
            except (TypeError, ValueError):
                return bad_row(columns, number, f"{where}: offset and duration must be numbers of seconds")
        row = dict(record)
        row[audio] = cell
        row[text] = "" if record.get(text) is None else str(record[text])
        if ident == NATURAL_ID:
            row[NATURAL_ID] = segment_id(location, record.get("offset"))
        if ident and row.get(ident) is None:
            row[ident] = f"line-{number}"
        return row

    def field_of(record_text: str, column: str) -> Any:
        record = json.loads(record_text)
        if column == NATURAL_ID:
            return segment_id(record.get(audio), record.get("offset"))
        return record.get(column)

    names = list(dict.fromkeys([audio, text, *first]))
    return LineTable(path, parse, columns, names, field_of=field_of)


SOURCES = (Source("nemo", "a NeMo manifest (.json, .jsonl)", load_nemo, extensions=NEMO_EXTENSIONS, manifest=True,
                  ids="audio_filepath as written (with @offset for a segment)"),)
