"""`evaluator compare`: paired comparison of each model against a baseline, with intervals and
p-values; ``--fail-if-worse`` / ``--fail-if-significant`` make it a CI gate (exit status 1)."""

from __future__ import annotations

import argparse
import json
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
from evaluator.results.scoring_note import scoring_note

log = logging.getLogger("evaluator")


COMPARE_EPILOG = """
examples:
  evaluator compare --db results.duckdb                         # each model against the first one
  evaluator compare --baseline faster-whisper:base --top 3
  evaluator compare --all-pairs                                 # every pair of models
  evaluator compare --run RUN_BEFORE --run RUN_AFTER            # two runs: the same models, or one added later
  evaluator compare --baseline faster-whisper:base --fail-if-worse 1   # CI gate: exit 1 on a regression
  evaluator compare --format json > comparison.json
  evaluator compare --format csv > pairs.csv                     # one row per pair, dataset and metric
  evaluator compare --run my-suite-run                           # several datasets: per dataset and overall

Each pair is compared per dataset, on the samples both models scored there (n), and, when it
spans several datasets, once more over all of them ("all"; the bootstrap resamples within each
dataset). Runs pair their samples by dataset and sample id; samples whose reference or audio
duration differ between the runs are refused.

delta: model - baseline error rate in percentage points on the shared samples (negative: the
model is better), in each sample's metric: WER, or CER for languages written without spaces (a
run with both lists each pair once per metric). p_boot: paired bootstrap, two-sided, from the
same draws and rule as the interval (the interval excludes zero exactly when p_boot < 0.05);
p_wilcoxon: Wilcoxon signed-rank test over the per-sample differences in errors (scipy); small
values mean the difference is unlikely to be resampling noise.

Exit status: 0; with --fail-if-worse / --fail-if-significant, 1 when a model is worse than the
baseline (each such pair printed with by how much), 3 when the comparison cannot tell: a pair
with no paired samples, a model covering less of the baseline's samples than --min-coverage, a
model's run not finished, or error rows without --allow-errors (docs/ci.md); 2 on a usage error.
"""


def _p(value: float | None) -> str | None:
    if value is None:
        return None
    return "<0.001" if value < 0.001 else f"{value:.3g}"


def _metric(pair: Any) -> str:
    return str(getattr(pair, "metric", None) or "wer").upper()


def _signed(value: float | None, low: float | None, high: float | None) -> str:
    from evaluator.cli.tables import one_decimal

    if value is None:
        return ""
    cell = one_decimal(pct(value), sign=True)
    return cell if low is None or high is None else \
        f"{cell} [{one_decimal(pct(low), sign=True)} {one_decimal(pct(high), sign=True)}]"


def _where(p: Any) -> str:
    from evaluator.results.compare import OVERALL

    return "all" if p.dataset == OVERALL else p.dataset


