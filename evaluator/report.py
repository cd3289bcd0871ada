"""Render query results as a table, CSV, JSON or Markdown (used by the CLI)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["FORMATS", "LEADERBOARD_SQL", "render"]

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


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, title: str | None = None) -> str:
    """Format rows; ``table`` returns rich markup-free text sized to the content."""
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
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    for name in columns:
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(*(Text(_cell(v)) for v in r))  # Text: no markup, "[x]" stays literal
    console = Console(width=200, record=True, file=io.StringIO(), force_terminal=False)
    console.print(table)
    return console.export_text().rstrip("\n")
