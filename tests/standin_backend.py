"""A stand-in accelerator for tests and benchmarks: each batch takes ``seconds_per_batch`` plus
``seconds_per_clip`` per clip with the CPU left free (it sleeps, as a CPU thread waiting on a GPU
kernel does), and answers ``text``. Not registered; a run names it by import path:

    --model "tests.standin_backend.StandInBackend:none?batch_size=32&seconds_per_clip=0.02"
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from evaluator.models.backends.base import Backend, Transcription


class StandInBackend(Backend):
    name: ClassVar[str] = "stand-in"
    extra: ClassVar[str] = "core"
    modules: ClassVar[tuple[str, ...]] = ()
    distributions: ClassVar[tuple[str, ...]] = ()
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    options: ClassVar[Mapping[str, Any]] = {"text": "stand in", "batch_size": 32, "seconds_per_clip": 0.02,
                                          "seconds_per_batch": 0.0}
    description: ClassVar[str] = "a stand-in accelerator: sleeps a fixed time per clip"
    default_memory_mb: ClassVar[float] = 300.0

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        self.text = str(self.effective_options["text"])
        self.batch_size = int(self.effective_options["batch_size"])
        self.per_clip = float(self.effective_options["seconds_per_clip"])
        self.per_batch = float(self.effective_options["seconds_per_batch"])
        self.calls: list[tuple[int, int]] = []  # (clips, thread) per call
        self.batches: list[list[float]] = []  # each call's clips, by their seconds

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        return self.transcribe_batch([audio], [language])[0]

    def transcribe_batch(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        self.calls.append((len(audios), threading.get_ident()))
        self.batches.append([len(a) / 16000 for a in audios])
        time.sleep(self.per_batch + self.per_clip * len(audios))
        return [Transcription(self.text, end_seconds=len(a) / 16000) for a in audios]
