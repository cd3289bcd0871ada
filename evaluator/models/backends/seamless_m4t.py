"""SeamlessM4T v2 backend (Meta, in transformers): speech-to-text into the spoken language.

Model: a hub id (``facebook/seamless-m4t-v2-large``) or a local directory saved with
``save_pretrained`` (model, processor and a ``generation_config.json`` that holds
``text_decoder_lang_to_code_id``). Loaded as ``SeamlessM4Tv2ForSpeechToText`` (speech encoder +
text decoder only); the processor runs on CPU and the model is moved to the device.

ASR is speech-to-text with the target language set to the language spoken, so every sample
needs a language: ISO 639-1 codes (``en``), locales (``en_us``, ``pt-BR``) and the model's own
codes (``eng``, ``cmn_Hant``) are accepted. Batches are grouped by language, and within a
language by length, so padding stays small and every group gets a cap that fits its audio.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from evaluator.data.audio import SAMPLE_RATE
from evaluator.errors import ConfigError
from evaluator.models.backends._torch import check_generation_options, prepare_torch, token_budget, torch_dtype
from evaluator.models.backends.base import Backend, Transcription
from evaluator.scoring.languages import Language, LanguageError, resolve, seamless_code, seamless_languages

__all__ = ["SeamlessM4TBackend", "seamless_language"]

# The feature extractor needs a few 25 ms frames; shorter clips are zero-padded to 0.1 s.
MIN_SAMPLES = SAMPLE_RATE // 10
# generate() returns the decoder prompt first: the start token (</s>) and the language token.
_PROMPT_TOKENS = 2

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


class SeamlessM4TBackend(Backend):
    name = "seamless-m4t"
    extra = "seamless-m4t"
    # sentencepiece: checkpoints that ship only sentencepiece.bpe.model (no tokenizer.json) need it
    # to build the tokenizer; a tokenizer.json alone does not.
    modules = ("transformers", "torch", "sentencepiece")
    distributions = ("transformers", "torch", "sentencepiece")
    devices = ("cuda", "mps", "cpu")
    description = "SeamlessM4T v2 speech-to-text (Meta) in Hugging Face transformers"
    default_memory_mb = 8000.0  # about 6 GB of float32 weights, + runtime
    runtime_memory_mb = 1300.0
    hub_models = True
    large_model = True
    # No long-form algorithm of its own: long audio is cut into windows by the evaluator.
    window_seconds = 30.0
    long_form_default = "chunked"
    needs_language = True  # it writes text in a target language and cannot detect the spoken one
    options = {
        "dtype": None,  # float16 on CUDA, float32 elsewhere
        "batch_size": 8,
        "num_beams": 1,  # greedy (no sampling) by default
        "max_new_tokens": None,  # None: scaled with audio length (tokens_per_second, min_new_tokens)
        "tokens_per_second": 10.0,
        "min_new_tokens": 32,
        "revision": None,  # hub revision (commit, branch or tag)
    }

    @classmethod
    def supported_languages(cls, model: str) -> frozenset[str] | None:
        return seamless_languages()

    @classmethod
    def language_code(cls, language: Language) -> str | None:
        return seamless_code(language)

    @classmethod
    def resolve_options(cls, options: Mapping[str, Any], device: str) -> dict[str, Any]:
        resolved = super().resolve_options(options, device)
        if resolved["dtype"] is None:
            resolved["dtype"] = "float16" if device.startswith("cuda") else "float32"
        for key in ("batch_size", "num_beams"):
            if int(resolved[key]) < 1:
                raise ConfigError(f"{key} must be at least 1, got {resolved[key]}")
        check_generation_options(resolved)
        return resolved

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        opts = self.effective_options
        target = prepare_torch(device, cpu_threads)
        self._dtype = torch_dtype(opts["dtype"], device)

        from transformers import AutoProcessor, SeamlessM4Tv2ForSpeechToText

        self.weights = model
        revision = {"revision": opts["revision"]} if opts["revision"] is not None else {}
        self._processor = AutoProcessor.from_pretrained(model, **revision)  # CPU: feature extraction
        self._model = SeamlessM4Tv2ForSpeechToText.from_pretrained(model, dtype=self._dtype, **revision)
        self._model.to(target).eval()
        self._target = target
        self.device = str(target)
        self.batch_size = int(opts["batch_size"])

        gen = self._model.generation_config
        lang_ids = getattr(gen, "text_decoder_lang_to_code_id", None)
        if not lang_ids:
            raise ConfigError(
                f"{model}: its generation config has no text_decoder_lang_to_code_id, so no target "
                "language can be set; save the model with the generation_config.json it was released with"
            )
        self.languages: frozenset[str] = frozenset(lang_ids)
        eos = gen.eos_token_id if gen.eos_token_id is not None else self._model.config.eos_token_id
        self._eos: set[int] = set(eos) if isinstance(eos, list | tuple) else {int(eos)}

    def _language(self, language: str | None) -> str:
        if not language:
            raise ValueError(
                "SeamlessM4T needs the spoken language of each sample (it writes text in a target "
                "language): pass --language (e.g. --language en) or use a dataset with a language "
                "column (--language-column)"
            )
        return seamless_language(language, self.languages)

    def _budget(self, audio_seconds: float) -> int:
        opts = self.effective_options
        if opts["max_new_tokens"] is not None:
            return int(opts["max_new_tokens"])
        return token_budget(audio_seconds, per_second=float(opts["tokens_per_second"]),
                            minimum=int(opts["min_new_tokens"]))

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        return self.transcribe_batch([audio], [language])[0]

    def transcribe_batch(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        codes = [self._language(lang) for lang in languages]  # every language checked before any work
        results: list[Transcription | None] = [None] * len(audios)
        groups: dict[str, list[int]] = {}
        for i, code in enumerate(codes):
            groups.setdefault(code, []).append(i)
        for code, indices in groups.items():
            indices.sort(key=lambda i: len(audios[i]))
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                for i, result in zip(chunk, self._generate([audios[i] for i in chunk], code), strict=True):
                    results[i] = result
        return [r for r in results if r is not None]

    def _generate(self, audios: list[np.ndarray], tgt_lang: str) -> list[Transcription]:
        import torch

        arrays = [np.asarray(a, dtype=np.float32).reshape(-1) for a in audios]
        # Each item keeps the cap it would get alone, so a batch gives the same results as
        # one-by-one calls; the batch generates up to the largest cap.
        caps = [self._budget(a.size / SAMPLE_RATE) for a in arrays]
        arrays = [np.pad(a, (0, MIN_SAMPLES - a.size)) if a.size < MIN_SAMPLES else a for a in arrays]
        inputs = self._processor(audio=arrays, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True)
        with torch.inference_mode():
            sequences = self._model.generate(
                input_features=inputs["input_features"].to(self._target, self._dtype),
                attention_mask=inputs["attention_mask"].to(self._target),
                tgt_lang=tgt_lang,
                max_new_tokens=max(caps),
                num_beams=int(self.effective_options["num_beams"]),
                do_sample=False,
            )
        sequences = sequences.sequences if hasattr(sequences, "sequences") else sequences
        tokenizer = self._processor.tokenizer
        results = []
        for row, cap in zip(sequences.tolist(), caps, strict=True):
            generated = row[_PROMPT_TOKENS:]
            end = next((i for i, token in enumerate(generated) if token in self._eos), None)
            truncated = end is None or end >= cap  # no end token within this item's cap
            tokens = generated[:cap] if truncated else generated[:end]
            text = tokenizer.decode(tokens, skip_special_tokens=True)
            results.append(Transcription(text=text.strip(), truncated=truncated))
        return results
