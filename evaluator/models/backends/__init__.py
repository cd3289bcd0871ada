"""Backend registry: spec prefix -> Backend class. Adding a backend is one file plus one line;
a backend outside this package is named by its import path (``my_pkg.asr.MyBackend:model``)."""

from __future__ import annotations

import importlib

from evaluator.models.backends.base import Backend, Transcription
from evaluator.models.backends.faster_whisper import FasterWhisperBackend
from evaluator.models.backends.lfm_audio import LfmAudioBackend
from evaluator.models.backends.openai_whisper import OpenAIWhisperBackend
from evaluator.models.backends.predictions import PredictionsBackend
from evaluator.models.backends.seamless_m4t import SeamlessM4TBackend
from evaluator.models.families.backend import TransformersBackend

__all__ = ["Backend", "Transcription", "BACKENDS", "backend_names", "get_backend"]

BACKENDS: dict[str, type[Backend]] = {
    cls.name: cls
    for cls in (
        FasterWhisperBackend,
        OpenAIWhisperBackend,
        TransformersBackend,
        SeamlessM4TBackend,
        LfmAudioBackend,
        PredictionsBackend,
    )
}


def backend_names() -> list[str]:
    return sorted(BACKENDS)


def get_backend(name: str) -> type[Backend]:
    """The Backend class for a spec prefix: a registered name, or the import path of a
    :class:`Backend` subclass (``package.module.Class``; the module must be importable on the
    driver and on every node, e.g. installed or in the driver's working directory)."""
    if name in BACKENDS:
        return BACKENDS[name]
    if "." not in name:
        raise KeyError(f"unknown backend {name!r}; valid backends: {', '.join(backend_names())}, "
                       "or the import path of a Backend subclass (package.module.Class)")
    module_name, _, class_name = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise KeyError(f"backend {name!r}: cannot import {class_name} from {module_name} ({exc}); registered "
                       f"backends: {', '.join(backend_names())}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise KeyError(f"backend {name!r} is not a subclass of evaluator.models.backends.Backend")
    return cls
