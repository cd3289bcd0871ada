"""`evaluator rescore`: score a stored run again with the current normalizers."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from evaluator.cli.common import (
    DEFAULT_DB,
    add_db,
    resolve_run,
)
from evaluator.errors import ConfigError

log = logging.getLogger("evaluator")


def add_parser(sub: Any) -> None:
    """Add `evaluator rescore` to the subcommands."""
    rs = sub.add_parser("rescore", help="recompute a stored run's scores (current normalizers, or --scoring PROFILE)",
                        description="Score every error-free row of a run again from its raw reference and "
                        "hypothesis with the current per-language normalizers, rewrite its word_errors, and "
                        "record it in runs (normalizer_version, summary.rescored).")
    add_db(rs)
    rs.add_argument("--run", dest="run_id", required=True, help="run id or name")
    rs.add_argument("--scoring", choices=("whisper", "open-asr-leaderboard", "exact"),
                    help="score with this profile from now on (default: the run's own); "
                    "see docs/open-asr-leaderboard.md")
    rs.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from evaluator.results.rescore import rescore_run
    from evaluator.results.store import Store

    db = args.db or DEFAULT_DB
    if not os.path.exists(db):
        raise ConfigError(f"no results database at {db}")
    with Store(db) as store:
        run_id = resolve_run(store.con, args.run_id, db)
        result = rescore_run(store, run_id, args.scoring)
    log.info("run %s rescored with %s (normalizers %s): %d rows, %d changed", run_id, result.scoring,
             result.normalizer, result.rows, result.changed)
    return 0
