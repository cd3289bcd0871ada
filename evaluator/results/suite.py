"""Suite results: a run over several datasets, per model and dataset and over the whole suite.

Per dataset the figure is its corpus WER, or its CER when its languages are written without
spaces (:data:`~evaluator.scoring.languages.SPACELESS`). Over the suite:

- ``average``: the unweighted mean of the per-dataset figures, as the Open ASR Leaderboard ranks
  models (each dataset counts once, whatever its size); only when the model has a figure on
  every dataset of the run;
- ``pooled``: one corpus WER over the rows of all datasets (large datasets weigh more);
- ``rtfx``: audio seconds over inference seconds, over every error-free row of the suite.

Intervals are 95% percentile bootstraps that resample whole utterances *within* each dataset
(stratified by dataset), so each resample keeps every dataset's size. A comparison of two models
resamples the same utterances for both (paired). Point estimates equal the ``suite_leaderboard``
view's (``views.sql``) and, per dataset, the ``leaderboard`` view's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluator.scoring.languages import SPACELESS

__all__ = ["SuiteCell", "SuiteModel", "SuiteDelta", "run_datasets", "is_suite", "suite_results", "matrix_rows",
           "suite_compare", "suite_table"]

_ROWS_SQL = """
SELECT model, dataset, split, language,
       CASE WHEN error IS NULL AND ref_words > 0 THEN substitutions + deletions + insertions END AS werr,
       CASE WHEN error IS NULL AND ref_words > 0 THEN substitutions + deletions + hits END AS words,
       CASE WHEN error IS NULL AND ref_chars > 0 THEN char_errors END AS cerr,
       CASE WHEN error IS NULL AND ref_chars > 0 THEN ref_chars END AS chars,
       error IS NOT NULL AS failed, sample_id
