"""The built-in long-form recordings: ``builtin:repeats`` (sentences recurring across window seams)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import soundfile as sf

from evaluator.data import builtin as samples
from evaluator.data.audio import SAMPLE_RATE

MINUTES, SEED = 16.0, 16
# the default chunked windows: 30 s every 25 s (5 s overlap)
WINDOW_S, STRIDE_S = 30.0, 25.0


def _metadata(folder: Path) -> list[dict[str, str]]:
    with open(folder / "metadata.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def clips() -> list[tuple]:
    return samples._sample_clips()


@pytest.fixture(scope="module")
def layout(clips) -> tuple[list[tuple[int, int, bool]], int]:
    return samples.repeats_layout([len(audio) for audio, _ in clips], MINUTES, SEED)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """builtin:repeats built twice, into two folders."""
    first = samples.build_repeats(tmp_path_factory.mktemp("a") / "repeats")
    second = samples.build_repeats(tmp_path_factory.mktemp("b") / "repeats")
    return first, second


def test_one_recording_of_16_minutes_or_more(built):
    folder = built[0]
    rows = _metadata(folder)
    assert [(r["id"], r["file_name"], r["language"]) for r in rows] == [("repeats-16min", "repeats-16min.flac", "en")]
    info = sf.info(folder / "repeats-16min.flac")
    assert info.samplerate == SAMPLE_RATE
    assert info.duration >= 16 * 60
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []  # no temp folder left


def test_deterministic(built):
    first, second = built
    assert (first / "repeats-16min.flac").read_bytes() == (second / "repeats-16min.flac").read_bytes()
    assert _metadata(first) == _metadata(second)


def test_reference_is_the_clips_in_order(built, clips, layout):
    reference = _metadata(built[0])[0]["transcription"]
    occurrences, _ = layout
    assert reference == " ".join(clips[clip][1] for clip, _, _ in occurrences)
    assert len(reference.split()) == sum(len(clips[clip][1].split()) for clip, _, _ in occurrences)
    assert {clip for clip, _, _ in occurrences} == set(range(len(clips)))  # every clip is used


def test_audio_is_the_clips_at_their_places(built, clips, layout):
    audio, rate = sf.read(built[0] / "repeats-16min.flac", dtype="float32")
    occurrences, length = layout
    assert rate == SAMPLE_RATE and len(audio) == length + SAMPLE_RATE
    for clip, start, _ in occurrences[:10] + occurrences[-10:]:
        expected = clips[clip][0]
        assert abs(audio[start : start + len(expected)] - expected).max() < 1e-3  # PCM_16 rounding


def test_pauses_are_short(clips, layout):
    occurrences, _ = layout
    end = 0
    for clip, start, _ in occurrences:
        assert 0.2 <= (start - end) / SAMPLE_RATE <= 1.2
        end = start + len(clips[clip][0])


def test_phrases_repeat_within_20_seconds_across_window_seams(clips, layout):
    occurrences, _ = layout
    last_start: dict[int, int] = {}
    gaps, across_seams = [], 0
    for clip, start, repeat in occurrences:
        if repeat:
            assert clip in last_start
            first = last_start[clip] / SAMPLE_RATE
            gaps.append(start / SAMPLE_RATE - first)
            end = (start + len(clips[clip][0])) / SAMPLE_RATE
            seams = [k * STRIDE_S + d for k in range(1, int(end // STRIDE_S) + 1) for d in (0.0, WINDOW_S - STRIDE_S)]
            across_seams += any(first < seam < end for seam in seams)
        last_start[clip] = start
    assert gaps and all(0 < gap <= 20.0 for gap in gaps)
    new = sum(not repeat for _, _, repeat in occurrences)
    assert len(gaps) >= 0.4 * new  # ~0.6 per new clip, less when no recent clip is short enough
    assert across_seams >= 25


def test_builtin_dir_builds_into_the_cache_once(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALUATOR_CACHE", str(tmp_path))
    folder = Path(samples.builtin_dir("repeats"))
    assert folder == tmp_path / "repeats-v1"
    mtime = (folder / "repeats-16min.flac").stat().st_mtime_ns
    assert samples.builtin_dir("repeats") == str(folder)
    assert (folder / "repeats-16min.flac").stat().st_mtime_ns == mtime  # not rebuilt
    assert "repeats" in samples.BUILTINS


def test_open_dataset_builtin_repeats(tmp_path, monkeypatch):
    from evaluator.data.sources import open_dataset
    from evaluator.data.spec import DatasetSpec

    monkeypatch.setenv("EVALUATOR_CACHE", str(tmp_path))
    opened = open_dataset(DatasetSpec("builtin:repeats"))
    assert opened.num_rows == 1
    assert (opened.columns.id, opened.columns.text, opened.columns.language) == ("id", "transcription", "language")
