"""The ``transformers`` backend: one spec prefix for every family, dispatched on the checkpoint's config.

``transformers:<hub id or local folder>`` is read on the driver: :meth:`TransformersBackend.for_model`
reads its ``config.json`` (``model_type``, ``architectures``), picks the family
(:func:`evaluator.models.families.family_for`) and returns the Backend class that describes and runs
it: Whisper checkpoints (and the bundled ``tiny.en``/``base``) stay on
:class:`~evaluator.models.backends.transformers_whisper.TransformersWhisperBackend` unchanged; every
other family gets a :class:`FamilyBackend` subclass whose class attributes (options, window,
long-form default, languages) are the family's, so the driver plans it like any backend. A
checkpoint no family runs is refused there, before any actor starts.

:class:`FamilyBackend` holds one adapter (:class:`~evaluator.models.families.base.Family`) per
actor and batches for it: clips sorted by duration, ``batch_size`` at a time, padded with
attention masks, or only equal-length clips together where padding would change the answers
(:attr:`Family.pads_safely` false).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from evaluator.errors import ConfigError, MissingDependencyError
from evaluator.models.backends.base import Backend, Transcription, whisper_model_languages
from evaluator.models.backends.transformers_whisper import TransformersWhisperBackend
from evaluator.models.families import family_for, read_config
from evaluator.models.families.base import SHARED_OPTIONS, Family
from evaluator.scoring.languages import Language

__all__ = ["FamilyBackend", "TransformersBackend", "family_backend", "plan_batches"]

_DESCRIPTION = ("Hugging Face transformers, dispatched on the checkpoint's config.json: Whisper, CTC (wav2vec2, "
                "HuBERT, WavLM, Parakeet-CTC, ...), transducers (Parakeet TDT/RNN-T) and more")


def _target(model: str, options: Mapping[str, Any], download: bool = True) -> type[Backend]:
    config, _ = read_config(model, options.get("revision"), download=download)
    family = family_for(config, model, options)
    return family.backend if family.backend is not None else family_backend(family)


class TransformersBackend(TransformersWhisperBackend):
    """The registered ``transformers`` backend. As a class it is the Whisper backend (bundled
    aliases, hub ids and folders of Whisper checkpoints); :meth:`for_model`
    returns the class that runs any other supported checkpoint."""

    description = _DESCRIPTION

    @classmethod
    def for_model(cls, model: str, options: Mapping[str, Any]) -> type[Backend]:
        """The Backend class that runs ``model``: this class for Whisper, else the family's
        :class:`FamilyBackend`. Raises ``ConfigError`` (supported families listed) for a checkpoint
        no family runs, or when its config cannot be read (offline and not cached)."""
        target = _target(model, options)
        return cls if target is TransformersWhisperBackend else target

    @classmethod
    def check_model(cls, model: str, options: Mapping[str, Any]) -> Any:
        location = super().check_model(model, options)
        if location.kind in ("path", "hub-cache"):  # the config is on disk: refuse what no family runs, now
            _target(model, options, download=False)
        return location

    @classmethod
    def supported_languages(cls, model: str) -> frozenset[str] | None:
        try:
            target = _target(model, {}, download=False)
        except ConfigError:  # no config to read yet (a hub id not downloaded): Whisper's rule
            return whisper_model_languages(model)
        return super().supported_languages(model) if target is TransformersWhisperBackend \
            else target.supported_languages(model)

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        target = type(self).for_model(model, options)
        if target is not type(self):
            raise ConfigError(f"transformers:{model} is a {getattr(target, 'family', target).name} checkpoint: "
                              "construct its backend with get_backend('transformers').for_model(model, options)")
        super().__init__(model, device, options, cpu_threads)


class FamilyBackend(Backend):
    """The ``transformers`` backend for one family (subclasses made by :func:`family_backend`)."""

    name = "transformers"
    extra = "transformers"
    modules = ("transformers", "torch")
    distributions = ("transformers", "torch")
    devices = ("cuda", "mps", "cpu")
    description = _DESCRIPTION
    hub_models = True
    runtime_memory_mb = 1300.0
    options: ClassVar[Mapping[str, Any]] = SHARED_OPTIONS
    family: ClassVar[type[Family]]

    @classmethod
    def for_model(cls, model: str, options: Mapping[str, Any]) -> type[Backend]:
        return cls

    @classmethod
    def require(cls) -> None:
        super().require()
        missing = [m for m in cls.family.modules if importlib.util.find_spec(m) is None]
        if missing:
            raise MissingDependencyError(f"the {cls.family.name} family needs {', '.join(missing)}: "
                                         f"{cls.family.install or 'pip install ' + ' '.join(missing)}")

    @classmethod
    def resolve_options(cls, options: Mapping[str, Any], device: str) -> dict[str, Any]:
        resolved = super().resolve_options(options, device)
        accelerator = device.startswith("cuda") or device == "mps"
        if resolved["dtype"] is None:
            resolved["dtype"] = "float16" if device.startswith("cuda") else "float32"
        if resolved["dtype"] not in ("float32", "float16", "bfloat16"):
            raise ConfigError(f"dtype {resolved['dtype']!r} is not one of float32, float16, bfloat16")
        if resolved["dtype"] != "float32" and not accelerator:
            raise ConfigError(f"dtype {resolved['dtype']} is for accelerators (cuda, mps); on {device} use float32")
        if int(resolved["batch_size"]) < 1:
            raise ConfigError(f"batch_size must be at least 1, got {resolved['batch_size']}")
        if not isinstance(resolved["trust_remote_code"], bool):
            raise ConfigError(f"trust_remote_code must be true or false, got {resolved['trust_remote_code']!r}")
        cls.family.check_options(resolved)
        return resolved

    @classmethod
    def supported_languages(cls, model: str) -> frozenset[str] | None:
        try:
            config, _ = read_config(model, download=False)
        except ConfigError:
            return None
        return cls.family.supported_languages(config, model)

    @classmethod
    def language_code(cls, language: Language) -> str | None:
        return cls.family.language_code(language)

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        from evaluator.models.backends._torch import prepare_torch, torch_dtype

        target = prepare_torch(device, cpu_threads)  # first: torch reads the MPS fallback variable on import
        opts = self.effective_options
        dtype = torch_dtype(opts["dtype"], device)
        self.compute_type_used = opts["dtype"]
        self.device = str(target)
        self.adapter = self.family(model, target, dtype, opts)
        self.weights = self.adapter.weights
        self.warnings.extend(self.adapter.warnings)
        self.batch_size = int(opts["batch_size"])

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        return self.transcribe_batch([audio], [language])[0]

    def transcribe_batch(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        """Sorted by duration, cut into batches the adapter can pad (or of equal lengths), each
        batch of one language where the model is given one; results in the input order."""
        results: list[Transcription | None] = [None] * len(audios)
        for batch in plan_batches([len(a) for a in audios], languages if self.family.takes_language else None,
                                  self.batch_size, self.adapter.pads_safely):
            out = self.adapter.transcribe([np.asarray(audios[i], dtype=np.float32) for i in batch],
                                          [languages[i] for i in batch])
            if len(out) != len(batch):
                raise RuntimeError(f"{self.family.name} adapter returned {len(out)} results for {len(batch)} clips")
            for i, result in zip(batch, out, strict=True):
                results[i] = result
        return [r for r in results if r is not None]


def plan_batches(lengths: list[int], languages: list[str | None] | None, batch_size: int,
                 pads_safely: bool) -> list[list[int]]:
    """Indices per batch: sorted by length, at most ``batch_size`` each, one language each when
    ``languages`` is given, and only equal lengths together unless ``pads_safely``."""
    groups: dict[Any, list[int]] = {}
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        key = (languages[i] if languages is not None else None, None if pads_safely else lengths[i])
        groups.setdefault(key, []).append(i)
    return [indices[s : s + batch_size] for indices in groups.values() for s in range(0, len(indices), batch_size)]


def family_backend(family: type[Family]) -> type[FamilyBackend]:
    """The :class:`FamilyBackend` subclass that describes ``family`` to the driver."""
    return type(f"Transformers{family.__name__}Backend", (FamilyBackend,), {
        "family": family,
        "options": {**SHARED_OPTIONS, **family.options},
        "description": family.description or _DESCRIPTION,
        "window_seconds": family.window_seconds,
        "long_form_default": family.long_form_default,
        "native_long_form": family.native_long_form,
        "needs_language": family.needs_language,
        "detects_language": family.detects_language,
        "default_memory_mb": family.default_memory_mb,
        "__module__": __name__,
    })
