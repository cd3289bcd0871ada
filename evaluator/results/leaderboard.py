"""Leaderboards with bootstrap intervals and per-group breakdowns, read from a DuckDB connection
(read-only is enough).

Rows are scored as the ``leaderboard`` view scores them (evaluator/results/views.sql): corpus WER over
error-free rows scored by words with a non-empty reference, CER over every error-free row with a
non-empty reference (languages written without spaces are scored by characters only). The point
estimates here equal the view's; the intervals come from :mod:`evaluator.scoring.stats`, each over
the rows its metric scores (a row of Chinese never enters a WER interval).

Ranking: each row carries ``metric``, the primary metric of what it covers, and rows are ranked by
it: ``wer`` when any of the rows is scored by words (a spaced language is present), ``cer`` for
rows of languages written without spaces only (see :func:`ranking_note`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from evaluator.errors import ConfigError
from evaluator.scoring.stats import BootstrapOptions, RatioInterval, group_ratio_intervals

__all__ = [
    "BUCKET_SQL",
    "NOT_TRANSCRIBABLE_SQL",
    "LEADERBOARD_COLUMNS",
    "check_runs",
    "group_accounting",
    "group_choices",
    "ranking_note",
    "latest_run",
    "leaderboard_with_intervals",
    "interval_records",
]

# The duration bucket of a row: the `duration_bucket` macro of evaluator/results/views.sql.
BUCKET_SQL = "duration_bucket(audio_seconds)"

# Groupings that are not metadata keys.
BUILTIN_GROUPS = ("language", "bucket")

# A row of a sample in a language its model does not transcribe (English-only tiny.en on a Spanish
# clip): stored with the model's LanguageError, it is "not transcribable", neither scored nor
# counted as an error. The test is the `not_transcribable` macro of evaluator/results/views.sql.
NOT_TRANSCRIBABLE_SQL = "not_transcribable(error)"
# A failed sample: an error row that is not a language the model does not transcribe.
_FAILED = f"error IS NOT NULL AND NOT {NOT_TRANSCRIBABLE_SQL}"

# What `leaderboard_with_intervals` returns, in order ("group" only when `by` is given).
LEADERBOARD_COLUMNS = (
    "model", "dataset", "split", "group", "n", "errors", "not_transcribable", "empty_refs", "scored", "wer", "wer_low",
    "wer_high", "cer", "cer_low", "cer_high", "rtfx", "audio_hours", "completion_ratio", "truncated", "looping",
    "skipped", "metric", "wer_n", "cer_n",
)

# A group's primary metric: WER when any of its error-free rows is scored by words; with no
# error-free row, from the languages (views.sql's `language_metric`); else WER.
_METRIC_SQL = ("CASE WHEN coalesce(bool_or(ref_words IS NOT NULL) FILTER (WHERE error IS NULL), "
               "bool_or(language_metric(coalesce(language, detected_language)) = 'wer'), true) "
               "THEN 'wer' ELSE 'cer' END")

_SCORED = "error IS NULL AND ref_words > 0"
# Rows CER is computed over: every language, also those written without spaces (scored by
# characters only: NULL word counts, no WER; see evaluator.scoring.metrics).
_CHARS = "error IS NULL AND ref_chars > 0"


def latest_run(con: Any) -> str:
    """The most recently started run's id."""
    row = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    if row is None:
        raise ConfigError("the database holds no runs yet; run `evaluator run` first")
    return str(row[0])


def check_runs(con: Any, run_ids: list[str]) -> None:
    known = [r for (r,) in con.execute("SELECT DISTINCT run_id FROM results ORDER BY run_id").fetchall()]
    missing = [r for r in run_ids if r not in known]
    if missing:
        raise ConfigError(f"no results for run {', '.join(map(repr, missing))}; runs with results: "
                          f"{', '.join(known) or '(none)'}")


def group_choices(con: Any, run_id: str) -> list[str]:
    """Valid ``by`` values for a run: ``language``, ``bucket`` and the run's metadata keys."""
    keys = con.execute(
        "SELECT DISTINCT unnest(json_keys(metadata)) AS k FROM results "
        "WHERE run_id = ? AND metadata IS NOT NULL ORDER BY k", [run_id]).fetchall()
    return [*BUILTIN_GROUPS, *(k for (k,) in keys if k not in BUILTIN_GROUPS)]


