"""Paired comparisons of models on the same samples, read from a DuckDB connection (read-only is
enough).

A side is one model of one run (:mod:`evaluator.results.pairing` selects which sides are paired).
Each pair is compared once per dataset, on the samples both sides scored there (same dataset
identity and sample id, in one run or across runs), and, when the pair spans several datasets,
once more over all of them with a bootstrap that resamples within each dataset. Runs whose shared
samples differ in reference or audio duration are refused before anything is paired.

Every sample is compared in its language's primary metric: WER for samples scored by words, CER for
samples of languages written without spaces (scored by characters). A dataset with both gives the
pair one :class:`PairComparison` per metric (``metric``), never one figure that mixes them.
The interval and the p-value come from one rule (:func:`evaluator.scoring.stats.paired_interval_and_p`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from evaluator.errors import ConfigError
from evaluator.results.identity import dataset_identity_sql
from evaluator.results.leaderboard import check_runs, latest_run, leaderboard_with_intervals
from evaluator.results.pairing import (
    SampleArrays,
    Side,
    check_same_samples,
    model_order,
    sample_arrays,
    select_pairs,
    sides,
)
from evaluator.scoring.stats import (
    P_VALUE_METHOD,
    SECOND_TEST,
    BootstrapOptions,
    PairedResult,
    paired_bootstraps,
    stratified_paired_bootstrap,
)

__all__ = ["Comparison", "PairComparison", "Regression", "METRICS", "OVERALL", "compare", "model_order"]

# The metrics a pair is compared in, in the order pairs are listed.
METRICS = ("wer", "cer")

# ``PairComparison.dataset`` of the comparison over every dataset of a pair.
OVERALL = "overall"


@dataclass(frozen=True)
class Regression:
    """A sample the model got worse on than the baseline.

    Attributes:
        sample_id: the sample.
        reference: its reference text (raw).
        baseline_hypothesis / model_hypothesis: both transcripts (raw).
        baseline_errors / model_errors: errors of each side after normalisation, in the pair's
            metric: word errors (S+D+I) for ``wer``, character errors for ``cer``.
    """

    sample_id: str
    reference: str | None
    baseline_hypothesis: str | None
    model_hypothesis: str | None
    baseline_errors: int
    model_errors: int


@dataclass(frozen=True)
class PairComparison:
    """``model`` against ``baseline`` on the samples both scored in one dataset (or over all of
    the pair's datasets), in one metric.

    Attributes:
        baseline / model: side labels (``model`` or ``model@run_id`` when several runs).
        dataset: the dataset's name, or ``overall`` for the comparison over every dataset of the
            pair (pooled rates; the bootstrap resamples within each dataset).
        datasets: the datasets compared (one, or every dataset of an ``overall`` comparison).
        metric: ``wer`` (samples scored by words) or ``cer`` (samples of languages written without
            spaces, scored by characters); a run with both has one comparison per metric.
        baseline_rate / model_rate: corpus error rate (in ``metric``) of each side over the shared
            samples only.
        delta: ``model_rate - baseline_rate`` (negative: the model is better).
        delta_low / delta_high: paired-bootstrap interval of ``delta`` (``confidence`` coverage).
        p_value: paired-bootstrap two-sided p-value from the same draws and the same rule, so the
            interval excludes zero exactly when ``p_value < 1 - confidence`` (see
            :func:`evaluator.scoring.stats.paired_interval_and_p`).
        wilcoxon_p: Wilcoxon signed-rank p-value over per-sample error differences.
        sign_p: sign-test p-value over samples that got better vs worse.
        n: samples compared: present, error-free and with a non-empty reference on both sides.
        better / worse / same: samples with fewer / more / as many errors in ``model``.
        dropped_missing: samples stored on one side only.
        dropped_error: samples present on both sides with an error row on at least one.
        dropped_empty_reference: samples present and error-free on both but with a reference
            that is empty after normalization (no words, or for ``cer`` no characters).
        baseline_samples / model_samples: samples each side stored here (error rows included);
            ``shared``: samples both stored, so ``shared / baseline_samples`` is how much of the
            baseline the model covers.
        baseline_error_rows / model_error_rows: each side's error rows here (a sample in a language
            the model does not transcribe is not one).
        regressions: the samples with the largest increase in errors, worst first (per dataset
            only: an ``overall`` comparison repeats none).
    """

    baseline: str
    model: str
    dataset: str
    datasets: tuple[str, ...]
    metric: str
    baseline_rate: float | None
    model_rate: float | None
    delta: float | None
    delta_low: float | None
    delta_high: float | None
    p_value: float | None
    wilcoxon_p: float | None
    sign_p: float | None
    n: int
    better: int
    worse: int
    same: int
    dropped_missing: int
    dropped_error: int
    dropped_empty_reference: int
    baseline_samples: int = 0
    model_samples: int = 0
    shared: int = 0
    baseline_error_rows: int = 0
    model_error_rows: int = 0
    regressions: tuple[Regression, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """Every compared pair, with each side's own leaderboard row.

    Attributes:
        run_ids: the runs read, in the order given (the first is the baseline across runs).
        models: per side and dataset, in the order the runs list their models: ``label``,
            ``run_id``, ``model``,
            ``dataset``, ``split``, ``n``, ``scored``, ``metric`` (what the side is ranked by),
            ``wer``, ``wer_low``, ``wer_high``, ``wer_n``, ``cer``, ``cer_low``, ``cer_high``,
            ``cer_n``, ``rtfx`` (fractions; each interval is over all of the side's samples scored
            by that metric).
        pairs: the selected pairs (see :func:`evaluator.results.pairing.select_pairs`): per pair,
            one :class:`PairComparison` per dataset and metric, then its ``overall`` ones.
        resamples / seed / confidence: the bootstrap's.
        p_value_method: how ``p_value`` and the interval are computed (one rule for both).
        second_test: which non-bootstrap test ``wilcoxon_p`` is.
    """

    run_ids: tuple[str, ...]
    models: list[dict[str, Any]]
    pairs: list[PairComparison]
    resamples: int
    seed: int
    confidence: float = 0.95
    second_test: str = SECOND_TEST
    p_value_method: str = P_VALUE_METHOD

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (fractions, not percent)."""
        return asdict(self)


