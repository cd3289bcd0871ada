"""Session scoring: a dataset whose rows are chunks of longer sessions (each row carries a parent
id and a chunk index, the layout of the Open ASR Leaderboard's Earnings22-Cleaned-AA-chunked) is
scored per session: the chunks' transcripts joined in chunk order, against the session's
reference, as the leaderboard's ``merge_chunked_manifest`` does (github.com/huggingface/
open_asr_leaderboard, ``normalizer/eval_utils.py`` at d1e99b2): empty transcripts are skipped, the
rest joined with one space, the reference is the first chunk's, audio and inference seconds are
summed. The per-chunk rows stay as they are (``results``); sessions are computed from them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evaluator.scoring.metrics import Score
from evaluator.scoring.profiles import ScoringProfile

__all__ = ["PARENT_KEY", "INDEX_KEY", "Chunk", "Session", "chunk_of", "join_sessions", "score_sessions"]

# The columns that mark a chunk of a session (the leaderboard's CHUNK_METADATA_KEYS).
PARENT_KEY = "parent_id"
INDEX_KEY = "chunk_index"


@dataclass(frozen=True)
class Chunk:
    """One stored row that is a chunk of a session."""

    session: str
    index: int
    reference: str | None
    hypothesis: str | None
    audio_seconds: float | None = None
    inference_seconds: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Session:
    """A session's joined transcript.

    Attributes:
        session: the parent id.
        reference: the first chunk's reference (every chunk carries the session's).
        hypothesis: the chunks' transcripts in chunk order, empty ones skipped.
        chunks: chunks stored.
        gaps: chunk indices missing from 0..max (their words count as deletions, as upstream).
        errors: chunks that are error rows (no transcript: the session is not scored).
        audio_seconds / inference_seconds: summed over the chunks (``None`` if any lacks one).
    """

    session: str
    reference: str
    hypothesis: str
    chunks: int
    gaps: tuple[int, ...]
    errors: int
    audio_seconds: float | None
    inference_seconds: float | None


def chunk_of(metadata: Mapping[str, Any] | None) -> tuple[str, int] | None:
    """(parent id, chunk index) of a row whose dataset columns hold both, else ``None``."""
    if not metadata or metadata.get(PARENT_KEY) in (None, "") or metadata.get(INDEX_KEY) in (None, ""):
        return None
    return str(metadata[PARENT_KEY]), int(metadata[INDEX_KEY])


def _sum(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def join_sessions(chunks: Iterable[Chunk]) -> list[Session]:
    """Join chunks into sessions, sorted by session id (the leaderboard's order)."""
    by_session: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_session[chunk.session].append(chunk)
    sessions = []
    for session in sorted(by_session):
        ordered = sorted(by_session[session], key=lambda c: c.index)
        indices = [c.index for c in ordered]
        gaps = tuple(sorted(set(range(max(indices) + 1)) - set(indices)))
        sessions.append(Session(
            session=session,
            reference=ordered[0].reference or "",
            hypothesis=" ".join(t for c in ordered if (t := (c.hypothesis or "").strip())),
            chunks=len(ordered),
            gaps=gaps,
            errors=sum(1 for c in ordered if c.error),
            audio_seconds=_sum([c.audio_seconds for c in ordered]),
            inference_seconds=_sum([c.inference_seconds for c in ordered]),
        ))
    return sessions


def score_sessions(sessions: Iterable[Session], scoring: ScoringProfile,
                   language: str | None = "en") -> list[tuple[Session, Score | None]]:
    """Each session with its score (``None``: a chunk is an error row, so the session is not
    scored: a hole is never scored as deletions)."""
    return [(s, None if s.errors else scoring.score(s.reference, s.hypothesis, language)) for s in sessions]
