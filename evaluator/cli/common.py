"""What the subcommands share: the database flag, read-only connections, run names, the
printed leaderboard and its per-language table."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from evaluator.errors import ConfigError

log = logging.getLogger("evaluator")


DEFAULT_DB = "results.duckdb"


def add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help=f"DuckDB results file (default: {DEFAULT_DB})")


def add_bootstrap(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resamples", type=int, default=1000, metavar="N", help="bootstrap resamples (default: 1000)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed (default: 0)")


def open_ro(db: str | None) -> Any:
    from evaluator.results.store import connect_read_only

    db = db or DEFAULT_DB
    if not os.path.exists(db):
        raise ConfigError(f"no results database at {db}; run `evaluator run --db {db}` first")
    return connect_read_only(db)


def resolve_run(con: Any, run: str | None, db: str | None) -> str:
    """A run id from an id, a run name (the latest run of that name), or None (the latest run)."""
    runs = con.execute("SELECT run_id, name FROM runs ORDER BY started_at DESC").fetchall()
    if not runs:
        raise ConfigError(f"{db or DEFAULT_DB} holds no runs yet")
    if run is None:
        return runs[0][0]
    for run_id, name in runs:
        if run in (run_id, name):
            return run_id
    listed = ", ".join(f"{i} ({n})" if n else i for i, n in runs[:10])
    raise ConfigError(f"no run {run!r} in {db or DEFAULT_DB}; runs (id, name), latest first: {listed}")


def pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def short(text: str | None, width: int = 80) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


def leaderboard_table(con: Any, run_id: str, by: str | None = None, resamples: int = 1000,
                 seed: int = 0) -> tuple[list[str], list[tuple]]:
    """The printed leaderboard: percent, with WER intervals (and a column for ``by``). Per model it
    says what the figures cover (planned, scored, errors, missing, partial); partial models come
    after complete ones. ``ranked_by``: the metric the rows are ranked by (wer, or cer for languages
    written without spaces only)."""
    from evaluator.results.leaderboard import leaderboard_with_intervals

    columns, rows = leaderboard_with_intervals(con, run_id, by=by, resamples=resamples, seed=seed,
                                               cer_intervals=False)
    cur = con.execute("SELECT model, dataset, split, planned, missing, partial, rtfx_e2e FROM leaderboard "
                      "WHERE run_id = ?", [run_id])
    names = [d[0] for d in cur.description]
    cover = {r[:3]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    head = ["model", "dataset", "split", *([by] if by else ["planned"]), "scored", "errors",
            *([] if by else ["missing", "partial"])]
    out_columns = [*head, "wer_%", "wer_low", "wer_high", "cer_%", "rtfx", *([] if by else ["rtfx_e2e"]),
                   "audio_min", "completion", "truncated", "looping", "skipped", "ranked_by"]
    out = []
    for row in rows:
        r = dict(zip(columns, row, strict=True))
        c = cover.get((r["model"], r["dataset"], r["split"]), {})
        first = (r["model"], r["dataset"], r["split"], *([r["group"]] if by else [c.get("planned")]), r["scored"],
                 r["errors"], *([] if by else [c.get("missing"), c.get("partial")]))
        rtfx = [None if r["rtfx"] is None else round(r["rtfx"], 1)]
        if not by:
            rtfx.append(None if c.get("rtfx_e2e") is None else round(c["rtfx_e2e"], 1))
        out.append((*first, pct(r["wer"]), pct(r["wer_low"]), pct(r["wer_high"]), pct(r["cer"]), *rtfx,
                    None if r["audio_hours"] is None else round(r["audio_hours"] * 60, 2),
                    None if r["completion_ratio"] is None else round(r["completion_ratio"], 3),
                    r["truncated"], r["looping"], r["skipped"], r["metric"]))
    if not by:  # complete models first: a partial WER is never ranked as if complete
        partial = out_columns.index("partial")
        out.sort(key=lambda row: bool(row[partial]))
    return out_columns, out


def fold_constant(columns: list[str], rows: list[tuple], names: tuple[str, ...] = ("dataset", "split", "ranked_by"),
                   ) -> tuple[list[str], list[tuple], str]:
    """Drop columns whose value is the same on every row (a run has one dataset and split), for a
    narrower table; returns what they held, for the title."""
    keep = [i for i, c in enumerate(columns) if c not in names or len({r[i] for r in rows}) > 1]
    dropped = [f"{columns[i]} {rows[0][i]}" for i in range(len(columns)) if i not in keep and rows]
    return [columns[i] for i in keep], [tuple(r[i] for i in keep) for r in rows], ", ".join(dropped)


def languages_table(con: Any, run_id: str, fmt: str) -> str:
    """The per-language breakdown of a multilingual run, to print under its leaderboard (table
    and markdown formats; csv/json stay one table)."""
    from evaluator.cli.tables import LANGUAGES_SQL, MULTILINGUAL_SQL, render

    if fmt not in ("table", "markdown") or not con.execute(MULTILINGUAL_SQL, [run_id]).fetchone()[0]:
        return ""
    cur = con.execute(LANGUAGES_SQL, [run_id, run_id, run_id])
    return "\n\n" + render([d[0] for d in cur.description], cur.fetchall(), fmt, f"run {run_id} per language")
