"""Paired comparisons of models on the same samples, read from a DuckDB connection (read-only is
enough). Each side's own row comes from :func:`evaluator.results.leaderboard.leaderboard_with_intervals`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from evaluator.errors import ConfigError
from evaluator.results.leaderboard import check_runs, latest_run, leaderboard_with_intervals
from evaluator.scoring.stats import SECOND_TEST, BootstrapOptions, paired_bootstraps

__all__ = ["Comparison", "PairComparison", "Regression", "compare"]


@dataclass(frozen=True)
class Regression:
    """A sample the model got worse on than the baseline.

    Attributes:
        sample_id: the sample.
        reference: its reference text (raw).
        baseline_hypothesis / model_hypothesis: both transcripts (raw).
        baseline_errors / model_errors: word errors (S+D+I) of each side after normalisation.
    """

    sample_id: str
    reference: str | None
    baseline_hypothesis: str | None
    model_hypothesis: str | None
    baseline_errors: int
    model_errors: int


@dataclass(frozen=True)
class PairComparison:
    """``model`` against ``baseline`` on the samples both scored.

    Attributes:
        baseline / model: side labels (``model`` or ``model@run_id`` when several runs).
        baseline_wer / model_wer: corpus WER of each side over the shared samples only.
        delta: ``model_wer - baseline_wer`` (negative: the model is better).
        delta_low / delta_high: paired-bootstrap 95% interval of ``delta``.
        p_value: paired-bootstrap two-sided p-value (see :class:`evaluator.scoring.stats.PairedResult`).
        wilcoxon_p: Wilcoxon signed-rank p-value over per-sample error differences.
        sign_p: sign-test p-value over samples that got better vs worse.
        n: samples compared (present, error-free and with a non-empty reference on both sides).
        better / worse / same: samples with fewer / more / as many errors in ``model``.
        dropped_missing: samples stored on one side only.
        dropped_error: samples present on both sides with an error row on at least one.
        dropped_empty_reference: samples present and error-free on both but with an empty reference.
        regressions: the samples with the largest increase in errors, worst first.
    """

    baseline: str
    model: str
    baseline_wer: float | None
    model_wer: float | None
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
    regressions: tuple[Regression, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """Every compared pair, with each side's own leaderboard row.

    Attributes:
        run_ids: the runs read, in the order given (the first is the baseline across runs).
        models: per side: ``label``, ``run_id``, ``model``, ``dataset``, ``split``, ``n``,
            ``scored``, ``wer``, ``wer_low``, ``wer_high``, ``cer``, ``rtfx`` (fractions; the
            interval is over all of the side's scored samples).
        pairs: one :class:`PairComparison` per pair.
        resamples / seed / confidence: the bootstrap's.
        second_test: which non-bootstrap test ``wilcoxon_p`` is.
    """

    run_ids: tuple[str, ...]
    models: list[dict[str, Any]]
    pairs: list[PairComparison]
    resamples: int
    seed: int
    confidence: float = 0.95
    second_test: str = SECOND_TEST
    p_value_method: str = field(default="paired bootstrap, two-sided, re-centred on zero")

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (fractions, not percent)."""
        return asdict(self)


def _sides(con: Any, run_ids: list[str], resamples: int, seed: int) -> list[dict[str, Any]]:
    several = len(run_ids) > 1
    sides = []
    for run_id in run_ids:
        columns, rows = leaderboard_with_intervals(con, run_id, resamples=resamples, seed=seed, cer_intervals=False)
        for row in sorted(rows, key=lambda r: r[0]):
            r = dict(zip(columns, row, strict=True))
            sides.append({
                "label": f"{r['model']}@{run_id}" if several else r["model"], "run_id": run_id,
                **{k: r[k] for k in ("model", "dataset", "split", "n", "scored", "wer", "wer_low", "wer_high",
                                     "cer", "rtfx")},
            })
    return sides


def _candidate_pairs(sides: list[dict[str, Any]], run_ids: list[str], baseline: str | None) -> list[tuple[int, int]]:
    """(baseline side, model side) index pairs: models of one run against each other, and the
    same model across runs."""
    run_order = {r: i for i, r in enumerate(run_ids)}
    candidates = []
    for i, a in enumerate(sides):
        for j in range(i + 1, len(sides)):
            b = sides[j]
            if a["run_id"] == b["run_id"] or a["model"] == b["model"]:
                candidates.append((i, j))
    if baseline is not None:
        matches = {i for i, s in enumerate(sides) if baseline in (s["label"], s["model"], s["run_id"])}
        if not matches:
            labels = sorted({s["label"] for s in sides} | {s["model"] for s in sides})
            raise ConfigError(f"baseline {baseline!r} matches no model; choose one of: {', '.join(labels)}"
                              + (f", or a run id: {', '.join(run_ids)}" if len(run_ids) > 1 else ""))
        out = []
        for i, j in candidates:
            if i in matches and j in matches:
                first = min((i, j), key=lambda k: (run_order[sides[k]["run_id"]], k))
                out.append((first, j if first == i else i))
            elif i in matches or j in matches:
                out.append((i, j) if i in matches else (j, i))
        return out
    out = []
    for i, j in candidates:
        a, b = sides[i], sides[j]
        if a["run_id"] != b["run_id"]:  # same model across runs: the earlier-listed run is the baseline
            out.append((i, j) if run_order[a["run_id"]] < run_order[b["run_id"]] else (j, i))
        else:  # same run: the model with the lower WER is the baseline
            def key(s: dict[str, Any]) -> tuple:
                return (s["wer"] is None, s["wer"] or 0.0, s["label"])
            out.append((i, j) if key(a) <= key(b) else (j, i))
    return out


def _side_arrays(con: Any, run_ids: list[str], sides: list[dict[str, Any]]) -> tuple[dict[str, np.ndarray], Any]:
    """Per side, dense arrays over every sample key of the runs: present, failed, ref_words,
    errors, words; and the key table (dataset, split, sample_id) by key code."""
    placeholders = ", ".join("?" * len(run_ids))
    keys = con.execute(f"SELECT DISTINCT dataset, split, sample_id FROM results WHERE run_id IN ({placeholders}) "
                       "ORDER BY dataset, split, sample_id", run_ids).fetchnumpy()
    data = con.execute(f"""
        WITH k AS (SELECT dataset, split, sample_id, row_number() OVER (ORDER BY dataset, split, sample_id) - 1 AS key
                   FROM (SELECT DISTINCT dataset, split, sample_id FROM results WHERE run_id IN ({placeholders})))
        SELECT r.run_id, r.model, k.key, r.error IS NOT NULL AS failed, coalesce(r.ref_words, 0) AS ref_words,
               coalesce(r.substitutions + r.deletions + r.insertions, 0)::DOUBLE AS e,
               coalesce(r.substitutions + r.deletions + r.hits, 0)::DOUBLE AS w
        FROM results r JOIN k USING (dataset, split, sample_id)
        WHERE r.run_id IN ({placeholders}) ORDER BY r.run_id, r.model, k.key""", [*run_ids, *run_ids]).fetchnumpy()
    n_keys = len(keys["sample_id"])
    run_col = np.asarray(data["run_id"], dtype=object)
    model_col = np.asarray(data["model"], dtype=object)
    key_col = np.asarray(data["key"], dtype=np.int64)
    change = np.flatnonzero((run_col[1:] != run_col[:-1]) | (model_col[1:] != model_col[:-1])) + 1
    starts = np.concatenate([[0], change]) if len(key_col) else np.empty(0, dtype=np.int64)
    ends = np.concatenate([change, [len(key_col)]]) if len(key_col) else np.empty(0, dtype=np.int64)
    blocks = {(run_col[s], model_col[s]): slice(s, e) for s, e in zip(starts, ends, strict=True)}
    out = {}
    for side in sides:
        sl = blocks.get((side["run_id"], side["model"]), slice(0, 0))
        arrays = {name: np.zeros(n_keys, dtype=dtype) for name, dtype in
                  (("present", bool), ("failed", bool), ("ref_words", np.int64), ("e", np.float64), ("w", np.float64))}
        idx = key_col[sl]
        arrays["present"][idx] = True
        for name in ("failed", "ref_words", "e", "w"):
            arrays[name][idx] = np.asarray(data[name][sl])
        out[side["label"]] = arrays
    return out, keys


def _regressions(con: Any, keys: Any, a: dict[str, Any], b: dict[str, Any], idx: np.ndarray,
                 base_e: np.ndarray, model_e: np.ndarray) -> tuple[Regression, ...]:
    if idx.size == 0:
        return ()
    wanted = [(str(keys["dataset"][k]), str(keys["split"][k]), str(keys["sample_id"][k])) for k in idx]
    texts = {}
    for side, run_id, model in (("b", a["run_id"], a["model"]), ("m", b["run_id"], b["model"])):
        rows = con.execute(
            "SELECT dataset, split, sample_id, reference, hypothesis FROM results WHERE run_id = ? AND model = ? "
            "AND sample_id IN (SELECT unnest(?::VARCHAR[]))", [run_id, model, [w[2] for w in wanted]]).fetchall()
        for d, s, i, ref, hyp in rows:
            texts[(side, d, s, i)] = (ref, hyp)
    out = []
    for key, k, be, me in zip(wanted, idx, base_e, model_e, strict=True):
        ref, base_hyp = texts.get(("b", *key), (None, None))
        _, model_hyp = texts.get(("m", *key), (None, None))
        out.append(Regression(str(keys["sample_id"][k]), ref, base_hyp, model_hyp, int(be), int(me)))
    return tuple(out)


def compare(con: Any, run_ids: list[str] | None = None, baseline: str | None = None, resamples: int = 1000,
            seed: int = 0, top: int = 5) -> Comparison:
    """Paired comparison of every pair of models on the same samples.

    Pairs are the models of one run against each other and, with several runs, each model
    against itself in the other runs (labels ``model@run_id``). Only samples present,
    error-free and with a non-empty reference on both sides count; the rest are counted as
    dropped, by reason.

    Args:
        con: a DuckDB connection to the results database.
        run_ids: runs to read (default: the latest run); across runs the first listed is the
            baseline unless ``baseline`` names a run.
        baseline: a model, a ``model@run_id`` label or a run id: only pairs with a matching
            side, which becomes the baseline. Without it, in one run the model with the lower
            WER is the baseline of each pair.
        resamples / seed: the bootstrap's.
        top: regressions kept per pair (the samples with the largest increase in errors).
    """
    options = BootstrapOptions(resamples=resamples, seed=seed)
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise ConfigError(f"top must be a non-negative integer, got {top!r}")
    run_ids = list(dict.fromkeys(run_ids or [latest_run(con)]))
    check_runs(con, run_ids)
    sides = _sides(con, run_ids, resamples, seed)
    pairs = _candidate_pairs(sides, run_ids, baseline)
    arrays, keys = _side_arrays(con, run_ids, sides)
    matrices, shared, accounting = [], [], []
    for i, j in pairs:
        a, b = arrays[sides[i]["label"]], arrays[sides[j]["label"]]
        either = a["present"] | b["present"]
        both = a["present"] & b["present"]
        failed = both & (a["failed"] | b["failed"])
        ok = both & ~failed
        empty = ok & ((a["ref_words"] <= 0) | (b["ref_words"] <= 0))
        keep = np.flatnonzero(ok & ~empty)
        matrices.append(np.column_stack([a["e"][keep], a["w"][keep], b["e"][keep], b["w"][keep]]))
        shared.append(keep)
        accounting.append((int((either & ~both).sum()), int(failed.sum()), int(empty.sum())))
    results = paired_bootstraps(matrices, options)
    out = []
    for (i, j), m, keep, (missing, failed, empty), res in zip(pairs, matrices, shared, accounting, results,
                                                             strict=True):
        diff = m[:, 2] - m[:, 0]
        worst = np.flatnonzero(diff > 0)
        worst = worst[np.lexsort((keep[worst], -diff[worst]))][:top]
        regressions = _regressions(con, keys, sides[i], sides[j], keep[worst], m[worst, 0], m[worst, 2])
        out.append(PairComparison(
            baseline=sides[i]["label"], model=sides[j]["label"], baseline_wer=res.baseline, model_wer=res.model,
            delta=res.delta, delta_low=res.low, delta_high=res.high, p_value=res.p_value,
            wilcoxon_p=res.wilcoxon_p, sign_p=res.sign_p, n=res.n, better=res.better, worse=res.worse,
            same=res.same, dropped_missing=missing, dropped_error=failed, dropped_empty_reference=empty,
            regressions=regressions))
    return Comparison(run_ids=tuple(run_ids), models=sides, pairs=out, resamples=resamples, seed=seed,
                      confidence=options.confidence)
