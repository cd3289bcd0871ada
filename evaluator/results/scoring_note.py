"""Which scoring profile a stored run's numbers used, for the titles of tables and the report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["run_scoring", "scoring_note"]


def run_scoring(con: Any, run_id: str) -> str:
    """The run's scoring profile name (``whisper`` for a run made before profiles or not found)."""
    try:
        found = con.execute("SELECT scoring FROM runs WHERE run_id = ?", [run_id]).fetchone()
    except Exception:  # a database from before profiles has no such column
        return "whisper"
    return (found[0] if found else None) or "whisper"


def scoring_note(con: Any, run_ids: Sequence[str]) -> str:
    """``scoring: NAME`` for the runs' profile; ``scoring: A (run1) vs B (run2)`` when they differ,
    so numbers scored two ways are never read as one."""
    names = {run_id: run_scoring(con, run_id) for run_id in run_ids}
    if len(set(names.values())) <= 1:
        return f"scoring: {next(iter(names.values()), 'whisper')}"
    return "scoring differs: " + " vs ".join(f"{name} ({run_id})" for run_id, name in names.items())
