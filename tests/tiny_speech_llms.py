"""Tiny random-weight speech-LLM checkpoints (Qwen2-Audio, Granite Speech, Qwen3-ASR, GLM-ASR,
Audio Flamingo 3, Voxtral), built offline from the real transformers classes; see
:mod:`tests.tiny_families_gen` for how (tokenizers, chat templates, initialisation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.tiny_families_gen import _INIT, _fast, _quiet_token, _save, _seeded

__all__ = ["GRANITE_DEFAULT_SYSTEM", "SPEECH_LLM_BUILDERS"]

# Granite 3.x's chat templates write this system turn when the conversation has none: it holds
# the current date (strftime_now), so a prompt without a system message changes every day.
GRANITE_DEFAULT_SYSTEM = ("{%- if messages[0]['role'] != 'system' -%}<|im_start|>system\nKnowledge Cutoff Date: "
                          "April 2024.\nToday's Date: {{ strftime_now('%B %d, %Y') }}.\nYou are Granite, developed "
                          "by IBM.<|im_end|>\n{%- endif -%}")


def _chatml(audio_text: str, default_system: str = "") -> str:
    """A ChatML template (Qwen/GLM/Granite style) that writes ``audio_text`` for each audio item
    of a structured message, plain strings as they are, and continues an assistant prefill;
    ``default_system`` is written first (a template snippet)."""
    return (
        default_system +
        "{%- for message in messages -%}<|im_start|>{{ message['role'] }}\n"
        "{%- if message['content'] is string -%}{{ message['content'] }}"
        "{%- else -%}{%- for item in message['content'] -%}"
        "{%- if item['type'] == 'audio' -%}" + audio_text +
        "{%- elif item['type'] == 'text' -%}{{ item['text'] }}{%- endif -%}"
        "{%- endfor -%}{%- endif -%}<|im_end|>\n{%- endfor -%}"
        "{%- if add_generation_prompt -%}<|im_start|>assistant\n{%- endif -%}"
    )


def _llm_tokenizer(audio_tokens: Sequence[str], **named: Any):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *audio_tokens]
    tokenizer = _fast(specials, vocab_size=len(specials) + 140, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                      padding_side="left", **named)
    return tokenizer


def _text_config(kind: str, vocab: int, **extra: Any) -> dict[str, Any]:
    return {"model_type": kind, "vocab_size": vocab, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
            "max_position_embeddings": 2048, "initializer_range": _INIT, "pad_token_id": 0, "eos_token_id": 2,
            "tie_word_embeddings": False, **extra}


def _finish_llm(target: Path, model: Any, processor: Any) -> Path:
    model.eval()
    _quiet_token(model, [0, 2])
    return _save(target, model, processor)


def make_tiny_qwen2_audio(target: Path) -> Path:
    """Qwen2-Audio-Instruct (Qwen/Qwen2-Audio-7B-Instruct): Whisper-style encoder + Qwen2; the
    processor's own default chat template."""
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    tokenizer = _llm_tokenizer(["<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"])
    audio = {"model_type": "qwen2_audio_encoder", "num_mel_bins": 80, "encoder_layers": 1,
             "encoder_attention_heads": 2, "encoder_ffn_dim": 64, "d_model": 32, "initializer_range": _INIT}
    config = Qwen2AudioConfig(audio_config=audio, text_config=_text_config("qwen2", len(tokenizer)),
                              audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>"))
    _seeded()
    model = Qwen2AudioForConditionalGeneration(config)
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer)
    return _finish_llm(target, model, processor)


def make_tiny_granite_speech(target: Path) -> Path:
    """Granite Speech (ibm-granite/granite-speech-3.3-*): conformer encoder, Q-Former projector,
    Granite LM; the prompt holds ``<|audio|>`` in a plain-string user turn."""
    from transformers import (
        GraniteSpeechConfig,
        GraniteSpeechFeatureExtractor,
        GraniteSpeechForConditionalGeneration,
        GraniteSpeechProcessor,
    )

    tokenizer = _llm_tokenizer(["<|audio|>"])
    encoder = {"input_dim": 160, "num_layers": 1, "hidden_dim": 32, "feedforward_mult": 2, "num_heads": 2,
               "dim_head": 16, "output_dim": 16, "context_size": 50, "max_pos_emb": 64}
    projector = {"model_type": "blip_2_qformer", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                 "intermediate_size": 64, "encoder_hidden_size": 32, "initializer_range": _INIT}
    config = GraniteSpeechConfig(text_config=_text_config("granite", len(tokenizer)), encoder_config=encoder,
                                 projector_config=projector, has_lora_adapter=False, initializer_range=_INIT,
                                 audio_token_index=tokenizer.convert_tokens_to_ids("<|audio|>"))
    _seeded()
    model = GraniteSpeechForConditionalGeneration(config)
    tokenizer.chat_template = _chatml("<|audio|>", GRANITE_DEFAULT_SYSTEM)
    processor = GraniteSpeechProcessor(audio_processor=GraniteSpeechFeatureExtractor(), tokenizer=tokenizer,
                                       chat_template=_chatml("<|audio|>", GRANITE_DEFAULT_SYSTEM))
    return _finish_llm(target, model, processor)


