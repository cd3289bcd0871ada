"""Rows of a text manifest (JSON lines, CSV, TSV, a Kaldi ``text`` file) read by position without
holding the file in memory.

Opening scans the file once and keeps the byte offset of every :data:`CHECKPOINT_EVERY`-th
record: a million-line manifest costs a thousand integers, and reading rows ``[start, stop)`` seeks
to the checkpoint before ``start`` and parses only what it needs. Blank lines are not records.
With ``quoted=True`` (CSV) a record spans lines while a double quote is open.

Each record is parsed by the source's ``parse(text, line_number)``, which returns the row as a
dict; a record it cannot read becomes a row whose audio cell holds ``{"error": "..."}`` (see
:mod:`evaluator.data.audio`), so one bad line is one error row, not a failed run.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import IO, Any

from evaluator.data import paths
from evaluator.data.columns import Columns
from evaluator.errors import DatasetError

__all__ = ["CHECKPOINT_EVERY", "LineTable", "bad_row", "scan_records"]

CHECKPOINT_EVERY = 1024


def scan_records(fh: IO[bytes], offset: int, line: int, quoted: bool) -> Iterator[tuple[int, int, bytes]]:
    """``(byte offset, line number, raw bytes)`` of each record from ``offset`` on (line numbers
    start at ``line``; blank lines skipped). An unterminated quote ends at the end of the file."""
    fh.seek(offset)
    if not quoted:
        for raw in fh:
            if raw.strip():
                yield offset, line, raw
            offset += len(raw)
            line += 1
        return
    pending: list[bytes] = []
    quotes = 0
    start = (offset, line)
    for raw in fh:
        if not pending:
            start = (offset, line)
        offset += len(raw)
        line += 1
        pending.append(raw)
        quotes += raw.count(b'"')
        if quotes % 2:
            continue
        text = b"".join(pending)
        pending, quotes = [], 0
        if text.strip():
            yield start[0], start[1], text
    if pending and b"".join(pending).strip():
        yield start[0], start[1], b"".join(pending)


class LineTable:
    """A manifest's rows by position, with the columns its source settled on.

    Args:
        path: the manifest (local path or fsspec URL).
        parse: ``(record text, line number) -> row dict``; never raises for one bad record.
        columns: audio, text, id and language columns of the rows ``parse`` returns.
        column_names: every column a row may have (for messages and metadata order).
        data_offset / data_line: where the records start (after a header line).
        quoted: records may span lines inside double quotes (CSV).
        id_of: the id of a raw record without parsing it (Kaldi: the first word), for
            :meth:`check_unique`; None parses each row.
        field_of: ``(record text, column) -> value`` without building the row (for
            :meth:`values`); None parses each row.
    """

    features: dict[str, Any] = {}

    def __init__(self, path: str, parse: Callable[[str, int], dict[str, Any]], columns: Columns,
                 column_names: list[str], *, data_offset: int = 0, data_line: int = 1, quoted: bool = False,
                 every: int = CHECKPOINT_EVERY, id_of: Callable[[bytes], str] | None = None,
                 field_of: Callable[[str, str], Any] | None = None) -> None:
        self.path = path
        self.parse = parse
        self.columns = columns
        self.column_names = column_names
        self.quoted = quoted
        self.every = every
        self.id_of = id_of
        self.field_of = field_of
        self._checkpoints: list[tuple[int, int]] = []
        count = 0
        with paths.open_binary(path) as fh:
            for offset, line, _ in scan_records(fh, data_offset, data_line, quoted):
                if count % every == 0:
                    self._checkpoints.append((offset, line))
                count += 1
        self._len = count

    def __len__(self) -> int:
        return self._len

    def reshaped(self, parse: Callable[[str, int], dict[str, Any]], columns: Columns, column_names: list[str],
                 field_of: Callable[[str, str], Any] | None) -> LineTable:
        """The same records (and index: no second scan) read into other rows: another source's
        ``parse``, columns and ``field_of`` over this manifest's lines."""
        view = copy.copy(self)
        view.parse, view.columns, view.column_names, view.field_of = parse, columns, column_names, field_of
        view.id_of = None
        return view

    def _row(self, raw: bytes, line: int) -> dict[str, Any]:
        try:
            text = raw.decode("utf-8-sig" if line == 1 else "utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            return bad_row(self.columns, line, f"{paths.basename(self.path)} line {line} is not UTF-8 text "
                           f"({exc}): save the file as UTF-8")
        return self.parse(text, line)

    def _records(self, start: int, stop: int | None) -> Iterator[tuple[int, bytes]]:
        """(line number, raw bytes) of records ``[start, stop)``."""
        stop = self._len if stop is None else min(stop, self._len)
        if start >= stop:
            return
        offset, line = self._checkpoints[start // self.every]
        skip = start % self.every
        with paths.open_binary(self.path) as fh:
            for k, (_, at, raw) in enumerate(scan_records(fh, offset, line, self.quoted)):
                if k < skip:
                    continue
                if k - skip >= stop - start:
                    break
                yield at, raw

    def rows(self, start: int = 0, stop: int | None = None) -> Iterator[dict[str, Any]]:
        """Rows ``[start, stop)`` in order (``stop`` None: to the end)."""
        for at, raw in self._records(start, stop):
            yield self._row(raw, at)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self._len:
            raise IndexError(index)
        return next(self.rows(index, index + 1))

    def values(self, column: str, stop: int | None = None) -> Iterator[Any]:
        """One column of the rows ``[0, stop)``, streamed (a record that cannot be read gives None)."""
        if self.field_of is None:
            for row in self.rows(0, stop):
                yield row.get(column)
            return
        for _, raw in self._records(0, stop):
            try:
                yield self.field_of(raw.decode("utf-8-sig").rstrip("\r\n"), column)
            except (UnicodeDecodeError, ValueError, IndexError, AttributeError):
                yield None

    def _ids(self, column: str) -> Iterator[tuple[Any, int]]:
        """(id, line number) of every record: from the raw record (``id_of``), from the cell
        alone (``field_of``), else from the parsed row."""
        if self.id_of is not None and column == self.columns.id:
            for _, line, raw in self._scan():
                yield self.id_of(raw), line
        elif self.field_of is not None:
            for _, line, raw in self._scan():
                try:
                    value = self.field_of(raw.decode("utf-8-sig").rstrip("\r\n"), column)
                except (UnicodeDecodeError, ValueError, IndexError, AttributeError):
                    value = None
                yield (f"line-{line}" if value is None else value), line  # None: a bad row, named by bad_row
        else:
            for _, line, raw in self._scan():
                yield self._row(raw, line).get(column), line

    def _scan(self) -> Iterator[tuple[int, int, bytes]]:
        if not self._checkpoints:
            return
        offset, line = self._checkpoints[0]
        with paths.open_binary(self.path) as fh:
            yield from scan_records(fh, offset, line, self.quoted)

    def check_unique(self, column: str) -> None:
        """Raise :class:`DatasetError` naming the first repeated value of ``column`` and the
        lines it is on.

        Sorted ids (a Kaldi ``text`` file) are checked against their neighbour, in constant
        memory; otherwise an 8-byte hash of each id is kept (about 80 MB per million rows), and
        the line of a repeat's first occurrence is found by reading again.
        """
        import hashlib

        def repeated(value: Any, line: int) -> DatasetError:
            first = next((at for v, at in self._ids(column) if str(v) == str(value)), None)
            lines = f"lines {first} and {line}" if first is not None and first != line else f"line {line}"
            return DatasetError(f"{self.path}: sample id {value!r} is repeated ({lines}); ids must be unique within "
                                "a dataset (remove the repeated line, or pass --id-column to choose a column that is "
                                "unique)")

        previous: str | None = None
        for value, line in self._ids(column):
            text = str(value)
            if previous is not None and text <= previous:
                if text == previous:
                    raise repeated(value, line)
                break  # not sorted: hash every id
            previous = text
        else:
            return
        seen: set[bytes] = set()
        for value, line in self._ids(column):
            digest = hashlib.blake2b(str(value).encode(), digest_size=8).digest()
            if digest in seen:
                raise repeated(value, line)
            seen.add(digest)


def bad_row(columns: Columns, line: int, message: str) -> dict[str, Any]:
    """The row of a record that cannot be read: its audio cell carries the message (the sample
    becomes an error row); its id, when the source has an id column, is ``line-N``."""
    row: dict[str, Any] = {columns.audio: {"error": message}, columns.text: ""}
    if columns.id:
        row[columns.id] = f"line-{line}"
    if columns.language:
        row[columns.language] = None
    return row
