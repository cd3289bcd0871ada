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
  evaluator compare --run RUN_BEFORE --run RUN_AFTER            # same models, two runs
  evaluator compare --baseline faster-whisper:base --fail-if-worse 1   # CI gate: exit 1 on a regression
  evaluator compare --format json > comparison.json
  evaluator compare --run my-suite-run                           # a suite: also per dataset and average

delta: model - baseline error rate in percentage points on the shared samples (negative: the
model is better), in each sample's metric: WER, or CER for languages written without spaces (a
run with both lists each pair once per metric). p_boot: paired bootstrap, two-sided, from the
same draws and rule as the interval (the interval excludes zero exactly when p_boot < 0.05);
p_wilcoxon: Wilcoxon signed-rank test over the per-sample differences in errors (scipy); small
values mean the difference is unlikely to be resampling noise.

Exit status: 0, or 1 when --fail-if-worse / --fail-if-significant finds a model worse than the
baseline (each such model is printed with by how much), 2 on a usage error.
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


def default_baseline(con: Any, run_ids: list[str]) -> str:
    """The baseline when ``--baseline`` is not given: across runs the first run; in one run its
    first model as given to `evaluator run` (runs.config), else the first model by name."""
    from evaluator.results.compare import model_order

    if len(run_ids) > 1:
        return run_ids[0]
    models = model_order(con, run_ids[0])
    return models[0] if models else ""


def _shown_pairs(c: Any, run_ids: list[str], all_pairs: bool) -> list[Any]:
    """Across runs the default shows each model against itself in the baseline run only."""
    if all_pairs or len(run_ids) == 1:
        return list(c.pairs)
    run_of = {m["label"]: m["run_id"] for m in c.models}
    return [p for p in c.pairs if run_of.get(p.baseline) != run_of.get(p.model)]


def _table(c: Any, pairs: list[Any], fmt: str, width: int | None = None) -> str:
    from evaluator.cli.tables import interval, legend, one_decimal, render, short_labels

    several = len(c.run_ids) > 1
    title = f"run{'s' if several else ''} {', '.join(c.run_ids)}"
    names = short_labels([m["label"] for m in c.models])
    models = render(["model", "n", "WER % [95% CI]", "CER %", "RTFx"],
                    [(names[m["label"]], m["scored"], interval(pct(m["wer"]), pct(m["wer_low"]), pct(m["wer_high"])),
                      one_decimal(pct(m["cer"])), one_decimal(m["rtfx"])) for m in c.models],
                    "table", title=title, width=width)
    baselines = list(dict.fromkeys(p.baseline for p in pairs))
    one = len(baselines) == 1
    dropped = any(p.dropped_missing or p.dropped_error or p.dropped_empty_reference for p in pairs)
    metrics = {_metric(p) for p in pairs}
    metric = metrics.pop() if len(metrics) == 1 else None
    columns = [*([] if one else ["baseline"]), "model", "n", *([] if metric else ["metric"]),
               f"{metric or 'error'} % base→model", "delta pp [95% CI]", "p_boot", "p_wilcoxon", "b/w",
               *(["dropped"] if dropped else [])]
    rows = []
    for p in pairs:
        lost = p.dropped_missing + p.dropped_error + p.dropped_empty_reference
        rows.append((*([] if one else [names.get(p.baseline, p.baseline)]), names.get(p.model, p.model), p.n,
                     *([] if metric else [_metric(p)]),
                     f"{one_decimal(pct(p.baseline_rate))}→{one_decimal(pct(p.model_rate))}",
                     _signed(p.delta, p.delta_low, p.delta_high), _p(p.p_value), _p(p.wilcoxon_p),
                     f"{p.better}/{p.worse}", *([lost] if dropped else [])))
    head = f"against {names.get(baselines[0], baselines[0])}" if one and pairs else "paired differences"
    title = f"{head} (samples both scored; delta: model - baseline, points; b/w: samples better/worse)"
    parts = [models, render(columns, rows, "table", title=title, width=width)]
    for p in pairs:
        if p.regressions:
            parts.append(render(["sample_id", "errors", "reference", "baseline", "model"],
                                [(r.sample_id, f"{r.baseline_errors} -> {r.model_errors}", short(r.reference, 32),
                                  short(r.baseline_hypothesis, 32), short(r.model_hypothesis, 32))
                                 for r in p.regressions], "table",
                                title=f"largest regressions: {names.get(p.model, p.model)}", width=width))
    return "\n\n".join(parts + ([legend(names, width)] if legend(names, width) else []))


