"""What every generative family shares: load processor and model, build the family's inputs,
``generate`` greedily, decode only the newly generated tokens.

A family (:mod:`~evaluator.models.families.seq2seq`, :mod:`~evaluator.models.families.speech_llm`)
subclasses :class:`GenerativeFamily` and says, in class attributes and two or three small hooks,
what its model card does: which class loads it, how the processor turns audio (and the
language or prompt) into model inputs, and how many leading tokens of ``generate``'s output are
the prompt. Everything else (token budgets, dtype and device moves, end-of-text and cap
detection) is here, once.

Batching never changes answers: a batch is split by language (a prompt per language) and,
for families whose inputs depend on how much padding a batch adds (``pads_safely = False``:
raw-waveform encoders with group norm, feature extractors that normalise over the padded array,
Kyutai's frame-count generation), into clips of equal length. The backend already batches that
way (see :class:`~evaluator.models.families.base.Family`); the split here keeps the adapter
right when it is called directly.

Imported only inside actors: torch and transformers are imported in functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from evaluator.data.audio import SAMPLE_RATE
from evaluator.models.families.base import Family, Transcription, pretrained_kwargs
from evaluator.models.options import TOKEN_BUDGET, check_at_least_one, check_token_budget, token_budget
from evaluator.scoring.languages import Language

__all__ = ["GENERATION_OPTIONS", "GenerativeFamily", "check_generation"]

# Options every generative family takes besides the shared ones (a family may add its own,
# e.g. ``prompt``): greedy search and the token budget.
GENERATION_OPTIONS: Mapping[str, Any] = {"num_beams": 1, **TOKEN_BUDGET}


def check_generation(options: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` for generation options out of range."""
    check_at_least_one(options, "num_beams")
    check_token_budget(options)


