"""The worker that a Ray actor wraps: loads one backend once, then transcribes work items.

Two kinds of work arrive from the driver:

- a :class:`~evaluator.data.shards.Shard` of samples: short samples are transcribed and scored
  here; a sample longer than the window under the ``chunked``/``vad`` strategies is only
  *planned* (its windows computed from the file header or a VAD pass) and handed back, so the
  driver can spread its windows over all actors;
- a :class:`~evaluator.data.shards.ChunkJob`: some windows of one long sample, each read from the
  file by seeking (memory is bounded by the window, not the file).

The work flows one way through the stages of :mod:`evaluator.run.execute.stages` (read, prepare,
transcribe, score); this module loads the model and wires them. Per-sample failures (audio that
does not decode, inference that raises) become rows with ``error`` set; they never become empty
hypotheses.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import socket
import sys
import time
from typing import Any

from evaluator.data.opened import OpenedDataset
from evaluator.data.readers import read_row, read_shard
from evaluator.data.shards import AssembleJob, ChunkJob, Shard
from evaluator.data.sources import open_dataset
from evaluator.data.spec import DatasetSpec
from evaluator.data.windows import LongForm
from evaluator.models.backends import get_backend
from evaluator.models.provenance import describe_weights
from evaluator.models.spec import ModelSpec
from evaluator.results.records import ChunkRow, ResultRow
from evaluator.run.execute.stages import Prepare, Transcribe, error_text, plan_long_sample, score
from evaluator.run.plan.hardware import cpu_info
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
    """

    def __init__(self, spec: ModelSpec, device: str, cpu_threads: int, languages: LanguagePlan | str | None,
                 long_form: LongForm, scoring: str = "whisper"):
        started = time.perf_counter()
        backend_cls = get_backend(spec.backend).for_model(spec.model, spec.options_dict())
        self.spec = spec
        self.backend = backend_cls(spec.model, device, spec.options_dict(), cpu_threads)
        self.load_seconds = time.perf_counter() - started
        self.weights = _weights_source(spec, self.backend)
        if not isinstance(languages, LanguagePlan):
            languages = LanguagePlan(resolve(languages).code if languages else None)
        self.languages = languages
        self.supported = backend_cls.supported_languages(spec.model)
        self.long_form = long_form
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._opened: dict[DatasetSpec, OpenedDataset] = {}
        self.prepare = Prepare(spec.label, languages, self.supported, long_form,
                               {"device": self.backend.device, "worker": self.name, "scoring": scoring},
                               needs_audio=self.backend.needs_audio)
        self.transcribe = Transcribe(self.backend, languages, long_form, self.name)
        self._per_dataset: dict[DatasetSpec, tuple[Prepare, Transcribe, LongForm]] = {}

    def _stages(self, spec: DatasetSpec) -> tuple[Prepare, Transcribe, LongForm]:
        """The stages for one dataset: with its own long-form strategy and default language where
        it names them (a suite entry's ``long_form``, ``language``), else the run's."""
        if spec.long_form in (None, self.long_form.strategy) and spec.language is None:
            return self.prepare, self.transcribe, self.long_form
        if spec not in self._per_dataset:
            lf = dataclasses.replace(self.long_form, strategy=spec.long_form or self.long_form.strategy)
            languages = self.languages
            if spec.language:
                languages = dataclasses.replace(languages, default=resolve(spec.language).code)
            self._per_dataset[spec] = (
                Prepare(self.spec.label, languages, self.supported, lf, {**self.prepare.fields},
                        needs_audio=self.backend.needs_audio),
                Transcribe(self.backend, languages, lf, self.name), lf)
        return self._per_dataset[spec]

    def info(self) -> dict[str, Any]:
        """What was loaded, where: recorded in the run."""
        return {
            "worker": self.name,
            "device": self.backend.device,
            "load_seconds": round(self.load_seconds, 3),
            "options": self.backend.effective_options,
            "warnings": self.backend.warnings,
            "details": self.backend.details,  # e.g. the prompt in effect
            "versions": self.backend.library_versions(),
            "compute_type": getattr(self.backend, "compute_type_used", None),
            "cpu": cpu_info(),
            "weights": self.weights,
            **({"runtime_libraries": libs} if (libs := getattr(self.backend, "runtime_libraries", None)) else {}),
        }

    def peak_memory_mb(self) -> float:
        """Peak resident memory of this actor process so far (MiB)."""
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024

    def _open(self, spec: DatasetSpec) -> OpenedDataset:
        if spec not in self._opened:
            self._opened[spec] = open_dataset(spec, check_ids=False)  # the driver checked them
        return self._opened[spec]

    def run_shard(self, shard: Shard) -> dict[str, list[Any]]:
        """Transcribe and score a shard's samples.

        Returns ``{"rows": finished ResultRows, "chunks": their ChunkRows, "long": [{"sample": row
        fields, "windows": [...]}]}``; ``long`` lists samples to be transcribed window by window
        through :meth:`run_chunks` (from a streaming dataset, which has no random access, the
        windows are transcribed here and the sample comes back finished, with its chunks).
        A backend that batches gets the shard's clips sorted by duration (rows keep the shard's
        order). In a batch, each sample's ``inference_seconds`` is the batch time split in
        proportion to audio length.
        """
        opened = self._open(shard.dataset)
        prepare, transcribe, long_form = self._stages(shard.dataset)
        items = [prepare(sample) for sample in read_shard(opened, shard)]
        transcribe.items(items)
        rows: list[dict[str, Any]] = []
        chunk_rows: list[dict[str, Any]] = []
        long: list[dict[str, Any]] = []
        for item in items:
            if item.windows is None:
                rows.append(score(item, long_form.window))
            elif opened.streaming:  # no random access: the windows are transcribed here
                chunks = transcribe.windows(item.cell, item.windows, item.row["language"])
                row, done = assemble_long_form(item.row, item.windows, chunks)
                rows.append(row)
                chunk_rows += done
            else:  # the driver spreads its windows over the model's actors
                long.append({"sample": item.row, "windows": item.windows})
        return {"rows": [ResultRow(**r) for r in rows], "chunks": [ChunkRow(**c) for c in chunk_rows], "long": long}

    def assemble(self, job: AssembleJob) -> dict[str, list[Any]]:
        """Stitch a long sample's windows (from any actors) into its row and score it."""
        row, chunks = assemble_long_form(job.sample, job.windows, job.chunks)
        return {"rows": [ResultRow(**row)], "chunks": [ChunkRow(**c) for c in chunks]}

    def run_chunks(self, job: ChunkJob) -> list[dict[str, Any]]:
        """Transcribe some windows of one long sample; one dict per window."""
        sample = read_row(self._open(job.dataset), job.sample_index)
        prepare, transcribe, _ = self._stages(job.dataset)
        return transcribe.windows(sample.audio, list(job.windows), prepare.language(sample.language))