def _model_rows(con: Any, all_sides: list[Side], resamples: int, seed: int) -> list[dict[str, Any]]:
    """Each side's leaderboard rows (one per dataset), in side order, then by dataset and split
    (the pairs' order, whatever each dataset's ranking)."""
    out = []
    for run_id in dict.fromkeys(s.run_id for s in all_sides):
        columns, rows = leaderboard_with_intervals(con, run_id, resamples=resamples, seed=seed)
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        for side in (s for s in all_sides if s.run_id == run_id):
            mine = sorted((r for r in records if r["model"] == side.model),
                          key=lambda r: (str(r["dataset"]), str(r["split"])))
            for r in mine:
                out.append({"label": side.label, "run_id": run_id, **{k: r[k] for k in (
                    "model", "dataset", "split", "n", "scored", "metric", "wer", "wer_low", "wer_high", "wer_n", "cer",
                    "cer_low", "cer_high", "cer_n", "rtfx")}})
    return out


@dataclass(frozen=True)
class _Group:
    """One pair on one dataset (or overall) in one metric, before its bootstrap."""

    pair: tuple[int, int]
    dataset: str
    datasets: tuple[str, ...]
    metric: str
    keep: np.ndarray
    matrix: np.ndarray
    counts: dict[str, int]


def _dataset_groups(pair: tuple[int, int], a: dict[str, np.ndarray], b: dict[str, np.ndarray],
                    arrays: SampleArrays) -> list[_Group]:
    """Per dataset either side stored, per metric with samples there: the kept samples, their
    counts matrix (baseline errors, baseline units, model errors, model units) and what was
    dropped. A sample is a ``cer`` sample when either side scored it by characters."""
    either = a["present"] | b["present"]
    both = a["present"] & b["present"]
    by_chars = (a["present"] & a["by_chars"]) | (b["present"] & b["by_chars"])
    identities = list(dict.fromkeys(arrays.identity[either]))
    groups = []
    for identity in identities:
        here = either & (arrays.identity == identity)
        name = str(arrays.dataset[np.flatnonzero(here)[0]])
        for metric in METRICS:
            member = here & (by_chars if metric == "cer" else ~by_chars)
            if not member.any():
                continue
            failed = member & both & (a["failed"] | b["failed"])
            ok = member & both & ~failed
            err, units = ("ce", "rc") if metric == "cer" else ("e", "w")
            empty = ok & ((a[units] <= 0) | (b[units] <= 0)) if metric == "cer" else \
                ok & ((a["ref_words"] <= 0) | (b["ref_words"] <= 0))
            keep = np.flatnonzero(ok & ~empty)
            matrix = np.column_stack([a[err][keep], a[units][keep], b[err][keep], b[units][keep]])
            counts = {"dropped_missing": member & ~both, "dropped_error": failed, "dropped_empty_reference": empty,
                      "baseline_samples": member & a["present"], "model_samples": member & b["present"],
                      "shared": member & both,
                      # a sample in a language the model does not transcribe is no error (not transcribable)
                      "baseline_error_rows": member & a["present"] & a["failed"] & ~a["untranscribable"],
                      "model_error_rows": member & b["present"] & b["failed"] & ~b["untranscribable"]}
            groups.append(_Group(pair, name, (name,), metric, keep, matrix,
                                 {k: int(v.sum()) for k, v in counts.items()}))
    return groups


