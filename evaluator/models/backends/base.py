"""The Backend interface: one loaded model on one device, transcribing 16 kHz mono audio.

A backend module imports its heavy library inside ``__init__`` (the actor), never at module
top, so the driver can list and validate backends without the libraries installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from evaluator.errors import ConfigError, MissingDependencyError
from evaluator.models.files import ModelLocation, locate_model
from evaluator.scoring.languages import Language

__all__ = ["Backend", "Segment", "Transcription", "WhisperLanguages", "whisper_model_languages"]


@dataclass(frozen=True)
class Segment:
    """A stretch of the transcript with the library's timestamps (seconds from the start of
    the audio handed to the backend)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcription:
    """What a backend returns for one audio array.

    Attributes:
        text: the raw hypothesis, as the model wrote it.
        truncated: the model stopped early (a token or length cap, or it began emitting
            something other than text).
        end_seconds: where the last transcribed segment ends, when the library says.
        segments: the transcript's timed segments, when the library gives timestamps (used to
            stitch windows inside their overlap and to find untranscribed speech); ``None``
            when it gives none.
        truncated_reason: why ``truncated`` is set (stored per row), e.g. ``token cap``.
        language: the language the model detected (its own code) when it was given none.
        language_probability: the model's probability of that language.
        seconds: the inference time the backend reports itself (a predictions file's timing);
            ``None``: the actor measures it.
    """

    text: str
    truncated: bool = False
    end_seconds: float | None = None
    segments: tuple[Segment, ...] | None = None
    truncated_reason: str | None = None
    language: str | None = None
    language_probability: float | None = None
    seconds: float | None = None


# Whisper names whose vocabulary is large-v3's (51866 tokens, with Cantonese): faster-whisper's
# names and the hub ids of the OpenAI checkpoints.
WHISPER_V3_NAMES = frozenset({
    "large-v3", "large-v3-turbo", "turbo", "distil-large-v3", "distil-large-v3.5",
    "openai/whisper-large-v3", "openai/whisper-large-v3-turbo", "distil-whisper/distil-large-v3",
    "distil-whisper/distil-large-v3.5", "systran/faster-whisper-large-v3",
    "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
})


def whisper_model_languages(model: str) -> frozenset[str]:
    """Canonical codes a Whisper model writes: English only for ``*.en`` models (``tiny.en``,
    ``openai/whisper-base.en``) and local folders with the English-only vocabulary (51864
    tokens), else Whisper's languages, with Cantonese (``yue``) only for the large-v3 vocabulary
    (51866 tokens: a local folder's, or a name in :data:`WHISPER_V3_NAMES`)."""
    from evaluator.scoring.languages import whisper_languages

    name = model.rstrip("/\\").lower()
    size = _vocabulary_size(model)
    if name.endswith(".en") or size == 51864:
        return frozenset({"en"})
    return whisper_languages(cantonese=size == 51866 or (size is None and name in WHISPER_V3_NAMES))


def _vocabulary_size(model: str) -> int | None:
    """Tokens in a local Whisper folder's vocabulary (CTranslate2 ``vocabulary.txt`` or transformers
    ``config.json``); None for a hub id or a folder without either."""
    import json
    import os

    if not os.path.isdir(model):
        return None
    vocabulary = os.path.join(model, "vocabulary.txt")  # CTranslate2
    if os.path.isfile(vocabulary):
        with open(vocabulary, encoding="utf-8") as fh:
            return sum(1 for _ in fh)
    config = os.path.join(model, "config.json")  # transformers
    if os.path.isfile(config):
        with open(config, encoding="utf-8") as fh:
            return json.load(fh).get("vocab_size")
    return None


