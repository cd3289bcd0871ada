"""Window planning, stitching at overlaps, reassembly of a long file, long-form signals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluator.chunking import ChunkText, Window, merge_words, plan_windows, stitch, windows_from_speech
from evaluator.metrics import max_repeats, score
from evaluator.rows import assemble_long_form


def word_windows(words: list[str], size: int, step: int) -> list[ChunkText]:
    """Cut a word sequence like audio: windows of `size` words every `step` words (time = word index)."""
    chunks, start = [], 0
    while True:
        end = min(start + size, len(words))
        chunks.append(ChunkText(Window(len(chunks), float(start), float(end)), " ".join(words[start:end])))
        if end == len(words):
            return chunks
        start += step


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=400),
    size=st.integers(min_value=4, max_value=60),
    overlap_share=st.floats(min_value=0.1, max_value=0.45),
)
def test_stitching_overlapping_windows_recovers_the_sequence(n: int, size: int, overlap_share: float) -> None:
    words = [f"word{i}" for i in range(n)]
    overlap = max(1, int(size * overlap_share))
    chunks = word_windows(words, size, size - overlap)
    assert stitch(chunks) == " ".join(words)


@settings(max_examples=100, deadline=None)
@given(st.permutations(list(range(12))))
def test_stitching_does_not_depend_on_arrival_order(order: list[int]) -> None:
    words = [f"w{i}" for i in range(80)]
    chunks = word_windows(words, 16, 10)
    shuffled = [chunks[i % len(chunks)] for i in order if i < len(chunks)]
    assert stitch(shuffled) == " ".join(words)


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        # each window garbles the words at its cut edge; the merge keeps the clean sides
        ("the river she packed us more well by", "she packed a small bag with",
         "the river she packed a small bag with"),
        ("decided to postpone the meeting until everyone had seen",
         "the moment I decided to post on the meeting until everyone had seen the final report",
         "decided to postpone the meeting until everyone had seen the final report"),
        ("Hello, big World.", "big world and more", "Hello, big World. and more"),  # case, punctuation ignored
        ("a b c", "x y z", "a b c x y z"),  # nothing in common: nothing dropped
        ("", "x y", "x y"),
        ("a b", "", "a b"),
    ],
)
def test_merge_words(left: str, right: str, expected: str) -> None:
    assert " ".join(merge_words(left.split(), right.split(), 3)) == expected


@pytest.mark.parametrize(
    ("duration", "window", "overlap"),
    [(10, 30, 5), (30, 30, 5), (31, 30, 5), (100, 30, 5), (906.7, 30, 5), (3600, 20, 4), (61, 30, 0)],
)
def test_plan_windows_cover_the_file_within_the_limit(duration: float, window: float, overlap: float) -> None:
    windows = plan_windows(duration, window, overlap)
    assert windows[0].start == 0 and windows[-1].end == pytest.approx(duration)
    assert [w.index for w in windows] == list(range(len(windows)))
    assert all(w.end - w.start <= window + 1e-9 for w in windows)
    assert all(b.start <= a.end - overlap + 1e-9 for a, b in zip(windows, windows[1:], strict=False))


def test_plan_windows_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="overlap < window"):
        plan_windows(100, 30, 30)


def test_vad_windows_cut_only_in_silences() -> None:
    speech = [(0.5, 4.0), (4.5, 12.0), (13.0, 29.0), (29.5, 31.0), (40.0, 95.0)]
    windows = windows_from_speech(speech, 100.0, 30.0)
    # Regions are grouped while the window stays within 30 s; only the 55 s stretch of
    # uninterrupted speech has to be cut inside speech (in two equal halves).
    assert [(w.start, w.end) for w in windows] == [(0.5, 29.0), (29.5, 31.0), (40.0, 67.5), (67.5, 95.0)]


SAMPLE = {"sample_id": "s", "sample_index": 0, "language": "en", "audio_seconds": 90.0,
          "reference": "one two three four five six seven eight nine"}
WINDOWS = [Window(0, 0.0, 30.0), Window(1, 25.0, 55.0), Window(2, 50.0, 80.0)]


def chunk(i: int, text: str, error: str | None = None) -> dict:
    return {"chunk_index": i, "hypothesis": text, "inference_seconds": 1.0, "decode_seconds": 0.1, "error": error}


def test_reassembly_scores_the_stitched_text() -> None:
    row, chunk_rows = assemble_long_form(
        SAMPLE, WINDOWS, [chunk(2, "seven eight nine"), chunk(0, "one two three four"), chunk(1, "four five six seven")]
    )
    assert row["error"] is None
    assert row["hypothesis"] == "one two three four five six seven eight nine"
    assert (row["substitutions"], row["deletions"], row["insertions"]) == (0, 0, 0)
    assert row["num_chunks"] == 3 and row["inference_seconds"] == 3.0
    assert [c["chunk_index"] for c in chunk_rows] == [0, 1, 2]


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        ([chunk(0, "one two three four"), chunk(2, "seven eight nine")], "chunks [1] missing"),
        ([chunk(0, "one two three four"), chunk(1, None, "AudioDecodeError: bad frame"), chunk(2, "seven eight nine")],
         "chunks [1] failed: AudioDecodeError: bad frame"),
    ],
)
def test_a_hole_is_an_error_not_deletions(chunks: list[dict], message: str) -> None:
    row, chunk_rows = assemble_long_form(SAMPLE, WINDOWS, chunks)
    assert message in row["error"]
    assert row.get("deletions") is None  # not scored
    assert any(c["error"] for c in chunk_rows)


def test_text_that_stops_early_is_flagged_truncated() -> None:
    reference = " ".join(f"word{i}" for i in range(100))
    row, _ = assemble_long_form(
        {**SAMPLE, "reference": reference, "audio_seconds": 900.0},
        [Window(i, i * 25.0, i * 25.0 + 30) for i in range(36)],
        [chunk(i, " ".join(f"word{j}" for j in range(i * 3, i * 3 + 3)) if i < 4 else "") for i in range(36)],
    )
    assert row["completion_ratio"] == pytest.approx(0.1, abs=0.02)
    assert row["truncated"] is True
    assert row["transcribed_until_s"] == 105.0


def test_complete_text_is_not_flagged() -> None:
    row, _ = assemble_long_form(SAMPLE, WINDOWS, [chunk(0, "one two three four"), chunk(1, "four five six seven"),
                                                  chunk(2, "seven eight nine")])
    assert row["truncated"] is False and row["completion_ratio"] == 1.0


def test_a_looping_hypothesis_is_flagged_by_repetition() -> None:
    reference = "the quick brown fox jumps over the lazy dog and then runs away into the forest"
    looped = "the quick brown fox jumps over the lazy dog " * 12
    normal, loop = score(reference, reference), score(reference, looped)
    assert normal.repetition == 0.0
    assert loop.repetition > 0.8
    assert loop.max_insertion_run > 50
    assert loop.completion_ratio > 5


@pytest.mark.parametrize(
    ("text", "min_span", "repeats"),
    [
        ("", 1, 1),
        ("a b c", 1, 1),
        ("net net net", 1, 3),
        ("a b a b a b x", 1, 3),
        ("a b a b a", 1, 2),  # a partial third copy does not count
        ("the cat sat on the mat " * 5, 10, 5),
        (" ".join(f"w{i}" for i in range(30)) * 2, 10, 1),  # no space between copies: no repeat
        (" ".join(f"w{i}" for i in range(30)) + " " + " ".join(f"w{i}" for i in range(30)), 10, 2),  # 30-word period
        ("good night night night night night night to you", 10, 1),  # 6 words: below the span
        ("net " * 12, 10, 12),
    ],
)
def test_max_repeats(text: str, min_span: int, repeats: int) -> None:
    assert max_repeats(text.split(), min_span=min_span) == repeats


@pytest.mark.parametrize(
    ("reference", "hypothesis", "looping"),
    [
        ("in a past net the river ran on and on to the sea far away",
         "in a past " + "net " * 200 + "the river ran on and on to the sea far away", True),  # seen on a 1-hour file
        ("the cat sat on the mat and looked out of the window at the rain",
         "the cat sat on the mat " * 8, True),
        ("no no no no we will not go there today or any other day", "no no no no we will not go there today or any "
         "other day", False),  # the reference repeats itself: not a loop
        ("the cat sat on the mat and looked out of the window at the rain",
         "the cat sat on a mat and looked out of the window at rain", False),
    ],
)
def test_loops_are_flagged(reference: str, hypothesis: str, looping: bool) -> None:
    assert score(reference, hypothesis).looks_looping is looping
