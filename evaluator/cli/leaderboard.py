"""`evaluator leaderboard`: corpus WER/CER with intervals and RTFx per model."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from evaluator.cli.common import (
    DEFAULT_DB,
    add_bootstrap,
    add_db,
    add_wide,
    leaderboard_text,
    open_ro,
    resolve_run,
)
from evaluator.cli.sessions import sessions_text
from evaluator.cli.tables import FORMATS
from evaluator.errors import ConfigError
from evaluator.results.scoring_note import scoring_note

log = logging.getLogger("evaluator")


LEADERBOARD_EPILOG = """
examples:
  evaluator leaderboard --db results.duckdb
  evaluator leaderboard --by bucket                    # per duration bucket
  evaluator leaderboard --by gender --format markdown  # per value of a dataset column
  evaluator leaderboard --by dataset                   # a suite run: one row per model and dataset
  evaluator leaderboard --run first --run later        # several runs' models in one table

A run of several datasets (a suite) prints one row per model: each dataset's WER (CER for
languages written without spaces) with its interval, the average (the unweighted mean of the
datasets' figures, as the Open ASR Leaderboard ranks), the pooled WER over all rows, RTFx over
the suite (docs/suites.md).

The table shows WER with its 95% percentile bootstrap interval in one cell ("8.9 [3.5–17.9]",
percent; resamples and seed set by --resamples/--seed) and flags only when non-zero; --wide,
and --format csv/json/markdown, give every column (wer_low, wer_high, planned, completion, ...).
The same intervals are stored at the end of a run in the `intervals` table.
"""


def add_parser(sub: Any) -> None:
    """Add `evaluator leaderboard` to the subcommands."""
    lb = sub.add_parser("leaderboard", help="print corpus WER (with 95%% intervals), CER and RTFx per model",
                        description="Corpus WER/CER (errors summed over samples) and RTFx per model, in percent, "
                        "with a 95% bootstrap interval of WER (wer_low, wer_high: whole samples resampled, "
                        "corpus WER recomputed). --by splits every model's row by a column.",
                        epilog=LEADERBOARD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_db(lb)
    lb.add_argument("--run", dest="run_id", action="append", metavar="RUN",
                    help="run id or name (default: the latest run); repeat to rank several runs' models in one "
                    "table (e.g. a model added later on the same dataset)")
    lb.add_argument("--by", metavar="COLUMN",
                    help="one row per model and value of COLUMN: language, bucket (duration: <10s, 10-30s, "
                    "30s-2min, 2-10min, >10min) or any column of the dataset kept in results.metadata "
                    "(e.g. speaker, gender, accent); an unknown name lists the valid ones")
    add_bootstrap(lb)
    lb.add_argument("--format", choices=FORMATS, default="table",
                    help="table (default: compact, sized to the terminal), or csv/json/markdown with every column")
    add_wide(lb)
    lb.set_defaults(func=command)


def suite_printed(con: Any, run_id: str, fmt: str, resamples: int = 1000, seed: int = 0) -> bool:
    """Print a suite run's table (one row per model over its datasets); False for a run of one
    dataset."""
    from evaluator.cli.tables import render
    from evaluator.results.suite import is_suite, suite_results, suite_table

    if not is_suite(con, run_id):
        return False
    columns, rows = suite_table(suite_results(con, run_id, resamples, seed), compact=fmt in ("table", "markdown"))
    title = f"run {run_id}: WER % [95% interval] per dataset; average = mean of the datasets' WERs; " + scoring_note(
        con, [run_id])
    from evaluator.cli.tables import natural_width, terminal_width

    width = max(terminal_width(), natural_width(columns, rows))  # a column per dataset: never wrap headers
    sys.stdout.write(render(columns, rows, fmt, title, width=width) + "\n")
    return True


def several_runs(con: Any, run_ids: list[str], args: argparse.Namespace) -> str:
    """Several runs' leaderboards in one table: a ``run`` column, rows of a dataset together,
    ranked by their metric (each run's models ranked apart, see evaluator.results.ranking, after
    the ranked ones); the title says what each run's ranking covers."""
    from evaluator.cli.tables import render
    from evaluator.results.ranking import leaderboard_table

    rows, columns, notes = [], [], []
    for run_id in run_ids:
        ranking = leaderboard_table(con, run_id, args.by, args.resamples, args.seed)
        columns = ranking.columns
        rows += [(run_id, *r) for r in ranking.rows]
        notes.append(f"{run_id}: {ranking.note()}")
    columns = ["run", *columns]
    at = {c: i for i, c in enumerate(columns)}

    def rank(r: tuple) -> tuple:
        rate = r[at["cer_%"] if r[at["ranked_by"]] == "cer" else at["wer_%"]]
        group = (str(r[at[args.by]]),) if args.by else ()
        return (r[at["dataset"]], r[at["split"]], *group, not r[at["ranked"]], rate is None, rate or 0.0)

    rows = sorted(rows, key=rank)
    title = f"runs {', '.join(run_ids)}: ranked within each dataset by its metric ({'; '.join(notes)})"
    if args.format != "table" or args.wide:
        return render(columns, rows, args.format, title if args.format == "table" else None)
    from evaluator.cli.common import compact_leaderboard
    from evaluator.cli.tables import legend, short_labels

    names = short_labels([r[at["model"]] for r in rows])
    compact_columns, compact = compact_leaderboard(columns, rows, names, args.by)
    text = render(["run", *compact_columns], [(r[0], *c) for r, c in zip(rows, compact, strict=True)], "table",
                  title)
    return "\n\n".join(t for t in (text, legend(names)) if t)


def command(args: argparse.Namespace) -> int:
    con = open_ro(args.db)
    run_ids = list(dict.fromkeys(resolve_run(con, r, args.db) for r in args.run_id or [None]))
    if len(run_ids) > 1:
        sys.stdout.write(several_runs(con, run_ids, args) + "\n")
        return 0
    run_id = run_ids[0]
    if args.by is None and suite_printed(con, run_id, args.format, args.resamples, args.seed):
        return 0
    by = None if args.by == "dataset" else args.by  # the long form of a suite: the per-dataset rows
    text = leaderboard_text(con, run_id, args.format, wide=args.wide, by=by, resamples=args.resamples,
                            seed=args.seed)
    if not text:
        raise ConfigError(f"run {run_id!r} has no results in {args.db or DEFAULT_DB}")
    sys.stdout.write(text + sessions_text(con, run_id, args.format) + "\n")
    return 0