def _table(c: Any, pairs: list[Any], width: int | None = None) -> str:
    from evaluator.cli.tables import interval, legend, one_decimal, render, short_labels

    several = len(c.run_ids) > 1
    title = f"run{'s' if several else ''} {', '.join(c.run_ids)}"
    names = short_labels(list(dict.fromkeys(m["label"] for m in c.models)))
    sets = len({m["dataset"] for m in c.models}) > 1
    models = render(["model", *(["dataset"] if sets else []), "n", "WER % [95% CI]", "CER %", "RTFx"],
                    [(names[m["label"]], *([m["dataset"]] if sets else []), m["scored"],
                      interval(pct(m["wer"]), pct(m["wer_low"]), pct(m["wer_high"])),
                      one_decimal(pct(m["cer"])), one_decimal(m["rtfx"])) for m in c.models],
                    "table", title=title, width=width)
    baselines = list(dict.fromkeys(p.baseline for p in pairs))
    one = len(baselines) == 1
    datasets = len({p.dataset for p in pairs}) > 1
    dropped = any(p.dropped_missing or p.dropped_error or p.dropped_empty_reference for p in pairs)
    metrics = {_metric(p) for p in pairs}
    metric = metrics.pop() if len(metrics) == 1 else None
    columns = [*([] if one else ["baseline"]), "model", *(["dataset"] if datasets else []), "n",
               *([] if metric else ["metric"]), f"{metric or 'error'} % base→model", "delta pp [95% CI]", "p_boot",
               "p_wilcoxon", "b/w", *(["dropped"] if dropped else [])]
    rows = []
    for p in pairs:
        lost = p.dropped_missing + p.dropped_error + p.dropped_empty_reference
        rows.append((*([] if one else [names.get(p.baseline, p.baseline)]), names.get(p.model, p.model),
                     *([_where(p)] if datasets else []), p.n, *([] if metric else [_metric(p)]),
                     f"{one_decimal(pct(p.baseline_rate))}→{one_decimal(pct(p.model_rate))}",
                     _signed(p.delta, p.delta_low, p.delta_high), _p(p.p_value), _p(p.wilcoxon_p),
                     f"{p.better}/{p.worse}", *([lost] if dropped else [])))
    head = f"against {names.get(baselines[0], baselines[0])}" if one and pairs else "paired differences"
    where = "; all: over every dataset, resampled within each" if datasets else ""
    title = (f"{head} (n: samples both scored; delta: model - baseline, points; b/w: samples better/worse"
             f"{where})")
    parts = [models, render(columns, rows, "table", title=title, width=width)]
    for p in pairs:
        if p.regressions:
            on = f" on {p.dataset}" if datasets else ""
            parts.append(render(["sample_id", "errors", "reference", "baseline", "model"],
                                [(r.sample_id, f"{r.baseline_errors} -> {r.model_errors}", short(r.reference, 32),
                                  short(r.baseline_hypothesis, 32), short(r.model_hypothesis, 32))
                                 for r in p.regressions], "table",
                                title=f"largest regressions: {names.get(p.model, p.model)}{on}", width=width))
    return "\n\n".join(parts + ([legend(names, width)] if legend(names, width) else []))


PAIR_COLUMNS = ["baseline", "model", "dataset", "metric", "n", "base_%", "model_%", "delta_pp", "low_pp", "high_pp",
                "p_boot", "p_wilcoxon", "better", "worse", "same", "dropped", "baseline_samples", "model_samples",
                "model_error_rows"]


def _pair_rows(pairs: list[Any]) -> list[tuple]:
    out = []
    for p in pairs:
        dropped = [f"{k} {v}" for k, v in (("missing", p.dropped_missing), ("error", p.dropped_error),
                                          ("empty ref", p.dropped_empty_reference)) if v]
        out.append((p.baseline, p.model, p.dataset, _metric(p).lower(), p.n, pct(p.baseline_rate), pct(p.model_rate),
                    pct(p.delta), pct(p.delta_low), pct(p.delta_high), _p(p.p_value), _p(p.wilcoxon_p),
                    p.better, p.worse, p.same, ", ".join(dropped) or "0", p.baseline_samples, p.model_samples,
                    p.model_error_rows))
    return out


