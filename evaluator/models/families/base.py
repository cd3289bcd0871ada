"""The adapter contract: one model family of Hugging Face transformers behind the ``transformers`` backend.

A *family* is one way of running a kind of checkpoint the way its model card does (CTC argmax and
the tokenizer's CTC decode; a transducer's ``generate``; an encoder-decoder's ``generate``; a
speech-LLM's transcription request or chat template). The ``transformers`` backend
(:mod:`evaluator.models.families.backend`) reads the checkpoint's ``config.json`` on the driver,
picks the family whose :meth:`Family.matches` accepts it (:func:`evaluator.models.families.family_for`),
and in each actor holds one loaded adapter. The backend does the rest, the same for every family:
devices and dtype, batches sorted by duration (equal-length groups when :attr:`Family.pads_safely`
is false), one-by-one fallback, options checked against :attr:`Family.options`.

Writing a family is one small module:

- class attributes describe it to the driver without importing transformers (:attr:`name`,
  :attr:`kind`, :attr:`model_types`, :attr:`architectures`, :attr:`examples`, :attr:`options`,
  :attr:`window_seconds`, :attr:`long_form_default`, ...);
- ``__init__(source, device, dtype, options)`` loads the processor (on CPU) and the model (on
  ``device`` in ``dtype``); transformers is imported there, never at module top;
- :meth:`transcribe` turns a batch of 16 kHz mono float32 arrays into :class:`Transcription` s,
  one per array, in order. Only the text the model newly wrote is decoded, as the model card
  decodes it.

A family that runs in a Backend class of its own (Whisper) is a :class:`FamilyInfo` naming it in
:attr:`FamilyInfo.backend`. Register either in :data:`evaluator.models.families.FAMILIES` (order
matters only when two families could match the same config: the first match wins).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from evaluator.models.contract import Backend, Segment, Transcription
from evaluator.scoring.languages import Language

__all__ = ["KINDS", "SHARED_OPTIONS", "Family", "FamilyInfo", "Segment", "Transcription", "pretrained_kwargs"]

#: What a family is, for people and for ``evaluator models``.
KINDS = ("ctc", "transducer", "seq2seq", "speech-llm")

#: Options every family takes (handled by the backend; adapters read ``revision`` and
#: ``trust_remote_code`` through :func:`pretrained_kwargs`).
SHARED_OPTIONS: Mapping[str, Any] = {
    "dtype": None,  # float32 on CPU and MPS, float16 on CUDA; bfloat16/float16 only on accelerators
    "batch_size": 8,  # clips per forward pass (sorted by duration; see Family.pads_safely)
    "revision": None,  # hub revision (commit, branch or tag)
    "trust_remote_code": False,  # run code shipped with the checkpoint: only when the user says so
}


def pretrained_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``from_pretrained`` keyword arguments the shared options ask for (``revision``,
    ``trust_remote_code``); pass them to every ``from_pretrained`` of the checkpoint."""
    kwargs: dict[str, Any] = {}
    if options.get("revision") is not None:
        kwargs["revision"] = str(options["revision"])
    if options.get("trust_remote_code"):
        kwargs["trust_remote_code"] = True
    return kwargs


