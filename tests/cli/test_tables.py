"""Rendering query results as table, CSV, JSON and Markdown."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest

from evaluator.cli.tables import FORMATS, render

COLUMNS = ["model", "n", "wer_%", "truncated", "note"]
ROWS = [
    ("faster-whisper:tiny.en", 10, 12.5, 0, None),
    ("faster-whisper:base?beam_size=5", 3, 7.25, 1, "a|b, \"quoted\""),
]

# what each cell reads back as in CSV: None -> "", numbers as text
CSV_ROWS = [
    ["faster-whisper:tiny.en", "10", "12.5", "0", ""],
    ["faster-whisper:base?beam_size=5", "3", "7.25", "1", "a|b, \"quoted\""],
]


def test_formats() -> None:
    assert FORMATS == ("table", "csv", "json", "markdown")


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (ROWS, [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]),
        ([], []),
    ],
)
def test_json_parses_back(rows: list[tuple], expected: list[dict[str, Any]]) -> None:
    assert json.loads(render(COLUMNS, rows, "json")) == expected


def test_json_stringifies_other_types() -> None:
    import datetime
    import decimal

    out = json.loads(render(["t", "d"], [(datetime.date(2024, 1, 2), decimal.Decimal("1.5"))], "json"))
    assert out == [{"t": "2024-01-02", "d": "1.5"}]


@pytest.mark.parametrize(("rows", "expected"), [(ROWS, CSV_ROWS), ([], [])])
def test_csv_parses_back(rows: list[tuple], expected: list[list[str]]) -> None:
    out = render(COLUMNS, rows, "csv")
    parsed = list(csv.reader(io.StringIO(out)))
    assert parsed[0] == COLUMNS
    assert parsed[1:] == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (0.5, "0.5"), (3, "3"), (float("nan"), "nan"), (True, "True"), ("x", "x"), (12.0, "12.0")],
)
def test_csv_cells(value: Any, text: str) -> None:
    assert list(csv.reader(io.StringIO(render(["v"], [(value,)], "csv")))) == [["v"], [text]]


@pytest.mark.parametrize("value", [1234567.5, 0.123456789, 3600.125])
def test_csv_keeps_float_precision(value: float) -> None:
    (_header, (cell,)) = csv.reader(io.StringIO(render(["v"], [(value,)], "csv")))
    assert float(cell) == value


def test_json_nan_is_valid_json() -> None:
    def reject(name: str) -> Any:
        raise ValueError(f"non-standard JSON constant {name}")

    json.loads(render(["wer"], [(float("nan"),)], "json"), parse_constant=reject)


@pytest.mark.parametrize(("rows", "n_lines"), [(ROWS, 4), ([], 2)])
def test_markdown(rows: list[tuple], n_lines: int) -> None:
    lines = render(COLUMNS, rows, "markdown").splitlines()
    assert len(lines) == n_lines
    assert lines[0] == "| model | n | wer_% | truncated | note |"
    assert lines[1] == "|---|---|---|---|---|"
    if rows:
        assert lines[2] == "| faster-whisper:tiny.en | 10 | 12.5 | 0 |  |"
        assert lines[3].endswith("| a\\|b, \"quoted\" |")  # pipes in cells are escaped
        assert all(line.count("|") - line.count("\\|") == len(COLUMNS) + 1 for line in lines)


@pytest.mark.parametrize("title", [None, "run 20240101-abc"])
def test_table_contains_headers_and_values(title: str | None) -> None:
    out = render(COLUMNS, ROWS, "table", title=title)
    for text in [*COLUMNS, "faster-whisper:tiny.en", "faster-whisper:base?beam_size=5", "12.5", "7.25"]:
        assert text in out
    if title:
        assert out.splitlines()[0].strip() == title
    assert "\x1b[" not in out  # no ANSI escapes


def test_table_without_rows_still_shows_headers() -> None:
    out = render(COLUMNS, [], "table")
    assert all(name in out for name in COLUMNS)


def test_nan_cells_in_text_formats() -> None:
    rows = [("m", 1, math.nan, 0, None)]
    assert "nan" in render(COLUMNS, rows, "markdown").splitlines()[2]
    assert "nan" in render(COLUMNS, rows, "table")


@pytest.mark.parametrize("fmt", ["xml", "", "JSON", "md"])
def test_unknown_format(fmt: str) -> None:
    with pytest.raises(ValueError, match=f"unknown format {fmt!r}; valid: table, csv, json, markdown"):
        render(COLUMNS, ROWS, fmt)


def test_json_row_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        render(["a", "b"], [(1,)], "json")


@pytest.mark.parametrize("text", ["[noise] hello", "[bold]x[/bold]", "a [/] b"])
def test_table_shows_brackets_literally(text: str) -> None:
    assert text in render(["hypothesis"], [(text,)], "table")


def test_a_narrow_table_keeps_the_first_column_whole() -> None:
    # the column that names each row (a run id, a model) is what people copy: it never wraps
    # while the others can still keep a few characters each
    columns = ["run_id", "name", "status", "rows", "started", "models"]
    rows = [("20261207-013746-12e9", "nightly", "interrupted", "1/10", "2026-12-07 01:38", "faster-whisper:tiny.en")]
    out = render(columns, rows, "table", width=60)
    assert all(len(line) <= 60 for line in out.splitlines())
    assert out.splitlines()[2].startswith("20261207-013746-12e9 ")
