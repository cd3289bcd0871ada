"""``predictions:PATH``: transcripts made elsewhere, scored beside the models evaluator runs.

No model runs: each sample's hypothesis is looked up in the file by the sample's id (see
:mod:`evaluator.data.predictions` for the formats and how ids match). A sample with no prediction
becomes an error row naming it; predictions that match no sample are reported at the end of the
run. Seconds in the file (a leaderboard manifest's ``time``, a CSV's ``seconds``) become the rows'
inference time, so RTFx compares with the models run here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from evaluator.data.predictions import Predictions, read_predictions
from evaluator.errors import ConfigError, DatasetError
from evaluator.models.backends.base import Backend, Transcription
from evaluator.models.files import ModelLocation

__all__ = ["PredictionsBackend", "MissingPrediction"]


class MissingPrediction(LookupError):
    """The file has no prediction for a sample."""


class PredictionsBackend(Backend):
    name = "predictions"
    extra = "core"
    modules: ClassVar[tuple[str, ...]] = ()
    distributions: ClassVar[tuple[str, ...]] = ()
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    options: ClassVar[Mapping[str, Any]] = {}
    description = "transcripts made elsewhere (leaderboard/NeMo JSONL with pred_text, CSV/TSV, Kaldi text)"
    window_seconds = None
    long_form_default = "none"
    needs_audio = False
    default_memory_mb = 50.0
    runtime_memory_mb = 150.0

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        self.predictions: Predictions = read_predictions(model)

    @classmethod
    def check_model(cls, model: str, options: Mapping[str, Any]) -> ModelLocation:
        try:
            found = read_predictions(model)
        except DatasetError as exc:
            raise ConfigError(f"predictions:{model}: {exc}") from exc
        return ModelLocation("path", (os.path.abspath(model),), f"{len(found.by_key)} predictions in {model}")

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        raise ConfigError("predictions are looked up by sample id, not transcribed from audio")

    def transcribe_sample(self, sample_id: str) -> Transcription:
        """The prediction of ``sample_id``; ``seconds`` is the file's timing (None if it has none).

        Raises:
            MissingPrediction: the file has no line for this sample.
        """
        found = self.predictions.get(sample_id)
        if found is None:
            raise MissingPrediction(f"{os.path.basename(self.model)} has no prediction for sample {sample_id!r}")
        return Transcription(text=found.text, seconds=found.seconds)
