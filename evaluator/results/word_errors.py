"""Error analysis of a stored run: its confusion pairs (what ``word_errors`` stores), the most
frequent ones per model, and the word alignment of one sample for every model. Works on any
DuckDB connection, read-only included (older databases without the ``word_errors`` table get
their pairs computed from stored text). The alignment itself is :mod:`evaluator.scoring.alignment`'s.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from evaluator.errors import ConfigError
from evaluator.scoring.alignment import (
    ERROR_OPS,
    ConfusionKey,
    OpCounts,
    WordOp,
    align,
    confusions,
    count_ops,
)

__all__ = [
    "TopConfusions",
    "ModelAlignment",
    "SampleView",
    "run_models",
    "run_confusions",
    "confusion_table",
    "top_confusions",
    "sample_view",
]

_RUN_ROWS_SQL = """
SELECT model, reference_norm, hypothesis_norm FROM results
WHERE run_id = ? AND error IS NULL AND ref_words IS NOT NULL AND (? IS NULL OR model = ?)
"""


def run_confusions(con: Any, run_id: str, model: str | None = None,
                   batch: int = 10_000) -> Counter[ConfusionKey]:
    """Confusion pairs of a stored run (every error-free row scored by words, optionally of one model), from
    its stored normalized text, read in batches on ``con`` (a DuckDB connection, read-only
    or not)."""
    cur = con.execute(_RUN_ROWS_SQL, [run_id, model, model])
    counts: Counter[ConfusionKey] = Counter()
    while rows := cur.fetchmany(batch):
        counts.update(confusions(rows))
    return counts


def confusion_table(run_id: str, counts: Counter[ConfusionKey]) -> Any:
    """Confusion counts as a pyarrow table with the columns of ``word_errors``."""
    import pyarrow as pa

    keys = list(counts)
    return pa.table({
        "run_id": pa.array([run_id] * len(keys), pa.string()),
        "model": pa.array([k[0] for k in keys], pa.string()),
        "op": pa.array([k[1] for k in keys], pa.string()),
        "ref_word": pa.array([k[2] for k in keys], pa.string()),
        "hyp_word": pa.array([k[3] for k in keys], pa.string()),
        "count": pa.array([counts[k] for k in keys], pa.int64()),
    })

_RANKED_SQL = """
SELECT model, rank, op, ref_word, hyp_word, count, round(100 * share, 2) AS "share_%"
FROM (
    SELECT model, op, ref_word, hyp_word, count,
           count / sum(count) OVER (PARTITION BY model) AS share,
           row_number() OVER (PARTITION BY model ORDER BY count DESC, op, ref_word, hyp_word) AS rank
    FROM {source}
    WHERE run_id = ? AND (? IS NULL OR model = ?) AND (? IS NULL OR op = ?)
)
WHERE rank <= ?
ORDER BY model, rank
"""


@dataclass(frozen=True)
class TopConfusions:
    """The most frequent confusion pairs of a run, per model.

    Attributes:
        columns: model, rank, op, ref_word, hyp_word, count, ``share_%`` (of the model's
            errors of the kinds shown).
        rows: one per pair, by model then rank.
        source: ``table`` (read from ``word_errors``) or ``computed`` (aligned now from the
            stored normalized text: the run has no rows in ``word_errors``).
    """

    columns: list[str]
    rows: list[tuple[Any, ...]]
    source: str


@dataclass(frozen=True)
class ModelAlignment:
    """One model's transcript of a sample, aligned to the reference.

    Attributes:
        model: the model spec.
        hypothesis: the raw transcript (None on an error row).
        error: the row's error, if the sample failed (then ``ops`` is empty).
        ops: the word alignment of the normalized texts.
        counts: hits, substitutions, deletions, insertions of ``ops``.
        stored: the counts the row stores (None on an error row); equal to ``counts``.
    """

    model: str
    hypothesis: str | None
    error: str | None
    ops: list[WordOp]
    counts: OpCounts
    stored: OpCounts | None


@dataclass(frozen=True)
class SampleView:
    """A sample of a run with every model's aligned transcript."""

    run_id: str
    sample_id: str
    dataset: str
    split: str
    audio_seconds: float | None
    reference: str | None
    reference_norm: str
    models: list[ModelAlignment]


def run_models(con: Any, run_id: str) -> list[str]:
    """The models with results in a run."""
    return [m for (m,) in con.execute(
        "SELECT DISTINCT model FROM results WHERE run_id = ? ORDER BY model", [run_id]).fetchall()]