def _render_comparison(c: Any, fmt: str, pairs: list[Any]) -> str:
    """The comparison as ``table`` (compact, sized to the terminal), ``markdown`` (every column),
    ``csv`` (one row per pair, every column) or ``json`` (every field, fractions)."""
    from dataclasses import asdict

    from evaluator.cli.tables import render, terminal_width, wrap

    if fmt == "json":
        return json.dumps({**c.to_json_dict(), "pairs": [asdict(p) for p in pairs]}, indent=2, default=str,
                          allow_nan=False)
    if fmt == "csv":
        return render(PAIR_COLUMNS, _pair_rows(pairs), fmt)
    note = (f"p_boot: {c.p_value_method} ({c.resamples} resamples, seed {c.seed}); p_wilcoxon: "
            f"{c.second_test}. Each pair is compared per dataset (and, over several datasets, once more over all "
            "of them with a bootstrap that resamples within each dataset). Each sample counts in its language's "
            "metric (wer, or cer for languages written without spaces); only samples present, error-free and with "
            "a non-empty reference on both sides count; the rest are listed under dropped.")
    if fmt == "table":
        return _table(c, pairs) + ("\n\n" + wrap(note, terminal_width()) if pairs else "")
    models = render(
        ["model", "dataset", "split", "n", "wer_%", "wer_low", "wer_high", "cer_%", "cer_low", "cer_high", "rtfx"],
        [(m["label"], m["dataset"], m["split"], m["scored"], pct(m["wer"]), pct(m["wer_low"]), pct(m["wer_high"]),
          pct(m["cer"]), pct(m.get("cer_low")), pct(m.get("cer_high")),
          None if m["rtfx"] is None else round(m["rtfx"], 1)) for m in c.models], fmt)
    parts = [f"**WER and CER with 95% intervals** (runs {', '.join(c.run_ids)})\n\n" + models, "",
             "**paired differences** (model - baseline, percentage points)\n\n" + render(PAIR_COLUMNS,
                                                                                         _pair_rows(pairs), fmt),
             "", note]
    for p in pairs:
        if p.regressions:
            parts += ["", f"**largest regressions: {p.model} vs {p.baseline} on {p.dataset}**\n\n" + render(
                ["sample_id", "errors", "reference", "baseline", "model"],
                [(r.sample_id, f"{r.baseline_errors} -> {r.model_errors}", short(r.reference),
                  short(r.baseline_hypothesis), short(r.model_hypothesis)) for r in p.regressions], fmt)]
    return "\n".join(parts)


def add_parser(sub: Any) -> None:
    """Add `evaluator compare` to the subcommands."""
    cmp = sub.add_parser("compare", help="paired comparison against a baseline: WER/CER difference, interval, "
                         "p-values",
                         description="Compare each model with a baseline on the samples both scored, per dataset "
                         "(and over all datasets, resampling within each): the WER "
                         "difference (CER for languages written without spaces; model - baseline) with its "
                         "paired-bootstrap 95% interval, a paired-bootstrap "
                         "p-value, the Wilcoxon signed-rank p-value over per-sample error differences, how "
                         "many samples got better/worse, how many were dropped and why (missing on one side, "
                         "an error row, an empty reference), and the largest regressions. The baseline is "
                         "--baseline, else the first run's first model as given; with several --run, models "
                         "of every run compare like models of one run (samples paired by dataset and sample id): a "
                         "model the first run also holds with its own results there, any other with the first "
                         "run's first model. --all-pairs shows every pair.",
                         epilog=COMPARE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_db(cmp)
    cmp.add_argument("--run", dest="run_ids", action="append", metavar="RUN",
                     help="run id or name to read; repeat to compare runs, the first being the baseline "
                     "(default: the latest run)")
    cmp.add_argument("--baseline", metavar="MODEL",
                     help="the model every other is compared with (a model spec, model@run, or a run id); "
                     "default: the first run's first model as given to `evaluator run`")
    cmp.add_argument("--all-pairs", action="store_true",
                     help="every pair of models (the one listed first as each pair's baseline)")
    cmp.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table",
                     help="table: compact, sized to the terminal; markdown/json: every column; csv: the pairs, "
                     "every column (json: fractions, not percent)")
    add_bootstrap(cmp)
    cmp.add_argument("--top", type=int, default=3, metavar="K",
                     help="regressions listed per pair and dataset: the samples whose errors grew most "
                     "(default: 3; 0: none)")
    g = cmp.add_argument_group("CI gate (exit status 1 when a model is worse than the baseline, 3 when the "
                               "comparison cannot tell)")
    g.add_argument("--fail-if-worse", type=float, metavar="PP",
                   help="fail when a model's WER (or CER) is higher than the baseline's by more than PP "
                   "percentage points")
    g.add_argument("--fail-if-significant", action="store_true",
                   help="fail when a model is worse than the baseline and the paired-bootstrap p-value is "
                   "below --alpha")
    g.add_argument("--alpha", type=float, default=0.05, metavar="A",
                   help="significance level of --fail-if-significant (default: 0.05)")
    g.add_argument("--min-coverage", type=float, default=100.0, metavar="PCT",
                   help="with a gate: fail when a model stored fewer than PCT%% of the baseline's samples on a "
                   "dataset (default: 100)")
    g.add_argument("--allow-errors", action="store_true",
                   help="with a gate: let a model with error rows pass (they are left out of the pairs); "
                   "by default error rows fail the gate")
    cmp.set_defaults(func=command)


