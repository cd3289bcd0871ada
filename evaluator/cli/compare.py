"""`evaluator compare`: paired comparison of models with intervals and p-values."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from evaluator.cli.common import (
    add_bootstrap,
    add_db,
    open_ro,
    pct,
    resolve_run,
    short,
)

log = logging.getLogger("evaluator")


COMPARE_EPILOG = """
examples:
  evaluator compare --db results.duckdb                         # models of the latest run
  evaluator compare --baseline faster-whisper:base --top 3
  evaluator compare --run RUN_BEFORE --run RUN_AFTER            # same models, two runs
  evaluator compare --format json > comparison.json
  evaluator compare --run my-suite-run                           # a suite: also per dataset and average

delta: model - baseline error rate in percentage points on the shared samples (negative: the
model is better), in each sample's metric: WER, or CER for languages written without spaces (a
run with both lists each pair once per metric). p_boot: paired bootstrap, two-sided, from the
same draws and rule as the interval (the interval excludes zero exactly when p_boot < 0.05);
p_wilcoxon: Wilcoxon signed-rank test over the per-sample differences in errors (scipy); small
values mean the difference is unlikely to be resampling noise.
"""


def _p(value: float | None) -> str | None:
    return None if value is None else f"{value:.3g}"


def _render_comparison(c: Any, fmt: str) -> str:
    import json

    from evaluator.cli.tables import render

    if fmt == "json":
        return json.dumps(c.to_json_dict(), indent=2, default=str, allow_nan=False)
    several = len(c.run_ids) > 1
    models = render(
        ["model", "dataset", "split", "n", "wer_%", "wer_low", "wer_high", "cer_%", "cer_low", "cer_high", "rtfx"],
        [(m["label"], m["dataset"], m["split"], m["scored"], pct(m["wer"]), pct(m["wer_low"]), pct(m["wer_high"]),
          pct(m["cer"]), pct(m["cer_low"]), pct(m["cer_high"]), None if m["rtfx"] is None else round(m["rtfx"], 1))
         for m in c.models],
        fmt, title=f"run{'s' if several else ''} {', '.join(c.run_ids)}: WER and CER with 95% intervals")
    pair_rows = []
    for p in c.pairs:
        dropped = [f"{k} {v}" for k, v in (("missing", p.dropped_missing), ("error", p.dropped_error),
                                          ("empty ref", p.dropped_empty_reference)) if v]
        pair_rows.append((p.baseline, p.model, p.metric, p.n, pct(p.baseline_rate), pct(p.model_rate), pct(p.delta),
                          pct(p.delta_low), pct(p.delta_high), _p(p.p_value), _p(p.wilcoxon_p), p.better,
                          p.worse, p.same, ", ".join(dropped) or "0"))
    pairs = render(["baseline", "model", "metric", "n", "base_%", "model_%", "delta_pp", "low_pp", "high_pp", "p_boot",
                    "p_wilcoxon", "better", "worse", "same", "dropped"], pair_rows, fmt,
                   title="paired differences (model - baseline, percentage points)")
    note = (f"p_boot: {c.p_value_method} ({c.resamples} resamples, seed {c.seed}); p_wilcoxon: "
            f"{c.second_test}. Each sample counts in its language's metric (wer, or cer for languages written "
            "without spaces); only samples present, error-free and with a non-empty reference on both sides "
            "count; the rest are listed under dropped.")
    parts = [models, "", pairs, "", note]
    for p in c.pairs:
        if not p.regressions:
            continue
        parts += ["", render(["sample_id", "errors", "reference", "baseline", "model"],
                             [(r.sample_id, f"{r.baseline_errors} -> {r.model_errors}", short(r.reference),
                               short(r.baseline_hypothesis), short(r.model_hypothesis)) for r in p.regressions],
                             fmt, title=f"largest regressions: {p.model} vs {p.baseline}")]
        if fmt == "markdown":
            parts[-1] = f"**largest regressions: {p.model} vs {p.baseline}**\n\n" + parts[-1]
    if fmt == "markdown":
        parts[0] = f"**WER and CER with 95% intervals** (runs {', '.join(c.run_ids)})\n\n" + parts[0]
        parts[2] = "**paired differences** (model - baseline, percentage points)\n\n" + parts[2]
    return "\n".join(parts)


def add_parser(sub: Any) -> None:
    """Add `evaluator compare` to the subcommands."""
    cmp = sub.add_parser("compare", help="paired comparison of models: WER/CER difference, interval, p-values",
                         description="Compare every pair of models on the samples both scored: the WER difference "
                         "(CER for languages written without spaces) "
                         "(model - baseline) with its paired-bootstrap 95% interval, a paired-bootstrap "
                         "p-value, the Wilcoxon signed-rank p-value over per-sample error differences, how "
                         "many samples got better/worse, how many were dropped and why (missing on one side, "
                         "an error row, an empty reference), and the largest regressions. Pairs: the models "
                         "of one run against each other; with several --run, also each model against itself "
                         "across runs (labelled model@run).",
                         epilog=COMPARE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_db(cmp)
    cmp.add_argument("--run", dest="run_ids", action="append", metavar="RUN",
                     help="run id or name to read; repeat to compare runs, the first being the baseline "
                     "(default: the latest run)")
    cmp.add_argument("--baseline", metavar="MODEL",
                     help="compare only against this model (a model spec, model@run, or a run id); default: "
                     "in each pair of one run, the model listed first in the run")
    cmp.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                     help="json: fractions, not percent (default: table)")
    add_bootstrap(cmp)
    cmp.add_argument("--top", type=int, default=3, metavar="K",
                     help="regressions listed per pair: the samples whose errors grew most (default: 3; 0: none)")
    cmp.set_defaults(func=command)


def _suite_pairs(con: Any, run_id: str, baseline: str | None, fmt: str, resamples: int, seed: int
                 ) -> tuple[str, list[dict[str, Any]]]:
    """A suite run's models against the baseline (default: the best average) per dataset and over
    the suite, with a bootstrap stratified by dataset: the rendered table and its records."""
    import dataclasses

    from evaluator.cli.tables import render
    from evaluator.results.suite import suite_compare, suite_results

    models = suite_results(con, run_id, resamples, seed)
    ranked = sorted(models, key=lambda m: (m.average is None, m.average or 0.0))
    base = baseline if baseline in {m.model for m in models} else ranked[0].model
    records, rows = [], []
    for m in models:
        if m.model == base:
            continue
        for d in suite_compare(con, run_id, base, m.model, resamples, seed):
            records.append({"baseline": base, "model": m.model, **dataclasses.asdict(d)})
            rows.append((base, m.model, d.dataset, d.metric, d.n, pct(d.baseline), pct(d.model), pct(d.delta),
                         pct(d.low), pct(d.high), _p(d.p_not_better)))
    title = ("suite: model - baseline per dataset and over the suite (percentage points; paired bootstrap "
             "stratified by dataset; p_not_better: share of resamples where the model is not better)")
    table = render(["baseline", "model", "dataset", "metric", "n", "base_%", "model_%", "delta_pp", "low_pp",
                    "high_pp", "p_not_better"], rows, fmt, title=title) if fmt != "json" else ""
    return table, records


def command(args: argparse.Namespace) -> int:
    import json

    from evaluator.results.compare import compare
    from evaluator.results.suite import is_suite

    con = open_ro(args.db)
    run_ids = [resolve_run(con, r, args.db) for r in args.run_ids or [None]]
    comparison = compare(con, run_ids, baseline=args.baseline, resamples=args.resamples, seed=args.seed,
                         top=args.top)
    out = _render_comparison(comparison, args.format)
    if len(run_ids) == 1 and is_suite(con, run_ids[0]):
        table, records = _suite_pairs(con, run_ids[0], args.baseline, args.format, args.resamples, args.seed)
        if args.format == "json":
            out = json.dumps({**json.loads(out), "suite": records}, indent=2, default=str, allow_nan=False)
        else:
            out += "\n\n" + table
    sys.stdout.write(out + "\n")
    if not comparison.pairs:
        log.warning("nothing to compare: the runs hold one model each and no model appears in two runs")
    return 0
