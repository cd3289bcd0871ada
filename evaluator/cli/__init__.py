"""Command line: ``evaluator run | runs | leaderboard | compare | sql | errors | show | report |
rescore | export | models``, one module per subcommand (each with ``add_parser`` and ``command``).

The only package that configures logging or writes to the terminal; it may import every other
layer of evaluator.
"""

from __future__ import annotations

import argparse
import logging

from evaluator.cli import compare, confusions, export, leaderboard, models, report, rescore, run, runs, show, sql
from evaluator.errors import ConfigError, DatabaseBusyError, DatasetError, MissingDependencyError

__all__ = ["main", "build_parser"]

log = logging.getLogger("evaluator")

USAGE_ERRORS = (ConfigError, DatasetError, MissingDependencyError, DatabaseBusyError)


# In the order `evaluator --help` lists them.
SUBCOMMANDS = (run, leaderboard, compare, sql, confusions, show, rescore, export, runs, report, models)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evaluator",
        description="Evaluate speech recognition models on a dataset with Ray; results go to DuckDB.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
    )
    try:
        return args.func(args)
    except USAGE_ERRORS as exc:
        log.error("%s", exc)
        return 2
