"""The worker that a Ray actor wraps: loads one backend once, then transcribes shards.

Per-sample failures (audio that does not decode, inference that raises) become result rows
with ``error`` set; they never become empty hypotheses. Rows are scored here, with the same
:func:`evaluator.metrics.score` the tests use, so the driver only writes.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from evaluator.audio import SAMPLE_RATE, decode_audio
from evaluator.backends import get_backend
from evaluator.config import DatasetSpec, ModelSpec
from evaluator.dataset import OpenedDataset, Shard, open_dataset, read_shard
from evaluator.metrics import score

__all__ = ["Worker"]


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


class Worker:
    """One model on one device. Wrapped with ``ray.remote`` by the driver.

    Args:
        spec: the model to load.
        device: resolved device (``cpu``, ``cuda``, ``mps``).
        cpu_threads: inference threads (the CPUs the actor reserved).
        default_language: language for samples whose dataset has no language column.
    """

    def __init__(self, spec: ModelSpec, device: str, cpu_threads: int, default_language: str | None):
        started = time.perf_counter()
        backend_cls = get_backend(spec.backend)
        self.spec = spec
        self.backend = backend_cls(spec.model, device, spec.options_dict(), cpu_threads)
        self.load_seconds = time.perf_counter() - started
        self.default_language = default_language
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._opened: dict[DatasetSpec, OpenedDataset] = {}

    def info(self) -> dict[str, Any]:
        """What was loaded, where: recorded in the run."""
        return {
            "worker": self.name,
            "device": self.backend.device,
            "load_seconds": round(self.load_seconds, 3),
            "options": self.backend.effective_options,
            "versions": self.backend.library_versions(),
        }

    def _open(self, spec: DatasetSpec) -> OpenedDataset:
        if spec not in self._opened:
            self._opened[spec] = open_dataset(spec)
        return self._opened[spec]

    def run_shard(self, shard: Shard) -> list[dict[str, Any]]:
        """Transcribe and score every sample of a shard; one row per sample."""
        opened = self._open(shard.dataset)
        rows = []
        for sample in read_shard(opened, shard):
            row: dict[str, Any] = {
                "sample_id": sample.sample_id,
                "sample_index": sample.index,
                "language": sample.language or self.default_language,
                "reference": sample.reference,
                "hypothesis": None,
                "audio_seconds": None,
                "decode_seconds": None,
                "inference_seconds": None,
                "truncated": None,
                "device": self.backend.device,
                "worker": self.name,
                "error": None,
            }
            try:
                started = time.perf_counter()
                audio = decode_audio(sample.audio)
                row["decode_seconds"] = time.perf_counter() - started
                row["audio_seconds"] = len(audio) / SAMPLE_RATE
                started = time.perf_counter()
                result = self.backend.transcribe(audio, row["language"])
                row["inference_seconds"] = time.perf_counter() - started
                row["hypothesis"] = result.text
                row["truncated"] = result.truncated
            except Exception as exc:  # any per-sample failure becomes an error row
                row["error"] = _error_text(exc)
            s = score(sample.reference, row["hypothesis"] or "")
            row.update(
                reference_norm=s.reference_norm,
                ref_words=s.ref_words,
                ref_chars=s.ref_chars,
            )
            if row["error"] is None:
                row.update(
                    hypothesis_norm=s.hypothesis_norm,
                    hits=s.hits,
                    substitutions=s.substitutions,
                    deletions=s.deletions,
                    insertions=s.insertions,
                    hyp_words=s.hyp_words,
                    char_errors=s.char_errors,
                )
            rows.append(row)
        return rows
