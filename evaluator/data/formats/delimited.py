"""Source: a CSV or TSV manifest with a header line, one row per sample: any column holding the
audio path (relative paths are read from the manifest's folder) and any column holding the text.

Columns are detected by name (``audio``/``path``/``audio_filepath``/``file_name``... for the
audio; ``text``/``sentence``/``transcription``... for the text; ``--audio-column`` and
``--text-column`` choose others). ``.csv`` files follow RFC 4180 (fields may be quoted and span
lines); ``.tsv`` files are split on tabs with no quoting (as Common Voice writes them). Every other
column goes to the row's metadata. A sample's id is the id column (``id``, ``utt_id``... or
``--id-column``), else its audio path as the manifest writes it.

Rows are read by position (:class:`~evaluator.data.linetable.LineTable`), never all at once. A row
with the wrong number of fields, or an empty path, is an error row naming its line; a header
without the needed column stops the run before any model loads, naming the columns it has.
"""

from __future__ import annotations

import csv
import dataclasses
from typing import Any

from evaluator.data import paths
from evaluator.data.columns import NATURAL_ID, ROW_INDEX, Columns, detect_columns
from evaluator.data.linetable import LineTable, bad_row
from evaluator.data.registry import Source
from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError

__all__ = ["DELIMITED_EXTENSIONS", "SOURCES", "load_delimited", "read_header"]

DELIMITED_EXTENSIONS = (".csv", ".tsv")


def _dialect(path: str) -> tuple[str, int]:
    """(delimiter, csv quoting) for a file name."""
    if path.lower().endswith(".tsv"):
        return "\t", csv.QUOTE_NONE
    return ",", csv.QUOTE_MINIMAL


def read_header(path: str) -> tuple[list[str], int]:
    """(column names, byte offset of the first data line).

    Raises:
        DatasetError: the file is empty or its header is blank.
    """
    delimiter, quoting = _dialect(path)
    with paths.open_binary(path) as fh:
        raw = fh.readline()
    text = raw.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    if not text.strip():
        raise DatasetError(f"{path} is empty or starts with a blank line: its first line must name the columns "
                           "(e.g. path,text)")
    names = next(csv.reader([text], delimiter=delimiter, quoting=quoting))
    return [n.strip() for n in names], len(raw)


def load_delimited(spec: DatasetSpec, path: str, *, base: str | None = None,
                   columns: Columns | None = None) -> LineTable:
    """The manifest's rows; audio cells are ``{"path", "where"}``.

    Args:
        base: folder relative audio paths are read from (default: the manifest's folder).
        columns: the columns to use (default: detected from the header and the spec).

    Raises:
        DatasetError: the header lacks the audio or text column (the message lists its columns).
    """
    names, data_offset = read_header(path)
    name = paths.basename(path)
    where = f"{name} (line 1, the header)"
    if columns is None:
        wanted = None if spec.id_column == NATURAL_ID else spec.id_column
        columns = detect_columns(names, None, dataclasses.replace(spec, id_column=wanted), manifest=True, where=where)
        if columns.id is None and wanted != ROW_INDEX:  # no id column: the audio path as written
            columns = dataclasses.replace(columns, id=NATURAL_ID)
    for column in (columns.audio, columns.text):
        if column not in names:
            raise DatasetError(f"{where} has no {column!r} column; its columns are {', '.join(names)}")
    delimiter, quoting = _dialect(path)
    folder = base or paths.dirname(path)
    expected = len(names)
    cols = columns

    def parse(text: str, number: int) -> dict[str, Any]:
        at = f"{name} line {number}"
        try:  # without quoting a TSV row is its fields split on tabs (what csv does, faster)
            fields = text.split(delimiter) if quoting == csv.QUOTE_NONE else next(
                csv.reader([text], delimiter=delimiter, quoting=quoting, strict=True))
        except (csv.Error, StopIteration) as exc:
            return bad_row(cols, number, f"{at} is not a valid {'TSV' if delimiter == chr(9) else 'CSV'} row "
                           f"({exc}): fix its quotes")
        if len(fields) != expected:
            return bad_row(cols, number, f"{at} has {len(fields)} fields where the header has {expected} "
                           f"({', '.join(names)}): fix the row (a stray delimiter or a missing value)")
        row: dict[str, Any] = dict(zip(names, fields, strict=True))
        location = row[cols.audio].strip()
        if not location:
            return bad_row(cols, number, f"{at} has an empty {cols.audio!r}: give the audio file's path")
        row[cols.audio] = {"path": paths.join(folder, location), "where": at}
        if cols.id == NATURAL_ID:
            row[NATURAL_ID] = location
        return row

    def field_of(text: str, column: str) -> Any:  # the cell alone (a TSV row split on tabs)
        fields = text.split(delimiter) if quoting == csv.QUOTE_NONE else next(
            csv.reader([text], delimiter=delimiter, quoting=quoting))
        if len(fields) != expected:
            return None
        if column == NATURAL_ID:
            return fields[names.index(cols.audio)].strip() or None
        return fields[names.index(column)]

    return LineTable(path, parse, columns, names, data_offset=data_offset, data_line=2,
                     quoted=quoting != csv.QUOTE_NONE, field_of=field_of)


SOURCES = tuple(Source(ext[1:], f"a {ext[1:].upper()} manifest ({ext})", load_delimited, extensions=(ext,),
                       manifest=True, ids="the id column, else the audio path as written")
                for ext in DELIMITED_EXTENSIONS)