def _render_comparison(c: Any, fmt: str, pairs: list[Any] | None = None) -> str:
    """The comparison as ``table`` (compact, sized to the terminal), ``markdown`` (every column)
    or ``json`` (every field, fractions)."""
    from evaluator.cli.tables import render, terminal_width, wrap

    pairs = list(c.pairs) if pairs is None else pairs
    if fmt == "json":
        data = c.to_json_dict()
        shown = {(p.baseline, p.model) for p in pairs}
        data["pairs"] = [p for p in data["pairs"] if (p["baseline"], p["model"]) in shown]
        return json.dumps(data, indent=2, default=str, allow_nan=False)
    note = (f"p_boot: {c.p_value_method} ({c.resamples} resamples, seed {c.seed}); p_wilcoxon: "
            f"{c.second_test}. Each sample counts in its language's metric (wer, or cer for languages written "
            "without spaces); only samples present, error-free and with a non-empty reference on both sides "
            "count; the rest are listed under dropped.")
    if fmt == "table":
        return _table(c, pairs, fmt) + ("\n\n" + wrap(note, terminal_width()) if pairs else "")
    models = render(
        ["model", "dataset", "split", "n", "wer_%", "wer_low", "wer_high", "cer_%", "cer_low", "cer_high", "rtfx"],
        [(m["label"], m["dataset"], m["split"], m["scored"], pct(m["wer"]), pct(m["wer_low"]), pct(m["wer_high"]),
          pct(m["cer"]), pct(m.get("cer_low")), pct(m.get("cer_high")),
          None if m["rtfx"] is None else round(m["rtfx"], 1)) for m in c.models], fmt)
    pair_rows = []
    for p in pairs:
        dropped = [f"{k} {v}" for k, v in (("missing", p.dropped_missing), ("error", p.dropped_error),
                                          ("empty ref", p.dropped_empty_reference)) if v]
        pair_rows.append((p.baseline, p.model, _metric(p).lower(), p.n, pct(p.baseline_rate), pct(p.model_rate),
                          pct(p.delta), pct(p.delta_low), pct(p.delta_high), _p(p.p_value), _p(p.wilcoxon_p),
                          p.better, p.worse, p.same, ", ".join(dropped) or "0"))
    table = render(["baseline", "model", "metric", "n", "base_%", "model_%", "delta_pp", "low_pp", "high_pp",
                    "p_boot", "p_wilcoxon", "better", "worse", "same", "dropped"], pair_rows, fmt)
    parts = [f"**WER and CER with 95% intervals** (runs {', '.join(c.run_ids)})\n\n" + models, "",
             "**paired differences** (model - baseline, percentage points)\n\n" + table, "", note]
    for p in pairs:
        if p.regressions:
            parts += ["", f"**largest regressions: {p.model} vs {p.baseline}**\n\n" + render(
                ["sample_id", "errors", "reference", "baseline", "model"],
                [(r.sample_id, f"{r.baseline_errors} -> {r.model_errors}", short(r.reference),
                  short(r.baseline_hypothesis), short(r.model_hypothesis)) for r in p.regressions], fmt)]
    return "\n".join(parts)


def gate(pairs: list[Any], fail_if_worse: float | None, fail_if_significant: bool, alpha: float) -> list[str]:
    """The CI gate: one line per model worse than its baseline by more than ``fail_if_worse``
    percentage points, or (``fail_if_significant``) worse with a paired-bootstrap p below
    ``alpha``. Empty when every model passes."""
    failures = []
    for p in pairs:
        if p.delta is None or p.delta <= 0:
            continue
        points = 100 * p.delta
        reasons = []
        if fail_if_worse is not None and points > fail_if_worse:
            reasons.append(f"more than the allowed {fail_if_worse:g}")
        if fail_if_significant and p.p_value is not None and p.p_value < alpha:
            reasons.append(f"significant: p_boot {p.p_value:.3g} < {alpha:g}")
        if reasons:
            ci = "" if p.delta_low is None or p.delta_high is None else \
                f" (95% CI {_signed(p.delta_low, None, None)} to {_signed(p.delta_high, None, None)})"
            failures.append(f"{p.model} is worse than {p.baseline} by {points:.2f} {_metric(p)} points{ci} on "
                            f"{p.n} shared samples: {'; '.join(reasons)}")
    return failures


