"""Paired comparisons of models on the same samples, read from a DuckDB connection (read-only is
enough). Each side's own row comes from :func:`evaluator.results.leaderboard.leaderboard_with_intervals`.

Every sample is compared in its language's primary metric: WER for samples scored by words, CER for
samples of languages written without spaces (scored by characters). A run with both gives each pair
of models one :class:`PairComparison` per metric (``metric``), never one figure that mixes them.
The interval and the p-value come from one rule (:func:`evaluator.scoring.stats.paired_interval_and_p`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from evaluator.errors import ConfigError
from evaluator.results.leaderboard import check_runs, latest_run, leaderboard_with_intervals
from evaluator.scoring.stats import P_VALUE_METHOD, SECOND_TEST, BootstrapOptions, paired_bootstraps

__all__ = ["Comparison", "PairComparison", "Regression", "METRICS", "compare", "model_order"]

# The metrics a pair is compared in, in the order pairs are listed.
METRICS = ("wer", "cer")


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
    """``model`` against ``baseline`` on the samples both scored, in one metric.

    Attributes:
        baseline / model: side labels (``model`` or ``model@run_id`` when several runs).
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
        n: samples compared (present, error-free and with a non-empty reference on both sides).
        better / worse / same: samples with fewer / more / as many errors in ``model``.
        dropped_missing: samples stored on one side only.
        dropped_error: samples present on both sides with an error row on at least one.
        dropped_empty_reference: samples present and error-free on both but with a reference
            that is empty after normalization (no words, or for ``cer`` no characters).
        regressions: the samples with the largest increase in errors, worst first.
    """

    baseline: str
    model: str
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
    regressions: tuple[Regression, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """Every compared pair, with each side's own leaderboard row.

    Attributes:
        run_ids: the runs read, in the order given (the first is the baseline across runs).
        models: per side, in the order the run lists its models: ``label``, ``run_id``, ``model``,
            ``dataset``, ``split``, ``n``, ``scored``, ``metric`` (what the side is ranked by),
            ``wer``, ``wer_low``, ``wer_high``, ``wer_n``, ``cer``, ``cer_low``, ``cer_high``,
            ``cer_n``, ``rtfx`` (fractions; each interval is over all of the side's samples scored
            by that metric).
        pairs: one :class:`PairComparison` per pair and metric.
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


def model_order(con: Any, run_id: str) -> list[str]:
    """The run's models in the order the run was given them (its config's ``models``); models
    the config does not list follow, by name."""
    row = con.execute("SELECT json_extract_string(config, '$.models[*].spec') FROM runs WHERE run_id = ?",
                      [run_id]).fetchone()
    listed = [m for m in (row[0] or []) if m is not None] if row else []
    stored = [m for (m,) in con.execute("SELECT DISTINCT model FROM results WHERE run_id = ? ORDER BY model",
                                        [run_id]).fetchall()]
    return [m for m in listed if m in stored] + [m for m in stored if m not in listed]


def _sides(con: Any, run_ids: list[str], resamples: int, seed: int) -> list[dict[str, Any]]:
    several = len(run_ids) > 1
    sides = []
    for run_id in run_ids:
        columns, rows = leaderboard_with_intervals(con, run_id, resamples=resamples, seed=seed)
        position = {m: i for i, m in enumerate(model_order(con, run_id))}
        for row in sorted(rows, key=lambda r: (position.get(r[0], len(position)), r[0])):
            r = dict(zip(columns, row, strict=True))
            sides.append({
                "label": f"{r['model']}@{run_id}" if several else r["model"], "run_id": run_id,
                **{k: r[k] for k in ("model", "dataset", "split", "n", "scored", "metric", "wer", "wer_low",
                                     "wer_high", "wer_n", "cer", "cer_low", "cer_high", "cer_n", "rtfx")},
            })
    return sides


def _candidate_pairs(sides: list[dict[str, Any]], run_ids: list[str], baseline: str | None) -> list[tuple[int, int]]:
    """(baseline side, model side) index pairs: models of one run against each other, and the
    same model across runs. Without ``baseline``, the model listed first in the run is the
    baseline of a pair of one run, and the earlier-listed run of a pair across runs."""
    run_order = {r: i for i, r in enumerate(run_ids)}
    candidates = []
    for i, a in enumerate(sides):
        for j in range(i + 1, len(sides)):
            b = sides[j]
            if a["run_id"] == b["run_id"] or a["model"] == b["model"]:
                candidates.append((i, j))
    if baseline is None:  # sides are in run order, then in the order each run lists its models
        return candidates
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


_SIDE_COLUMNS = (("present", bool), ("failed", bool), ("by_chars", bool), ("ref_words", np.int64),
                 ("e", np.float64), ("w", np.float64), ("ce", np.float64), ("rc", np.float64))


