"""Turn transcripts into result rows: scoring columns, long-form signals, and the assembly of a
long file's chunk transcripts into one row. Used by actors (short samples) and the driver
(chunked samples), so every row is scored by the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evaluator.chunking import ChunkText, Window, stitch
from evaluator.metrics import score

__all__ = ["LATE_END_SECONDS", "finalize_row", "assemble_long_form"]

# A transcript whose last words end this long before the audio does (and more than 10% of it)
# is flagged truncated.
LATE_END_SECONDS = 30.0


def finalize_row(row: dict[str, Any]) -> dict[str, Any]:
    """Fill the scoring and long-form columns of a row holding reference/hypothesis/error.

    An error row keeps NULL counts: it is counted in the leaderboard, never scored.
    """
    s = score(row["reference"], row.get("hypothesis") or "")
    row.update(reference_norm=s.reference_norm, ref_words=s.ref_words, ref_chars=s.ref_chars)
    if row.get("error") is not None:
        return row
    until = row.get("transcribed_until_s")
    audio = row.get("audio_seconds") or 0.0
    ends_early = until is not None and audio - until > max(LATE_END_SECONDS, 0.1 * audio)
    row.update(
        hypothesis_norm=s.hypothesis_norm,
        hits=s.hits,
        substitutions=s.substitutions,
        deletions=s.deletions,
        insertions=s.insertions,
        hyp_words=s.hyp_words,
        char_errors=s.char_errors,
        completion_ratio=s.completion_ratio,
        repetition=s.repetition,
        max_insertion_run=s.max_insertion_run,
        max_repeats=s.max_repeats,
        looping=s.looks_looping,
        truncated=bool(row.get("token_cap_hit")) or s.looks_truncated or ends_early,
    )
    return row


def assemble_long_form(
    sample: dict[str, Any], windows: Sequence[Window], chunks: Sequence[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Stitch a long file's chunk results into its result row.

    ``sample`` holds the row's identity and reference; ``chunks`` one dict per window with
    ``chunk_index``, ``hypothesis``, ``inference_seconds``, ``decode_seconds``, ``error``.
    A window without a result, or with an error, makes the row an error row that names the
    chunks (a hole is never scored as deletions). Returns (row, chunk rows).
    """
    by_index = {c["chunk_index"]: c for c in chunks}
    missing = [w.index for w in windows if w.index not in by_index]
    failed = [c for c in chunks if c.get("error")]
    texts = [
        ChunkText(w, by_index[w.index]["hypothesis"] or "")
        for w in windows
        if w.index in by_index and not by_index[w.index].get("error")
    ]
    spoken = [t.window.end for t in texts if t.text.strip()]
    row = {
        **sample,
        "hypothesis": stitch(texts),
        "num_chunks": len(windows),
        "inference_seconds": sum(c.get("inference_seconds") or 0.0 for c in chunks),
        "decode_seconds": sum(c.get("decode_seconds") or 0.0 for c in chunks),
        "token_cap_hit": any(c.get("token_cap_hit") for c in chunks),
        "transcribed_until_s": max(spoken) if spoken else 0.0,
        "error": None,
    }
    problems = []
    if missing:
        problems.append(f"chunks {missing} missing")
    if failed:
        problems.append(f"chunks {[c['chunk_index'] for c in failed]} failed: {failed[0]['error']}")
    if problems:
        row["error"] = "; ".join(problems)[:2000]
    chunk_rows = [
        {
            "sample_id": sample["sample_id"],
            "chunk_index": w.index,
            "start_s": w.start,
            "end_s": w.end,
            "hypothesis": by_index.get(w.index, {}).get("hypothesis"),
            "inference_seconds": by_index.get(w.index, {}).get("inference_seconds"),
            "worker": by_index.get(w.index, {}).get("worker"),
            "error": by_index[w.index].get("error") if w.index in by_index else "missing",
        }
        for w in windows
    ]
    return finalize_row(row), chunk_rows
