"""The worker that a Ray actor wraps: loads one backend once, then transcribes work items.

Two kinds of work arrive from the driver:

- a :class:`~evaluator.data.shards.Shard` of samples: short samples are transcribed and scored
  here; a sample longer than the window under the ``chunked``/``vad`` strategies is only
  *planned* (its windows computed from the file header or a VAD pass) and handed back, so the
  driver can spread its windows over all actors;
- a :class:`~evaluator.data.shards.ChunkJob`: some windows of one long sample, each read from the
  file by seeking (memory is bounded by the window, not the file) and transcribed as a clip of
  its own in the same pipeline, so windows and the short clips of other shards share batches.

The work flows one way through the stages of :mod:`evaluator.run.execute.stages` (read, prepare,
transcribe, score); this module loads the model and wires them. The actor holds several shards at
once (a threaded actor: one call thread per shard); its :class:`~evaluator.run.execute.pipeline.Pipeline`
reads and decodes ahead on other threads while one device thread transcribes, in batches filled
across those shards. Per-sample failures (audio that does not decode, inference that raises)
become rows with ``error`` set; they never become empty hypotheses.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import socket
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evaluator.data.opened import OpenedDataset
from evaluator.data.readers import read_row, read_shard
from evaluator.data.shards import AssembleJob, ChunkJob, Shard
from evaluator.data.sources import open_dataset
from evaluator.data.spec import DatasetSpec
from evaluator.data.windows import LongForm, Window
from evaluator.models.backends import get_backend
from evaluator.models.provenance import describe_weights
from evaluator.models.spec import ModelSpec
from evaluator.results.records import ChunkRow, ResultRow
from evaluator.run.execute.allocator import tune_allocator
from evaluator.run.execute.interfaces import LongSample, ShardResult
from evaluator.run.execute.pipeline import Pipeline, PipelineStats
from evaluator.run.execute.stages import (
    Item,
    Prepare,
    Transcribe,
    error_text,
    plan_long_sample,
    read_window,
    score,
)
from evaluator.run.plan.hardware import cpu_info
from evaluator.run.plan.placement import gpu_batch_size
from evaluator.scoring.languages import LanguagePlan, resolve
from evaluator.scoring.rows import assemble_long_form

__all__ = ["Worker", "plan_long_sample"]


def _weights_source(spec: ModelSpec, backend: Any) -> dict[str, Any]:
    """Where the backend's weights came from and their sha256 (never fails the worker)."""
    loaded = getattr(backend, "weights", None)
    if loaded is None:
        return {"kind": "unknown"}
    started = time.perf_counter()
    try:
        source = describe_weights(spec.model, str(loaded), revision=spec.options_dict().get("revision")).to_dict()
    except Exception as exc:  # an unreadable file: say so in the run, keep evaluating
        return {"kind": "unknown", "path": str(loaded), "error": error_text(exc)}
    return {**source, "hash_seconds": round(time.perf_counter() - started, 3)}


