"""Render query results as a table, CSV, JSON or Markdown (used by the CLI)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["FORMATS", "LEADERBOARD_SQL", "render", "natural_width", "terminal_width", "wrap", "short_labels", "legend",
           "interval", "one_decimal", "flags"]

FORMATS = ("table", "csv", "json", "markdown")

LEADERBOARD_SQL = """
SELECT model, dataset, split, planned, scored, errors, missing, partial,
       round(100 * wer, 2) AS "wer_%", round(100 * cer, 2) AS "cer_%",
       round(rtfx, 1) AS rtfx, round(rtfx_e2e, 1) AS rtfx_e2e, round(audio_hours * 60, 2) AS audio_min,
       round(completion_ratio, 3) AS completion, truncated, looping, skipped
FROM leaderboard
WHERE run_id = ?
ORDER BY partial, wer NULLS LAST, model
"""


def _cell(value: Any, exact: bool = False) -> str:
    """Text of a cell: floats shortened for display, exact (``repr``) for exports."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if exact else f"{value:g}"
    return str(value)


def _json_value(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def terminal_width(default: int = 100) -> int:
    """Columns of the terminal: ``COLUMNS`` if set, else the terminal's size, else ``default``
    (output piped to a file or a pager)."""
    import shutil

    return max(40, shutil.get_terminal_size((default, 24)).columns)


def wrap(text: str, width: int | None = None, indent: str = "") -> str:
    """A paragraph wrapped to the terminal's width (notes and legends under a table)."""
    import textwrap

    return textwrap.fill(text, width=width or terminal_width(), subsequent_indent=indent,
                         break_long_words=True, break_on_hyphens=False)


# Model specs longer than this are shortened in tables (a legend under the table maps them back).
SHORT_LABEL = 30


def short_labels(labels: Sequence[str], limit: int = SHORT_LABEL) -> dict[str, str]:
    """A short name per model spec for tables: a spec up to ``limit`` characters stays as it is;
    a longer one keeps its backend and the last part of its model path, and its options become
    a numbered marker, ``faster-whisper:base ~1`` (see :func:`legend`). Names stay unique."""
    out: dict[str, str] = {}
    marker = 0
    for label in dict.fromkeys(labels):
        if len(label) <= limit:
            out[label] = label
            continue
        marker += 1
        backend, _, rest = label.partition(":")
        model = rest.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or rest
        name = f"{backend}:{model}" if backend and rest else label
        tag = f" ~{marker}"
        if len(name) + len(tag) > limit:
            name = name[: limit - len(tag) - 1] + "…"
        out[label] = name + tag
    return out


def legend(names: dict[str, str], width: int | None = None) -> str:
    """The lines mapping shortened names back to full specs ("" when none was shortened)."""
    lines = [wrap(f"{short} = {full}", width, indent="    ") for full, short in names.items() if short != full]
    return "\n".join(lines)


def one_decimal(value: float | None, sign: bool = False) -> str:
    """A percentage to one decimal, rounding half up (``2.15`` -> ``2.2``, as the stored 2-decimal
    figures read), ``""`` for None."""
    from decimal import ROUND_HALF_UP, Decimal

    if value is None or not math.isfinite(value):
        return "" if value is None else str(value)
    text = str(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return f"+{text}" if sign and not text.startswith("-") else text


def interval(value: float | None, low: float | None, high: float | None) -> str:
    """``8.9 [3.5–17.9]``: a percentage with its interval, one cell."""
    if value is None:
        return ""
    if low is None or high is None:
        return one_decimal(value)
    return f"{one_decimal(value)} [{one_decimal(low)}–{one_decimal(high)}]"


def flags(**counts: Any) -> str:
    """``1 truncated, 2 skipped``: only the non-zero counts."""
    return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, title: str | None = None,
           width: int | None = None) -> str:
    """Format rows; ``table`` returns rich markup-free text no wider than ``width`` (default: the
    terminal's, see :func:`terminal_width`): columns wrap before a line grows past it."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    if fmt == "json":
        records = [{c: _json_value(v) for c, v in zip(columns, r, strict=True)} for r in rows]
        return json.dumps(records, default=str, indent=2, allow_nan=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows([[_cell(v, exact=True) for v in r] for r in rows])
        return out.getvalue().rstrip("\r\n")
    if fmt == "markdown":
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(_cell(v).replace("|", "\\|") for v in r) + " |" for r in rows]
        return "\n".join(lines)
    from rich.console import Console

    width = width or terminal_width()
    console = Console(width=width, record=True, file=io.StringIO(), force_terminal=False)
    console.print(_rich_table(columns, rows, None, width))
    lines = [line.rstrip() for line in console.export_text().rstrip("\n").splitlines()]
    return "\n".join(([wrap(title, width)] if title else []) + lines)  # the title as wide as the terminal


# Columns whose cells are all at most this long are not wrapped while others can be.
NO_WRAP = 26


def _rich_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None,
                width: int | None = None) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                  title_justify="left")
    cells = [[_cell(v) for v in r] for r in rows]
    widest = [max([len(name), *(len(r[i]) for r in cells)]) for i, name in enumerate(columns)]
    # Short cells (numbers, specs, flags) stay on one line and long text wraps first, as many
    # short columns (left to right) as fit beside room for the others; the rest wrap too (rich
    # would crop a no_wrap cell that cannot fit).
    short = [w <= NO_WRAP for w in widest]
    room = [min(w, 12) + 2 for w in widest]  # what a wrapping column needs at least
    # The first column names the row (a model, a run id: what people copy) and stays whole
    # while the others keep a few characters each.
    keep: set[int] = {0} if columns and short[0] and (
        width is None or widest[0] + 2 + 4 * (len(columns) - 1) <= width) else set()
    for i in (i for i, s in enumerate(short) if s and i not in keep):
        kept = keep | {i}
        need = sum(widest[k] + 2 for k in kept) + sum(room[k] for k in range(len(columns)) if k not in kept)
        if width is None or need <= width:
            keep.add(i)
    for i, name in enumerate(columns):
        table.add_column(name, overflow="fold", no_wrap=i in keep)
    for r in cells:
        table.add_row(*(Text(c) for c in r))  # Text: no markup, "[x]" stays literal
    return table


def natural_width(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Characters the ``table`` format needs for these rows without wrapping a cell."""
    from rich.console import Console

    console = Console(width=10_000, file=io.StringIO(), force_terminal=False)
    return console.measure(_rich_table(columns, rows, None)).maximum