def add_parser(sub: Any) -> None:
    """Add `evaluator compare` to the subcommands."""
    cmp = sub.add_parser("compare", help="paired comparison against a baseline: WER/CER difference, interval, "
                         "p-values",
                         description="Compare each model with a baseline on the samples both scored: the WER "
                         "difference (CER for languages written without spaces; model - baseline) with its "
                         "paired-bootstrap 95% interval, a paired-bootstrap "
                         "p-value, the Wilcoxon signed-rank p-value over per-sample error differences, how "
                         "many samples got better/worse, how many were dropped and why (missing on one side, "
                         "an error row, an empty reference), and the largest regressions. The baseline is "
                         "--baseline, else the run's first model as given; with several --run, each model is "
                         "compared with itself in the first run (labelled model@run). --all-pairs shows every pair.",
                         epilog=COMPARE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_db(cmp)
    cmp.add_argument("--run", dest="run_ids", action="append", metavar="RUN",
                     help="run id or name to read; repeat to compare runs, the first being the baseline "
                     "(default: the latest run)")
    cmp.add_argument("--baseline", metavar="MODEL",
                     help="the model every other is compared with (a model spec, model@run, or a run id); "
                     "default: the run's first model as given to `evaluator run` (across runs: the first run)")
    cmp.add_argument("--all-pairs", action="store_true",
                     help="every pair of models (in one run: the model listed first in the run as each pair's "
                     "baseline)")
    cmp.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                     help="table: compact, sized to the terminal; markdown/json: every column "
                     "(json: fractions, not percent)")
    add_bootstrap(cmp)
    cmp.add_argument("--top", type=int, default=3, metavar="K",
                     help="regressions listed per pair: the samples whose errors grew most (default: 3; 0: none)")
    g = cmp.add_argument_group("CI gate (exit status 1 when a model is worse than the baseline)")
    g.add_argument("--fail-if-worse", type=float, metavar="PP",
                   help="fail when a model's WER (or CER) is higher than the baseline's by more than PP "
                   "percentage points")
    g.add_argument("--fail-if-significant", action="store_true",
                   help="fail when a model is worse than the baseline and the paired-bootstrap p-value is "
                   "below --alpha")
    g.add_argument("--alpha", type=float, default=0.05, metavar="A",
                   help="significance level of --fail-if-significant (default: 0.05)")
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

    from evaluator.errors import ConfigError
    from evaluator.results.compare import compare
    from evaluator.results.suite import is_suite

    if args.fail_if_worse is not None and args.fail_if_worse < 0:
        raise ConfigError(f"--fail-if-worse takes a non-negative number of percentage points, got {args.fail_if_worse}")
    if not 0 < args.alpha < 1:
        raise ConfigError(f"--alpha must be between 0 and 1, got {args.alpha}")
    con = open_ro(args.db)
    run_ids = [resolve_run(con, r, args.db) for r in args.run_ids or [None]]
    baseline = args.baseline or default_baseline(con, list(dict.fromkeys(run_ids)))
    options = {"resamples": args.resamples, "seed": args.seed, "top": args.top}
    against = compare(con, run_ids, baseline=baseline, **options)
    gated = _shown_pairs(against, list(against.run_ids), False)
    if args.all_pairs:
        everything = compare(con, run_ids, baseline=None, **options)
        comparison, shown = everything, list(everything.pairs)
    else:
        comparison, shown = against, gated
    out = _render_comparison(comparison, args.format, shown)
    if len(run_ids) == 1 and is_suite(con, run_ids[0]):  # per dataset and over the suite, stratified
        table, records = _suite_pairs(con, run_ids[0], baseline, args.format, args.resamples, args.seed)
        if args.format == "json":
            out = json.dumps({**json.loads(out), "suite": records}, indent=2, default=str, allow_nan=False)
        else:
            out += "\n\n" + table
    sys.stdout.write((scoring_note(con, run_ids) + "\n" if args.format in ("table", "markdown") else "") + out + "\n")
    if not shown:
        log.warning("nothing to compare: the runs hold one model each and no model appears in two runs")
    if args.fail_if_worse is None and not args.fail_if_significant:
        return 0
    failures = gate(gated, args.fail_if_worse, args.fail_if_significant, args.alpha)
    for line in failures:
        sys.stderr.write(f"FAIL: {line}\n")
    if failures:
        return 1
    sys.stderr.write(f"OK: no model is worse than {baseline} beyond the gate "
                     f"({len(gated)} model{'s' if len(gated) != 1 else ''} checked)\n")
    return 0
