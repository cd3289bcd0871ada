"""`evaluator report`: a self-contained HTML report of a run."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from evaluator.cli.common import (
    add_db,
    open_ro,
    resolve_run,
)
from evaluator.errors import ConfigError, MissingDependencyError

log = logging.getLogger("evaluator")


def add_parser(sub: Any) -> None:
    """Add `evaluator report` to the subcommands."""
    rep = sub.add_parser(
        "report", help="write a self-contained HTML report of a run",
        description="One HTML file that opens from disk with no network: leaderboard with 95% intervals, "
        "WER against speed, WER per duration bucket and group, long-form flags and seams, and a sample "
        "browser with word alignments. Needs plotly (pip install 'evaluator[report]').")
    add_db(rep)
    rep.add_argument("--run", dest="run_id", help="run id or name (default: the latest run)")
    rep.add_argument("--out", default="report.html", metavar="FILE", help="HTML file to write (default: report.html)")
    rep.add_argument("--max-samples", type=int, default=1000, metavar="N",
                     help="samples in the sample browser at most (default: 1000; the ones with the most errors)")
    rep.add_argument("--resamples", type=int, default=1000, metavar="N", help="bootstrap resamples (default: 1000)")
    rep.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    rep.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from evaluator.report.html import ReportOptions, build_report

    try:
        options = ReportOptions(max_samples=args.max_samples, resamples=args.resamples, seed=args.seed)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    con = open_ro(args.db)
    run_id = resolve_run(con, args.run_id, args.db)
    try:
        page = build_report(con, run_id, options)
    except ImportError as exc:
        raise MissingDependencyError(str(exc)) from exc
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(page)
    sys.stdout.write(f"wrote {args.out} (run {run_id}, {len(page.encode()) / 1e6:.1f} MB); open it in a browser: "
                     f"file://{out}\n")
    return 0