def _group_sql(con: Any, run_id: str, by: str | None) -> tuple[str, list[Any]]:
    """SQL expression (and its parameters) of the grouping value."""
    if by is None:
        return "NULL::VARCHAR", []
    if by == "language":
        return "language_group(language)", []
    if by == "bucket":
        return BUCKET_SQL, []
    choices = group_choices(con, run_id)
    if by not in choices:
        raise ConfigError(f"cannot group run {run_id!r} by {by!r}; choose one of: {', '.join(choices)}")
    return "json_extract_string(metadata, ?)", ['$."' + by.replace('"', '\\"') + '"']


def _rows_sql(expr: str, ranked: Sequence[tuple[str, str, str]] | None) -> str:
    """The run's rows (``r``, with their group value ``grp``): every row, or with ``ranked``, the
    rows of those (model, dataset, split) only where the sample is one every ranked model of its
    dataset and split scored (error-free), and every row of the other models."""
    if ranked is None:
        return f"WITH r AS (SELECT *, {expr} AS grp FROM results WHERE run_id = ?), "
    return f"""WITH ranked AS (SELECT unnest(?::VARCHAR[]) AS model, unnest(?::VARCHAR[]) AS dataset,
                                  unnest(?::VARCHAR[]) AS split, true AS is_ranked),
        common AS (SELECT x.dataset, x.split, x.sample_id, true AS is_common
                   FROM results x JOIN ranked k USING (model, dataset, split)
                   WHERE x.run_id = ? GROUP BY x.dataset, x.split, x.sample_id
                   HAVING count(*) FILTER (WHERE x.error IS NULL) = (SELECT count(*) FROM ranked k2
                       WHERE k2.dataset = x.dataset AND k2.split = x.split)),
        kept AS (SELECT x.* FROM results x LEFT JOIN ranked k USING (model, dataset, split)
                 LEFT JOIN common c USING (dataset, split, sample_id)
                 WHERE x.run_id = ? AND (k.is_ranked IS NULL OR c.is_common)),
        r AS (SELECT *, {expr} AS grp FROM kept), """


def _grouped_counts(con: Any, run_id: str, by: str | None, ranked: Sequence[tuple[str, str, str]] | None = None,
                    ) -> tuple[list[str], list[tuple], list[np.ndarray]]:
    """Aggregates per (model, dataset, split, group) and, per group, the scored rows' counts
    (errors, words, char errors, chars, scored-by-words flag), ordered by sample id; with
    ``ranked``, see :func:`_rows_sql`."""
    expr, params = _group_sql(con, run_id, by)
    base = (_rows_sql(expr, ranked)
            + "g AS (SELECT *, dense_rank() OVER (ORDER BY model, dataset, split, grp NULLS LAST) - 1 AS gid FROM r) ")
    if ranked is None:
        args = [*params, run_id]
    else:
        args = [[k[0] for k in ranked], [k[1] for k in ranked], [k[2] for k in ranked], run_id, run_id, *params]
    cur = con.execute(base + f"""
        SELECT gid, model, dataset, split, grp AS "group", count(*) AS n,
            count(*) FILTER (WHERE {_FAILED}) AS errors,
            count(*) FILTER (WHERE {NOT_TRANSCRIBABLE_SQL}) AS not_transcribable,
            count(*) FILTER (WHERE error IS NULL AND ref_chars = 0) AS empty_refs,
            count(*) FILTER (WHERE {_CHARS}) AS scored,
            sum(substitutions + deletions + insertions) FILTER (WHERE {_SCORED})
                / nullif(sum(substitutions + deletions + hits) FILTER (WHERE {_SCORED}), 0) AS wer,
            sum(char_errors) FILTER (WHERE {_CHARS}) / nullif(sum(ref_chars) FILTER (WHERE {_CHARS}), 0) AS cer,
            sum(audio_seconds) FILTER (WHERE error IS NULL)
                / nullif(sum(inference_seconds) FILTER (WHERE error IS NULL), 0) AS rtfx,
            sum(audio_seconds) FILTER (WHERE error IS NULL) / 3600.0 AS audio_hours,
            sum(hyp_words) FILTER (WHERE {_SCORED}) / nullif(sum(ref_words) FILTER (WHERE {_SCORED}), 0)
                AS completion_ratio,
            count(*) FILTER (WHERE truncated) AS truncated,
            count(*) FILTER (WHERE looping) AS looping,
            count(*) FILTER (WHERE skipped) AS skipped,
            {_METRIC_SQL} AS metric,
            count(*) FILTER (WHERE {_SCORED}) AS wer_n,
            count(*) FILTER (WHERE {_CHARS}) AS cer_n
        FROM g GROUP BY gid, model, dataset, split, grp ORDER BY gid""", args)
    columns = [d[0] for d in cur.description][1:]
    aggregates = cur.fetchall()
    arrays = con.execute(base + f"""
        SELECT gid, coalesce(substitutions + deletions + insertions, 0)::DOUBLE AS e,
            coalesce(substitutions + deletions + hits, 0)::DOUBLE AS w, coalesce(char_errors, 0)::DOUBLE AS ce,
            coalesce(ref_chars, 0)::DOUBLE AS rc, coalesce(ref_words > 0, false)::DOUBLE AS by_words
        FROM g WHERE {_CHARS} ORDER BY gid, sample_id""", args).fetchnumpy()
    gid = np.asarray(arrays["gid"], dtype=np.int64)
    counts = np.column_stack([np.asarray(arrays[c], dtype=np.float64) for c in ("e", "w", "ce", "rc", "by_words")])
    bounds = np.searchsorted(gid, np.arange(len(aggregates) + 1))
    groups = [counts[bounds[i]:bounds[i + 1]] for i in range(len(aggregates))]
    return columns, [tuple(a[1:]) for a in aggregates], groups


