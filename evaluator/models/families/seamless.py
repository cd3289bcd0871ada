"""SeamlessM4T v2 (Meta): speech-to-text into the spoken language, a transformers generative family.

Checkpoints: a hub id (``facebook/seamless-m4t-v2-large``) or a folder saved with ``save_pretrained``
(model, processor and a ``generation_config.json`` holding ``text_decoder_lang_to_code_id``).
Loaded as ``SeamlessM4Tv2ForSpeechToText`` (speech encoder + text decoder only). Run by
``transformers:<checkpoint>`` (dispatched on ``config.json``) and by the ``seamless-m4t:``
spec prefix, which names this family directly.

Done as the model card does it: ``processor(audio=..., sampling_rate=16000)``, then
``model.generate(**inputs, tgt_lang=<code>)`` greedily, and the tokens after the decoder prompt
(the start token and the language token) decoded with special tokens skipped. ASR is
speech-to-text with the target language set to the language spoken, so every sample needs a
language: ISO 639-1 codes (``en``), locales (``en_us``, ``pt-BR``) and the model's own codes
(``eng``, ``cmn_Hant``) are accepted. Clips shorter than 0.1 s are zero-padded to it (the feature
extractor needs a few 25 ms frames).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from evaluator.data.audio import SAMPLE_RATE
from evaluator.errors import ConfigError
from evaluator.models.contract import Transcription
from evaluator.models.families.generative import GenerativeFamily
from evaluator.scoring.languages import Language, LanguageError, resolve, seamless_code, seamless_languages

__all__ = ["SeamlessM4TFamily", "seamless_language"]

MIN_SAMPLES = SAMPLE_RATE // 10


def seamless_language(code: str, supported: Collection[str]) -> str:
    """Map a language value (any form :func:`evaluator.scoring.languages.resolve` accepts, or the model's
    own code such as ``cmn_Hant``) to the Seamless code in ``supported``.

    Raises:
        ValueError: the code maps to no language the model can write; the message lists some.
    """
    raw = code.strip().replace("__", "")
    if raw in supported:
        return raw
    try:
        mapped = seamless_code(resolve(raw)) or raw
    except LanguageError:
        mapped = raw
    if mapped in supported:
        return mapped
    examples = ", ".join(sorted(supported)[:12])
    raise ValueError(
        f"language {code!r} is not one this SeamlessM4T model transcribes into "
        f"(looked for {mapped!r}); use an ISO 639-1 code such as en, fr, de or one of the model's "
        f"{len(supported)} codes, e.g. {examples}"
    )


class SeamlessM4TFamily(GenerativeFamily):
    name = "seamless-m4t"
    kind = "seq2seq"
    description = "SeamlessM4T v2 (Meta): speech encoder + text decoder, the target language set to the spoken one"
    architectures = ("SeamlessM4Tv2ForSpeechToText", "SeamlessM4Tv2Model")
    model_types = ("seamless_m4t_v2",)
    model_class = "SeamlessM4Tv2ForSpeechToText"
    examples = ("facebook/seamless-m4t-v2-large",)
    # sentencepiece: checkpoints that ship only sentencepiece.bpe.model (no tokenizer.json) need it.
    modules = ("sentencepiece",)
    install = "pip install 'evaluator[seamless-m4t]'"
    takes_language = True
    needs_language = True  # it writes text in a target language and cannot detect the spoken one
    default_memory_mb = 8000.0  # about 6 GB of float32 weights, + runtime
    large_model = True

    @classmethod
    def supported_languages(cls, config: Mapping[str, Any], model: str) -> frozenset[str] | None:
        return seamless_languages()  # resolved when asked: importing the family stays cheap

    @classmethod
    def language_code(cls, language: Language) -> str | None:
        return seamless_code(language)

    def __init__(self, source: str, device: Any, dtype: Any, options: Mapping[str, Any]):
        super().__init__(source, device, dtype, options)
        lang_ids = getattr(self.model.generation_config, "text_decoder_lang_to_code_id", None)
        if not lang_ids:
            raise ConfigError(
                f"{source}: its generation config has no text_decoder_lang_to_code_id, so no target "
                "language can be set; save the model with the generation_config.json it was released with"
            )
        self.codes: frozenset[str] = frozenset(lang_ids)

    def transcribe(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        codes = [self.code(language) for language in languages]  # every language checked before any work
        return super().transcribe(audios, codes)

    def code(self, language: str | None) -> str:
        """The model's code for a sample's language; ``ValueError`` naming the fix when there is none."""
        if not language:
            raise ValueError(
                "SeamlessM4T needs the spoken language of each sample (it writes text in a target "
                "language): pass --language (e.g. --language en) or use a dataset with a language "
                "column (--language-column)"
            )
        return seamless_language(language, self.codes)

    def inputs(self, audios: list[np.ndarray], language: str | None) -> Any:
        arrays = [np.pad(a, (0, MIN_SAMPLES - a.size)) if a.size < MIN_SAMPLES else a for a in audios]
        return self.processor(audio=arrays, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True)

    def prompt_length(self, inputs: Any) -> int:
        return 2  # the decoder start token (</s>) and the language token

    def generate_kwargs(self, cap: int, language: str | None) -> dict[str, Any]:
        return {**super().generate_kwargs(cap, language), "tgt_lang": language}