def make_tiny_qwen3_asr(target: Path) -> Path:
    """Qwen3-ASR (Qwen/Qwen3-ASR-*): transcription request; the language is forced by an
    assistant prefill ``language English<asr_text>``."""
    from transformers import (
        Qwen3ASRConfig,
        Qwen3ASRFeatureExtractor,
        Qwen3ASRForConditionalGeneration,
        Qwen3ASRProcessor,
    )

    audio_tokens = ["<|audio_pad|>", "<|audio_start|>", "<|audio_end|>"]
    tokenizer = _llm_tokenizer(audio_tokens, extra_special_tokens={
        "audio_token": "<|audio_pad|>", "audio_bos_token": "<|audio_start|>", "audio_eos_token": "<|audio_end|>"})
    tokenizer.add_tokens(["<asr_text>"])  # a plain added token: the processor's parser splits on it
    audio = {"num_mel_bins": 128, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 64,
             "d_model": 32, "output_dim": 32, "downsample_hidden_size": 16, "initializer_range": _INIT}
    config = Qwen3ASRConfig(audio_config=audio, text_config=_text_config("qwen3", len(tokenizer), head_dim=16),
                            audio_token_id=tokenizer.convert_tokens_to_ids("<|audio_pad|>"), pad_token_id=0,
                            eos_token_id=[2], initializer_range=_INIT)
    _seeded()
    model = Qwen3ASRForConditionalGeneration(config)
    processor = Qwen3ASRProcessor(feature_extractor=Qwen3ASRFeatureExtractor(), tokenizer=tokenizer,
                                  chat_template=_chatml("<|audio_start|><|audio_pad|><|audio_end|>"))
    return _finish_llm(target, model, processor)


def make_tiny_glmasr(target: Path) -> Path:
    """GLM-ASR (zai-org/GLM-ASR-Nano-*): Whisper-style encoder + Llama LM; transcription request."""
    from transformers import GlmAsrConfig, GlmAsrForConditionalGeneration, GlmAsrProcessor, WhisperFeatureExtractor

    tokenizer = _llm_tokenizer(["<|pad|>", "<|begin_of_audio|>", "<|end_of_audio|>"])
    audio = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
             "num_mel_bins": 128, "initializer_range": _INIT}
    config = GlmAsrConfig(audio_config=audio, text_config=_text_config("llama", len(tokenizer)),
                          audio_token_id=tokenizer.convert_tokens_to_ids("<|pad|>"))
    _seeded()
    model = GlmAsrForConditionalGeneration(config)
    processor = GlmAsrProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tokenizer,
                                chat_template=_chatml("<|begin_of_audio|><|pad|><|end_of_audio|>"))
    return _finish_llm(target, model, processor)


def make_tiny_audioflamingo3(target: Path) -> Path:
    """Audio Flamingo 3 (nvidia/audio-flamingo-3-hf): Whisper-style encoder + Qwen2; transcription request."""
    from transformers import (
        AudioFlamingo3Config,
        AudioFlamingo3ForConditionalGeneration,
        AudioFlamingo3Processor,
        WhisperFeatureExtractor,
    )

    tokenizer = _llm_tokenizer(["<sound>"])
    audio = {"num_mel_bins": 128, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
             "hidden_size": 32, "initializer_range": _INIT}
    config = AudioFlamingo3Config(audio_config=audio, text_config=_text_config("qwen2", len(tokenizer)),
                                  audio_token_id=tokenizer.convert_tokens_to_ids("<sound>"))
    _seeded()
    model = AudioFlamingo3ForConditionalGeneration(config)
    processor = AudioFlamingo3Processor(feature_extractor=WhisperFeatureExtractor(feature_size=128),
                                        tokenizer=tokenizer, chat_template=_chatml("<sound>"))
    return _finish_llm(target, model, processor)


