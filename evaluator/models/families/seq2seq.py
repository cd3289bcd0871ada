"""Encoder-decoder families: an audio encoder, a text decoder that ``generate`` runs greedily.

- Moonshine (``UsefulSensors/moonshine-tiny``, ``-base``): raw waveform in; no language input
  (the English checkpoints and the ``moonshine-tiny-<lang>`` ones share one config, so the
  languages are not declared).
- Speech2Text (``facebook/s2t-small-librispeech-asr``): filterbank features; no language input.
- Canary (``nvidia/canary-1b-v2``, ``nvidia/canary-180m-flash`` converted): the decoder prompt
  names the source and target language (the processor's transcription request); 25 European
  languages; the language is required.
- Cohere ASR (``CohereLabs/cohere-transcribe-03-2026``): the processor builds the decoder prompt
  from the language; 14 languages; the language is required; clips over the feature extractor's
  ``max_audio_clip_s`` are split by the processor and joined back by its ``decode``.

- Kyutai STT (``kyutai/stt-1b-en_fr-trfs``, ``kyutai/stt-2.6b-en-trfs``): a Mimi codec reads
  24 kHz audio (clips are resampled from 16 kHz with soxr) and the decoder writes one text token
  per 80 ms frame, so ``generate`` itself sets the length from the audio; a batch pads to its
  longest clip and every row then runs that long, so batches hold clips of equal length.

Each one's upstream recipe: ``processor(audio) -> model.generate(...)`` (``pipeline
("automatic-speech-recognition")`` for Moonshine and Speech2Text), then the tokens after the
decoder prompt decoded with special tokens skipped; these recipes do exactly that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from evaluator.data.audio import SAMPLE_RATE
from evaluator.models.contract import Transcription
from evaluator.models.families.generative import GenerativeFamily

__all__ = ["CanaryFamily", "CohereAsrFamily", "KyutaiSttFamily", "MoonshineFamily", "SEQ2SEQ_FAMILIES",
           "Speech2TextFamily"]

CANARY_LANGUAGES = frozenset({
    "bg", "hr", "cs", "da", "nl", "en", "et", "fi", "fr", "de", "el", "hu", "it", "lv", "lt", "mt", "pl", "pt", "ro",
    "sk", "sl", "es", "sv", "ru", "uk",
})
COHERE_LANGUAGES = frozenset({"ar", "de", "el", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "vi", "zh"})


class _PlainEncoderDecoder(GenerativeFamily):
    """The processor's features in, the decoder start token as the only prompt."""

    def inputs(self, audios: list[np.ndarray], language: str | None) -> Any:
        return self.processor(audios, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True,
                              return_attention_mask=True)


class MoonshineFamily(_PlainEncoderDecoder):
    name = "moonshine"
    kind = "seq2seq"
    description = "Moonshine (Useful Sensors): small encoder-decoder on the raw waveform"
    architectures = ("MoonshineForConditionalGeneration",)
    model_types = ("moonshine",)
    model_class = "MoonshineForConditionalGeneration"
    examples = ("UsefulSensors/moonshine-tiny", "UsefulSensors/moonshine-base")
    # Raw-waveform convolutions with group norm see the padding: equal lengths only per batch.
    pads_safely = False


class Speech2TextFamily(_PlainEncoderDecoder):
    name = "speech2text"
    kind = "seq2seq"
    description = "Speech2Text (Meta, fairseq S2T): filterbank encoder-decoder"
    architectures = ("Speech2TextForConditionalGeneration",)
    model_types = ("speech_to_text",)
    model_class = "Speech2TextForConditionalGeneration"
    examples = ("facebook/s2t-small-librispeech-asr", "facebook/s2t-medium-librispeech-asr")


class _PromptedEncoderDecoder(GenerativeFamily):
    """The processor writes a decoder prompt naming the language; it is recorded on loading."""

    def __init__(self, source: str, device: Any, dtype: Any, options: Mapping[str, Any]):
        super().__init__(source, device, dtype, options)
        self.record_prompt()


