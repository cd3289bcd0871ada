"""Command line: ``evaluator run | runs | leaderboard | compare | sql | errors | show | report |
rescore | export | models``, one module per subcommand (each with ``add_parser`` and ``command``).

The only package that configures logging or writes to the terminal; it may import every other
layer of evaluator.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys

from evaluator.cli import compare, confusions, export, leaderboard, models, report, rescore, run, runs, show, sql
from evaluator.errors import (
    ConfigError,
    DatabaseBusyError,
    DatasetError,
    MissingDependencyError,
    RunBusyError,
    mask_credentials,
)

__all__ = ["main", "build_parser", "console"]

log = logging.getLogger("evaluator")

USAGE_ERRORS = (ConfigError, DatasetError, MissingDependencyError, DatabaseBusyError, RunBusyError)


# In the order `evaluator --help` lists them.
SUBCOMMANDS = (run, leaderboard, compare, sql, confusions, show, rescore, export, runs, report, models)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evaluator",
        description="Evaluate speech recognition models on a dataset with Ray; results go to DuckDB.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action=_Version,
                        help="print evaluator's version (and git commit when run from a checkout) and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


class _Version(argparse.Action):
    """``--version``: evaluator's version (and git commit from a checkout), worked out only when asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from evaluator.run.origin import version_text

        sys.stdout.write(version_text() + "\n")
        parser.exit()


class MaskCredentials(logging.Filter):
    """Every message goes out with URL credentials masked (``https://***@host``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_credentials(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskCredentials) for f in handler.filters):
            handler.addFilter(MaskCredentials())
    try:
        return args.func(args)
    except USAGE_ERRORS as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:  # Ctrl-C where no command says more (run prints how to resume)
        log.error("interrupted")
        return 130


def console() -> int:
    """The ``evaluator`` script and ``python -m evaluator.cli``: :func:`main` in a process of its
    own, which ends right after. Its objects are moved out of the garbage collector's reach first
    (``gc.freeze``): the interpreter's last collections over Ray's, DuckDB's and pandas' objects
    took about 0.2 s at every exit on the project's 2-core machines; the memory goes back to the
    system with the process, and exit handlers and open files are closed as usual."""
    code = main()
    gc.freeze()
    return code

