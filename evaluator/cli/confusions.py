"""`evaluator errors`: the most frequent confusion pairs per model."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from evaluator.cli.common import (
    add_db,
    open_ro,
    resolve_run,
)
from evaluator.cli.tables import FORMATS

log = logging.getLogger("evaluator")


def add_parser(sub: Any) -> None:
    """Add `evaluator errors` to the subcommands."""
    err = sub.add_parser("errors", help="print the most frequent confusion pairs per model",
                         description="sclite-style confusion pairs per model: substitutions (their -> there), "
                         "deletions and insertions, counted over the aligned normalized text of a run's "
                         "error-free rows (the word_errors table, or computed now for runs without it).")
    add_db(err)
    err.add_argument("--run", dest="run_id", help="run id or name (default: the latest run)")
    err.add_argument("--model", help="only this model")
    err.add_argument("--top", type=int, default=10, metavar="N", help="pairs per model (default: 10)")
    err.add_argument("--op", choices=("substitute", "delete", "insert"), help="only this kind of error")
    err.add_argument("--format", choices=FORMATS, default="table")
    err.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from evaluator.cli.tables import render
    from evaluator.results.word_errors import top_confusions

    con = open_ro(args.db)
    run_id = resolve_run(con, args.run_id, args.db)
    found = top_confusions(con, run_id, model=args.model, op=args.op, top=args.top)
    source = "word_errors table" if found.source == "table" else "computed from stored text"
    if found.source == "computed":
        log.info("run %s has no rows in word_errors; confusion pairs computed from its stored text", run_id)
    title = f"run {run_id}: top {args.top} {args.op or 'error'} pairs per model ({source})"
    sys.stdout.write(render(found.columns, found.rows, args.format, title) + "\n")
    return 0
