"""Render query results as a table, CSV, JSON or Markdown (used by the CLI)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["FORMATS", "LEADERBOARD_SQL", "LANGUAGES_SQL", "MULTILINGUAL_SQL", "RUNS_SQL", "STALE_HEARTBEAT_SECONDS",
           "render"]

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

# The per-language breakdown of a run (printed under the leaderboard of a multilingual run): one
# row per (model, language), then per model the pooled figures (WER over the languages scored by
# words, CER over all) and the macro-average over languages (mean of the per-language figures).
LANGUAGES_SQL = """
SELECT model, language, metric, normalizer, scored, errors, "wer_%", "cer_%", lid_rows, lid_mismatches
FROM (
    SELECT model, dataset, split, 0 AS part, language, metric, normalizer, scored, errors,
           round(100 * wer, 2) AS "wer_%", round(100 * cer, 2) AS "cer_%", lid_rows, lid_mismatches
    FROM leaderboard_languages WHERE run_id = ?
    UNION ALL
    SELECT model, dataset, split, 1, 'all: pooled', NULL, NULL, scored, errors,
           round(100 * wer, 2), round(100 * cer, 2), NULL, lid_mismatches
    FROM leaderboard WHERE run_id = ? AND n > 0
    UNION ALL
    SELECT model, dataset, split, 2, 'all: macro (' || languages || ')', NULL, NULL, NULL, NULL,
           round(100 * macro_wer, 2), round(100 * macro_cer, 2), NULL, NULL
    FROM leaderboard WHERE run_id = ? AND n > 0
)
ORDER BY model, dataset, split, part, language NULLS LAST
"""
# Whether a run holds more than one language (then LANGUAGES_SQL is worth printing).
MULTILINGUAL_SQL = "SELECT count(DISTINCT language) > 1 FROM results WHERE run_id = ?"

# A run still `running` whose driver has not written for this long has lost its driver (it beats
# at least every 15 s).
STALE_HEARTBEAT_SECONDS = 60

# Parameters: the current UTC time (twice), the stale-heartbeat limit in seconds.
RUNS_SQL = """
WITH counts AS (
    SELECT run_id, count(*) AS n, count(*) FILTER (WHERE error IS NOT NULL) AS errors,
           string_agg(DISTINCT model, ', ' ORDER BY model) AS models
    FROM results GROUP BY run_id
), plans AS (
    SELECT run_id, sum(planned) AS planned, count(*) FILTER (WHERE planned IS NULL) AS unknown,
           string_agg(DISTINCT model, ', ' ORDER BY model) AS models  -- a row per model and dataset
    FROM run_models GROUP BY run_id
), lost AS (
    SELECT run_id, count(*) AS lost_shards FROM lost_shards GROUP BY run_id
)
SELECT r.run_id, r.name,
       CASE WHEN r.status = 'running'
                 AND datediff('second', coalesce(r.heartbeat_at, r.started_at), ?::TIMESTAMP) > ?
            THEN 'interrupted' ELSE r.status END AS status,
       coalesce(c.n, 0) AS rows,
       CASE WHEN p.unknown > 0 THEN NULL ELSE p.planned END AS planned,
       CASE WHEN p.unknown = 0 AND p.planned > 0 THEN round(100.0 * coalesce(c.n, 0) / p.planned, 1) END AS "done_%",
       coalesce(c.errors, 0) AS errors,
       coalesce(l.lost_shards, 0) AS lost_shards,
       strftime(r.started_at, '%Y-%m-%d %H:%M:%S') || ' UTC' AS started,
       datediff('second', coalesce(r.heartbeat_at, r.finished_at, r.started_at), ?::TIMESTAMP) AS last_write_s_ago,
       coalesce(p.models, c.models, '') AS models
FROM runs r
LEFT JOIN counts c USING (run_id)
LEFT JOIN plans p USING (run_id)
LEFT JOIN lost l USING (run_id)
ORDER BY r.started_at DESC
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
