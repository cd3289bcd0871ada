"""Speech-LLM families: an audio encoder whose outputs fill placeholder tokens in a decoder-only
language model's prompt. Each runs the way its model card does:

- through the processor's ``apply_transcription_request(audio=..., language=...)`` where it has
  one (Qwen3-ASR, GLM-ASR, Audio Flamingo 3, Voxtral): the released chat template writes the
  transcription prompt; the ``prompt`` option replaces the instruction (GLM-ASR, Audio Flamingo 3)
  or gives context words (Qwen3-ASR's system prompt) where the processor takes one;
- through the model's chat template with an ASR instruction otherwise (Granite Speech,
  Qwen2-Audio): the ``prompt`` option is that instruction; ``{language}`` in it is replaced by
  the language's English name (and then batches are grouped by language). The
  ``system_prompt`` option is the system message, pinned to the model card's (Granite Speech
  3.3's card passes one; without it Granite's chat template writes a default system message
  holding the current date, and the prompt would change from day to day). ``None`` leaves the
  conversation without a system turn, as the card does for Qwen2-Audio.

No date or other clock value enters a prompt: a prompt that holds today's date is refused on
loading (:func:`check_clock_free`). Prompts are left-padded so every row continues its own
prompt; only the tokens after the prompt are decoded, special tokens skipped. The prompt in
effect, rendered, is recorded with the run (``details.prompt`` of the model in ``runs.models``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from evaluator.data.audio import SAMPLE_RATE
from evaluator.errors import ConfigError, MissingDependencyError
from evaluator.models.families.base import Transcription, pretrained_kwargs
from evaluator.models.families.generative import GenerativeFamily

__all__ = ["AudioFlamingo3Family", "GRANITE_SYSTEM_PROMPT", "GlmAsrFamily", "GraniteSpeechFamily", "Qwen2AudioFamily",
           "Qwen3AsrFamily", "SPEECH_LLM_FAMILIES", "VoxtralFamily", "check_clock_free"]

#: The system message of the granite-speech-3.3 model card's example (its date is fixed text).
GRANITE_SYSTEM_PROMPT = ("Knowledge Cutoff Date: April 2024.\nToday's Date: April 9, 2025.\n"
                         "You are Granite, developed by IBM. You are a helpful AI assistant")

QWEN3_ASR_LANGUAGES = frozenset({
    "ar", "yue", "zh", "cs", "da", "nl", "en", "fil", "fi", "fr", "de", "el", "hi", "hu", "id", "it", "ja", "ko", "mk",
    "ms", "fa", "pl", "pt", "ro", "ru", "es", "sv", "th", "tr", "vi",
})
# Voxtral's model card: English, Spanish, French, Portuguese, Hindi, German, Dutch, Italian.
VOXTRAL_LANGUAGES = frozenset({"en", "es", "fr", "pt", "hi", "de", "nl", "it"})


def language_name(code: str) -> str:
    """The English name of a language code (``en`` -> ``English``), for prompts."""
    from evaluator.scoring.languages import LanguageError, resolve

    try:
        return resolve(code).name
    except LanguageError:
        return code


def check_clock_free(prompt: str, model: str) -> None:
    """Raise ``ConfigError`` when ``prompt`` holds today's date (a chat template that writes the
    clock into its default system message): such a prompt changes from day to day."""
    import datetime

    today = datetime.date.today()
    forms = {today.isoformat(), today.strftime("%B %d, %Y"), today.strftime("%d %B %Y"), today.strftime("%b %d, %Y"),
             f"{today:%B} {today.day}, {today.year}", f"{today.day} {today:%B} {today.year}"}
    found = sorted(form for form in forms if form in prompt)
    if found:
        raise ConfigError(f"{model}: the prompt holds today's date ({found[0]}), written by the chat template, so "
                          "transcripts would change from day to day; pin the system message with ?system_prompt=TEXT")


class _SpeechLLM(GenerativeFamily):
    left_pad = True

    def __init__(self, source: str, device: Any, dtype: Any, options: Mapping[str, Any]):
        super().__init__(source, device, dtype, options)
        prompt = self.options.get("prompt")
        if isinstance(prompt, str) and "{language}" in prompt:
            self.takes_language = True  # type: ignore[misc]  # per instance: the prompt names it
        self.record_prompt()
        check_clock_free(self.details["prompt"], source)


class _ChatFamily(_SpeechLLM):
    """The model's chat template, one user turn: the audio and the ``prompt`` instruction."""

    audio_in_text: ClassVar[bool] = False  # the template takes a string turn holding the audio token

    def instruction(self, language: str | None) -> str:
        prompt = str(self.options["prompt"])
        if "{language}" in prompt:
            if not language:
                raise ValueError(f"the prompt {prompt!r} names the language, but this sample has none: pass "
                                 "--language or use a dataset with a language column")
            prompt = prompt.replace("{language}", language_name(language))
        return prompt

    def prompt(self, language: str | None) -> str:
        """The chat template's text: the ``system_prompt`` turn (if any), then the user turn."""
        instruction = self.instruction(language)
        system = self.options.get("system_prompt")
        chat = [{"role": "system", "content": str(system)}] if system is not None else []
        if self.audio_in_text:
            chat.append({"role": "user", "content": f"{self.processor.audio_token}{instruction}"})
            return self.processor.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        chat.append({"role": "user", "content": [{"type": "audio", "audio_url": "audio"},
                                                  {"type": "text", "text": instruction}]})
        return self.processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)

    def inputs(self, audios: list[np.ndarray], language: str | None) -> Any:
        return self.processor(text=[self.prompt(language)] * len(audios), audio=list(audios),
                              sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True)