# Voxtral's tokenizer is mistral-common's Tekken (tiktoken byte-level BPE) read from tekken.json:
# here the 256 byte tokens after 40 special tokens, at the ranks the processor and mistral-common
# hard-code ([AUDIO] 24, [BEGIN_AUDIO] 25, [TRANSCRIBE] 34), with the audio section of the release.
_TEKKEN_SPECIALS = {
    0: "<unk>", 1: "<s>", 2: "</s>", 3: "[INST]", 4: "[/INST]", 5: "[AVAILABLE_TOOLS]", 6: "[/AVAILABLE_TOOLS]",
    7: "[TOOL_RESULTS]", 8: "[/TOOL_RESULTS]", 9: "[TOOL_CALLS]", 10: "[IMG]", 11: "<pad>", 12: "[IMG_BREAK]",
    13: "[IMG_END]", 14: "[PREFIX]", 15: "[MIDDLE]", 16: "[SUFFIX]", 17: "[SYSTEM_PROMPT]", 18: "[/SYSTEM_PROMPT]",
    19: "[TOOL_CONTENT]", 24: "[AUDIO]", 25: "[BEGIN_AUDIO]", 34: "[TRANSCRIBE]",
}
_TEKKEN_SPECIAL_COUNT = 40
_TEKKEN_PATTERN = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|"
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def _tekken_json() -> dict[str, Any]:
    import base64

    specials = [{"rank": i, "token_str": _TEKKEN_SPECIALS.get(i, f"<SPECIAL_{i}>"), "is_control": True}
                for i in range(_TEKKEN_SPECIAL_COUNT)]
    vocab = [{"rank": i, "token_bytes": base64.b64encode(bytes([i])).decode(), "token_str": None} for i in range(256)]
    return {
        "config": {"pattern": _TEKKEN_PATTERN, "num_vocab_tokens": 256,
                   "default_vocab_size": _TEKKEN_SPECIAL_COUNT + 256,
                   "default_num_special_tokens": _TEKKEN_SPECIAL_COUNT, "version": "v7"},
        "vocab": vocab, "special_tokens": specials, "version": 1, "type": "Tekken",
        "audio": {"sampling_rate": 16000, "frame_rate": 12.5, "chunk_length_s": 30.0,
                  "audio_encoding_config": {"num_mel_bins": 128, "hop_length": 160, "window_size": 400}},
    }


def make_tiny_voxtral(target: Path) -> Path:
    """Voxtral (mistralai/Voxtral-Mini-3B-2507): Whisper encoder + Llama-style LM; the transcription
    request is encoded by mistral-common (needs ``mistral-common``)."""
    import json

    from transformers import (
        AutoTokenizer,
        VoxtralConfig,
        VoxtralForConditionalGeneration,
        VoxtralProcessor,
        WhisperFeatureExtractor,
    )

    target.mkdir(parents=True, exist_ok=True)
    (target / "tekken.json").write_text(json.dumps(_tekken_json()), encoding="utf-8")
    tokenizer = AutoTokenizer.from_pretrained(target)
    # The projector stacks 4 encoder frames (intermediate_size = 4 x hidden_size): 12.5 tokens per second.
    audio = {"num_mel_bins": 128, "hidden_size": 32, "intermediate_size": 128, "num_hidden_layers": 1,
             "num_attention_heads": 2, "initializer_range": _INIT}
    text = _text_config("llama", _TEKKEN_SPECIAL_COUNT + 256, head_dim=16, pad_token_id=11, bos_token_id=1)
    config = VoxtralConfig(audio_config=audio, text_config=text, audio_token_id=24)
    _seeded()
    model = VoxtralForConditionalGeneration(config)
    processor = VoxtralProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tokenizer)
    model.eval()
    _quiet_token(model, [2, 11])
    return _save(target, model, processor)


SPEECH_LLM_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "qwen2_audio": make_tiny_qwen2_audio,
    "granite_speech": make_tiny_granite_speech,
    "qwen3_asr": make_tiny_qwen3_asr,
    "glmasr": make_tiny_glmasr,
    "audioflamingo3": make_tiny_audioflamingo3,
    "voxtral": make_tiny_voxtral,
}