def _suite_averages(con: Any, c: Any, pairs: list[Any], fmt: str, resamples: int, seed: int
                    ) -> tuple[str, list[dict[str, Any]]]:
    """For a suite run: each pair's difference in the average over datasets (the unweighted mean
    of the per-dataset figures, as the Open ASR Leaderboard ranks), paired bootstrap stratified
    by dataset: the rendered table and its records."""
    import dataclasses

    from evaluator.cli.tables import render
    from evaluator.results.suite import suite_compare

    run_id = c.run_ids[0]
    model_of = {m["label"]: m["model"] for m in c.models}
    records, rows = [], []
    for base, model in dict.fromkeys((p.baseline, p.model) for p in pairs):
        for d in suite_compare(con, run_id, model_of[base], model_of[model], resamples, seed):
            if d.dataset == "average":
                records.append({"baseline": base, "model": model, **dataclasses.asdict(d)})
                rows.append((base, model, d.metric, d.n, pct(d.baseline), pct(d.model), pct(d.delta), pct(d.low),
                             pct(d.high), _p(d.p_not_better)))
    title = ("suite average (mean of the per-dataset figures): model - baseline, percentage points; paired "
             "bootstrap stratified by dataset; p_not_better: share of resamples where the model is not better")
    columns = ["baseline", "model", "metric", "n", "base_%", "model_%", "delta_pp", "low_pp", "high_pp",
               "p_not_better"]
    return (render(columns, rows, fmt, title=title) if fmt in ("table", "markdown") and rows else ""), records


def command(args: argparse.Namespace) -> int:
    from evaluator.results.compare import compare
    from evaluator.results.gate import GateOptions, gate
    from evaluator.results.suite import is_suite

    options = GateOptions(args.fail_if_worse, args.fail_if_significant, args.alpha, args.min_coverage / 100,
                          args.allow_errors)
    con = open_ro(args.db)
    run_ids = list(dict.fromkeys(resolve_run(con, r, args.db) for r in args.run_ids or [None]))
    bootstrap = {"resamples": args.resamples, "seed": args.seed, "top": args.top}
    against = compare(con, run_ids, baseline=args.baseline, **bootstrap)
    comparison = compare(con, run_ids, **bootstrap, all_pairs=True) if args.all_pairs else against
    shown = list(comparison.pairs)
    out = _render_comparison(comparison, args.format, shown)
    if len(run_ids) == 1 and is_suite(con, run_ids[0]) and args.format != "csv":
        table, records = _suite_averages(con, comparison, shown, args.format, args.resamples, args.seed)
        if args.format == "json":
            out = json.dumps({**json.loads(out), "suite": records}, indent=2, default=str, allow_nan=False)
        elif table:
            out += "\n\n" + table
    sys.stdout.write((scoring_note(con, run_ids) + "\n" if args.format in ("table", "markdown") else "") + out + "\n")
    if not shown:
        log.warning("nothing to compare: the runs hold one model in all")
    if args.fail_if_worse is None and not args.fail_if_significant:
        return 0
    verdict = gate(con, against, against.pairs, options)
    for line in verdict.unjudged:
        sys.stderr.write(f"FAIL (cannot judge): {line}\n")
    for line in verdict.worse:
        sys.stderr.write(f"FAIL: {line}\n")
    if verdict.exit_status == 0:
        base = ", ".join(dict.fromkeys(p.baseline for p in against.pairs))
        paired = sum(p.n for p in against.pairs if _where(p) != "all")
        sys.stderr.write(f"OK: no model is worse than {base} beyond the gate ({verdict.checked} "
                         f"model{'s' if verdict.checked != 1 else ''} checked on {paired} paired samples)\n")
    return verdict.exit_status
