"""The ``transformers`` backend: one spec prefix for every family, dispatched on the checkpoint's config.

``transformers:<hub id or local folder>`` is read on the driver: :meth:`TransformersBackend.for_model`
reads its ``config.json`` (``model_type``, ``architectures``), picks the family
(:func:`evaluator.models.families.family_for`) and returns the Backend class that runs it: the
family's own (:attr:`FamilyInfo.backend`: Whisper checkpoints and the bundled ``tiny.en``/``base`` run
in :class:`~evaluator.models.families.whisper.TransformersWhisperBackend`), else a
:class:`FamilyBackend` subclass whose class attributes (options, window, long-form default,
languages) are the family's, so the driver plans it like any backend. A checkpoint no family runs
is refused there, before any actor starts. Constructed directly, :class:`TransformersBackend`
loads that class and transcribes through it.

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
from evaluator.models.contract import Backend, Transcription
from evaluator.models.families import family_for, read_config
from evaluator.models.families.base import SHARED_OPTIONS, Family, FamilyInfo
from evaluator.models.files import ModelLocation
from evaluator.models.options import check_at_least_one, resolve_dtype
from evaluator.models.whisper import whisper_model_languages
from evaluator.scoring.languages import Language

__all__ = ["FamilyBackend", "TransformersBackend", "family_backend", "plan_batches"]

_DESCRIPTION = ("Hugging Face transformers, dispatched on the checkpoint's config.json: Whisper, CTC (wav2vec2, "
                "HuBERT, WavLM, Parakeet-CTC, ...), transducers (Parakeet TDT/RNN-T) and more")


def _runner(model: str, options: Mapping[str, Any], download: bool = True) -> type[Backend]:
    config, _ = read_config(model, options.get("revision"), download=download)
    family = family_for(config, model, options)
    return family.backend if family.backend is not None else family_backend(family)


class TransformersBackend(Backend):
    """The registered ``transformers`` backend: a dispatcher. Its class attributes say what every
    transformers checkpoint shares (spec prefix, extra, devices); :meth:`for_model` returns the
    class that runs a given checkpoint (options, window and languages are that class's)."""

    name = "transformers"
    extra = "transformers"
    modules = ("transformers", "torch")
    distributions = ("transformers", "torch")
    devices = ("cuda", "mps", "cpu")
    description = _DESCRIPTION
    bundled_weights = True  # tiny.en and base, run by the Whisper family
    hub_models = True
    default_memory_mb = 3000.0
    runtime_memory_mb = 1300.0
    options: ClassVar[Mapping[str, Any]] = {}  # each checkpoint's are those of the class for_model returns

    @classmethod
    def for_model(cls, model: str, options: Mapping[str, Any]) -> type[Backend]:
        """The Backend class that runs ``model``: its family's backend. Raises ``ConfigError``
        (supported families listed) for a checkpoint no family runs, or when its config cannot be
        read (offline and not cached)."""
        return _runner(model, options)

    @classmethod
    def resolve_options(cls, options: Mapping[str, Any], device: str) -> dict[str, Any]:
        raise ConfigError("the transformers backend's options depend on the checkpoint: resolve them on the class "
                          "get_backend('transformers').for_model(model, options) returns")

    @classmethod
    def check_model(cls, model: str, options: Mapping[str, Any]) -> ModelLocation:
        location = super().check_model(model, options)
        if location.kind in ("path", "hub-cache"):  # the config is on disk: refuse what no family runs, now
            _runner(model, options, download=False)
        return location

    @classmethod
    def supported_languages(cls, model: str) -> frozenset[str] | None:
        try:
            runner = _runner(model, {}, download=False)
        except ConfigError:  # no config to read yet (a hub id not downloaded): Whisper's rule
            return whisper_model_languages(model)
        return runner.supported_languages(model)

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        """Load ``model`` in the class :meth:`for_model` picks; transcribe through it."""
        self.runner = type(self).for_model(model, options)(model, device, options, cpu_threads)
        self.model = model
        self.cpu_threads = cpu_threads
        self.device = self.runner.device
        self.effective_options = self.runner.effective_options
        self.warnings = self.runner.warnings
        self.details = self.runner.details
        self.batch_size = self.runner.batch_size
        self.weights = getattr(self.runner, "weights", model)
        self.compute_type_used = getattr(self.runner, "compute_type_used", None)

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        return self.runner.transcribe(audio, language)

    def transcribe_batch(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        return self.runner.transcribe_batch(audios, languages)


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
        resolved["dtype"] = resolve_dtype(resolved["dtype"], device)
        check_at_least_one(resolved, "batch_size")
        if not isinstance(resolved["trust_remote_code"], bool):
            raise ConfigError(f"trust_remote_code must be true or false, got {resolved['trust_remote_code']!r}")
        cls.family.check_options(resolved)
        return resolved

    @classmethod
    def supported_languages(cls, model: str) -> frozenset[str] | None:
        try:
            config, _ = read_config(model, download=False)
        except ConfigError:
            config = {}
        return cls.family.supported_languages(config, model)

    @classmethod
    def language_code(cls, language: Language) -> str | None:
        return cls.family.language_code(language)

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        from evaluator.models.torch_runtime import attention_implementation, prepare_torch, torch_dtype

        target = prepare_torch(device, cpu_threads)  # first: torch reads the MPS fallback variable on import
        opts = self.effective_options
        self.compute_type_used = opts["dtype"]
        self.device = str(target)
        self.adapter = self.family(model, target, torch_dtype(opts["dtype"]), opts)
        self.weights = self.adapter.weights
        self.warnings.extend(self.adapter.warnings)
        self.details.update({"family": self.family.name, **self.adapter.details})
        if (attention := attention_implementation(getattr(self.adapter, "model", None))) is not None:
            self.details["attention"] = attention  # recorded with the run
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


def family_backend(family: type[FamilyInfo], **attributes: Any) -> type[FamilyBackend]:
    """The :class:`FamilyBackend` subclass that describes ``family`` (a :class:`Family` adapter) to
    the driver; ``attributes`` override class attributes (a spec prefix of its own: ``name``,
    ``extra``, ``modules``)."""
    if not (isinstance(family, type) and issubclass(family, Family)):
        raise TypeError(f"{family.__name__} runs in {family.backend}, not in the family backend")
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
        "large_model": family.large_model,
        "__module__": __name__,
        **attributes,
    })
