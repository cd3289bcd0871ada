"""A benchmark backend that does no model work: it answers ``text`` (an option) at once.

Not registered in the product; a run names it by import path, with ``bench/`` on the path
(the driver's working directory and script directory reach every local Ray worker):

    --model "echo_backend.EchoBackend:none?text=hello world"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from evaluator.models.backends.base import Backend, Transcription


class EchoBackend(Backend):
    name: ClassVar[str] = "echo"
    extra: ClassVar[str] = "core"
    modules: ClassVar[tuple[str, ...]] = ()
    distributions: ClassVar[tuple[str, ...]] = ()
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    options: ClassVar[Mapping[str, Any]] = {"text": "", "batch_size": 16}
    description: ClassVar[str] = "benchmark: answers a fixed text instantly"
    default_memory_mb: ClassVar[float] = 300.0  # no weights: a Ray worker with evaluator imported

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        self.text = str(self.effective_options["text"])
        self.batch_size = int(self.effective_options["batch_size"])

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        return Transcription(self.text, end_seconds=len(audio) / 16000)
