"""Windows of a long file go through the actor's pipeline as clips of their own: they share the
device's batches with the short clips of other shards, and each window's result is what the
window transcribed on its own gives (:meth:`Transcribe.windows`, one window at a time).

Slow: reading a window runs Silero VAD from faster-whisper, and one test loads tiny.en."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluator.data.audio import SAMPLE_RATE, decode_audio
from evaluator.data.builtin import sample_data_dir
from evaluator.data.readers import read_row
from evaluator.data.shards import ChunkJob, Shard
from evaluator.data.sources import open_dataset, resolved_spec
from evaluator.data.spec import DatasetSpec
from evaluator.data.windows import LongForm, plan_windows
from evaluator.models.spec import parse_model_spec
from evaluator.run.execute.actor import Worker
from evaluator.run.execute.interfaces import ShardResult
from tests.factories import write_audiofolder
from tests.standin_backend import StandInBackend

pytestmark = pytest.mark.slow

CHUNKED = LongForm("chunked", 30.0, 5.0)
CLIPS = 6  # short clips in the shard, beside the long file's 3 windows; batches of 8
TIMINGS = {"decode_seconds", "inference_seconds"}


class RefusesLongAudio(StandInBackend):
    """A stand-in accelerator whose model raises on audio longer than 20 s (a window), alone
    or in a batch."""

    def transcribe_batch(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Any]:
        if any(len(a) > 20 * SAMPLE_RATE for a in audios):
            raise ValueError("audio too long for this model")
        return super().transcribe_batch(audios, languages)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """An audiofolder: one 80 s recording of bundled speech clips (row 0), then short clips."""
    with open(Path(sample_data_dir()) / "metadata.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["id"] != "human-two-cities"]  # 44 s: long itself
    parts, words = [], []
    for r in rows * 3:
        if sum(len(p) for p in parts) >= 80 * SAMPLE_RATE:
            break
        parts += [decode_audio(str(Path(sample_data_dir()) / r["file_name"])), np.zeros(SAMPLE_RATE // 2, np.float32)]
        words.append(r["transcription"])
    long = np.concatenate(parts)[: 80 * SAMPLE_RATE]
    clips: dict[str, Any] = {"long.flac": long}
    metadata = [{"file_name": "long.flac", "id": "long", "transcription": " ".join(words)}]
    for r in rows[:CLIPS]:
        clips[r["file_name"]] = Path(sample_data_dir()) / r["file_name"]
        metadata.append({"file_name": r["file_name"], "id": r["id"], "transcription": r["transcription"]})
    return write_audiofolder(tmp_path_factory.mktemp("windows"), clips, metadata)


def _dataset(folder: Path) -> DatasetSpec:
    return resolved_spec(open_dataset(DatasetSpec(str(folder))), DatasetSpec(str(folder)))


def _worker(spec: str) -> Worker:
    worker = Worker(parse_model_spec(spec), "cpu", 1, "en", CHUNKED)
    worker.pipeline.linger = 2.0  # the other call may start late on a loaded machine
    return worker


def _together(worker: Worker, folder: Path) -> tuple[list[dict[str, Any]], ShardResult, ChunkJob]:
    """The long file's windows (a chunk job) and a shard of short clips, held by the actor at once
    (a threaded actor runs each call on its own thread)."""
    dataset = _dataset(folder)
    windows = plan_windows(80.0, CHUNKED.window, CHUNKED.overlap)
    assert len(windows) == 3
    job = ChunkJob(dataset, 0, 0, "long", tuple(windows))
    with ThreadPoolExecutor(2) as calls:
        chunks = calls.submit(worker.run_chunks, job)
        rows = calls.submit(worker.run_shard, Shard(dataset, 1, start=1, stop=1 + CLIPS))
        return chunks.result(timeout=600), rows.result(timeout=600), job


def _alone(worker: Worker, folder: Path, job: ChunkJob) -> list[dict[str, Any]]:
    """The windows transcribed one at a time on this thread, without the pipeline."""
    cell = read_row(open_dataset(DatasetSpec(str(folder))), 0).audio
    return worker.transcribe.windows(cell, list(job.windows), "en")


def _untimed(chunk: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in chunk.items() if k not in TIMINGS}


def _together_and_alone(spec: str, folder: Path) -> tuple[Worker, list[dict[str, Any]], Any, ChunkJob,
                                                         list[dict[str, Any]]]:
    """A worker of ``spec``: the windows and clips held at once, then the windows alone."""
    worker = _worker(spec)
    try:
        chunks, result, job = _together(worker, folder)
        return worker, chunks, result, job, _alone(worker, folder, job)
    finally:
        worker.close()


def test_windows_share_batches_with_short_clips_and_come_back_as_alone(folder: Path) -> None:
    worker, chunks, result, job, alone = _together_and_alone(
        "tests.standin_backend.StandInBackend:none?batch_size=8&seconds_per_clip=0.01", folder)
    backend = worker.backend
    assert isinstance(backend, StandInBackend)
    mixed = [b for b in backend.batches if max(b) >= 25.0 > min(b)]  # a 30 s window beside a clip
    assert mixed and len(mixed[0]) == 8
    assert [c["chunk_index"] for c in chunks] == [0, 1, 2]
    assert all(c["error"] is None and c["hypothesis"] == "stand in" and c["inference_seconds"] > 0 for c in chunks)
    assert all(c["speech"] for c in chunks)  # VAD heard the window's speech
    assert [_untimed(c) for c in chunks] == [_untimed(c) for c in alone]
    assert [r.sample_id for r in result.rows] == [p.sample_id for p in _short_samples(folder)]
    assert all(r.error is None and r.hypothesis == "stand in" for r in result.rows)


def test_a_window_the_model_refuses_is_that_window_s_error_only(folder: Path) -> None:
    worker = _worker("tests.run.test_window_batches.RefusesLongAudio:none?batch_size=8&seconds_per_clip=0")
    try:
        chunks, result, _ = _together(worker, folder)
    finally:
        worker.close()
    assert [c["error"] for c in chunks] == ["ValueError: audio too long for this model"] * 3
    assert all(c["hypothesis"] is None for c in chunks)
    assert len(result.rows) == CLIPS and all(r.error is None and r.hypothesis == "stand in" for r in result.rows)


@pytest.mark.usefixtures("tiny_en_available")
def test_tiny_en_windows_in_shared_batches_equal_windows_alone(folder: Path) -> None:
    """faster-whisper tiny.en in float32 (the same on every CPU), batching 8: each window's text,
    timed segments and VAD speech are what transcribing it alone gives."""
    worker, chunks, result, job, alone = _together_and_alone(
        "faster-whisper:tiny.en?compute_type=float32&batch_size=8", folder)
    assert max(worker.pipeline.stats.batch_sizes()) > max(CLIPS, len(job.windows))  # windows beside clips
    assert all(c["error"] is None and c["hypothesis"] for c in chunks)
    assert [_untimed(c) for c in chunks] == [_untimed(c) for c in alone]
    assert all(r.error is None and r.hypothesis for r in result.rows)


def _short_samples(folder: Path) -> list[Any]:
    from evaluator.data.readers import read_shard

    dataset = _dataset(folder)
    return list(read_shard(open_dataset(dataset), Shard(dataset, 1, start=1, stop=1 + CLIPS), with_audio=False))