class GenerativeFamily(Family):
    """A generative checkpoint, run the way its model card runs it.

    Besides :class:`~evaluator.models.families.base.Family`'s attributes:
        model_class: the transformers class that loads the checkpoint.
        family_options: the family's options beyond :data:`GENERATION_OPTIONS` (``options``
            is both together).
        languages: canonical codes it transcribes; ``None``: not declared (any).
        left_pad: decoder-only model: pad prompts on the left so generation continues them.
    """

    model_class: ClassVar[str]
    family_options: ClassVar[Mapping[str, Any]] = {}
    languages: ClassVar[frozenset[str] | None] = None
    left_pad: ClassVar[bool] = False
    pads_safely = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.options = {**GENERATION_OPTIONS, **cls.family_options}

    @classmethod
    def supported_languages(cls, config: Mapping[str, Any], model: str) -> frozenset[str] | None:
        return cls.languages

    @classmethod
    def language_code(cls, language: Language) -> str | None:
        """The canonical code, when the family declares no languages or knows this one."""
        return language.code if cls.languages is None or language.code in cls.languages else None

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        check_generation(options)

    def __init__(self, source: str, device: Any, dtype: Any, options: Mapping[str, Any]):
        import transformers

        super().__init__(source, device, dtype, {**self.options, **options})
        self.check_options(self.options)
        extra = pretrained_kwargs(self.options)
        self.processor = transformers.AutoProcessor.from_pretrained(source, **extra)
        if self.left_pad:
            self.processor.tokenizer.padding_side = "left"
        self.model = getattr(transformers, self.model_class).from_pretrained(source, dtype=dtype, **extra)
        self.model.to(device).eval()
        gen = self.model.generation_config
        eos = gen.eos_token_id if gen.eos_token_id is not None else self.model.config.get_text_config().eos_token_id
        self.eos: set[int] = set() if eos is None else ({int(e) for e in eos} if isinstance(eos, list | tuple)
                                                         else {int(eos)})
        self.pad: int | None = gen.pad_token_id if gen.pad_token_id is not None else min(self.eos, default=None)

    def record_prompt(self) -> None:
        """Put the prompt in effect in :attr:`details` (``prompt``; ``prompt_language``: the language
        it was written for, where the prompt names one). Called on loading by families whose
        processor writes a prompt."""
        from evaluator.scoring.languages import resolve

        language = None
        if self.takes_language:
            known = self.languages or frozenset({"en"})
            language = self.language_code(resolve("en" if "en" in known else sorted(known)[0]))
            self.details["prompt_language"] = language
        self.details["prompt"] = self.prompt(language)

    def prompt(self, language: str | None) -> str:
        """The prompt for a batch in ``language``: the token ids the processor gives a short silent
        clip, decoded with special tokens, each run of audio placeholders written once."""
        inputs = self.inputs([np.zeros(SAMPLE_RATE, dtype=np.float32)], language)
        key = "input_ids" if "input_ids" in inputs else "decoder_input_ids"
        tokenizer = getattr(self.processor, "tokenizer", self.processor)
        text = tokenizer.decode(list(inputs[key][0].tolist()), skip_special_tokens=False)
        for name in ("audio_token", "audio_pad_token"):
            placeholder = getattr(self.processor, name, None)
            if isinstance(placeholder, str) and placeholder:
                text = re.sub(f"(?:{re.escape(placeholder)})+", lambda _, p=placeholder: p, text)
        return text

    # --- hooks a family overrides ---------------------------------------------------------

    def inputs(self, audios: list[np.ndarray], language: str | None) -> Any:
        """The processor's outputs for a batch in one language (a ``BatchFeature``)."""
        raise NotImplementedError

    def prompt_length(self, inputs: Any) -> int:
        """How many leading tokens of ``generate``'s output rows are the prompt."""
        if "decoder_input_ids" in inputs:
            return int(inputs["decoder_input_ids"].shape[1])
        if "input_ids" in inputs:
            return int(inputs["input_ids"].shape[1])
        return 1  # the decoder start token

    def texts(self, tokens: Any, inputs: Any, languages: list[str | None]) -> list[Transcription]:
        """Transcriptions of the newly generated tokens (special tokens skipped)."""
        return [Transcription(text.strip()) for text in self.processor.batch_decode(tokens, skip_special_tokens=True)]

    # --- the shared path --------------------------------------------------------------------

    def generate_kwargs(self, cap: int, language: str | None) -> dict[str, Any]:
        """``generate``'s keyword arguments besides the model inputs, for a batch in ``language``."""
        return {"max_new_tokens": cap, "num_beams": int(self.options["num_beams"]), "do_sample": False}

    def transcribe(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        """Transcribe clips (16 kHz mono float32) in groups of one language (and of one length
        unless :attr:`pads_safely`); the results come back in the input order."""
        results: list[Transcription | None] = [None] * len(audios)
        for group, language in self.groups(audios, languages):
            for i, result in zip(group, self.run_group([audios[i] for i in group], language), strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    def groups(self, audios: list[np.ndarray], languages: list[str | None]) -> list[tuple[list[int], str | None]]:
        keyed: dict[tuple[str | None, int], list[int]] = {}
        for i, (audio, language) in enumerate(zip(audios, languages, strict=True)):
            key_language = language if self.takes_language else None
            keyed.setdefault((key_language, 0 if self.pads_safely else len(audio)), []).append(i)
        return [(indices, language) for (language, _), indices in keyed.items()]

    def run_group(self, audios: list[np.ndarray], language: str | None) -> list[Transcription]:
        import dataclasses

        import torch

        inputs = self.inputs(audios, language)
        # Each clip keeps the cap it has alone (its row is cut there), so a batch gives what
        # one-at-a-time calls give; the batch generates up to the largest.
        caps = [token_budget(self.options, len(a) / SAMPLE_RATE) for a in audios]
        with torch.inference_mode():
            out = self.model.generate(**self.on_device(inputs), **self.generate_kwargs(max(caps), language))
        sequences = out.sequences if hasattr(out, "sequences") else out
        tokens = sequences[:, self.prompt_length(inputs):].cpu().clone()
        # A clip whose cap is below the batch's stops that many tokens before the batch's end.
        ends = ([tokens.shape[1] - (max(caps) - cap) for cap in caps] if len(tokens) == len(caps)
                else [tokens.shape[1]] * len(tokens))  # the processor split long clips: one cap for all
        rows = [row[:end] for row, end in zip(tokens.tolist(), ends, strict=True)]
        if self.pad is not None:
            for i, end in enumerate(ends):
                tokens[i, end:] = self.pad
        results = self.texts(tokens, inputs, [language] * len(audios))
        if len(results) != len(tokens):  # the processor split long clips and joined their texts back
            return results
        return [dataclasses.replace(r, truncated=True, truncated_reason="token cap") if self.capped(row, cap) else r
                for r, row, cap in zip(results, rows, caps, strict=True)]

    def capped(self, row: list[int], cap: int) -> bool:
        """The row used every allowed token without an end-of-text."""
        return len(row) >= cap and not (self.eos & set(row))

    def on_device(self, inputs: Any) -> dict[str, Any]:
        """Model inputs on the model's device; floating tensors in its dtype. Keys ``generate``
        does not take (the processor's bookkeeping) are left out."""
        import torch

        skip = set(getattr(self.processor, "unused_input_names", ()) or ()) | {"audio_chunk_index"}
        moved: dict[str, Any] = {}
        for key, value in inputs.items():
            if key in skip:
                continue
            if isinstance(value, torch.Tensor):
                value = value.to(self.device, self.dtype) if value.is_floating_point() else value.to(self.device)
            moved[key] = value
        return moved


def _english() -> Language:
    from evaluator.scoring.languages import resolve

    return resolve("en")
