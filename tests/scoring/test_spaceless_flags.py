"""Long-form flags in the language's unit: a skipped stretch of Chinese is measured in characters
(about 60 for the 20 words of English) and, with timestamps, in seconds."""

from __future__ import annotations

import pytest

from evaluator.data.windows import plan_windows
from evaluator.scoring.merging import stitch
from evaluator.scoring.rows import SKIP_CHARS, SKIP_WORDS, finalize_row, skip_units, timeline_of
from tests.perfect_speech import script

REFERENCE_ZH = "".join("我们今天去北京看朋友然后一起吃饭"[i % 16] for i in range(400))


def chinese_row(missing: int) -> dict:
    """A Chinese row whose hypothesis leaves out ``missing`` characters in the middle."""
    return {"reference": REFERENCE_ZH, "hypothesis": REFERENCE_ZH[:100] + REFERENCE_ZH[100 + missing:],
            "language": "zh", "error": None, "audio_seconds": 90.0}


@pytest.mark.parametrize(("missing", "skipped"), [(20, False), (59, False), (60, True), (120, True)])
def test_skipped_counts_characters_for_chinese(missing: int, skipped: bool) -> None:
    row = finalize_row(chinese_row(missing))
    assert row["max_deletion_run"] == missing
    assert row["skipped"] is skipped  # 20 missing characters (about 4 s of speech) is not a skip
    assert row["ref_words"] is None and row["ref_chars"] == 400


def test_skip_units_per_language() -> None:
    assert skip_units("en") == skip_units(None) == skip_units("de") == SKIP_WORDS
    assert skip_units("zh") == skip_units("zh-Hant") == skip_units("ja") == SKIP_CHARS["zh"] == 60
    assert skip_units("th") > skip_units("zh")


def test_english_still_skips_at_twenty_words() -> None:
    names = [a + b + c for a in "bcdfghjklm" for b in "aeiou" for c in "nt"]  # 100 distinct words
    reference = " ".join(names)
    hypothesis = " ".join(w for i, w in enumerate(names) if not 30 <= i < 50)
    row = finalize_row({"reference": reference, "hypothesis": hypothesis, "language": "en", "error": None})
    assert row["max_deletion_run"] == 20 and row["skipped"]


def test_a_skipped_stretch_of_chinese_is_measured_in_seconds() -> None:
    """Timed windows of a perfect transcriber with two segments of one window lost (41-52 s; the
    next window starts at 50 s but the seam cuts after 52 s): the deletion run, 46 characters
    (under SKIP_CHARS), spans those 11 s and flags the row skipped in time."""
    speech = script("zh", 90.0, seed=4)
    chunks = [speech.transcribe(w, timed=True) for w in plan_windows(speech.duration, 30.0, 5.0)]
    lost = chunks[1]
    keep = [s for s in lost.segments if not (40.0 <= lost.window.start + s[0] < 52.0)]
    chunks[1] = type(lost)(lost.window, "".join(s[2] for s in keep), tuple(keep))
    stitched = stitch(chunks)
    row = finalize_row({"reference": speech.text, "hypothesis": stitched.text, "language": "zh", "error": None,
                        "audio_seconds": speech.duration}, timeline_of(chunks, stitched, None))
    assert row["max_deletion_run"] < SKIP_CHARS["zh"] and row["skipped"]
    assert row["max_deletion_run_s"] == pytest.approx(10.85, abs=1.0)
