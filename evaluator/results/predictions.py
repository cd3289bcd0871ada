"""What a ``predictions:PATH`` model left unused: lines of its file that matched no sample of the run."""

from __future__ import annotations

from typing import Any

from evaluator.data.predictions import read_predictions

__all__ = ["unmatched_predictions"]


def unmatched_predictions(con: Any, run_id: str, model: str, path: str, shown: int = 5) -> str | None:
    """A warning naming the predictions in ``path`` that matched none of ``model``'s samples in
    run ``run_id`` (None when every line was used)."""
    ids = [r[0] for r in con.execute("SELECT sample_id FROM results WHERE run_id = ? AND model = ?",
                                     [run_id, model]).fetchall()]
    unused = read_predictions(path).unmatched(ids)
    if not unused:
        return None
    listed = ", ".join(unused[:shown]) + (f" and {len(unused) - shown} more" if len(unused) > shown else "")
    return (f"{model}: {len(unused)} predictions matched no sample of the run: {listed} "
            "(ids are matched by sample id, path suffix, file name, or file name without extension)")