class CanaryFamily(_PromptedEncoderDecoder):
    name = "canary"
    kind = "seq2seq"
    description = "Canary (NVIDIA): FastConformer encoder-decoder prompted with the language"
    architectures = ("CanaryForConditionalGeneration",)
    model_types = ("canary",)
    model_class = "CanaryForConditionalGeneration"
    examples = ("nvidia/canary-1b-v2",)
    family_options = {"punctuation": True}  # <|pnc|> in the prompt: cased, punctuated output
    takes_language = True
    needs_language = True
    languages = CANARY_LANGUAGES

    def inputs(self, audios: list[np.ndarray], language: str | None) -> Any:
        return self.processor.apply_transcription_request(
            audio=audios, source_language=_required(language, self.name),
            punctuation=bool(self.options["punctuation"]),
        )


class CohereAsrFamily(_PromptedEncoderDecoder):
    name = "cohere-asr"
    kind = "seq2seq"
    description = "Cohere Transcribe: conformer encoder-decoder prompted with the language"
    architectures = ("CohereAsrForConditionalGeneration",)
    model_types = ("cohere_asr",)
    model_class = "CohereAsrForConditionalGeneration"
    examples = ("CohereLabs/cohere-transcribe-03-2026",)
    family_options = {"punctuation": True}
    window_seconds = 35.0  # the feature extractor's max_audio_clip_s
    takes_language = True
    needs_language = True
    languages = COHERE_LANGUAGES

    def inputs(self, audios: list[np.ndarray], language: str | None) -> Any:
        return self.processor(audios, language=_required(language, self.name), sampling_rate=SAMPLE_RATE,
                              punctuation=bool(self.options["punctuation"]), return_tensors="pt")

    def texts(self, tokens: Any, inputs: Any, languages: list[str | None]) -> list[Transcription]:
        chunks = inputs.get("audio_chunk_index")
        texts = self.processor.decode(tokens, skip_special_tokens=True, audio_chunk_index=chunks,
                                      language=languages[0])
        return [Transcription(t.strip()) for t in texts]


class KyutaiSttFamily(GenerativeFamily):
    name = "kyutai-stt"
    kind = "seq2seq"
    description = "Kyutai STT: streaming decoder over Mimi codec tokens (24 kHz)"
    architectures = ("KyutaiSpeechToTextForConditionalGeneration",)
    model_types = ("kyutai_speech_to_text",)
    model_class = "KyutaiSpeechToTextForConditionalGeneration"
    examples = ("kyutai/stt-1b-en_fr-trfs", "kyutai/stt-2.6b-en-trfs")
    pads_safely = False

    def inputs(self, audios: list[np.ndarray], language: str | None) -> Any:
        import soxr

        rate = int(self.processor.feature_extractor.sampling_rate)
        resampled = [a if rate == SAMPLE_RATE else soxr.resample(a, SAMPLE_RATE, rate).astype(np.float32)
                     for a in audios]
        return self.processor(audio=resampled, sampling_rate=rate, return_tensors="pt", padding=True)

    def prompt_length(self, inputs: Any) -> int:
        return 1  # the text start token

    def generate_kwargs(self, cap: int, language: str | None) -> dict[str, Any]:
        kwargs = {"num_beams": int(self.options["num_beams"]), "do_sample": False}
        if self.options["max_new_tokens"] is not None:  # else one token per audio frame, as generate sets
            kwargs["max_new_tokens"] = int(self.options["max_new_tokens"])
        return kwargs

    def capped(self, row: list[int], cap: int) -> bool:
        return False  # it writes until the audio ends, no end-of-text token


def _required(language: str | None, family: str) -> str:
    if not language:
        raise ValueError(f"{family} needs the spoken language of each sample (it cannot detect it): pass "
                         "--language (e.g. --language en) or use a dataset with a language column")
    return language


SEQ2SEQ_FAMILIES: tuple[type[GenerativeFamily], ...] = (MoonshineFamily, Speech2TextFamily, CanaryFamily,
                                                        CohereAsrFamily, KyutaiSttFamily)
