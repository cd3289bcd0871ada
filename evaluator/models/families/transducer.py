"""Transducers: NVIDIA Parakeet TDT (token-and-duration) and RNN-T (``ParakeetForTDT``, ``ParakeetForRNNT``).

Done as the model card and transformers' ASR pipeline do it: ``processor(audio, sampling_rate=16000)``
(log-mel features with an attention mask), ``model.generate(**inputs)`` (greedy transducer decoding),
one clip at a time unless clips have equal lengths (see ``pads_safely`` below), then ``processor.batch_decode(sequences,
skip_special_tokens=True)``, which keeps legitimate repeats (no CTC grouping for transducers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from evaluator.data.audio import SAMPLE_RATE
from evaluator.models.families.base import Family, Transcription, pretrained_kwargs

__all__ = ["TransducerFamily", "TRANSDUCER_MODEL_TYPES"]

#: config.model_type -> the transformers class that runs it.
TRANSDUCER_MODEL_TYPES: Mapping[str, str] = {"parakeet_tdt": "ParakeetForTDT", "parakeet_rnnt": "ParakeetForRNNT"}


class TransducerFamily(Family):
    name = "parakeet-transducer"
    kind = "transducer"
    description = "NVIDIA Parakeet TDT and RNN-T: the model's greedy transducer generate"
    model_types = tuple(TRANSDUCER_MODEL_TYPES)
    architectures = tuple(TRANSDUCER_MODEL_TYPES.values())
    examples = ("nvidia/parakeet-tdt-0.6b-v3", "nvidia/parakeet-tdt-0.6b-v2", "nvidia/parakeet-rnnt-1.1b")
    window_seconds = 30.0
    long_form_default = "chunked"
    default_memory_mb = 4000.0

    @classmethod
    def supported_languages(cls, config: Mapping[str, Any], model: str) -> frozenset[str] | None:
        return None  # v3 transcribes 25 European languages, v2 English: the config does not say

    def __init__(self, source: str, device: Any, dtype: Any, options: Mapping[str, Any]):
        super().__init__(source, device, dtype, options)
        import transformers
        from transformers import AutoConfig, AutoProcessor

        kwargs = pretrained_kwargs(options)
        config = AutoConfig.from_pretrained(source, **kwargs)
        model_cls = getattr(transformers, TRANSDUCER_MODEL_TYPES[config.model_type])
        self.processor = AutoProcessor.from_pretrained(source, **kwargs)
        self.model = model_cls.from_pretrained(source, dtype=dtype, **kwargs)
        self.model.to(device).eval()
        # transformers 5.24's batched transducer generate clamps every clip to the longest clip's last
        # encoder frame, so a shorter clip keeps emitting past its end (measured here on Parakeet TDT:
        # batched transcripts differ from one-at-a-time ones): batch only equal-length clips.
        self.pads_safely = False
        self.warnings.append("the checkpoint's config names no language: the evaluator cannot check that the "
                             "data's language is one the model transcribes")

    def transcribe(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        import torch

        inputs = self.processor(audios, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True)
        inputs = {k: v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device)
                  for k, v in inputs.items()}
        with torch.inference_mode():
            out = self.model.generate(**inputs)
        sequences = out.sequences if hasattr(out, "sequences") else out
        texts = self.processor.batch_decode(sequences.cpu(), skip_special_tokens=True)
        return [Transcription(text.strip()) for text in texts]
