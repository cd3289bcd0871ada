"""Backend registry: spec prefix -> Backend class. Adding a backend is one file plus one line."""

from __future__ import annotations

from evaluator.backends.base import Backend, Transcription
from evaluator.backends.faster_whisper import FasterWhisperBackend
from evaluator.backends.lfm_audio import LfmAudioBackend
from evaluator.backends.openai_whisper import OpenAIWhisperBackend
from evaluator.backends.seamless_m4t import SeamlessM4TBackend
from evaluator.backends.transformers_whisper import TransformersWhisperBackend

__all__ = ["Backend", "Transcription", "BACKENDS", "backend_names", "get_backend"]

BACKENDS: dict[str, type[Backend]] = {
    cls.name: cls
    for cls in (
        FasterWhisperBackend,
        OpenAIWhisperBackend,
        TransformersWhisperBackend,
        SeamlessM4TBackend,
        LfmAudioBackend,
    )
}


def backend_names() -> list[str]:
    return sorted(BACKENDS)


def get_backend(name: str) -> type[Backend]:
    try:
        return BACKENDS[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; valid backends: {', '.join(backend_names())}") from None