class Backend(ABC):
    """One model loaded on one device.

    Class attributes describe the backend to the driver (no heavy import needed):
        name: the prefix of model specs (``faster-whisper:...``).
        extra: the ``pip install 'evaluator[EXTRA]'`` extra that installs it.
        modules: import names that must be present.
        distributions: distribution names whose versions are recorded in ``runs``.
        devices: devices the library can use, in order of preference.
        options: valid spec options and their defaults (``None``: chosen per device).
        window_seconds: the longest audio the model takes in one pass (``chunked``/``vad``
            windows are at most this long); ``None``: no fixed limit.
        long_form_default: the strategy used for long audio unless the run names one.
        native_long_form: what ``native`` does with a long file (the library's algorithm and
            the defaults that shape it), stored in ``runs.config``; empty: no native long-form.
        needs_language: every sample needs a language (the model cannot detect it).
        detects_language: a multilingual model detects the language of a sample given none
            (stored per row as ``detected_language``).

    Languages (see :mod:`evaluator.scoring.languages`): :meth:`supported_languages` says which canonical
    codes a model transcribes, :meth:`language_code` what the backend's ``transcribe`` is given.
        bundled_weights: the backend loads the bundled aliases of :mod:`evaluator.models.weights`.
        hub_aliases: size names the library maps to Hugging Face hub ids.
        hub_models: other model names are Hugging Face hub ids, checked against the local cache
            (False, the default: the library resolves them itself).
        default_memory_mb: memory per actor (MiB) assumed when the weights are not on disk yet
            (see :mod:`evaluator.run.plan.placement`).
        runtime_memory_mb: memory of an actor besides its weights (MiB): Python, the Ray worker,
            the library, activations; measured with tiny models on CPU.
        large_model: a large model: on CPU, few actors with many threads rather than one per core.
    """

    name: ClassVar[str]
    extra: ClassVar[str]
    modules: ClassVar[tuple[str, ...]]
    distributions: ClassVar[tuple[str, ...]]
    devices: ClassVar[tuple[str, ...]]
    options: ClassVar[Mapping[str, Any]]
    description: ClassVar[str] = ""
    window_seconds: ClassVar[float | None] = 30.0
    long_form_default: ClassVar[str] = "native"
    native_long_form: ClassVar[str] = ""
    needs_language: ClassVar[bool] = False
    detects_language: ClassVar[bool] = False
    # False: the backend answers from the sample's id (:meth:`transcribe_sample`), no audio decoded.
    needs_audio: ClassVar[bool] = True

    @classmethod
    def supported_languages(cls, model: str) -> frozenset[str] | None:
        """Canonical codes of the languages ``model`` transcribes; ``None``: any (the backend does
        not use the language)."""
        return None

    @classmethod
    def language_code(cls, language: Language) -> str | None:
        """The backend's own code for a language (``None``: it has none)."""
        return language.code
    bundled_weights: ClassVar[bool] = False
    hub_aliases: ClassVar[Mapping[str, str]] = {}
    hub_models: ClassVar[bool] = False
    default_memory_mb: ClassVar[float] = 4000.0
    runtime_memory_mb: ClassVar[float] = 1000.0
    large_model: ClassVar[bool] = False

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        self.model = model
        self.device = device
        self.cpu_threads = cpu_threads
        self.effective_options = self.resolve_options(options, device)
        self.warnings: list[str] = []  # e.g. a device fallback; stored in runs.models

    @classmethod
    def resolve_options(cls, options: Mapping[str, Any], device: str) -> dict[str, Any]:
        """Defaults merged with the user's options; unknown names raise ``ConfigError``."""
        unknown = sorted(set(options) - set(cls.options))
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(unknown)} for backend {cls.name}; "
                f"valid: {', '.join(sorted(cls.options))}"
            )
        return {**cls.options, **options}

    @classmethod
    def check_model(cls, model: str, options: Mapping[str, Any]) -> ModelLocation:
        """Where ``model`` resolves, checked on the driver before any actor starts (no library
        import): raises ``ConfigError`` for a local path that does not exist, or a hub id that is
        not in the local cache while the hub cannot be reached. ``options`` are the effective ones."""
        return locate_model(model, cls.name, bundled=cls.bundled_weights, hub_aliases=cls.hub_aliases,
                            hub=cls.hub_models, revision=options.get("revision"))

    @classmethod
    def for_model(cls, model: str, options: Mapping[str, Any]) -> type[Backend]:
        """The class that runs ``model`` (called on the driver and in each actor before anything
        else): this class, unless the backend dispatches on the model (``transformers`` picks a
        family from the checkpoint's config). Raises ``ConfigError`` for a model it cannot run."""
        return cls

    @classmethod
    def is_installed(cls) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in cls.modules)

    @classmethod
    def require(cls) -> None:
        """Raise ``MissingDependencyError`` naming the pip command if the extra is missing."""
        missing = [m for m in cls.modules if importlib.util.find_spec(m) is None]
        if missing:
            raise MissingDependencyError(
                f"backend {cls.name} needs {', '.join(missing)}: "
                f"pip install 'evaluator[{cls.extra}]'"
            )

    @classmethod
    def library_versions(cls) -> dict[str, str | None]:
        versions: dict[str, str | None] = {}
        for dist in cls.distributions:
            try:
                versions[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                versions[dist] = None
        return versions

    batch_size: int = 1

    @abstractmethod
    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        """Transcribe one 16 kHz mono float32 array; ``language`` is the backend's code for it
        (:meth:`language_code`) or ``None`` (not given: a multilingual model detects it)."""

    def transcribe_sample(self, sample_id: str) -> Transcription:
        """The transcript of a sample by its id, for backends with ``needs_audio = False``."""
        raise NotImplementedError(f"backend {self.name} transcribes audio, not sample ids")

    def transcribe_batch(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        """Transcribe several arrays; backends that batch override this. The actor falls back
        to one-by-one calls if a batch raises, so one bad sample never fails its neighbours."""
        return [self.transcribe(a, lang) for a, lang in zip(audios, languages, strict=True)]


class WhisperLanguages:
    """Mixin for the Whisper runtimes: the languages a Whisper model writes and Whisper's codes."""

    @classmethod
    def supported_languages(cls, model: str) -> frozenset[str] | None:
        return whisper_model_languages(model)

    @classmethod
    def language_code(cls, language: Language) -> str | None:
        from evaluator.scoring.languages import whisper_code

        return whisper_code(language)
