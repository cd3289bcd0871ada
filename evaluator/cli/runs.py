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


def add_parser(sub: Any) -> None:
    """Add `evaluator runs` to the subcommands."""
    runs = sub.add_parser(
        "runs", help="list runs: status, progress, errors, lost shards, models",
        description="Every run in the database, newest first. A run whose driver stopped writing "
        "(killed, or its machine lost) shows as `interrupted`, with the command that resumes it.")
    add_db(runs)
    runs.add_argument("--stale-after", type=float, metavar="S", default=None,
                      help="seconds without a write after which a running run counts as interrupted "
                      "(default: 60; the driver writes at least every 15 s)")
    runs.add_argument("--format", choices=FORMATS, default="table")
    runs.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from evaluator.cli.tables import RUNS_SQL, STALE_HEARTBEAT_SECONDS, render

    db = args.db or DEFAULT_DB
    con = open_ro(db)
    now = datetime.now(UTC).replace(tzinfo=None)
    stale = STALE_HEARTBEAT_SECONDS if args.stale_after is None else args.stale_after
    cur = con.execute(RUNS_SQL, [now, stale, now])
    columns, rows = [d[0] for d in cur.description], cur.fetchall()
    con.close()
    if not rows:
        raise ConfigError(f"{db} holds no runs yet")
    sys.stdout.write(render(columns, rows, args.format, title=f"runs in {db}") + "\n")
    status, planned, rows_at, lost_at = (columns.index(c) for c in ("status", "planned", "rows", "lost_shards"))
    for row in rows:
        unfinished = row[status] in ("interrupted", "failed") or (
            row[status] == "finished" and (row[lost_at] or (row[planned] is not None and row[rows_at] < row[planned])))
        if unfinished and args.format == "table":
            sys.stdout.write(f"{row[0]} is {row[status]}"
                             f"{' and incomplete' if row[status] == 'finished' else ''}; finish it with: "
                             f"evaluator run --resume {row[0]} --db {db}\n")
    return 0
