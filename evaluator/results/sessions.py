"""Session scores of a stored run: for each (model, dataset) whose rows are chunks of sessions
(``results.metadata`` holds ``parent_id`` and ``chunk_index``, the leaderboard's chunked
Earnings22 layout), the chunks joined per session and scored against the session's reference with
the run's scoring profile (:mod:`evaluator.scoring.sessions`). Computed from the stored chunk rows
on each call (a read-only connection is enough); the chunk rows stay queryable as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaluator.scoring.profiles import profile
from evaluator.scoring.sessions import INDEX_KEY, PARENT_KEY, Chunk, join_sessions, score_sessions

__all__ = ["SessionSummary", "session_summaries"]

_CHUNK_ROWS = f"""
SELECT model, dataset, any_value(language) OVER (PARTITION BY model, dataset) AS language,
       json_extract_string(metadata, '$.{PARENT_KEY}') AS session,
       CAST(json_extract_string(metadata, '$.{INDEX_KEY}') AS INTEGER) AS chunk,
       reference, hypothesis, audio_seconds, inference_seconds, error
FROM results
WHERE run_id = ? AND json_extract_string(metadata, '$.{PARENT_KEY}') IS NOT NULL
  AND json_extract_string(metadata, '$.{INDEX_KEY}') IS NOT NULL
ORDER BY model, dataset
"""


@dataclass(frozen=True)
class SessionSummary:
    """One (model, dataset) of session chunks, scored per session.

    Attributes:
        wer: corpus WER over the scored sessions (errors / reference words); ``None`` if none.
        sessions / chunks: how many; ``unscored``: sessions with an error chunk (not scored).
        gaps: sessions whose chunk indices are not contiguous from 0 (missing words are deletions).
        rtfx: audio seconds / inference seconds over every chunk (``None`` without timings).
        scoring: the profile label the sessions were scored with.
        per_session: (session id, WER or ``None``) in session order.
    """

    model: str
    dataset: str
    wer: float | None
    sessions: int
    chunks: int
    unscored: int
    gaps: int
    rtfx: float | None
    scoring: str
    per_session: tuple[tuple[str, float | None], ...]


def _run_scoring(con: Any, run_id: str) -> str:
    found = con.execute("SELECT scoring FROM runs WHERE run_id = ?", [run_id]).fetchone()
    return (found[0] if found else None) or "whisper"


def session_summaries(con: Any, run_id: str, scoring: str | None = None) -> list[SessionSummary]:
    """Session scores of every (model, dataset) of ``run_id`` that has session chunks, with the
    profile ``scoring`` (default: the run's own)."""
    chosen = profile(scoring or _run_scoring(con, run_id))
    cursor = con.execute(_CHUNK_ROWS, [run_id])
    names = [d[0] for d in cursor.description]
    groups: dict[tuple[str, str], tuple[str | None, list[Chunk]]] = {}
    for values in cursor.fetchall():
        r = dict(zip(names, values, strict=True))
        _, chunks = groups.setdefault((r["model"], r["dataset"]), (r["language"], []))
        chunks.append(Chunk(r["session"], r["chunk"], r["reference"], r["hypothesis"], r["audio_seconds"],
                            r["inference_seconds"], r["error"]))
    out = []
    for (model, dataset), (language, chunks) in groups.items():
        scored = score_sessions(join_sessions(chunks), chosen, language)
        counted = [s for _, s in scored if s is not None and s.ref_words > 0 and not s.by_chars]
        words = sum(s.ref_words for s in counted)
        audio = sum(c.audio_seconds or 0.0 for c in chunks)
        seconds = sum(c.inference_seconds or 0.0 for c in chunks)
        out.append(SessionSummary(
            model=model, dataset=dataset, wer=sum(s.errors for s in counted) / words if words else None,
            sessions=len(scored), chunks=len(chunks), unscored=sum(1 for _, s in scored if s is None),
            gaps=sum(1 for session, _ in scored if session.gaps), rtfx=audio / seconds if seconds else None,
            scoring=chosen.label, per_session=tuple((session.session, None if s is None else s.wer)
                                                    for session, s in scored)))
    return out

