"""`evaluator sql`: a read-only SQL query on the results, kept inside the results database."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from evaluator.cli.common import add_db, existing_db
from evaluator.cli.tables import FORMATS
from evaluator.errors import ConfigError

log = logging.getLogger("evaluator")

SQL_EPILOG = """
examples:
  evaluator sql "SELECT model, wer, rtfx FROM leaderboard"
  evaluator sql --format csv "SELECT * FROM results WHERE error IS NOT NULL" > errors.csv

The query runs on the results database alone, read-only: reading or writing files (read_csv,
read_text, COPY ... TO, EXPORT), ATTACH and extensions are refused, so a query handed over
by someone else cannot read your files or change another database. Save a result with
--format csv (or json) and a shell redirect. --allow-files lifts this for your own queries,
e.g. to join read_parquet('mine.parquet'): the query can then read and write every file you can.
"""


def add_parser(sub: Any) -> None:
    """Add `evaluator sql` to the subcommands."""
    sql = sub.add_parser("sql", help="run a read-only SQL query on the results",
                         description="Run SQL on a read-only connection to the results database, with file access, "
                         "ATTACH and extensions off. Tables: runs, results, chunks, word_errors, intervals, "
                         "run_models, lost_shards; views: leaderboard, leaderboard_languages, buckets, "
                         "top_confusions, suite_leaderboard.",
                         epilog=SQL_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_db(sql)
    sql.add_argument("query", help='e.g. "SELECT model, wer, rtfx FROM leaderboard"')
    sql.add_argument("--format", choices=FORMATS, default="table")
    sql.add_argument("--allow-files", action="store_true",
                     help="let the query read and write files and ATTACH databases (read_parquet of your own "
                     "files); only for queries you wrote: it can then touch every file you can")
    sql.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    import duckdb

    from evaluator.cli.tables import render
    from evaluator.results.sandbox import connect_sandboxed, refusal

    con = connect_sandboxed(existing_db(args.db), allow_files=args.allow_files)
    try:
        cur = con.execute(args.query)
        columns, rows = ([d[0] for d in cur.description], cur.fetchall()) if cur.description else (None, [])
    except duckdb.Error as exc:
        refused = refusal(exc, "export a result with --format csv > FILE",
                          "--allow-files lifts this for a query of your own")
        raise (refused or ConfigError(f"query failed: {exc}")) from exc
    finally:
        con.close()
    if columns is not None:
        sys.stdout.write(render(columns, rows, args.format) + "\n")
    return 0