def group_accounting(con: Any, run_id: str, by: str | None = None) -> dict[tuple, dict[str, int]]:
    """Per (model, dataset, split, group value; None without ``by``): the counts of its own rows,
    ``n``, ``errors``, ``not_transcribable``, ``empty_refs`` and ``scored`` (as
    :func:`leaderboard_with_intervals` counts them, without intervals)."""
    columns, aggregates, _ = _grouped_counts(con, run_id, by)
    out = {}
    for agg in aggregates:
        r = dict(zip(columns, agg, strict=True))
        out[(r["model"], r["dataset"], r["split"], r["group"])] = {
            k: r[k] for k in ("n", "errors", "not_transcribable", "empty_refs", "scored")}
    return out


def leaderboard_with_intervals(con: Any, run_id: str, by: str | None = None, resamples: int = 1000,
                               seed: int = 0, *, cer_intervals: bool = True,
                               ranked: Sequence[tuple[str, str, str]] | None = None) -> tuple[list[str], list[tuple]]:
    """Corpus WER and CER with 95% bootstrap intervals per (model, dataset, split[, group]).

    Args:
        con: a DuckDB connection to the results database.
        run_id: the run.
        by: None for one row per model; ``language``, ``bucket`` (the duration bucket of the
            ``buckets`` view) or a metadata key for one row per model and group value.
        resamples / seed: the bootstrap's (see :class:`evaluator.scoring.stats.BootstrapOptions`).
        cer_intervals: False leaves ``cer_low``/``cer_high`` None (CER's character counts take
            many distinct values, so its intervals cost more than WER's).
        ranked: (model, dataset, split) triples ranked together (see
            :mod:`evaluator.results.ranking`): their figures cover only the samples every one of
            them of the same dataset and split scored; other models' figures cover their own rows.

    Returns:
        ``(columns, rows)``; columns are :data:`LEADERBOARD_COLUMNS` (without ``group`` when
        ``by`` is None). ``n`` counts every row, ``errors`` the failed ones,
        ``not_transcribable`` those in a language the model does not transcribe (see
        :data:`NOT_TRANSCRIBABLE_SQL`), ``scored`` the rows with a non-empty reference,
        ``wer_n`` those scored by words (WER and its interval are over them), ``cer_n`` those CER
        is over (all scored rows: languages written without spaces have no WER); ``wer`` and
        ``cer`` equal the ``leaderboard`` view's. ``metric`` is what the row is ranked by (the
        same for every model of a dataset, split and group: ``wer`` if any of their rows is scored
        by words, else ``cer``). Rows are sorted by it, best first (by dataset, split and group
        first when grouped). Fractions, not percent.
    """
    options = BootstrapOptions(resamples=resamples, seed=seed)
    check_runs(con, [run_id])
    columns, aggregates, groups = _grouped_counts(con, run_id, by, ranked)
    # WER and CER apart: each (errors, words) matrix alone has few distinct rows (fast path); WER
    # over the rows scored by words only
    wer = group_ratio_intervals([g[g[:, 4] > 0, :2] for g in groups], ((0, 1),), options)
    cer = group_ratio_intervals([g[:, 2:4] for g in groups] if cer_intervals else [], ((0, 1),), options)
    none = (None,) * 7
    intervals = [(w[0], cer[i][0] if cer_intervals else RatioInterval(*none)) for i, w in enumerate(wer)]
    out_columns = [c for c in LEADERBOARD_COLUMNS if by is not None or c != "group"]
    rows = []
    for agg, (wer_i, cer_i) in zip(aggregates, intervals, strict=True):
        record = dict(zip(columns, agg, strict=True))
        record.update(wer_low=wer_i.low, wer_high=wer_i.high, cer_low=cer_i.low, cer_high=cer_i.high)
        rows.append(tuple(record[c] for c in out_columns))

    # One ranking metric per (dataset, split, group): WER if any model's rows there are scored by words.
    metric_at = out_columns.index("metric")
    place = [(r[out_columns.index("dataset")], r[out_columns.index("split")],
              r[out_columns.index("group")] if by is not None else None) for r in rows]
    ranked_by: dict[tuple, str] = {}
    for key, row in zip(place, rows, strict=True):
        ranked_by[key] = "wer" if row[metric_at] == "wer" or ranked_by.get(key) == "wer" else "cer"
    rows = [(*row[:metric_at], ranked_by[key], *row[metric_at + 1:]) for key, row in zip(place, rows, strict=True)]

    def order(row: tuple) -> tuple:
        r = dict(zip(out_columns, row, strict=True))
        group = () if by is None else (r["dataset"], r["split"], r["group"] is None, str(r["group"]))
        value = r[r["metric"]]
        return (*group, value is None, value or 0.0, r["model"])

    return out_columns, sorted(rows, key=order)


