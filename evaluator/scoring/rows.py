"""Turn transcripts into result rows: scoring columns, long-form signals, and the assembly of a
long file's chunk transcripts into one row. Used by actors (short samples) and the driver
(chunked samples), so every row is scored by the same code.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evaluator.data.windows import Window
from evaluator.scoring.languages import language_group
from evaluator.scoring.merging import ChunkText, Stitched, TimedWord, parse_segments, stitch
from evaluator.scoring.metrics import Score
from evaluator.scoring.profiles import profile

__all__ = [
    "LATE_END_SECONDS", "SKIP_WORDS", "SKIP_CHARS", "SKIP_SECONDS", "skip_units", "MIN_GAP_SECONDS", "Timeline",
    "timeline_of",
    "speech_gaps", "holes", "untranscribed_speech", "scoring_language", "finalize_row", "assemble_long_form",
]

# A transcript whose last words end this long before the audio does (and more than 10% of it)
# is flagged truncated.
LATE_END_SECONDS = 30.0
# A row is flagged `skipped` when a run of reference units is missing from the hypothesis that
# is about SKIP_WORDS words long (SKIP_WORDS words, or for a language written without spaces
# SKIP_CHARS characters: about as much speech), when such a run spans SKIP_SECONDS+ of audio, or
# when SKIP_SECONDS+ of speech (found by VAD) lie in gaps of MIN_GAP_SECONDS+ between the
# transcript's timed segments.
SKIP_WORDS = 20
SKIP_CHARS = {"zh": 60, "yue": 60, "ja": 60, "th": 100, "lo": 100, "km": 100, "my": 100}
SKIP_SECONDS = 10.0
MIN_GAP_SECONDS = 2.0
GAP_EDGE_SECONDS = 0.75
# A stretch of a window with this much speech and no transcript is transcribed again.
HOLE_SPEECH_SECONDS = 1.0


@dataclass(frozen=True)
class Timeline:
    """Where a long file's transcript lies in time (not stored; used for the skip signals).

    Attributes:
        words: hypothesis words with their times, when the backend gives timestamps.
        spans: stretches the transcript covers: timed segments, or whole windows with text.
        speech: speech regions found by VAD, when it ran.
    """

    words: list[TimedWord] | None
    spans: list[tuple[float, float]]
    speech: list[tuple[float, float]] | None


def timeline_of(texts: Sequence[ChunkText], stitched: Stitched,
                speech: Sequence[tuple[float, float]] | None) -> Timeline:
    """The timeline of a stitched transcript: its words are timed only if every window had
    timestamps."""
    timed = bool(texts) and all(t.timed for t in texts)
    return Timeline(stitched.words if timed else None, stitched.spans, None if speech is None else list(speech))


def speech_gaps(spans: Sequence[tuple[float, float]], speech: Sequence[tuple[float, float]], start: float,
                end: float, min_gap: float = MIN_GAP_SECONDS) -> list[tuple[float, float, float]]:
    """Gaps of at least ``min_gap`` seconds in [start, end] between the transcribed ``spans``,
    as (gap start, gap end, seconds of speech in it), leaving out ``GAP_EDGE_SECONDS`` at each
    edge of a gap (timestamps and VAD padding are loose by a fraction of a second)."""
    gaps: list[tuple[float, float]] = []
    cursor = start
    for a, b in sorted(spans):
        if a - cursor >= min_gap:
            gaps.append((cursor, a))
        cursor = max(cursor, b)
    if end - cursor >= min_gap:
        gaps.append((cursor, end))
    merged = _merge(speech)
    return [(a, b, sum(max(0.0, min(b - GAP_EDGE_SECONDS, e) - max(a + GAP_EDGE_SECONDS, s)) for s, e in merged))
            for a, b in gaps]


def holes(segments: Sequence[tuple[float, float, str]], speech: Sequence[tuple[float, float]], window: Window,
          edge: float = 0.0) -> list[tuple[float, float]]:
    """Stretches of a window (seconds of the file) worth transcribing again: gaps of at least
    ``MIN_GAP_SECONDS`` between its text's ``segments`` (seconds from the window's start) that
    hold ``HOLE_SPEECH_SECONDS`` of VAD ``speech``, leaving ``edge`` seconds at an inner edge of
    the window to the neighbouring window. A window with no text at all has none (transcribing
    the same audio again would give the same answer)."""
    spans = [(window.start + a, window.start + b) for a, b, t in segments if t.strip()]
    if not spans:
        return []
    lo, hi = window.start + (edge if window.start > 0 else 0.0), window.end - edge
    merged = _merge(speech)
    found = []
    for gap_start, gap_end, _ in speech_gaps(spans, merged, window.start, window.end):
        a, b = max(gap_start, lo), min(gap_end, hi)
        heard = sum(max(0.0, min(b, e) - max(a, s)) for s, e in merged)
        if b - a >= MIN_GAP_SECONDS and heard >= HOLE_SPEECH_SECONDS:
            found.append((round(a, 3), round(b, 3)))
    return found


def untranscribed_speech(spans: Sequence[tuple[float, float]], speech: Sequence[tuple[float, float]],
                         duration: float, min_gap: float = MIN_GAP_SECONDS) -> float:
    """Seconds of speech lying in gaps of at least ``min_gap`` seconds between the transcribed
    ``spans`` (and before the first and after the last): what the model heard nothing in."""
    return sum(s for _, _, s in speech_gaps(spans, speech, 0.0, duration, min_gap))


def _merge(regions: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []  # overlapping windows report the same speech twice
    for start, end in sorted(regions):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _deletion_run_seconds(s: Score, timeline: Timeline, duration: float) -> float | None:
    """Audio seconds of the longest deletion run: the stretch between the hypothesis units (words,
    or characters of a language written without spaces) on either side of it (normalized unit
    positions mapped onto the raw timed units by proportion), counting only its speech when VAD
    ran (a pause around a missed sentence is not part of it)."""
    if s.max_deletion_run == 0 or s.hyp_words == 0 or not timeline.words:
        return None
    # one time per normalized unit: punctuation is not scored; a character unit of a language
    # written without spaces counts its letters and marks (what the character alignment counts)
    times = [w.time for w in timeline.words
             for _ in range(sum(map(_scored_char, w.text)) if s.by_chars else any(map(_scored_char, w.text)))]
    if not times:
        return None

    def time_of(k: int) -> float:
        return times[min(len(times) - 1, round(k * len(times) / s.hyp_words))]

    before = 0.0 if s.deletion_run_at == 0 else time_of(s.deletion_run_at - 1)
    after = duration if s.deletion_run_at >= s.hyp_words else time_of(s.deletion_run_at)
    if timeline.speech is None:
        return round(max(0.0, after - before), 3)
    return round(sum(max(0.0, min(after, e) - max(before, b)) for b, e in _merge(timeline.speech)), 3)


def _scored_char(ch: str) -> bool:
    """A character normalization keeps: a letter, digit or combining mark, not punctuation."""
    return ch.isalnum() or unicodedata.category(ch).startswith("M")


def skip_units(language: str | None) -> int:
    """Missing units in a row that flag a row ``skipped``: ``SKIP_WORDS`` words, or the characters
    of about as much speech in a language written without spaces (``SKIP_CHARS``)."""
    return SKIP_CHARS.get(language_group(language) or "", SKIP_WORDS)


def scoring_language(row: dict[str, Any]) -> str | None:
    """The language a row is scored in: its own (dataset or ``--language``), else the one the
    model detected (``None``: scored as English)."""
    return row.get("language") or row.get("detected_language")


def finalize_row(row: dict[str, Any], timeline: Timeline | None = None) -> dict[str, Any]:
    """Fill the scoring and long-form columns of a row holding reference/hypothesis/error.

    The row's ``scoring`` names its profile (:func:`evaluator.scoring.profiles.profile`; none:
    ``whisper``) and is set to the profile's label with its version. An error row keeps NULL
    scores: it is counted in the leaderboard, never scored. With a ``timeline`` (long files),
    the seconds of a skipped stretch and the untranscribed speech are measured too.
    """
    scoring = profile(row.get("scoring") or "whisper")
    row["scoring"] = scoring.label
    if row.get("error") is not None:
        return row
    language = scoring_language(row)
    s = scoring.score(row["reference"], row.get("hypothesis") or "", language)
    until = row.get("transcribed_until_s")
    audio = row.get("audio_seconds") or 0.0
    ends_early = until is not None and audio - until > max(LATE_END_SECONDS, 0.1 * audio)
    deletion_s = untranscribed = None
    if timeline is not None:
        if timeline.words is not None and s.ref_words:  # timed units: words, or characters
            deletion_s = _deletion_run_seconds(s, timeline, audio)
        if timeline.speech is not None:
            untranscribed = round(untranscribed_speech(timeline.spans, timeline.speech, audio), 3)
    model_reason = row.get("truncated_reason") or ("token cap" if row.get("token_cap_hit") else None)
    reasons = [reason for reason, hit in (
        (model_reason, model_reason is not None),
        ("completion < 0.5", s.looks_truncated),
        ("ends early", ends_early),
    ) if hit]
    words = not s.by_chars  # a language written without spaces has no word counts (CER only)
    row.update(
        normalizer=s.normalizer,
        reference_norm=s.reference_norm,
        ref_words=s.ref_words if words else None,
        ref_chars=s.ref_chars,
        hypothesis_norm=s.hypothesis_norm,
        hits=s.hits if words else None,
        substitutions=s.substitutions if words else None,
        deletions=s.deletions if words else None,
        insertions=s.insertions if words else None,
        hyp_words=s.hyp_words if words else None,
        char_errors=s.char_errors,
        completion_ratio=s.completion_ratio,
        repetition=s.repetition,
        max_insertion_run=s.max_insertion_run,
        max_repeats=s.max_repeats,
        looping=s.looks_looping,
        truncated=bool(reasons),
        truncated_reason="; ".join(reasons) or None,
        max_deletion_run=s.max_deletion_run,
        max_deletion_run_s=deletion_s,
        untranscribed_speech_s=untranscribed,
        skipped=(s.max_deletion_run >= (skip_units(language) if s.by_chars else SKIP_WORDS)
                 or (deletion_s or 0.0) >= SKIP_SECONDS
                 or (untranscribed or 0.0) >= SKIP_SECONDS),
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
        ChunkText(w, by_index[w.index]["hypothesis"] or "",
                  parse_segments(by_index[w.index].get("segments")), _speech(by_index[w.index].get("speech")))
        for w in windows
        if w.index in by_index and not by_index[w.index].get("error")
    ]
    stitched = stitch(texts)
    seams = {seam.index: seam for seam in stitched.seams}
    speech = [c.get("speech") for c in chunks]
    timeline = timeline_of(texts, stitched, None if not speech or any(s is None for s in speech)
                           else [r for s in speech for r in _speech(s)])
    spoken = [t.window.end for t in texts if t.text.strip()]
    row = {
        **sample,
        "hypothesis": stitched.text,
        "num_chunks": len(windows),
        "inference_seconds": sum(c.get("inference_seconds") or 0.0 for c in chunks),
        "decode_seconds": sum(c.get("decode_seconds") or 0.0 for c in chunks),
        "token_cap_hit": any(c.get("token_cap_hit") for c in chunks),
        "truncated_reason": next((c["truncated_reason"] for c in chunks if c.get("truncated_reason")), None),
        "transcribed_until_s": max(spoken) if spoken else 0.0,
        "error": None,
        **_detected(chunks),
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
            "seam": seams[w.index].method if w.index in seams else None,
            "seam_matched": seams[w.index].matched if w.index in seams else None,
            "seam_cut_s": seams[w.index].cut_s if w.index in seams else None,
        }
        for w in windows
    ]
    return finalize_row(row, timeline), chunk_rows


def _detected(chunks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The language most windows detected (and its mean probability), when they detected one."""
    found = [(c["detected_language"], c.get("language_probability")) for c in chunks if c.get("detected_language")]
    if not found:
        return {}
    language = Counter(lang for lang, _ in found).most_common(1)[0][0]
    probabilities = [p for lang, p in found if lang == language and p is not None]
    return {"detected_language": language,
            "language_probability": sum(probabilities) / len(probabilities) if probabilities else None}


def _speech(raw: Any) -> tuple[tuple[float, float], ...] | None:
    """VAD regions as they cross from an actor (a list of [start, end], or None)."""
    return None if raw is None else tuple((float(a), float(b)) for a, b in raw)