class FamilyInfo:
    """What the driver reads about a family of checkpoints (class attributes only; no heavy import).

    Attributes:
        name: short name shown by ``evaluator models`` and stored in the run (``ctc``, ``parakeet-tdt``).
        kind: one of :data:`KINDS`.
        description: one line for people.
        model_types: ``config.json`` ``model_type`` values this family runs.
        architectures: ``config.json`` ``architectures`` values this family runs (either list may
            be empty; a config matches when its model_type or one of its architectures is listed).
        examples: hub ids a user would pass (documentation and ``evaluator models``).
        options: the family's own options and their defaults, besides :data:`SHARED_OPTIONS`
            (e.g. ``num_beams``, ``max_new_tokens``, ``prompt``); any other name is refused
            with the valid ones listed.
        modules: extra import names the family needs besides transformers and torch, with
            ``install`` the pip command that installs them (e.g. ``mistral_common``).
        window_seconds: the longest audio the model takes in one pass; ``chunked``/``vad``
            windows are at most this long (``None``: no limit).
        long_form_default: the long-form strategy unless the run names one (``chunked`` where the
            model has no long-form algorithm of its own; ``native`` where it has).
        native_long_form: what ``native`` does with a long file, stored in the run ("" for none).
        takes_language: the model is given the sample's language (then a batch holds one
            language, and :meth:`language_code` maps it).
        needs_language: every sample needs a language (the model cannot detect it).
        detects_language: the model detects the language of a sample given none and returns it.
        default_memory_mb: memory per actor when the weights are not on disk to measure.
        large_model: a large model: on CPU, few actors with many threads rather than one per core.
        backend: the Backend class that runs this family (Whisper:
            :class:`~evaluator.models.families.whisper.TransformersWhisperBackend`); ``None`` for a
            :class:`Family` adapter, which the family backend hosts.
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    description: ClassVar[str] = ""
    model_types: ClassVar[tuple[str, ...]] = ()
    architectures: ClassVar[tuple[str, ...]] = ()
    examples: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[Mapping[str, Any]] = {}
    modules: ClassVar[tuple[str, ...]] = ()
    install: ClassVar[str] = ""
    window_seconds: ClassVar[float | None] = 30.0
    long_form_default: ClassVar[str] = "chunked"
    native_long_form: ClassVar[str] = ""
    takes_language: ClassVar[bool] = False
    needs_language: ClassVar[bool] = False
    detects_language: ClassVar[bool] = False
    default_memory_mb: ClassVar[float] = 4000.0
    large_model: ClassVar[bool] = False
    backend: ClassVar[type[Backend] | None] = None

    @classmethod
    def matches(cls, config: Mapping[str, Any]) -> bool:
        """Whether this family runs a checkpoint with this ``config.json`` (a plain dict): one of
        its ``architectures`` is listed (when the config and the family both name architectures:
        a ``wav2vec2`` checkpoint saved as ``Wav2Vec2ForPreTraining`` has no CTC head and is not
        a CTC model), else its ``model_type`` is."""
        named = config.get("architectures") or ()
        if named and cls.architectures:
            return any(arch in cls.architectures for arch in named)
        return config.get("model_type") in cls.model_types

    @classmethod
    def supported_languages(cls, config: Mapping[str, Any], model: str) -> frozenset[str] | None:
        """Canonical language codes the checkpoint transcribes (see :mod:`evaluator.scoring.languages`);
        ``None``: unknown / not used. ``config`` is its ``config.json``, ``model`` the spec's name."""
        return None

    @classmethod
    def language_code(cls, language: Language) -> str | None:
        """The model's own code for a language (what :meth:`Family.transcribe` is given)."""
        return language.code

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Check the values of the effective options (names are already checked); raise
        ``ConfigError`` naming the valid range. Nothing to check by default."""
        return None


class Family(FamilyInfo, ABC):
    """One family of checkpoints, loaded on one device (an *adapter*), hosted by the family
    backend (:class:`~evaluator.models.families.backend.FamilyBackend`).

    Instance attributes (set by ``__init__``):
        pads_safely: padded batches give the same answers as one-at-a-time calls (the feature
            extractor returns an attention mask the model uses). ``False`` (wav2vec2-base
            style: no attention mask) makes the backend batch only equal-length clips.
        weights: what was loaded (local folder or hub id), recorded in the run.
        warnings: notes for the run (e.g. "English-only, the config names no language").
        details: how the model is run, recorded in the run (e.g. ``prompt``: the prompt in effect).
    """

    pads_safely: bool = True

    def __init__(self, source: str, device: Any, dtype: Any, options: Mapping[str, Any]):
        """Load from ``source`` (a local folder or a hub id) onto ``device`` (a ``torch.device``)
        in ``dtype`` (a ``torch.dtype``); ``options`` are the effective ones (shared + the family's)."""
        self.source = source
        self.device = device
        self.dtype = dtype
        self.options = dict(options)
        self.weights: str = source
        self.warnings: list[str] = []
        self.details: dict[str, Any] = {}

    @abstractmethod
    def transcribe(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        """Transcribe one batch: 16 kHz mono float32 arrays (sorted by length; all of one length
        when :attr:`pads_safely` is false; of one language when :attr:`takes_language`), each
        with the model's language code or ``None``. Returns one :class:`Transcription` per array,
        in order. Decode greedily unless the options say otherwise."""