def _overall(groups: list[_Group]) -> list[_Group]:
    """Per metric the pair has on several datasets: one group over all of them."""
    out = []
    for metric in METRICS:
        mine = [g for g in groups if g.metric == metric]
        if len(mine) < 2:
            continue
        counts = {k: sum(g.counts[k] for g in mine) for k in mine[0].counts}
        out.append(_Group(mine[0].pair, OVERALL, tuple(g.dataset for g in mine), metric, np.empty(0, dtype=np.int64),
                          np.zeros((0, 4)), counts))
    return out


def _regressions(con: Any, arrays: SampleArrays, a: Side, b: Side, idx: np.ndarray, base_e: np.ndarray,
                 model_e: np.ndarray) -> tuple[Regression, ...]:
    if idx.size == 0:
        return ()
    identity = arrays.identity[idx[0]]  # one dataset per group
    wanted = [str(arrays.sample_id[k]) for k in idx]
    texts = {}
    for tag, side in (("b", a), ("m", b)):
        rows = con.execute(
            f"SELECT sample_id, reference, hypothesis FROM results WHERE run_id = ? AND model = ? "
            f"AND {dataset_identity_sql()} = ? AND sample_id IN (SELECT unnest(?::VARCHAR[]))",
            [side.run_id, side.model, identity, wanted]).fetchall()
        for i, ref, hyp in rows:
            texts[(tag, i)] = (ref, hyp)
    out = []
    for sample_id, be, me in zip(wanted, base_e, model_e, strict=True):
        ref, base_hyp = texts.get(("b", sample_id), (None, None))
        _, model_hyp = texts.get(("m", sample_id), (None, None))
        out.append(Regression(sample_id, ref, base_hyp, model_hyp, int(be), int(me)))
    return tuple(out)