class GraniteSpeechFamily(_ChatFamily):
    name = "granite-speech"
    kind = "speech-llm"
    description = "Granite Speech (IBM): conformer + Q-Former + Granite LM, chat prompt"
    architectures = ("GraniteSpeechForConditionalGeneration",)
    model_types = ("granite_speech",)
    model_class = "GraniteSpeechForConditionalGeneration"
    examples = ("ibm-granite/granite-speech-3.3-2b", "ibm-granite/granite-speech-3.3-8b")
    # The model card's instruction and system message.
    family_options = {"prompt": "can you transcribe the speech into a written format?",
                      "system_prompt": GRANITE_SYSTEM_PROMPT}
    audio_in_text = True
    # Granite Speech 3.3: English ASR (and X->English translation); other languages via the prompt.
    languages = frozenset({"en"})

    def __init__(self, source: str, device: Any, dtype: Any, options: Mapping[str, Any]):
        import importlib.util

        from transformers import AutoConfig

        if getattr(AutoConfig.from_pretrained(source, **pretrained_kwargs(options)), "has_lora_adapter", False) \
                and importlib.util.find_spec("peft") is None:
            # Without peft transformers only warns, and the model transcribes without its LoRA adapter.
            raise MissingDependencyError(f"{source}: Granite Speech's LoRA adapter needs peft: "
                                         "pip install 'evaluator[granite-speech]'")
        super().__init__(source, device, dtype, options)


class Qwen2AudioFamily(_ChatFamily):
    name = "qwen2-audio"
    kind = "speech-llm"
    description = "Qwen2-Audio (Alibaba): Whisper-style encoder + Qwen2 LM, chat prompt"
    architectures = ("Qwen2AudioForConditionalGeneration",)
    model_types = ("qwen2_audio",)
    model_class = "Qwen2AudioForConditionalGeneration"
    examples = ("Qwen/Qwen2-Audio-7B-Instruct",)
    family_options = {"prompt": "Transcribe the speech into text.", "system_prompt": None}  # the card has none


