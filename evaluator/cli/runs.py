"""`evaluator runs`: every run with its status, progress and how to resume it."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from evaluator.cli.common import (
    DEFAULT_DB,
    add_db,
    open_ro,
)
from evaluator.cli.tables import FORMATS
from evaluator.errors import ConfigError

log = logging.getLogger("evaluator")


def _compact(columns: list[str], rows: list[tuple]) -> tuple[list[str], list[tuple]]:
    """The table format's columns: rows done of planned in one cell, the start to the minute,
    the first model and how many more (csv/json/markdown keep every column as stored)."""
    from evaluator.cli.tables import short_labels

    out = []
    for row in rows:
        r = dict(zip(columns, row, strict=True))
        models = [m for m in (r["models"] or "").split(", ") if m]
        names = short_labels(models, limit=24)
        shown = names[models[0]] + (f" +{len(models) - 1}" if len(models) > 1 else "") if models else ""
        done = f"{r['rows']}/{r['planned']}" if r["planned"] is not None else str(r["rows"])
        out.append((r["run_id"], r["name"], r["status"], done, r["done_%"], r["errors"], r["lost_shards"],
                    (r["started"] or "")[:16], r["last_write_s_ago"], shown))
    return ["run_id", "name", "status", "rows", "done_%", "errors", "lost", "started (UTC)", "idle_s",
            "models"], out


def _fit(columns: list[str], rows: list[tuple], width: int) -> tuple[list[str], list[tuple]]:
    """The compact table on a narrow terminal: columns that repeat what another says (done_%
    beside rows), or say nothing (no lost shards, no errors), go first, then idle_s, then the
    start's year, before cells have to wrap."""
    from evaluator.cli.tables import natural_width

    def drop(name: str) -> None:
        at = columns.index(name)
        columns[:] = columns[:at] + columns[at + 1:]
        rows[:] = [row[:at] + row[at + 1:] for row in rows]

    columns, rows = list(columns), list(rows)
    for name in ("done_%", "lost", "errors", "idle_s", "started (UTC)"):
        if natural_width(columns, rows) <= width:
            break
        at = columns.index(name)
        if name == "started (UTC)":  # 2026-12-07 01:38 -> 12-07 01:38
            rows = [(*row[:at], str(row[at])[5:], *row[at + 1:]) for row in rows]
        elif name in ("done_%", "idle_s") or all(not row[at] for row in rows):
            drop(name)
    return columns, rows


def add_parser(sub: Any) -> None:
    """Add `evaluator runs` to the subcommands."""
    runs = sub.add_parser(
        "runs", help="list runs: status, progress, errors, lost shards, models",
        description="Every run in the database, newest first. A run whose driver is gone (killed, or its "
        "machine lost) shows as `interrupted`, with the command that resumes it; a run whose driver still holds "
        "its lease shows as `running`. --show RUN prints everything recorded about one run.")
    add_db(runs)
    runs.add_argument("--stale-after", type=float, metavar="S", default=None,
                      help="for a run without a lease beside the database (DB.leases/: a database copied "
                      "from elsewhere, or written before leases): seconds without a write after which it counts "
                      "as interrupted (default: 60; a driver writes at least every 15 s)")
    runs.add_argument("--format", choices=FORMATS, default="table")
    runs.add_argument("--show", metavar="RUN",
                      help="everything recorded about one run (an id or name): status and who holds it, what "
                      "produced it (evaluator version and git commit, user, host, command, Ray job), its datasets "
                      "and models")
    runs.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from evaluator.cli.tables import render
    from evaluator.results.runs import STALE_HEARTBEAT_SECONDS, runs_table

    db = args.db or DEFAULT_DB
    if args.show:
        from evaluator.cli.run_details import show_run

        sys.stdout.write(show_run(db, args.show, args.format))
        return 0
    con = open_ro(db)
    columns, rows = runs_table(con, STALE_HEARTBEAT_SECONDS if args.stale_after is None else args.stale_after, db=db)
    con.close()
    if not rows:
        raise ConfigError(f"{db} holds no runs yet")
    if args.format == "table":
        from evaluator.cli.tables import terminal_width

        shown_columns, shown = _fit(*_compact(columns, rows), terminal_width())
    else:
        shown_columns, shown = columns, rows
    sys.stdout.write(render(shown_columns, shown, args.format, title=f"runs in {db}") + "\n")
    status, planned, rows_at, lost_at = (columns.index(c) for c in ("status", "planned", "rows", "lost_shards"))
    for row in rows:
        unfinished = row[status] in ("interrupted", "failed") or (
            row[status] == "finished" and (row[lost_at] or (row[planned] is not None and row[rows_at] < row[planned])))
        if unfinished and args.format == "table":
            sys.stdout.write(f"{row[0]} is {row[status]}"
                             f"{' and incomplete' if row[status] == 'finished' else ''}; finish it with: "
                             f"evaluator run --resume {row[0]} --db {db}\n")
    return 0