def _check_model(con: Any, run_id: str, model: str | None) -> None:
    if model is None:
        return
    models = run_models(con, run_id)
    if model not in models:
        raise ConfigError(f"model {model!r} has no results in run {run_id}; valid: {', '.join(models) or 'none'}")


def _has_table_rows(con: Any, run_id: str) -> bool:
    import duckdb

    try:
        (n,) = con.execute("SELECT count(*) FROM word_errors WHERE run_id = ?", [run_id]).fetchone()
    except duckdb.CatalogException:  # a database made before migration 005
        return False
    return n > 0


def top_confusions(con: Any, run_id: str, *, model: str | None = None, op: str | None = None,
                   top: int = 10) -> TopConfusions:
    """The ``top`` most frequent confusion pairs per model (optionally of one model and one
    operation) from ``word_errors``, or computed from the stored text when the run has no rows
    there."""
    if op is not None and op not in ERROR_OPS:
        raise ConfigError(f"unknown operation {op!r}; valid: {', '.join(ERROR_OPS)}")
    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    _check_model(con, run_id, model)
    params = [run_id, model, model, op, op, top]
    if _has_table_rows(con, run_id):
        cur = con.execute(_RANKED_SQL.format(source="word_errors"), params)
        return TopConfusions([d[0] for d in cur.description], cur.fetchall(), "table")
    batch = confusion_table(run_id, run_confusions(con, run_id, model))
    con.register("_computed_word_errors", batch)
    try:
        cur = con.execute(_RANKED_SQL.format(source="_computed_word_errors"), params)
        return TopConfusions([d[0] for d in cur.description], cur.fetchall(), "computed")
    finally:
        con.unregister("_computed_word_errors")


_SAMPLE_SQL = """
SELECT model, dataset, split, audio_seconds, reference, reference_norm, hypothesis, hypothesis_norm,
       error, hits, substitutions, deletions, insertions
FROM results
WHERE run_id = ? AND sample_id = ? AND (? IS NULL OR model = ?) AND (? IS NULL OR dataset = ?)
ORDER BY model
"""


def sample_view(con: Any, run_id: str, sample_id: str, model: str | None = None,
                dataset: str | None = None) -> SampleView:
    """A sample's reference and every model's hypothesis (or one model's), aligned. Samples are
    keyed by (dataset, id): an id found in several datasets of the run needs ``dataset`` (the
    error lists them). An unknown sample id fails with the number of samples in the run and a
    few of their ids."""
    _check_model(con, run_id, model)
    found = [d for (d,) in con.execute("SELECT DISTINCT dataset FROM results WHERE run_id = ? AND sample_id = ? "
                                       "ORDER BY dataset", [run_id, sample_id]).fetchall()]
    if dataset is not None and dataset not in found:
        known = [d for (d,) in con.execute("SELECT DISTINCT dataset FROM results WHERE run_id = ? ORDER BY dataset",
                                           [run_id]).fetchall()]
        if dataset not in known:
            raise ConfigError(f"dataset {dataset!r} is not in run {run_id}; its datasets: {', '.join(known)}")
        if found:
            raise ConfigError(f"sample {sample_id!r} is not in dataset {dataset!r} of run {run_id}; it is in "
                              f"{', '.join(found)}")
    if dataset is None and len(found) > 1:
        raise ConfigError(f"sample {sample_id!r} is in {len(found)} datasets of run {run_id}: {', '.join(found)}; "
                          "choose one with --dataset NAME")
    rows = con.execute(_SAMPLE_SQL, [run_id, sample_id, model, model, dataset, dataset]).fetchall()
    if not rows:
        (n,) = con.execute("SELECT count(DISTINCT sample_id) FROM results WHERE run_id = ?", [run_id]).fetchone()
        ids = [i for (i,) in con.execute(
            "SELECT sample_id FROM results WHERE run_id = ? GROUP BY sample_id "
            "ORDER BY min(sample_index) NULLS LAST, sample_id LIMIT 8", [run_id]).fetchall()]
        more = ", ..." if n > len(ids) else ""
        raise ConfigError(f"sample {sample_id!r} is not in run {run_id}, which has {n} samples"
                          + (f" (ids: {', '.join(ids)}{more})" if ids else ""))
    models = []
    for m, _, _, _, _, ref_norm, hyp, hyp_norm, error, hits, subs, dels, ins in rows:
        ops = [] if error is not None else align(ref_norm or "", hyp_norm or "")
        stored = None if error is not None or hits is None else OpCounts(hits, subs, dels, ins)
        models.append(ModelAlignment(m, hyp, error, ops, count_ops(ops), stored))
    first = rows[0]
    return SampleView(run_id, sample_id, first[1], first[2], first[3], first[4], first[5] or "", models)