def ranking_note(columns: list[str], rows: list[tuple]) -> str:
    """What the rows are ranked by, for a footnote: ``ranked by WER``, ``ranked by CER`` or, for
    groups ranked apart, ``ranked by WER (by CER: zh, ja)``."""
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    metrics = {r["metric"] for r in records}
    if len(metrics) <= 1:
        return f"ranked by {(metrics.pop() if metrics else 'wer').upper()}"
    by_cer = sorted({str(r.get("group")) for r in records if r["metric"] == "cer"})
    return f"ranked by WER (by CER: {', '.join(by_cer)})"


def interval_records(con: Any, run_id: str, *, resamples: int = 1000, seed: int = 0,
                     max_groups: int = 100) -> list[dict[str, Any]]:
    """Rows for the ``intervals`` table: WER and CER per model overall (``group_by`` NULL), per
    language, per duration bucket and per metadata key with at most ``max_groups`` values. ``n``
    counts the samples the metric scored (for WER, those scored by words)."""
    keys = group_choices(con, run_id)
    computed_at = datetime.now(UTC).replace(tzinfo=None)
    records = []
    for by in [None, *keys]:
        if by not in (None, *BUILTIN_GROUPS):
            (values,) = con.execute("SELECT count(DISTINCT json_extract_string(metadata, ?)) FROM results "
                                    "WHERE run_id = ?", ['$."' + by.replace('"', '\\"') + '"', run_id]).fetchone()
            if values > max_groups:
                continue
        columns, rows = leaderboard_with_intervals(con, run_id, by=by, resamples=resamples, seed=seed)
        for row in rows:
            r = dict(zip(columns, row, strict=True))
            for metric in ("wer", "cer"):
                records.append({
                    "run_id": run_id, "model": r["model"], "dataset": r["dataset"], "split": r["split"],
                    "group_by": by, "group_value": None if by is None else r["group"], "metric": metric,
                    "estimate": r[metric], "low": r[f"{metric}_low"], "high": r[f"{metric}_high"],
                    "n": r[f"{metric}_n"], "resamples": resamples, "seed": seed, "computed_at": computed_at,
                })
    return records
