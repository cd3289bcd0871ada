"""Which models a comparison pairs, and the per-sample counts it pairs them on.

A *side* is one model of one run. Sides are paired by model and compared per dataset: two sides'
rows are the same sample when their dataset identity (:mod:`evaluator.results.identity`) and
sample id are equal, in one run or across runs. The CLI (``evaluator compare``), the Python API
and the report all select pairs with :func:`select_pairs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluator.errors import ConfigError
from evaluator.results.identity import dataset_identity_sql

__all__ = ["Side", "model_order", "sides", "select_pairs", "check_same_samples", "SampleArrays", "sample_arrays"]

# Largest difference in audio duration (seconds) between runs still read as the same clip.
DURATION_TOLERANCE = 0.01


@dataclass(frozen=True)
class Side:
    """One model of one run. ``label``: the model, or ``model@run`` when several runs are read
    (``run``: the run's name when the runs read have distinct names, else its id)."""

    label: str
    run_id: str
    model: str
    run: str = ""


def model_order(con: Any, run_id: str) -> list[str]:
    """The run's models in the order the run was given them (its config's ``models``); models
    the config does not list follow, by name."""
    row = con.execute("SELECT json_extract_string(config, '$.models[*].spec') FROM runs WHERE run_id = ?",
                      [run_id]).fetchone()
    listed = [m for m in (row[0] or []) if m is not None] if row else []
    stored = [m for (m,) in con.execute("SELECT DISTINCT model FROM results WHERE run_id = ? ORDER BY model",
                                        [run_id]).fetchall()]
    return [m for m in listed if m in stored] + [m for m in stored if m not in listed]


def sides(con: Any, run_ids: list[str]) -> list[Side]:
    """Every (run, model), in the order the runs are given, then the order each run lists its models."""
    placeholders = ", ".join("?" * len(run_ids))
    names = dict(con.execute(f"SELECT run_id, name FROM runs WHERE run_id IN ({placeholders})", run_ids).fetchall())
    named = [names.get(r) for r in run_ids]
    shown = named if all(named) and len(set(named)) == len(named) else run_ids
    several = len(run_ids) > 1
    return [Side(f"{m}@{shown[k]}" if several else m, r, m, str(shown[k]))
            for k, r in enumerate(run_ids) for m in model_order(con, r)]


def select_pairs(all_sides: list[Side], baseline: str | None, all_pairs: bool = False) -> list[tuple[int, int]]:
    """(baseline side, model side) index pairs, each once, never a side with itself.

    ``all_pairs``: every two sides, the earlier one (run order, then the run's model order) the
    baseline. Otherwise every side is compared with one baseline side:

    - no ``baseline``, or ``baseline`` a run (its id, or its name when labels use names): that
      run (default: the first) is the baseline run; a model it holds is compared with itself
      there, any other side with the baseline run's first model;
    - ``baseline`` a model or ``model@run`` label: every other side against it (a model in
      several runs: its side in the earliest run).
    """
    if all_pairs:
        return [(i, j) for i in range(len(all_sides)) for j in range(i + 1, len(all_sides))]
    if not all_sides:
        return []
    run_ids = list(dict.fromkeys(s.run_id for s in all_sides))
    runs = {s.run: s.run_id for s in all_sides} | {r: r for r in run_ids}  # a run by name or id
    models = {s.model for s in all_sides}
    base_run = run_ids[0] if baseline is None else None if baseline in models else runs.get(baseline)
    if base_run is not None:
        first = next((i for i, s in enumerate(all_sides) if s.run_id == base_run), None)
        if first is None:
            raise ConfigError(f"run {base_run!r} holds no results to use as the baseline")
        in_base = {s.model: i for i, s in enumerate(all_sides) if s.run_id == base_run}
        return [(in_base.get(s.model, first) if s.run_id != base_run else first, j)
                for j, s in enumerate(all_sides) if j != first]
    matches = [i for i, s in enumerate(all_sides) if baseline in (s.label, s.model)]
    if not matches:
        labels = sorted({s.label for s in all_sides} | {s.model for s in all_sides})
        raise ConfigError(f"baseline {baseline!r} matches no model; choose one of: {', '.join(labels)}"
                          + (f", or a run: {', '.join(dict.fromkeys(s.run for s in all_sides))}"
                             if len(run_ids) > 1 else ""))
    first = matches[0]
    return [(first, j) for j in range(len(all_sides)) if j != first]


def check_same_samples(con: Any, run_ids: list[str], limit: int = 5) -> None:
    """Raise ConfigError when a sample stored by several of ``run_ids`` (same dataset identity and
    sample id) has different references or audio durations in them: those runs did not read the
    same data, and pairing their rows would compare different clips. Names up to ``limit`` samples."""
    if len(run_ids) < 2:
        return
    placeholders = ", ".join("?" * len(run_ids))
    rows = con.execute(f"""
        SELECT any_value(dataset) AS dataset, sample_id, list(DISTINCT run_id ORDER BY run_id) AS runs,
               count(DISTINCT reference) > 1 AS references_differ,
               coalesce(max(audio_seconds) - min(audio_seconds) > {DURATION_TOLERANCE}, false) AS durations_differ,
               count(*) OVER () AS total
        FROM results WHERE run_id IN ({placeholders})
        GROUP BY {dataset_identity_sql()}, sample_id
        HAVING count(DISTINCT run_id) > 1 AND (references_differ OR durations_differ)
        ORDER BY 1, 2 LIMIT ?""", [*run_ids, limit]).fetchall()
    if not rows:
        return
    def what(ref: bool, dur: bool) -> str:
        return "reference and audio duration differ" if ref and dur else \
            "reference differs" if ref else "audio duration differs"

    named = "; ".join(f"{dataset} sample {sample_id} ({what(ref, dur)} between runs {', '.join(runs)})"
                      for dataset, sample_id, runs, ref, dur, _ in rows)
    total = rows[0][5]
    more = f" (and {total - len(rows)} more)" if total > len(rows) else ""
    raise ConfigError(f"the runs hold different data under the same sample ids, so they cannot be paired: {named}"
                      f"{more}. Compare runs that read the same version of the dataset, or give the changed "
                      "dataset another name (`name:` in a suite file)")


@dataclass(frozen=True)
class SampleArrays:
    """Per side (by label), dense arrays over every sample of the runs read: ``present``,
    ``failed`` (an error row), ``by_chars`` (scored by characters, or an error row in a language
    written without spaces), ``ref_words``, word errors ``e`` and words ``w``, char errors ``ce``
    and chars ``rc``. ``identity`` / ``dataset`` / ``sample_id``: per sample, its dataset identity,
    the dataset's name and its id (samples sorted by identity, then id)."""

    sides: dict[str, dict[str, np.ndarray]]
    identity: np.ndarray
    dataset: np.ndarray
    sample_id: np.ndarray


_COLUMNS = (("present", bool), ("failed", bool), ("untranscribable", bool), ("by_chars", bool),
            ("ref_words", np.int64), ("e", np.float64), ("w", np.float64), ("ce", np.float64), ("rc", np.float64))


def sample_arrays(con: Any, run_ids: list[str], all_sides: list[Side]) -> SampleArrays:
    """The :class:`SampleArrays` of ``all_sides`` (one query for the sample table, one for the rows)."""
    placeholders = ", ".join("?" * len(run_ids))
    ident = dataset_identity_sql()
    keys_sql = (f"SELECT {ident} AS identity, sample_id, min(dataset) AS dataset FROM results "
                f"WHERE run_id IN ({placeholders}) GROUP BY ALL")
    keys = con.execute(f"SELECT identity, dataset, sample_id FROM ({keys_sql}) ORDER BY identity, sample_id",
                       run_ids).fetchnumpy()
    data = con.execute(f"""
        WITH k AS (SELECT identity, sample_id, row_number() OVER (ORDER BY identity, sample_id) - 1 AS key
                   FROM ({keys_sql}))
        SELECT r.run_id, r.model, k.key, r.error IS NOT NULL AS failed,
               not_transcribable(r.error) AS untranscribable,
               CASE WHEN r.error IS NULL THEN r.ref_words IS NULL AND r.ref_chars IS NOT NULL
                    ELSE language_metric(coalesce(r.language, r.detected_language)) = 'cer' END AS by_chars,
               coalesce(r.ref_words, 0) AS ref_words,
               coalesce(r.substitutions + r.deletions + r.insertions, 0)::DOUBLE AS e,
               coalesce(r.substitutions + r.deletions + r.hits, 0)::DOUBLE AS w,
               coalesce(r.char_errors, 0)::DOUBLE AS ce, coalesce(r.ref_chars, 0)::DOUBLE AS rc
        FROM results r JOIN k ON k.identity = {dataset_identity_sql('r')} AND k.sample_id = r.sample_id
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
    for side in all_sides:
        sl = blocks.get((side.run_id, side.model), slice(0, 0))
        arrays = {name: np.zeros(n_keys, dtype=dtype) for name, dtype in _COLUMNS}
        idx = key_col[sl]
        arrays["present"][idx] = True
        for name, _ in _COLUMNS[1:]:
            arrays[name][idx] = np.asarray(data[name][sl])
        out[side.label] = arrays
    return SampleArrays(out, np.asarray(keys["identity"], dtype=object), np.asarray(keys["dataset"], dtype=object),
                        np.asarray(keys["sample_id"], dtype=object))