FROM results WHERE run_id = ? ORDER BY model, dataset, sample_id"""


@dataclass(frozen=True)
class SuiteCell:
    """One model on one dataset (a row of the report's matrix).

    Attributes:
        metric: ``wer`` or ``cer`` (the dataset's languages are written without spaces).
        estimate / low / high: the corpus figure and its 95% interval (fractions, not percent).
        n: utterances scored.
    """

    model: str
    dataset: str
    split: str
    metric: str
    estimate: float | None
    low: float | None
    high: float | None
    n: int


@dataclass(frozen=True)
class SuiteModel:
    """One model over the suite: its cells, the average and pooled figures with intervals.

    Attributes:
        average / average_low / average_high: the mean of the per-dataset figures (``None``
            when a dataset has no figure for this model).
        pooled / pooled_low / pooled_high: corpus WER over all the suite's word-scored rows.
        rtfx: over every error-free row; ``scored`` / ``errors``: rows over the suite.
        partial: some planned samples have no row, or some rows are errors (see ``leaderboard``).
    """

    model: str
    cells: tuple[SuiteCell, ...]
    average: float | None
    average_low: float | None
    average_high: float | None
    pooled: float | None
    pooled_low: float | None
    pooled_high: float | None
    rtfx: float | None
    scored: int
    errors: int
    partial: bool


@dataclass(frozen=True)
class SuiteDelta:
    """``model`` minus ``baseline`` on one dataset, or over the suite (``dataset``: ``average`` /
    ``pooled``): figures, the difference and its paired 95% interval, and the share of resamples
    in which the model is not better (a one-sided bootstrap p-value)."""

    dataset: str
    metric: str
    baseline: float | None
    model: float | None
    delta: float | None
    low: float | None
    high: float | None
    p_not_better: float | None
    n: int


def run_datasets(con: Any, run_id: str) -> list[str]:
    """The run's dataset names, in the order of its config (then any other stored ones)."""
    row = con.execute("SELECT config FROM runs WHERE run_id = ?", [run_id]).fetchone()
    names: list[str] = []
    if row and row[0]:
        config = json.loads(row[0])
        for d in config.get("datasets") or [config.get("dataset") or {}]:
            names.append(d.get("name") or d.get("source") or "builtin:sample")
    stored = [r[0] for r in con.execute(
        "SELECT DISTINCT dataset FROM results WHERE run_id = ? UNION SELECT DISTINCT dataset FROM run_models "
        "WHERE run_id = ? ORDER BY 1", [run_id, run_id]).fetchall()]
    return [n for n in names if n in stored] + [n for n in stored if n not in names]


def is_suite(con: Any, run_id: str) -> bool:
    """Whether the run evaluated more than one dataset."""
    return len(run_datasets(con, run_id)) > 1


def _arrays(con: Any, run_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (model, dataset): the scored rows' error/word counts, by sample id, and its metric."""
    groups: dict[tuple[str, str], list[tuple]] = {}
    for row in con.execute(_ROWS_SQL, [run_id]).fetchall():
        groups.setdefault((row[0], row[1]), []).append(row)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, rows in groups.items():
        languages = {r[3] for r in rows if r[3] is not None}
        metric = "cer" if languages and languages <= SPACELESS else "wer"
        num, den = (6, 7) if metric == "cer" else (4, 5)
        scored = [r for r in rows if r[den] is not None]
        out[key] = {
            "split": rows[0][2], "metric": metric, "ids": [r[9] for r in scored],
            "num": np.array([r[num] for r in scored], dtype=float),
            "den": np.array([r[den] for r in scored], dtype=float),
            "werr": np.array([r[4] or 0 for r in rows], dtype=float),
            "words": np.array([r[5] or 0 for r in rows], dtype=float),
        }
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> float | None:
    total = float(den.sum())
    return float(num.sum()) / total if total > 0 else None


def _weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of ``n`` utterances is drawn in each resample (``resamples`` x ``n``)."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float) if n else np.zeros((resamples, 0))


def _ci(draws: np.ndarray) -> tuple[float | None, float | None]:
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return None, None
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def suite_results(con: Any, run_id: str, resamples: int = 1000, seed: int = 0) -> list[SuiteModel]:
    """Every model of the run over its datasets (see the module docstring), in the order of
    the run's models, complete models first."""
    datasets = run_datasets(con, run_id)
    arrays = _arrays(con, run_id)
    board = {(r[0], r[1]): r[2:] for r in con.execute(
        "SELECT model, dataset, partial, scored, errors FROM leaderboard WHERE run_id = ?", [run_id]).fetchall()}
    speed = dict(con.execute(
        "SELECT model, sum(audio_seconds) FILTER (WHERE error IS NULL) / nullif(sum(inference_seconds) "
        "FILTER (WHERE error IS NULL), 0) FROM results WHERE run_id = ? GROUP BY model", [run_id]).fetchall())
    models = list(dict.fromkeys([m for m, _ in board] + [m for m, _ in arrays]))
    out = []
    for model in models:
        rng = np.random.default_rng(seed)
        cells, figures, draws_each = [], [], []
        pooled_num, pooled_den = np.zeros(resamples), np.zeros(resamples)
        for name in datasets:
            a = arrays.get((model, name))
            if a is None:
                cells.append(SuiteCell(model, name, "", "wer", None, None, None, 0))
                figures.append(None)
                continue
            w = _weights(len(a["num"]), resamples, rng)
            with np.errstate(invalid="ignore", divide="ignore"):
                draws = (w @ a["num"]) / (w @ a["den"])
            estimate = _ratio(a["num"], a["den"])
            low, high = _ci(draws)
            cells.append(SuiteCell(model, name, a["split"], a["metric"], estimate, low, high, len(a["num"])))
            figures.append(estimate)
            draws_each.append(draws)
            wp = _weights(len(a["werr"]), resamples, rng)
            pooled_num += wp @ a["werr"]
            pooled_den += wp @ a["words"]
        complete = all(f is not None for f in figures) and bool(figures)
        average = float(np.mean(figures)) if complete else None  # type: ignore[arg-type]
        avg_low, avg_high = _ci(np.mean(draws_each, axis=0)) if complete else (None, None)
        werr = np.concatenate([a["werr"] for (m, _), a in arrays.items() if m == model] or [np.zeros(0)])
        words = np.concatenate([a["words"] for (m, _), a in arrays.items() if m == model] or [np.zeros(0)])
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled_low, pooled_high = _ci(pooled_num / pooled_den)
        rows = [board.get((model, name)) for name in datasets]
        out.append(SuiteModel(
            model, tuple(cells), average, avg_low, avg_high, _ratio(werr, words), pooled_low, pooled_high,
            speed.get(model), sum(r[1] for r in rows if r), sum(r[2] for r in rows if r),
            any(r is None or r[0] for r in rows)))
    out.sort(key=lambda m: m.partial)
    return out


def matrix_rows(con: Any, run_id: str, resamples: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """The model x dataset matrix for the report: one dict per cell with ``model``, ``dataset``,
    ``metric`` (``wer``/``cer``), ``estimate``, ``low``, ``high`` (fractions; ``None`` where the
    model has no scored row there), plus a row per model with ``dataset`` ``average`` and one with
    ``pooled``, in the run's model and dataset order."""
    out = []
    for m in suite_results(con, run_id, resamples, seed):
        out += [{"model": c.model, "dataset": c.dataset, "metric": c.metric, "estimate": c.estimate,
                 "low": c.low, "high": c.high} for c in m.cells]
        metrics = {c.metric for c in m.cells}
        out.append({"model": m.model, "dataset": "average", "metric": metrics.pop() if len(metrics) == 1 else "mixed",
                    "estimate": m.average, "low": m.average_low, "high": m.average_high})
        out.append({"model": m.model, "dataset": "pooled", "metric": "wer", "estimate": m.pooled,
                    "low": m.pooled_low, "high": m.pooled_high})
    return out


def suite_compare(con: Any, run_id: str, baseline: str, model: str, resamples: int = 1000,
                  seed: int = 0) -> list[SuiteDelta]:
    """``model`` against ``baseline`` on each dataset and over the suite (``average``,
    ``pooled``): a paired bootstrap over the utterances both scored, stratified by dataset (the
    same utterances drawn for both models, within each dataset)."""
    arrays = _arrays(con, run_id)
    rng = np.random.default_rng(seed)
    out: list[SuiteDelta] = []
    diffs, base_figs, model_figs = [], [], []
    pooled: dict[str, np.ndarray] = {k: np.zeros(resamples) for k in ("bn", "bd", "mn", "md")}
    pooled_point = np.zeros(4)
    for name in run_datasets(con, run_id):
        a, b = arrays.get((baseline, name)), arrays.get((model, name))
        if a is None or b is None:
            continue
        shared = sorted(set(a["ids"]) & set(b["ids"]))
        ia = np.array([a["ids"].index(i) for i in shared], dtype=int)
        ib = np.array([b["ids"].index(i) for i in shared], dtype=int)
        an, ad, bn, bd = a["num"][ia], a["den"][ia], b["num"][ib], b["den"][ib]
        w = _weights(len(shared), resamples, rng)
        with np.errstate(invalid="ignore", divide="ignore"):
            da, db = (w @ an) / (w @ ad), (w @ bn) / (w @ bd)
        out.append(_delta(name, a["metric"], _ratio(an, ad), _ratio(bn, bd), db - da, len(shared)))
        diffs.append(db - da)
        base_figs.append(_ratio(an, ad))
        model_figs.append(_ratio(bn, bd))
        if a["metric"] == "wer":
            for key, arr in (("bn", an), ("bd", ad), ("mn", bn), ("md", bd)):
                pooled[key] += w @ arr
            pooled_point += [an.sum(), ad.sum(), bn.sum(), bd.sum()]
    if diffs and all(f is not None for f in base_figs + model_figs):
        metrics = {d.metric for d in out}
        out.append(_delta("average", metrics.pop() if len(metrics) == 1 else "mixed", float(np.mean(base_figs)),
                          float(np.mean(model_figs)), np.mean(diffs, axis=0), sum(d.n for d in out)))
    if pooled_point[1] > 0 and pooled_point[3] > 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            draws = pooled["mn"] / pooled["md"] - pooled["bn"] / pooled["bd"]
        out.append(_delta("pooled", "wer", pooled_point[0] / pooled_point[1], pooled_point[2] / pooled_point[3],
                          draws, sum(d.n for d in out if d.dataset not in ("average",))))
    return out


def _delta(name: str, metric: str, base: float | None, model: float | None, draws: np.ndarray, n: int) -> SuiteDelta:
    low, high = _ci(draws)
    finite = draws[np.isfinite(draws)]
    p = float(np.mean(finite >= 0)) if len(finite) else None
    delta = None if base is None or model is None else model - base
    return SuiteDelta(name, metric, base, model, delta, low, high, p, n)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def _cell(estimate: float | None, low: float | None, high: float | None) -> str | None:
    if estimate is None:
        return None
    if low is None or high is None:
        return f"{100 * estimate:.2f}"
    return f"{100 * estimate:.2f} [{100 * low:.1f}, {100 * high:.1f}]"


def suite_table(models: Sequence[SuiteModel], compact: bool = True) -> tuple[list[str], list[tuple]]:
    """The wide table: per model, each dataset's figure (percent) with its 95% interval, then
    the average, the pooled WER and RTFx over the suite. ``compact``: each figure and its
    interval in one text cell (``5.21 [4.8, 5.6]``, for a terminal); else three number columns."""
    if not models:
        return [], []
    names = [(c.dataset, c.metric) for c in models[0].cells]
    figures = [(f"{d} {m}", "") for d, m in names] + [("average", ""), ("pooled wer", "")]
    if compact:
        head = [f"{f} %" for f, _ in figures]
    else:
        head = [f"{f.replace(' ', '_')}{suffix}" for f, _ in figures for suffix in ("_%", "_low", "_high")]
    columns = ["model", *head, "rtfx", "scored", "errors", "partial"]
    rows = []
    for m in models:
        triples = [(c.estimate, c.low, c.high) for c in m.cells]
        triples += [(m.average, m.average_low, m.average_high), (m.pooled, m.pooled_low, m.pooled_high)]
        cells: list[Any] = ([_cell(*t) for t in triples] if compact
                            else [_percent(v) for t in triples for v in t])
        rows.append((m.model, *cells, None if m.rtfx is None else round(m.rtfx, 1), m.scored, m.errors, m.partial))
    return columns, rows