def compare(con: Any, run_ids: list[str] | None = None, baseline: str | None = None, resamples: int = 1000,
            seed: int = 0, top: int = 5, *, all_pairs: bool = False) -> Comparison:
    """Paired comparison of models on the same samples, per dataset and metric.

    A side is one model of one run (labelled ``model@run_id`` when several runs are read); which
    sides are paired is :func:`evaluator.results.pairing.select_pairs`. Each pair is compared once
    per dataset either side stored and metric its samples are scored in there (``wer``, and
    ``cer`` for languages written without spaces), on the samples present, error-free and with a
    non-empty reference on both sides (the rest are counted as dropped, by reason); a pair on
    several datasets is compared once more per metric over all of them (``dataset`` ``overall``,
    a bootstrap stratified by dataset). Samples pair across runs by dataset identity and sample
    id, after checking that their references and audio durations agree.

    Args:
        con: a DuckDB connection to the results database.
        run_ids: runs to read (default: the latest run).
        baseline: a model, a ``model@run_id`` label or a run id (default: the first run): every
            other side is compared with it (a run: with the same model there, else its first model).
        resamples / seed: the bootstrap's.
        top: regressions kept per pair and dataset (the samples with the largest increase in errors).
        all_pairs: every two sides instead (``baseline`` is not used).

    Raises:
        ConfigError: an unknown run or baseline; runs that stored different references or audio
            durations under the same sample ids.
    """
    options = BootstrapOptions(resamples=resamples, seed=seed)
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise ConfigError(f"top must be a non-negative integer, got {top!r}")
    run_ids = list(dict.fromkeys(run_ids or [latest_run(con)]))
    check_runs(con, run_ids)
    check_same_samples(con, run_ids)
    all_sides = sides(con, run_ids)
    pairs = select_pairs(all_sides, baseline, all_pairs)
    arrays = sample_arrays(con, run_ids, all_sides)
    per_dataset: list[_Group] = []
    overall: list[_Group] = []
    for i, j in pairs:
        groups = _dataset_groups((i, j), arrays.sides[all_sides[i].label], arrays.sides[all_sides[j].label], arrays)
        per_dataset += groups
        overall += _overall(groups)
    results: dict[int, PairedResult] = dict(enumerate(paired_bootstraps([g.matrix for g in per_dataset], options)))
    for k, g in enumerate(overall):
        strata = [d.matrix for d in per_dataset if d.pair == g.pair and d.metric == g.metric]
        results[len(per_dataset) + k] = stratified_paired_bootstrap(strata, options)
    out = []
    for k, g in enumerate(per_dataset + overall):
        res, (i, j) = results[k], g.pair
        regressions: tuple[Regression, ...] = ()
        if g.dataset != OVERALL:
            m = g.matrix
            diff = m[:, 2] - m[:, 0]
            worst = np.flatnonzero(diff > 0)
            worst = worst[np.lexsort((g.keep[worst], -diff[worst]))][:top]
            regressions = _regressions(con, arrays, all_sides[i], all_sides[j], g.keep[worst], m[worst, 0],
                                       m[worst, 2])
        out.append(PairComparison(
            baseline=all_sides[i].label, model=all_sides[j].label, dataset=g.dataset, datasets=g.datasets,
            metric=g.metric, baseline_rate=res.baseline, model_rate=res.model, delta=res.delta, delta_low=res.low,
            delta_high=res.high, p_value=res.p_value, wilcoxon_p=res.wilcoxon_p, sign_p=res.sign_p, n=res.n,
            better=res.better, worse=res.worse, same=res.same, **g.counts, regressions=regressions))
    order = {p: k for k, p in enumerate(pairs)}
    out.sort(key=lambda p: order[(_index(all_sides, p.baseline), _index(all_sides, p.model))])
    return Comparison(run_ids=tuple(run_ids), models=_model_rows(con, all_sides, resamples, seed), pairs=out,
                      resamples=resamples, seed=seed, confidence=options.confidence)


def _index(all_sides: list[Side], label: str) -> int:
    return next(i for i, s in enumerate(all_sides) if s.label == label)
