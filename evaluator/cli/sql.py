"""`evaluator sql`: a read-only SQL query on the results."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from evaluator.cli.common import (
    add_db,
    open_ro,
)
from evaluator.cli.tables import FORMATS
from evaluator.errors import ConfigError

log = logging.getLogger("evaluator")


def add_parser(sub: Any) -> None:
    """Add `evaluator sql` to the subcommands."""
    sql = sub.add_parser("sql", help="run a read-only SQL query on the results",
                         description="Run SQL on a read-only connection. Tables: runs, results, chunks, "
                         "word_errors, intervals, run_models, lost_shards; views: leaderboard, "
                         "leaderboard_languages, buckets, top_confusions.")
    add_db(sql)
    sql.add_argument("query", help='e.g. "SELECT model, wer, rtfx FROM leaderboard"')
    sql.add_argument("--format", choices=FORMATS, default="table")
    sql.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    import duckdb

    from evaluator.cli.tables import render

    con = open_ro(args.db)
    try:
        cur = con.execute(args.query)
    except duckdb.Error as exc:
        raise ConfigError(f"query failed: {exc}") from exc
    if cur.description is None:
        return 0
    sys.stdout.write(render([d[0] for d in cur.description], cur.fetchall(), args.format) + "\n")
    return 0
