"""A multilingual run's per-language results: the long table printed under its leaderboard
(one row per model and language, then each model's pooled and macro-averaged figures) and the
model x language cells of its compact pivot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["LANGUAGES_SQL", "MULTILINGUAL_SQL", "LanguageCell", "is_multilingual", "languages_rows", "language_cells"]

# One row per (model, language), then per model the pooled figures (WER over the languages
# scored by words, CER over all) and the macro-average over languages (mean of the per-language
# figures). Parameters: the run id, three times.
LANGUAGES_SQL = """
SELECT model, language, metric, normalizer, scored, errors, not_transcribable, "wer_%", "cer_%", lid_rows,
       lid_mismatches
FROM (
    SELECT model, dataset, split, 0 AS part, language, metric, normalizer, scored, errors, not_transcribable,
           round(100 * wer, 2) AS "wer_%", round(100 * cer, 2) AS "cer_%", lid_rows, lid_mismatches
    FROM leaderboard_languages WHERE run_id = ?
    UNION ALL
    SELECT model, dataset, split, 1, 'all: pooled', NULL, NULL, scored, errors, not_transcribable,
           round(100 * wer, 2), round(100 * cer, 2), NULL, lid_mismatches
    FROM leaderboard WHERE run_id = ? AND n > 0
    UNION ALL
    SELECT model, dataset, split, 2, 'all: macro (' || languages || ')', NULL, NULL, NULL, NULL, NULL,
           round(100 * macro_wer, 2), round(100 * macro_cer, 2), NULL, NULL
    FROM leaderboard WHERE run_id = ? AND n > 0
)
ORDER BY model, dataset, split, part, language NULLS LAST
"""
# Whether a run holds more than one language (then its per-language tables are worth printing).
MULTILINGUAL_SQL = "SELECT count(DISTINCT language) > 1 FROM results WHERE run_id = ?"


@dataclass(frozen=True)
class LanguageCell:
    """One model's figure on one language (its group: ``zh`` for both scripts).

    Attributes:
        metric: ``wer``, or ``cer`` for a language written without spaces.
        scored: error-free rows; 0 where the model transcribes none (not transcribable).
        wer / cer: fractions over the model's datasets, weighted by scored rows.
    """

    model: str
    language: str | None
    metric: str
    scored: int
    wer: float | None
    cer: float | None

    @property
    def value(self) -> float | None:
        return self.cer if self.metric == "cer" else self.wer


def is_multilingual(con: Any, run_id: str) -> bool:
    return bool(con.execute(MULTILINGUAL_SQL, [run_id]).fetchone()[0])


def languages_rows(con: Any, run_id: str) -> tuple[list[str], list[tuple]]:
    """The rows of :data:`LANGUAGES_SQL` (percent)."""
    cur = con.execute(LANGUAGES_SQL, [run_id, run_id, run_id])
    return [d[0] for d in cur.description], cur.fetchall()


def language_cells(con: Any, run_id: str) -> list[LanguageCell]:
    """One cell per (model, language), languages in order (no language last)."""
    rows = con.execute("SELECT model, language, any_value(metric), sum(scored), "
                       "sum(wer * scored) / nullif(sum(scored), 0), sum(cer * scored) / nullif(sum(scored), 0) "
                       "FROM leaderboard_languages WHERE run_id = ? GROUP BY model, language "
                       "ORDER BY language NULLS LAST", [run_id]).fetchall()
    return [LanguageCell(m, lang, metric, int(n or 0), wer, cer) for m, lang, metric, n, wer, cer in rows]
