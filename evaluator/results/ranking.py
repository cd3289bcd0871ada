"""Rankings that say what they cover: which models of a run are ranked together, on which
samples, and the leaderboard the CLI, the Python API and the report all print.

Per dataset and split, the models ranked together are those that stored a row for every
planned sample (nothing missing, no lost shard) and transcribe every language of the data;
their WER and CER are computed over the samples every one of them scored (error-free), so a
model whose samples failed never ranks on easier data than the others, and the note says
"ranked on 41 of 44 samples" when that is fewer than all. A model that does not transcribe some
languages (English-only tiny.en on Spanish clips: its rows there are *not transcribable*, not
errors) or that is partial (an interrupted run) is listed after them, not ranked, with its
figures over its own rows and the reason. When no model qualifies (every one English-only, say),
all are ranked together on the samples they all scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluator.results.leaderboard import group_accounting, leaderboard_with_intervals

__all__ = ["Coverage", "Scope", "Ranking", "scope_of", "ranked_leaderboard", "leaderboard_table"]

Key = tuple[str, str, str]  # (model, dataset, split)


@dataclass(frozen=True)
class Coverage:
    """What one model's rows cover on one dataset and split (the ``leaderboard`` view's accounting).

    Attributes:
        planned: samples planned (None when unknown: a stream).
        rows / scored / errors / not_transcribable: rows stored, error-free, failed, and in a
            language the model does not transcribe.
        missing: planned samples without a row; lost_shards: shards lost with their actor.
        languages: the language groups of its error-free rows.
    """

    model: str
    dataset: str
    split: str
    planned: int | None
    rows: int
    scored: int
    errors: int
    not_transcribable: int
    missing: int
    lost_shards: int
    languages: tuple[str, ...] = ()

    @property
    def key(self) -> Key:
        return (self.model, self.dataset, self.split)

    def why_apart(self, samples: int) -> str | None:
        """Why the model is not ranked with the others (None: it can be)."""
        if self.not_transcribable:
            langs = ", ".join(self.languages) or "none of them"
            return f"transcribes {langs} only: {self.scored} of {samples} samples, {self.not_transcribable} not " \
                   "transcribable"
        if self.missing or self.lost_shards:
            return f"partial: {self.rows} of {self.planned if self.planned is not None else samples} samples stored"
        return None


@dataclass(frozen=True)
class Scope:
    """What a run's ranking covers.

    Attributes:
        ranked: the (model, dataset, split) ranked together.
        common: per (dataset, split), the samples every ranked model there scored.
        samples: per (dataset, split), its samples (planned, or stored where more).
        apart: per (model, dataset, split) not ranked, why.
    """

    ranked: tuple[Key, ...]
    common: dict[tuple[str, str], int] = field(default_factory=dict)
    samples: dict[tuple[str, str], int] = field(default_factory=dict)
    apart: dict[Key, str] = field(default_factory=dict)

    def note(self, names: dict[str, str] | None = None, metric: str | None = None) -> str:
        """``ranked on all 44 samples; not ranked: faster-whisper:tiny.en (transcribes en only:
        4 of 44 samples, 40 not transcribable)``; per dataset when the run has several; ``names``:
        short model names; ``metric``: the metric every row is ranked by (``ranked by WER on``)."""
        names = names or {}
        by = f"ranked by {metric.upper()} on" if metric else "ranked on"
        several = len(self.samples) > 1
        parts = []
        for (dataset, split), total in self.samples.items():
            common = self.common.get((dataset, split), 0)
            where = f"{dataset}/{split}: " if several else ""
            cover = f"all {total} samples" if common == total else \
                f"{common} of {total} samples (those every ranked model scored)"
            parts.append(f"{where}{by} {cover}")
        apart = [f"{names.get(m, m)}{f' on {d}/{s}' if several else ''} ({why})"
                 for (m, d, s), why in self.apart.items()]
        return "; ".join(parts + ([f"not ranked: {', '.join(apart)}"] if apart else []))


@dataclass(frozen=True)
class Ranking:
    """A ranked leaderboard: ``columns`` and ``rows`` (ranked models first, best first, then
    those ranked apart) and the :class:`Scope` they cover."""

    columns: list[str]
    rows: list[tuple]
    scope: Scope

    @property
    def metric(self) -> str | None:
        """The metric every row is ranked by (None when groups are ranked by different ones)."""
        at = self.columns.index("ranked_by") if "ranked_by" in self.columns else self.columns.index("metric")
        metrics = {r[at] for r in self.rows}
        return metrics.pop() if len(metrics) == 1 else None

    def note(self, names: dict[str, str] | None = None) -> str:
        """What the ranking covers, naming its metric (see :meth:`Scope.note`)."""
        return self.scope.note(names, self.metric)


def _coverage(con: Any, run_id: str) -> list[Coverage]:
    langs = {tuple(r[:3]): tuple(r[3] or ()) for r in con.execute(
        "SELECT model, dataset, split, list(DISTINCT language_group(language) ORDER BY language_group(language)) "
        "FILTER (WHERE error IS NULL AND language IS NOT NULL) FROM results WHERE run_id = ? GROUP BY ALL",
        [run_id]).fetchall()}
    rows = con.execute("SELECT model, dataset, split, planned, n, scored, errors, not_transcribable, "
                       "coalesce(missing, 0), lost_shards FROM leaderboard WHERE run_id = ? AND n > 0 "
                       "ORDER BY dataset, split, model", [run_id]).fetchall()
    return [Coverage(*r, languages=langs.get(tuple(r[:3]), ())) for r in rows]


def scope_of(con: Any, run_id: str) -> Scope:
    """Which models of ``run_id`` are ranked together, on how many samples (see the module)."""
    coverage = _coverage(con, run_id)
    stored = {(d, s): n for d, s, n in con.execute(
        "SELECT dataset, split, count(DISTINCT sample_id) FROM results WHERE run_id = ? GROUP BY ALL",
        [run_id]).fetchall()}
    places = list(dict.fromkeys((c.dataset, c.split) for c in coverage))
    samples = {p: max([stored.get(p, 0), *(c.planned or 0 for c in coverage if (c.dataset, c.split) == p)])
               for p in places}
    ranked: list[Key] = []
    apart: dict[Key, str] = {}
    for place in places:
        members = [c for c in coverage if (c.dataset, c.split) == place]
        why = {c.key: c.why_apart(samples[place]) for c in members}
        chosen = [c.key for c in members if why[c.key] is None] or [c.key for c in members]
        ranked += chosen
        apart.update({k: w for k, w in why.items() if k not in chosen and w})
    common = _common(con, run_id, ranked)
    return Scope(tuple(ranked), {p: common.get(p, 0) for p in places}, samples, apart)


def _common(con: Any, run_id: str, ranked: Sequence[Key]) -> dict[tuple[str, str], int]:
    if not ranked:
        return {}
    rows = con.execute("""
        WITH ranked AS (SELECT unnest(?::VARCHAR[]) AS model, unnest(?::VARCHAR[]) AS dataset,
                               unnest(?::VARCHAR[]) AS split),
        per AS (SELECT dataset, split, count(*) AS models FROM ranked GROUP BY ALL),
        scored AS (SELECT x.dataset, x.split, x.sample_id, count(*) AS models
                   FROM results x JOIN ranked USING (model, dataset, split)
                   WHERE x.run_id = ? AND x.error IS NULL GROUP BY ALL)
        SELECT s.dataset, s.split, count(*) FROM scored s JOIN per p USING (dataset, split)
        WHERE s.models = p.models GROUP BY ALL""",
        [[k[0] for k in ranked], [k[1] for k in ranked], [k[2] for k in ranked], run_id]).fetchall()
    return {(d, s): int(n) for d, s, n in rows}


def ranked_leaderboard(con: Any, run_id: str, by: str | None = None, resamples: int = 1000, seed: int = 0,
                       *, cer_intervals: bool = True) -> Ranking:
    """:func:`~evaluator.results.leaderboard.leaderboard_with_intervals` ranked as the module
    says: the columns of ``leaderboard_with_intervals`` plus ``ranked`` and ``ranked_on`` (the
    samples the figures cover). ``n``, ``scored``, ``errors`` and ``not_transcribable`` count
    the model's own rows; WER, CER and their intervals cover ``ranked_on``. Fractions."""
    scope = scope_of(con, run_id)
    columns, rows = leaderboard_with_intervals(con, run_id, by, resamples, seed, cer_intervals=cer_intervals,
                                               ranked=scope.ranked)
    own = group_accounting(con, run_id, by)
    ranked = set(scope.ranked)
    out_columns = [*columns, "ranked", "ranked_on"]
    out = []
    for row in rows:
        r = dict(zip(columns, row, strict=True))
        key = (r["model"], r["dataset"], r["split"])
        r["ranked_on"] = r["scored"]
        r.update(own.get((*key, r.get("group")), {}))
        r["ranked"] = key in ranked
        out.append(tuple(r[c] for c in out_columns))
    at = out_columns.index("ranked")
    place = [out_columns.index(c) for c in ("dataset", "split", "group") if by is not None]
    first: dict[tuple, int] = {}
    for row in out:  # grouped rows stay in their group's place (see leaderboard_with_intervals)
        first.setdefault(tuple(row[i] for i in place), len(first))
    # stable: best first within the ranked and within the others
    out.sort(key=lambda row: (first[tuple(row[i] for i in place)], not row[at]))
    return Ranking(out_columns, out, scope)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def leaderboard_table(con: Any, run_id: str, by: str | None = None, resamples: int = 1000,
                      seed: int = 0) -> Ranking:
    """The printed leaderboard (`evaluator leaderboard --format json`, ``Database.leaderboard``):
    percent, with WER intervals (and a column for ``by``). Per model it says what the figures
    cover: planned, scored, errors, not transcribable, missing, partial, ``ranked`` and
    ``ranked_on``; ``ranked_by``: the metric the rows are ranked by (wer, or cer for languages
    written without spaces only). Models ranked apart come after the ranked ones."""
    ranking = ranked_leaderboard(con, run_id, by=by, resamples=resamples, seed=seed, cer_intervals=False)
    columns = ranking.columns
    cur = con.execute("SELECT model, dataset, split, planned, missing, partial, rtfx_e2e FROM leaderboard "
                      "WHERE run_id = ?", [run_id])
    names = [d[0] for d in cur.description]
    cover = {r[:3]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    head = ["model", "dataset", "split", *([by] if by else ["planned"]), "scored", "errors", "not_transcribable",
            *([] if by else ["missing", "partial"]), "ranked", "ranked_on"]
    out_columns = [*head, "wer_%", "wer_low", "wer_high", "cer_%", "rtfx", *([] if by else ["rtfx_e2e"]),
                   "audio_min", "completion", "truncated", "looping", "skipped", "ranked_by"]
    out = []
    for row in ranking.rows:
        r = dict(zip(columns, row, strict=True))
        c = cover.get((r["model"], r["dataset"], r["split"]), {})
        first = (r["model"], r["dataset"], r["split"], *([r["group"]] if by else [c.get("planned")]), r["scored"],
                 r["errors"], r["not_transcribable"], *([] if by else [c.get("missing"), c.get("partial")]),
                 r["ranked"], r["ranked_on"])
        rtfx = [None if r["rtfx"] is None else round(r["rtfx"], 1)]
        if not by:
            rtfx.append(None if c.get("rtfx_e2e") is None else round(c["rtfx_e2e"], 1))
        out.append((*first, _pct(r["wer"]), _pct(r["wer_low"]), _pct(r["wer_high"]), _pct(r["cer"]), *rtfx,
                    None if r["audio_hours"] is None else round(r["audio_hours"] * 60, 2),
                    None if r["completion_ratio"] is None else round(r["completion_ratio"], 3),
                    r["truncated"], r["looping"], r["skipped"], r["metric"]))
    return Ranking(out_columns, out, ranking.scope)
