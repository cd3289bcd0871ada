"""Whisper in transformers: run by :class:`~evaluator.models.backends.transformers_whisper.TransformersWhisperBackend`
(openai-whisper's feature padding, language detection, native long-form): through the family
dispatch, ``transformers:tiny.en`` and ``transformers:openai/whisper-small`` give the transcripts of
that backend."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from evaluator.models.backends.base import Backend
from evaluator.models.backends.transformers_whisper import TransformersWhisperBackend
from evaluator.models.families.base import Family, Transcription

__all__ = ["WhisperFamily"]


class WhisperFamily(Family):
    """Whisper checkpoints; served by :attr:`backend` (the adapter methods are not used)."""

    name = "whisper"
    kind = "seq2seq"
    description = "OpenAI Whisper (WhisperForConditionalGeneration), the bundled tiny.en/base too"
    model_types = ("whisper",)
    architectures = ("WhisperForConditionalGeneration",)
    examples = ("openai/whisper-large-v3-turbo", "openai/whisper-small", "tiny.en (bundled)")
    #: The Backend class that runs this family instead of the generic family backend.
    backend: ClassVar[type[Backend]] = TransformersWhisperBackend

    def transcribe(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        raise NotImplementedError("Whisper checkpoints run in TransformersWhisperBackend")
