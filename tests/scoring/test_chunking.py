"""Window planning, stitching at overlaps, reassembly of a long file, long-form signals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluator.data.windows import Window, plan_windows, windows_from_speech
from evaluator.scoring.merging import ChunkText, TimedWord, chunk_words, merge_seam, stitch
from evaluator.scoring.metrics import max_repeats, score
from evaluator.scoring.rows import Timeline, assemble_long_form, finalize_row, holes, untranscribed_speech


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
    assert stitch(chunks).text == " ".join(words)


@settings(max_examples=100, deadline=None)
@given(st.permutations(list(range(12))))
def test_stitching_does_not_depend_on_arrival_order(order: list[int]) -> None:
    words = [f"w{i}" for i in range(80)]
    chunks = word_windows(words, 16, 10)
    shuffled = [chunks[i % len(chunks)] for i in order if i < len(chunks)]
    assert stitch(shuffled).text == " ".join(words)


# Speech that repeats itself: a few short phrases said again and again (legal text, lists,
# refrains, read numbers), so the same words recur inside, near and far from every seam.
PHRASES = [["under", "any"], ["the", "same", "terms"], ["section", "ten"], ["you", "may", "not"], ["with", "it"]]


@st.composite
def repetitive_speech(draw) -> list[str]:
    picks = draw(st.lists(st.integers(0, len(PHRASES) - 1), min_size=10, max_size=120))
    fillers = draw(st.lists(st.sampled_from(["and", "law", "work", "code", "copy", "part"]), min_size=len(picks),
                            max_size=len(picks)))
    words: list[str] = []
    for p, f in zip(picks, fillers, strict=True):
        words += PHRASES[p] + [f]
    return words


def garbled_windows(words: list[str], size: int, overlap: int, garble: int, timed: bool) -> list[ChunkText]:
    """Windows of `size` one-second words overlapping by `overlap`; each window mishears
    `garble` words at each cut edge (as models do with a word cut in half); timed windows carry
    segment timestamps of a few words each, as Whisper gives them."""
    chunks, start = [], 0
    while True:
        end = min(start + size, len(words))
        heard = list(words[start:end])
        if start > 0:
            heard[:garble] = [f"uh{k}" for k in range(min(garble, len(heard)))]
        if end < len(words):
            heard[len(heard) - garble:] = [f"mm{k}" for k in range(min(garble, len(heard)))]
        segments = None
        if timed:
            segments = tuple((float(k), float(min(k + 4, len(heard))), " ".join(heard[k : k + 4]))
                             for k in range(0, len(heard), 4))
        chunks.append(ChunkText(Window(len(chunks), float(start), float(end)), " ".join(heard), segments))
        if end == len(words):
            return chunks
        start += size - overlap


# Speech cut into windows of 12-40 one-second words overlapping by 5-10.
SEAM_CASES = {"words": repetitive_speech(), "size": st.integers(min_value=12, max_value=40),
              "overlap": st.integers(min_value=5, max_value=10)}


@settings(max_examples=300, deadline=None)
@given(**SEAM_CASES, garble=st.integers(min_value=0, max_value=2), timed=st.booleans())
def test_seams_with_repeated_phrases_and_garbled_edges_lose_nothing(words, size, overlap, garble, timed) -> None:
    """Every seam is cut inside its overlap, between the garbled edges: the stitched text is
    the spoken text, word for word, however often its phrases recur around the seam. Without
    timestamps word times are estimates, so at least 3 clean words must remain in the overlap
    (with fewer, a periodic text gives an equally good reading a phrase later: see below); with
    them, 2 (one agreeing word is chance)."""
    garble = min(garble, (overlap - (2 if timed else 3)) // 2)
    stitched = stitch(garbled_windows(words, size, overlap, garble, timed))
    assert stitched.text == " ".join(words)
    assert all(seam.cut_s is not None for seam in stitched.seams)


@settings(max_examples=200, deadline=None)
@given(**SEAM_CASES, garble=st.integers(min_value=0, max_value=3))
def test_untimed_seams_lose_at_most_a_phrase(words, size, overlap, garble) -> None:
    """Without timestamps and with badly garbled edges, a seam may misplace a few words, never
    a stretch: each seam drops or doubles at most 3 words."""
    import jiwer

    chunks = garbled_windows(words, size, overlap, garble, timed=False)
    stitched = stitch(chunks)
    out = jiwer.process_words(" ".join(words), stitched.text)
    errors = out.substitutions + out.deletions + out.insertions
    assert errors <= 3 * len(stitched.seams)


def test_a_phrase_repeated_far_outside_the_overlap_is_not_a_seam() -> None:
    """The seam seen on a 19-minute legal text: the left window's tail says "under any" 5 s
    before the overlap, the right window starts garbled and says "under any" again 12 s in; the
    old merge matched those two words, 17 s apart, and dropped 16 words."""
    said = [f"w{i:02d}" for i in range(60)]  # one word a second
    said[20:22] = ["under", "any"]
    said[37:39] = ["under", "any"]
    left_heard = said[:29] + ["mumble"]  # window [0, 30)
    right_heard = ["sound"] + said[26:55]  # window [25, 55), overlapping by 5 s
    for timed in (False, True):
        chunks = [ChunkText(Window(i, start, start + 30.0), " ".join(heard),
                            ((0.0, 30.0, " ".join(heard)),) if timed else None)
                  for i, (start, heard) in enumerate([(0.0, left_heard), (25.0, right_heard)])]
        stitched = stitch(chunks)
        assert stitched.text == " ".join(said[:55]), timed
        (seam,) = stitched.seams
        assert seam.method == "aligned" and 25.0 <= seam.cut_s <= 30.0


@pytest.mark.parametrize(
    ("left", "right", "right_start", "expected", "method"),
    [
        # each window garbles the words at its cut edge; the merge keeps the clean sides
        ("a b c d e f the river she packed a more", "uh packed a small bag with g h", 8,
         "a b c d e f the river she packed a small bag with g h", "aligned"),
        ("Hello, big World. and so", "big world and more", 1, "Hello, big World. and more", "aligned"),
        # nothing in common inside the overlap: cut at its middle by time, unless one side has no words there
        ("a b c d", "x y z w", 1, "a b y z w", "midpoint"),
        ("", "x y z w", 0, "x y z w", "midpoint"),
        ("a b c d", "", 1, "a b c d", "midpoint"),  # one side heard nothing there: the other's words stay
        ("a b c d", "q", 5, "a b c d q", "adjacent"),  # no overlap
    ],
)
def test_merge_seam(left: str, right: str, right_start: int, expected: str, method: str) -> None:
    """One word a second; the left window ends where its words end, the right one starts at
    `right_start`."""
    lw = [TimedWord(w, i + 0.5) for i, w in enumerate(left.split())]
    rw = [TimedWord(w, right_start + i + 0.5) for i, w in enumerate(right.split())]
    merged, seam = merge_seam(lw, rw, (float(right_start), float(max(len(lw), 4))), timed=True)
    assert " ".join(w.text for w in merged) == expected
    assert seam.method == method


def test_windows_without_overlap_are_joined() -> None:
    merged, seam = merge_seam([TimedWord("a", 1.0)], [TimedWord("a", 31.0)], (30.0, 30.0), timed=True)
    assert [w.text for w in merged] == ["a", "a"] and seam.method == "adjacent"


def test_timed_words_follow_segment_timestamps_and_speech() -> None:
    segments = ((2.0, 4.0, " one two"), (20.0, 22.0, " three four"))
    chunk = ChunkText(Window(3, 100.0, 130.0), "one two three four", segments)
    times = [w.time for w in chunk_words(chunk)]
    assert 102 < times[0] < times[1] < 104 and 120 < times[2] < times[3] < 122
    # a segment stamped from the window's start while its speech begins 4.7 s later
    late = ChunkText(Window(3, 100.0, 130.0), "it was the best", ((0.0, 6.0, "it was the best"),), ((104.7, 106.0),))
    assert 104.7 <= chunk_words(late)[0].time < chunk_words(late)[-1].time <= 106.0


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


SAMPLE = {"sample_id": "s", "sample_index": 0, "language": "en", "audio_seconds": 9.0,
          "reference": "one two three four five six seven eight nine"}
WINDOWS = [Window(0, 0.0, 4.0), Window(1, 3.0, 7.0), Window(2, 6.0, 9.0)]  # one word a second


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


# ------------------------------------------------------------------ skipped stretches


def spoken_words(n: int) -> list[str]:
    """n distinct words that the normalizer keeps as they are."""
    syllables = ["ba", "ko", "mi", "tu", "re", "sa", "lo", "ne", "pi", "du"]
    return [syllables[i // 100 % 10] + syllables[i // 10 % 10] + syllables[i % 10] for i in range(n)]


RATE = 2.5  # words per second


def timed_row(said: list[str], heard: list[int], audio: float) -> tuple[dict, Timeline]:
    """A row whose hypothesis holds the words at indices `heard`, each at the time it was said,
    from a backend with timestamps (one segment per 10 words), over audio that is speech
    throughout."""
    segments = []
    for k in range(0, len(heard), 10):
        group = heard[k : k + 10]
        segments.append((group[0] / RATE, (group[-1] + 1) / RATE, " ".join(said[i] for i in group)))
    words = chunk_words(ChunkText(Window(0, 0.0, audio), " ".join(said[i] for i in heard), tuple(segments)))
    row = {"reference": " ".join(said), "hypothesis": " ".join(said[i] for i in heard), "audio_seconds": audio,
           "error": None}
    return row, Timeline(words, [(a, b) for a, b, _ in segments], [(0.0, audio)])


def test_a_missing_middle_minute_is_flagged_skipped() -> None:
    said = spoken_words(750)  # 300 s
    row, timeline = timed_row(said, [i for i in range(750) if not 200 <= i < 350], 300.0)
    finalize_row(row, timeline)
    assert row["max_deletion_run"] == 150
    assert row["max_deletion_run_s"] == pytest.approx(60.0, abs=3.0)
    assert row["untranscribed_speech_s"] == pytest.approx(60.0, abs=3.0)
    assert row["skipped"] is True
    assert row["truncated"] is False  # the transcript still runs to the end
    assert 0.75 < row["completion_ratio"] < 0.85  # the whole-file ratio alone would pass it


def test_a_complete_transcript_is_not_skipped() -> None:
    said = spoken_words(750)
    row, timeline = timed_row(said, list(range(750)), 300.0)
    finalize_row(row, timeline)
    assert (row["max_deletion_run"], row["skipped"]) == (0, False)
    assert row["untranscribed_speech_s"] == 0.0


def test_a_model_that_stops_early_is_flagged_skipped() -> None:
    said = spoken_words(750)
    row, timeline = timed_row(said, list(range(600)), 300.0)  # the last minute never transcribed
    finalize_row(row, timeline)
    assert row["max_deletion_run"] == 150 and row["skipped"] is True
    assert row["max_deletion_run_s"] == pytest.approx(60.0, abs=3.0)


def test_untranscribed_speech_needs_no_reference() -> None:
    said = spoken_words(750)
    row, timeline = timed_row(said, [i for i in range(750) if not 200 <= i < 350], 300.0)
    row["reference"] = ""
    finalize_row(row, timeline)
    assert row["untranscribed_speech_s"] == pytest.approx(60.0, abs=3.0)
    assert row["skipped"] is True


@pytest.mark.parametrize(
    ("spans", "speech", "expected"),
    [
        ([], [], 0.0),
        ([], [(1.0, 4.0)], 3.0),  # nothing transcribed
        ([(0.0, 10.0)], [(0.0, 10.0)], 0.0),
        ([(0.0, 4.0), (5.0, 10.0)], [(0.0, 10.0)], 0.0),  # a gap under 2 s is a pause, not a hole
        ([(0.0, 4.0), (30.0, 40.0)], [(0.0, 40.0)], 24.5),  # the gap's loose edges (0.75 s) do not count
        ([(0.0, 4.0), (30.0, 40.0)], [(0.0, 10.0), (8.0, 12.0), (35.0, 40.0)], 7.25),  # overlapping regions once
        ([(0.0, 4.0), (30.0, 40.0)], [(20.0, 21.0)], 1.0),
        ([(0.0, 10.0)], [(0.0, 50.0)], 38.5),  # stopped early
    ],
)
def test_untranscribed_speech(spans, speech, expected) -> None:
    assert untranscribed_speech(spans, speech, 50.0 if expected == 38.5 else 40.0) == pytest.approx(expected)


def test_a_window_that_returns_nothing_is_flagged_skipped() -> None:
    said = spoken_words(375)  # 150 s, one segment per 5 s in each window
    windows = plan_windows(150.0, 30.0, 5.0)

    def window_chunk(w: Window, silent: bool) -> dict:
        segments = [] if silent else [
            [t - w.start, t + 5 - w.start, " ".join(said[int(t * RATE) : int((t + 5) * RATE)])]
            for t in range(int(w.start), int(w.end), 5)]
        return {"chunk_index": w.index, "hypothesis": " ".join(s[2] for s in segments), "segments": segments,
                "speech": [[w.start, w.end]], "inference_seconds": 1.0, "error": None}

    sample = {**SAMPLE, "reference": " ".join(said), "audio_seconds": 150.0}
    row, chunk_rows = assemble_long_form(sample, windows, [window_chunk(w, w.index == 2) for w in windows])
    assert row["error"] is None
    assert row["max_deletion_run"] == pytest.approx(50, abs=3)  # 55-75 s: no other window heard it
    assert row["untranscribed_speech_s"] == pytest.approx(18.5, abs=1.0)
    assert row["skipped"] is True
    complete, chunk_rows = assemble_long_form(sample, windows, [window_chunk(w, False) for w in windows])
    assert complete["hypothesis"] == " ".join(said) and complete["skipped"] is False
    assert [c["seam"] for c in chunk_rows] == [None] + ["aligned"] * (len(windows) - 1)
    assert all(c["seam_matched"] >= 5 for c in chunk_rows[1:])


@pytest.mark.parametrize(
    ("segments", "speech", "window", "edge", "expected"),
    [
        # the model stopped 12 s into a window that goes on speaking: the rest is a hole
        ([(0.0, 12.0, "words")], [(100.0, 130.0)], Window(0, 100.0, 130.0), 0.0, [(112.0, 130.0)]),
        # ... but a chunked window leaves its last 2.5 s to the next window
        ([(0.0, 12.0, "words")], [(100.0, 130.0)], Window(1, 100.0, 130.0), 2.5, [(112.0, 127.5)]),
        # it jumped ahead over 8 s in the middle
        ([(0.0, 5.0, "a"), (13.0, 30.0, "b")], [(100.0, 130.0)], Window(0, 100.0, 130.0), 0.0, [(105.0, 113.0)]),
        # a silent gap is not a hole
        ([(0.0, 5.0, "a"), (13.0, 30.0, "b")], [(100.0, 105.0), (113.0, 130.0)], Window(0, 100.0, 130.0), 0.0, []),
        # a window with no text is not retried
        ([], [(100.0, 130.0)], Window(0, 100.0, 130.0), 0.0, []),
        ([(0.0, 5.0, " ")], [(100.0, 130.0)], Window(0, 100.0, 130.0), 0.0, []),
        # a gap shorter than 2 s is a pause
        ([(0.0, 5.0, "a"), (6.5, 30.0, "b")], [(100.0, 130.0)], Window(0, 100.0, 130.0), 0.0, []),
    ],
)
def test_holes_in_a_window(segments, speech, window, edge, expected) -> None:
    assert holes(segments, speech, window, edge) == expected


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ({"token_cap_hit": True}, "token cap"),
        # a model that began emitting speech (LFM2.5-Audio): truncated for its own reason
        ({"token_cap_hit": False, "truncated_reason": "audio_start: the model began generating speech"},
         "audio_start: the model began generating speech"),
        ({"token_cap_hit": False}, None),
    ],
)
def test_truncation_keeps_the_models_reason(stored: dict, reason: str | None) -> None:
    row = finalize_row({"reference": "one two", "hypothesis": "one two", "audio_seconds": 2.0, "error": None,
                        **stored})
    assert row["truncated_reason"] == reason and row["truncated"] is (reason is not None)