class _RequestFamily(_SpeechLLM):
    """``processor.apply_transcription_request``: the released template writes the prompt."""

    language_argument: ClassVar[str | None] = None  # the request's keyword for the language
    prompt_argument: ClassVar[bool] = True  # the request takes ``prompt``

    def request_kwargs(self, language: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.language_argument is not None and language:
            kwargs[self.language_argument] = language
        if self.prompt_argument and self.options.get("prompt") is not None:
            kwargs["prompt"] = str(self.options["prompt"])
        return kwargs

    def inputs(self, audios: list[np.ndarray], language: str | None) -> Any:
        return self.processor.apply_transcription_request(audio=list(audios), **self.request_kwargs(language))


class GlmAsrFamily(_RequestFamily):
    name = "glmasr"
    kind = "speech-llm"
    description = "GLM-ASR (Zhipu): Whisper-style encoder + Llama LM, transcription request"
    architectures = ("GlmAsrForConditionalGeneration",)
    model_types = ("glmasr",)
    model_class = "GlmAsrForConditionalGeneration"
    examples = ("zai-org/GLM-ASR-Nano-2512",)
    family_options = {"prompt": None}  # None: the processor's default_transcription_prompt


class AudioFlamingo3Family(_RequestFamily):
    name = "audioflamingo3"
    kind = "speech-llm"
    description = "Audio Flamingo 3 (NVIDIA): Whisper-style encoder + Qwen2 LM, transcription request"
    architectures = ("AudioFlamingo3ForConditionalGeneration",)
    model_types = ("audioflamingo3",)
    model_class = "AudioFlamingo3ForConditionalGeneration"
    examples = ("nvidia/audio-flamingo-3-hf",)
    family_options = {"prompt": None}


class Qwen3AsrFamily(_RequestFamily):
    """Qwen3-ASR: given a language, the request prefills ``language <Name><asr_text>`` so the model
    writes only the text; given none, it writes ``language <Name><asr_text>text`` itself, and the
    processor's parser returns the language (stored as ``detected_language``) and the text."""

    name = "qwen3-asr"
    kind = "speech-llm"
    description = "Qwen3-ASR (Alibaba): audio encoder + Qwen3 LM, transcription request with the language"
    architectures = ("Qwen3ASRForConditionalGeneration",)
    model_types = ("qwen3_asr",)
    model_class = "Qwen3ASRForConditionalGeneration"
    examples = ("Qwen/Qwen3-ASR-1.7B-hf", "Qwen/Qwen3-ASR-0.6B-hf")
    family_options = {"prompt": None}  # context words (the system prompt); None: empty
    language_argument = "language"
    takes_language = True
    detects_language = True
    languages = QWEN3_ASR_LANGUAGES
    # Its feature extractor normalises over the padded batch: equal lengths only per batch.
    pads_safely = False

    def texts(self, tokens: Any, inputs: Any, languages: list[str | None]) -> list[Transcription]:
        parsed = self.processor.decode(tokens, return_format="parsed")
        out = []
        for item, given in zip(parsed, languages, strict=True):
            detected = item.get("language") if not given else None
            out.append(Transcription(str(item["transcription"]).strip(), language=detected))
        return out


class VoxtralFamily(_RequestFamily):
    """Voxtral: the request needs the checkpoint's id (``model_id``) and the language; its
    tokenizer is Mistral's (``pip install mistral-common``)."""

    name = "voxtral"
    kind = "speech-llm"
    description = "Voxtral (Mistral): Whisper encoder + Mistral LM, transcription request with the language"
    architectures = ("VoxtralForConditionalGeneration",)
    model_types = ("voxtral",)
    model_class = "VoxtralForConditionalGeneration"
    examples = ("mistralai/Voxtral-Mini-3B-2507", "mistralai/Voxtral-Small-24B-2507")
    modules = ("mistral_common",)
    install = "pip install 'evaluator[voxtral]'"
    language_argument = "language"
    prompt_argument = False
    takes_language = True
    languages = VOXTRAL_LANGUAGES

    def inputs(self, audios: list[np.ndarray], language: str | None) -> Any:
        kwargs = self.request_kwargs(language)
        # Arrays go in as WAV bytes (the request format mistral-common reads).
        return self.processor.apply_transcription_request(audio=list(audios), model_id=self.source, format="wav",
                                                          sampling_rate=SAMPLE_RATE, **kwargs)


SPEECH_LLM_FAMILIES: tuple[type[GenerativeFamily], ...] = (
    GraniteSpeechFamily, Qwen2AudioFamily, GlmAsrFamily, AudioFlamingo3Family, Qwen3AsrFamily, VoxtralFamily,
)
