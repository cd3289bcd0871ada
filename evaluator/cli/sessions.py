"""The session table `evaluator leaderboard` adds for datasets of chunked sessions."""

from __future__ import annotations

from typing import Any

__all__ = ["sessions_text"]


def sessions_text(con: Any, run_id: str, fmt: str) -> str:
    """A table of per-session WER for each (model, dataset) of ``run_id`` whose rows carry
    ``parent_id`` and ``chunk_index``, preceded by a blank line; ``""`` when there are none, and for
    csv and json (one table each)."""
    from evaluator.cli.tables import render
    from evaluator.results.sessions import session_summaries

    summaries = session_summaries(con, run_id) if fmt in ("table", "markdown") else []
    if not summaries:
        return ""
    rows = [(s.model, s.dataset, s.sessions, s.chunks, s.unscored, s.gaps,
             None if s.wer is None else round(100 * s.wer, 2), None if s.rtfx is None else round(s.rtfx, 1))
            for s in summaries]
    title = (f"sessions: chunks joined per parent_id in chunk_index order and scored against the session's "
             f"reference, as the Open ASR Leaderboard scores chunked sets ({summaries[0].scoring}); for these "
             "datasets this WER is the one to compare, not the per-chunk rows'")
    return "\n\n" + render(["model", "dataset", "sessions", "chunks", "unscored", "gaps", "wer_%", "rtfx"], rows, fmt,
                           title)
