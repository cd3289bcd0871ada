"""Recompute every score of a stored run from its raw text with the current normalizers
(``evaluator rescore``): the way to carry a run across a normalizer change, to score old runs
per language, or to score a run with another scoring profile (``--scoring``, see
:mod:`evaluator.scoring.profiles`) without running its models again.

Each error-free row is scored again from ``reference`` and ``hypothesis`` in its language
(canonicalized with :mod:`evaluator.scoring.languages`; else the detected one; else English), exactly
as :func:`evaluator.scoring.rows.finalize_row` scores new rows. The signals that need timestamps or VAD
(``max_deletion_run_s``, ``untranscribed_speech_s``) are not stored in a form that can be
recomputed and are kept as they are. The run's ``word_errors`` and ``intervals`` are rewritten, its
``scoring``, ``normalizer_name`` and ``normalizer_version`` set to the profile's (so ``--resume``
works again and goes on with that profile), and ``summary.rescored`` records when, with which
profile and normalizer, how many rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evaluator.errors import ConfigError
from evaluator.results.store import Store
from evaluator.scoring.languages import LanguageError, resolve
from evaluator.scoring.profiles import ScoringProfile, profile
from evaluator.scoring.rows import SKIP_SECONDS, finalize_row

__all__ = ["RescoreResult", "SCORE_COLUMNS", "rescore_run"]

# Columns rescoring rewrites (finalize_row's outputs, and the canonical language).
SCORE_COLUMNS = (
    "language", "scoring", "normalizer", "reference_norm", "ref_words", "ref_chars", "hypothesis_norm", "hits",
    "substitutions", "deletions", "insertions", "hyp_words", "char_errors", "completion_ratio", "repetition",
    "max_insertion_run", "max_repeats", "looping", "truncated", "truncated_reason", "max_deletion_run", "skipped",
)
_READ = ("run_id", "model", "dataset", "sample_id", "language", "detected_language", "reference", "hypothesis",
         "audio_seconds", "transcribed_until_s", "truncated_reason", "token_cap_hit", "max_deletion_run_s",
         "untranscribed_speech_s")
# What "changed" compares: the language, the normalized texts and the counts.
_COMPARED = ("language", "reference_norm", "hypothesis_norm", "hits", "substitutions", "deletions", "insertions",
             "ref_words", "hyp_words", "ref_chars", "char_errors")
# Reasons finalize_row derives itself (the rest came from the model).
_DERIVED_REASONS = ("completion < 0.5", "ends early")


@dataclass(frozen=True)
class RescoreResult:
    """What a rescore did.

    Attributes:
        rows: error-free rows scored again.
        changed: rows whose language, normalized text or counts changed.
        normalizer: the normalizer set and version now recorded for the run.
        scoring: the scoring profile and version the run is now scored with.
    """

    rows: int
    changed: int
    normalizer: str
    scoring: str = "whisper"


def _canonical(language: str | None) -> str | None:
    if not language:
        return None
    try:
        return resolve(language).code
    except LanguageError:
        return language


def _rescored(stored: dict[str, Any], scoring: ScoringProfile) -> dict[str, Any]:
    row = {k: stored[k] for k in ("reference", "hypothesis", "audio_seconds", "transcribed_until_s", "token_cap_hit")}
    row["scoring"] = scoring.name
    row["language"] = _canonical(stored["language"])
    row["detected_language"] = _canonical(stored["detected_language"])
    reasons = [r for r in (stored["truncated_reason"] or "").split("; ") if r and r not in _DERIVED_REASONS]
    row["truncated_reason"] = "; ".join(reasons) or None
    row["error"] = None
    finalize_row(row)
    deletion_s, untranscribed = stored["max_deletion_run_s"], stored["untranscribed_speech_s"]
    # finalize_row flagged a long deletion run in the language's unit; the timed signals are kept
    row["skipped"] = bool(row["skipped"] or (deletion_s or 0.0) >= SKIP_SECONDS
                          or (untranscribed or 0.0) >= SKIP_SECONDS)
    return {"run_id": stored["run_id"], "model": stored["model"], "dataset": stored["dataset"],
            "sample_id": stored["sample_id"],
            **{c: row[c] for c in SCORE_COLUMNS}}


def rescore_run(store: Store, run_id: str, scoring: str | None = None) -> RescoreResult:
    """Score every error-free row of ``run_id`` again from its raw text (see the module doc),
    with the profile called ``scoring`` (``None``: the run's own, ``whisper`` for a run made
    before profiles).

    Raises:
        ConfigError: no such run, or no such profile.
    """
    run = store.get_run(run_id)
    if run is None:
        _, recent = store.query("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 5")
        raise ConfigError(f"no run {run_id!r} in {store.path}; recent runs: "
                          + (", ".join(r[0] for r in recent) or "none"))
    columns, rows = store.query(f"SELECT {', '.join(_READ)}, {', '.join(SCORE_COLUMNS)} FROM results "
                                "WHERE run_id = ? AND error IS NULL", [run_id])
    stored = [dict(zip(columns, r, strict=True)) for r in rows]
    target = profile(scoring or run.get("scoring") or "whisper")
    new = [_rescored(s, target) for s in stored]
    changed = sum(1 for old, now in zip(stored, new, strict=True)
                  if any(old[c] != now[c] for c in _COMPARED))
    store.update_scores(new, SCORE_COLUMNS)
    store.write_word_errors(run_id)
    store.save_intervals(run_id)  # the bootstrap intervals follow the new scores
    summary = json.loads(run.get("summary") or "{}")
    summary.setdefault("rescored", []).append({
        "at": datetime.now(UTC).isoformat(timespec="seconds"), "scoring": target.label,
        "normalizer": f"{target.normalizer_set} {target.version}",
        "previous_scoring": run.get("scoring") or "whisper",
        "previous_normalizer": f"{run.get('normalizer_name')} {run.get('normalizer_version')}",
        "rows": len(new), "changed": changed})
    store.update_run(run_id, scoring=target.name, normalizer_name=target.normalizer_set,
                     normalizer_version=target.version, summary=summary)
    return RescoreResult(len(new), changed, f"{target.normalizer_set} {target.version}", target.label)
