"""Long-form merging of scripts written without spaces (Chinese, Japanese, Thai): windows are
aligned and cut by character, with and without timestamps, as English is by word."""

from __future__ import annotations

import pytest

from evaluator.data.windows import Window, plan_windows
from evaluator.scoring.merging import ChunkText, chunk_words, stitch
from evaluator.scoring.metrics import score
from evaluator.scoring.units import Unit, join_units, units
from tests.perfect_speech import script


def cer(reference: str, hypothesis: str, language: str) -> float:
    s = score(reference, hypothesis, language)
    return s.char_errors / s.ref_chars


@pytest.mark.parametrize("language", ["zh", "ja", "th"])
@pytest.mark.parametrize("timed", [False, True], ids=["untimed", "timed"])
@pytest.mark.parametrize("jitter", [0.0, 0.6])
def test_a_perfect_chunked_transcriber_scores_near_zero_cer(language: str, timed: bool, jitter: float) -> None:
    """150 s through 30 s windows with 5 s overlap: every seam aligned, CER <= 0.5% (it was 20%
    untimed when the merge split on whitespace). ``jitter`` varies the speaking rate so an even
    spread of an untimed window misplaces its characters."""
    speech = script(language, 150.0, seed=3, jitter=jitter)
    windows = plan_windows(speech.duration, 30.0, 5.0)
    stitched = stitch([speech.transcribe(w, timed=timed) for w in windows])
    assert len(windows) == 6
    assert cer(speech.text, stitched.text, language) <= 0.005
    assert [s.method for s in stitched.seams] == ["aligned"] * 5
    assert all(s.matched >= 10 for s in stitched.seams)  # characters matched, not one "word" per window
    assert all(w.start <= s.cut_s <= w.end for s, w in zip(stitched.seams, windows[:-1], strict=False))


@pytest.mark.parametrize("timed", [False, True], ids=["untimed", "timed"])
def test_english_stays_exact(timed: bool) -> None:
    speech = script("en", 150.0, seed=3, jitter=0.6)
    stitched = stitch([speech.transcribe(w, timed=timed) for w in plan_windows(speech.duration, 30.0, 5.0)])
    assert score(speech.text, stitched.text, "en").wer == 0.0
    assert stitched.text == speech.text


def test_adjacent_windows_join_characters_without_spaces() -> None:
    """vad windows do not overlap: the texts are joined as written (no space between Chinese
    characters, a space before an English word)."""
    chunks = [ChunkText(Window(0, 0.0, 5.0), "我们今天"), ChunkText(Window(1, 5.0, 9.0), "去北京。"),
              ChunkText(Window(2, 9.0, 12.0), "Hello world")]
    stitched = stitch(chunks)
    assert stitched.text == "我们今天去北京。 Hello world"
    assert [s.method for s in stitched.seams] == ["adjacent", "adjacent"]


def test_units_cut_characters_keep_marks_and_words() -> None:
    assert [u.text for u in units("我用Python写代码。")] == ["我", "用", "Python", "写", "代", "码", "。"]
    # a Thai vowel sign or tone mark stays with its consonant; the space between phrases is kept
    thai = units("กินข้าว ที่บ้าน")
    assert [u.text for u in thai] == ["กิ", "น", "ข้", "า", "ว", "ที่", "บ้", "า", "น"]
    assert [u.space for u in thai][5] is True and join_units(thai) == "กินข้าว ที่บ้าน"
    assert join_units(units("  the cat  sat ")) == "the cat sat"
    assert join_units([Unit("日", False), Unit("本", False), Unit("語", False)]) == "日本語"


def test_untimed_characters_are_spread_evenly_over_the_window() -> None:
    words = chunk_words(ChunkText(Window(0, 10.0, 14.0), "一二三四"))
    assert [w.text for w in words] == ["一", "二", "三", "四"]
    assert [w.time for w in words] == pytest.approx([10.5, 11.5, 12.5, 13.5])