class Worker:
    """One model on one device. Wrapped with ``ray.remote`` by the driver.

    Args:
        spec: the model to load.
        device: resolved device (``cpu``, ``cuda``, ``mps``).
        cpu_threads: inference threads (the CPUs the actor reserved).
        languages: the run's languages as the driver settled them (a plain code: ``--language``).
        long_form: how audio longer than the model's window is handled.
        scoring: the run's scoring profile (:mod:`evaluator.scoring.profiles`), carried by every row.
        datasets: the run's datasets, opened on another thread while the model loads (their
            libraries' imports and index reads then cost the first shard nothing).
    """

    def __init__(self, spec: ModelSpec, device: str, cpu_threads: int, languages: LanguagePlan | str | None,
                 long_form: LongForm, scoring: str = "whisper", datasets: Sequence[DatasetSpec] = ()):
        self.allocator = tune_allocator()  # before the model's buffers exist
        self._opened: dict[DatasetSpec, OpenedDataset] = {}
        self._lock = threading.Lock()  # the actor's call threads share the datasets and stages
        with ThreadPoolExecutor(1, thread_name_prefix="open-datasets") as opener:
            opening = opener.submit(self._open_early, tuple(datasets))
            started = time.perf_counter()
            backend_cls = get_backend(spec.backend).for_model(spec.model, spec.options_dict())
            self.spec = spec
            self.backend = backend_cls(spec.model, device, spec.options_dict(), cpu_threads)
            self.load_seconds = time.perf_counter() - started
            opening.result()
        self.batch_reason = _choose_gpu_batch(self.backend, spec)
        self.weights = _weights_source(spec, self.backend)
        if not isinstance(languages, LanguagePlan):
            languages = LanguagePlan(resolve(languages).code if languages else None)
        self.languages = languages
        self.supported = backend_cls.supported_languages(spec.model)
        self.long_form = long_form
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._device_lock = threading.Lock()  # one call into the model at a time
        self.prepare = Prepare(spec.label, languages, self.supported, long_form,
                               {"device": self.backend.device, "worker": self.name, "scoring": scoring},
                               needs_audio=self.backend.needs_audio)
        self.transcribe = Transcribe(self.backend, languages, long_form, self.name, self._device_lock)
        self._per_dataset: dict[DatasetSpec, tuple[Prepare, Transcribe, LongForm]] = {}
        on_cpu = str(self.backend.device).startswith("cpu")
        self.pipeline = Pipeline(self.backend.batch_size, _needs_device, _seconds,
                                 decode_threads=max(1 if on_cpu else 2, int(cpu_threads)))

    def _stages(self, spec: DatasetSpec) -> tuple[Prepare, Transcribe, LongForm]:
        """The stages for one dataset: with its own long-form strategy and default language where
        it names them (a suite entry's ``long_form``, ``language``), else the run's."""
        if spec.long_form in (None, self.long_form.strategy) and spec.language is None:
            return self.prepare, self.transcribe, self.long_form
        with self._lock:
            return self._dataset_stages(spec)

    def _dataset_stages(self, spec: DatasetSpec) -> tuple[Prepare, Transcribe, LongForm]:
        if spec not in self._per_dataset:
            lf = dataclasses.replace(self.long_form, strategy=spec.long_form or self.long_form.strategy)
            languages = self.languages
            if spec.language:
                languages = dataclasses.replace(languages, default=resolve(spec.language).code)
            self._per_dataset[spec] = (
                Prepare(self.spec.label, languages, self.supported, lf, {**self.prepare.fields},
                        needs_audio=self.backend.needs_audio),
                Transcribe(self.backend, languages, lf, self.name, self._device_lock), lf)
        return self._per_dataset[spec]

    def info(self) -> dict[str, Any]:
        """What was loaded, where: recorded in the run."""
        return {
            "worker": self.name,
            "device": self.backend.device,
            "load_seconds": round(self.load_seconds, 3),
            "allocator": self.allocator,
            "options": self.backend.effective_options,
            "warnings": self.backend.warnings,
            "details": self.backend.details,  # e.g. the prompt in effect
            "versions": self.backend.library_versions(),
            "compute_type": getattr(self.backend, "compute_type_used", None),
            "cpu": cpu_info(),
            "weights": self.weights,
            "batch_size": self.pipeline.batch_size,
            **({"batch_size_reason": self.batch_reason} if self.batch_reason else {}),
            # what the scheduler keeps in flight here, so the reader never waits for a shard
            "in_flight_samples": self.pipeline.in_flight_samples,
            "decode_threads": self.pipeline.decode_threads,
            **({"runtime_libraries": libs} if (libs := getattr(self.backend, "runtime_libraries", None)) else {}),
        }

    def peak_memory_mb(self) -> float:
        """Peak resident memory of this actor process so far (MiB)."""
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024

    def pipeline_stats(self) -> PipelineStats:
        """When each decode and each device batch ran so far (benchmarks)."""
        return self.pipeline.stats

    def close(self) -> None:
        """Stop the pipeline's threads (a Ray actor simply ends with its process)."""
        self.pipeline.close()

    def _open_early(self, specs: tuple[DatasetSpec, ...]) -> None:
        """Open the datasets ahead of the first shard; one that fails is opened again (and its
        error reported) when a shard of it arrives."""
        for spec in specs:
            try:
                self._open(spec)
            except Exception:  # noqa: S112 - reported by the shard that needs it
                continue

    def _open(self, spec: DatasetSpec) -> OpenedDataset:
        with self._lock:
            if spec not in self._opened:
                self._opened[spec] = open_dataset(spec, check_ids=False)  # the driver checked them
            return self._opened[spec]

    def run_shard(self, shard: Shard) -> ShardResult:
        """Transcribe and score a shard's samples.

        Returns the finished rows (with the chunks of long samples finished here) and the long
        samples to be transcribed window by window through :meth:`run_chunks` (from a streaming
        dataset, which has no random access, the windows are transcribed here and the sample
        comes back finished, with its chunks). The shard's clips go through the actor's
        pipeline: decoded ahead, batched with the clips of the other shards the actor holds,
        sorted by duration within the look-ahead (rows keep the shard's order). In a batch,
        each sample's ``inference_seconds`` is the batch time split in proportion to audio length.
        """
        opened = self._open(shard.dataset)
        prepare, transcribe, long_form = self._stages(shard.dataset)
        items: list[Item] = self.pipeline.run(read_shard(opened, shard), prepare, transcribe.batch)
        rows: list[dict[str, Any]] = []
        chunk_rows: list[dict[str, Any]] = []
        long: list[LongSample] = []
        for item in items:
            if item.windows is None:
                if not self.backend.needs_audio and item.row["error"] is None:  # answered by sample id
                    transcribe.by_id(item.row)
                rows.append(score(item, long_form.window))
            elif opened.streaming:  # no random access: the windows are transcribed here
                chunks = self._windows(item.cell, item.windows, item.row["language"], transcribe)
                row, done = assemble_long_form(item.row, item.windows, chunks)
                rows.append(row)
                chunk_rows += done
            else:  # the driver spreads its windows over the model's actors
                long.append(LongSample(item.row, tuple(item.windows)))
        return ShardResult([ResultRow(**r) for r in rows], [ChunkRow(**c) for c in chunk_rows], long)

    def assemble(self, job: AssembleJob) -> ShardResult:
        """Stitch a long sample's windows (from any actors) into its row and score it."""
        row, chunks = assemble_long_form(job.sample, job.windows, job.chunks)
        return ShardResult([ResultRow(**row)], [ChunkRow(**c) for c in chunks])

    def run_chunks(self, job: ChunkJob) -> list[dict[str, Any]]:
        """Transcribe some windows of one long sample; one dict per window (its error, if it
        could not be read or transcribed). The windows go through the pipeline like a shard's
        clips, so they share batches with the clips of the shards the actor holds; each
        window's ``inference_seconds`` is its share of its batch, as a clip's is."""
        sample = read_row(self._open(job.dataset), job.sample_index)
        prepare, transcribe, _ = self._stages(job.dataset)
        return self._windows(sample.audio, list(job.windows), prepare.language(sample.language), transcribe)

    def _windows(self, cell: Any, windows: list[Window], language: str | None,
                 transcribe: Transcribe) -> list[dict[str, Any]]:
        """Windows of one file through the pipeline: each read by seeking on a decoder thread
        (:func:`~evaluator.run.execute.stages.read_window`), transcribed as one clip in the
        device's batches, then its skipped speech transcribed again on this thread."""
        items: list[Item] = self.pipeline.run(
            windows, lambda window: read_window(cell, window, language, transcribe.worker), transcribe.batch)
        return transcribe.finish_windows(items, windows)


def _choose_gpu_batch(backend: Any, spec: ModelSpec) -> str | None:
    """On CUDA, a batching backend whose batch size the user left open gets one from the GPU's
    free memory and the loaded weights (:func:`evaluator.run.plan.placement.gpu_batch_size`);
    returns why, or None where nothing was chosen."""
    if not (str(backend.device).startswith("cuda") and backend.batch_size > 1
            and "batch_size" not in spec.options_dict()):
        return None
    try:
        import torch

        free, _ = torch.cuda.mem_get_info()
        weights_mb = torch.cuda.memory_allocated() / 2**20
    except Exception as exc:  # a backend without torch on CUDA: its default stands
        return f"batch size {backend.batch_size}: the backend's default (free GPU memory unknown: {exc})"
    backend.batch_size, reason = gpu_batch_size(weights_mb, free / 2**20, backend.batch_size)
    return reason


def _needs_device(item: Item) -> bool:
    """A prepared item the model transcribes whole (not an error, not a long sample's plan)."""
    return item.audio is not None and item.row["error"] is None


def _seconds(item: Item) -> float:
    return float(item.row.get("audio_seconds") or 0.0)