def _side_arrays(con: Any, run_ids: list[str], sides: list[dict[str, Any]]) -> tuple[dict[str, np.ndarray], Any]:
    """Per side, dense arrays over every sample key of the runs: present, failed, by_chars (scored
    by characters, or an error row in a language written without spaces), ref_words, word errors
    and words, char errors and chars; and the key table (dataset, split, sample_id) by key code."""
    placeholders = ", ".join("?" * len(run_ids))
    keys = con.execute(f"SELECT DISTINCT dataset, split, sample_id FROM results WHERE run_id IN ({placeholders}) "
                       "ORDER BY dataset, split, sample_id", run_ids).fetchnumpy()
    data = con.execute(f"""
        WITH k AS (SELECT dataset, split, sample_id, row_number() OVER (ORDER BY dataset, split, sample_id) - 1 AS key
                   FROM (SELECT DISTINCT dataset, split, sample_id FROM results WHERE run_id IN ({placeholders})))
        SELECT r.run_id, r.model, k.key, r.error IS NOT NULL AS failed,
               CASE WHEN r.error IS NULL THEN r.ref_words IS NULL AND r.ref_chars IS NOT NULL
                    ELSE language_metric(coalesce(r.language, r.detected_language)) = 'cer' END AS by_chars,
               coalesce(r.ref_words, 0) AS ref_words,
               coalesce(r.substitutions + r.deletions + r.insertions, 0)::DOUBLE AS e,
               coalesce(r.substitutions + r.deletions + r.hits, 0)::DOUBLE AS w,
               coalesce(r.char_errors, 0)::DOUBLE AS ce, coalesce(r.ref_chars, 0)::DOUBLE AS rc
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
        arrays = {name: np.zeros(n_keys, dtype=dtype) for name, dtype in _SIDE_COLUMNS}
        idx = key_col[sl]
        arrays["present"][idx] = True
        for name, _ in _SIDE_COLUMNS[1:]:
            arrays[name][idx] = np.asarray(data[name][sl])
        out[side["label"]] = arrays
    return out, keys


def _pair_groups(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, tuple, np.ndarray]]:
    """Per metric with samples: (metric, kept sample keys, (missing, failed, empty), counts matrix
    of baseline errors, baseline units, model errors, model units). A sample is a ``cer`` sample
    when either side scored it by characters (its language is written without spaces)."""
    either = a["present"] | b["present"]
    both = a["present"] & b["present"]
    by_chars = (a["present"] & a["by_chars"]) | (b["present"] & b["by_chars"])
    groups = []
    for metric in METRICS:
        member = either & (by_chars if metric == "cer" else ~by_chars)
        if not member.any() and not (metric == "wer" and not either.any()):
            continue
        failed = member & both & (a["failed"] | b["failed"])
        ok = member & both & ~failed
        err, units = ("ce", "rc") if metric == "cer" else ("e", "w")
        empty = ok & ((a[units] <= 0) | (b[units] <= 0)) if metric == "cer" else \
            ok & ((a["ref_words"] <= 0) | (b["ref_words"] <= 0))
        keep = np.flatnonzero(ok & ~empty)
        matrix = np.column_stack([a[err][keep], a[units][keep], b[err][keep], b[units][keep]])
        groups.append((metric, keep, (int((member & ~both).sum()), int(failed.sum()), int(empty.sum())), matrix))
    return groups


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
    """Paired comparison of every pair of models on the same samples, per metric.

    Pairs are the models of one run against each other and, with several runs, each model
    against itself in the other runs (labels ``model@run_id``). Each pair is compared once per
    metric its samples are scored in (``wer``, and ``cer`` for languages written without spaces),
    on the samples present, error-free and with a non-empty reference on both sides; the rest are
    counted as dropped, by reason.

    Args:
        con: a DuckDB connection to the results database.
        run_ids: runs to read (default: the latest run); across runs the first listed is the
            baseline unless ``baseline`` names a run.
        baseline: a model, a ``model@run_id`` label or a run id: only pairs with a matching
            side, which becomes the baseline. Without it, in one run the model the run lists
            first is the baseline of each pair (see :func:`model_order`).
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
    groups = [((i, j), group) for i, j in pairs
              for group in _pair_groups(arrays[sides[i]["label"]], arrays[sides[j]["label"]])]
    results = paired_bootstraps([g[3] for _, g in groups], options)
    out = []
    for ((i, j), (metric, keep, (missing, failed, empty), m)), res in zip(groups, results, strict=True):
        diff = m[:, 2] - m[:, 0]
        worst = np.flatnonzero(diff > 0)
        worst = worst[np.lexsort((keep[worst], -diff[worst]))][:top]
        regressions = _regressions(con, keys, sides[i], sides[j], keep[worst], m[worst, 0], m[worst, 2])
        out.append(PairComparison(
            baseline=sides[i]["label"], model=sides[j]["label"], metric=metric, baseline_rate=res.baseline,
            model_rate=res.model, delta=res.delta, delta_low=res.low, delta_high=res.high, p_value=res.p_value,
            wilcoxon_p=res.wilcoxon_p, sign_p=res.sign_p, n=res.n, better=res.better, worse=res.worse,
            same=res.same, dropped_missing=missing, dropped_error=failed, dropped_empty_reference=empty,
            regressions=regressions))
    return Comparison(run_ids=tuple(run_ids), models=sides, pairs=out, resamples=resamples, seed=seed,
                      confidence=options.confidence)
