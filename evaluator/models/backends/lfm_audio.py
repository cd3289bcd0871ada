"""LFM2.5-Audio backend (Liquid AI, ``liquid-audio``): ASR through the model's chat format.

Model: a hub id (``LiquidAI/LFM2.5-Audio-1.5B``) or a local directory with the same files.
liquid-audio reads a ``str`` as a hub id (always a full ``snapshot_download``) and a
``pathlib.Path`` as a local folder. The backend downloads hub ids itself, leaving out the
weights only speech output needs, and always hands liquid-audio a ``Path``.

Both liquid-audio loaders default to ``device="cuda"``: the device is always passed. The
processor (mel front end, tokenizer) stays on CPU; the model is built and loaded directly on its
device in the chosen dtype (liquid-audio builds it under ``init_on_device`` and loads the
checkpoint tensor by tensor), so loading on MPS or CUDA never holds a second, CPU copy. The
prompt tensors are moved to the model's device before generation. ``?dtype=float16`` or
``bfloat16`` halves the weights' memory on MPS and CUDA (bfloat16 on MPS needs macOS 14).

One sample at a time: ``generate_sequential`` does not batch. Decoding is greedy by default
(``temperature`` 0 means liquid-audio's argmax path). The ASR prompt names no language, so the
sample's language is not used.

ASR never asks for speech, but a model can still begin an answer in audio: on
``<|audio_start|>`` liquid-audio's ``generate_sequential`` switches to audio frames and keeps
generating them until the token budget is spent, so the rest of the transcript is lost. The
backend stops at that token (or at the first audio frame), closes the generator and returns the
text so far flagged ``truncated`` with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from evaluator.data.audio import SAMPLE_RATE
from evaluator.errors import ConfigError
from evaluator.models.contract import Backend, Transcription
from evaluator.models.options import TOKEN_BUDGET, check_token_budget, resolve_dtype, token_budget
from evaluator.models.torch_runtime import prepare_torch, torch_dtype

__all__ = ["LfmAudioBackend"]

# Token ids hard-coded by liquid-audio 1.3.0 (model/lfm2_audio.py).
IM_END = 7  # <|im_end|>: end of the assistant turn
AUDIO_START = 128  # <|audio_start|>: the model switches to audio output
TEXT_END = 130  # <|text_end|>: end of the text part of an answer
# Transcription.truncated_reason values.
AUDIO_START_REASON = "audio_start: the model began generating speech"
TOKEN_CAP_REASON = "token cap"
# Files that only speech *output* uses (liquid_audio/processor.py: the Mimi codec and the LFM
# detokenizer); a hub download for ASR skips them.
SPEECH_OUTPUT_FILES = ("tokenizer-*.safetensors", "audio_detokenizer/*")
# The conformer needs at least 9 mel frames (10 ms hop); shorter clips are zero-padded to this.
MIN_SAMPLES = SAMPLE_RATE // 10


class LfmAudioBackend(Backend):
    name = "lfm2.5-audio"
    extra = "lfm-audio"
    modules = ("liquid_audio", "torch")
    distributions = ("liquid-audio", "torch", "transformers")  # LFM2 backbone runs in transformers
    devices = ("cuda", "mps", "cpu")
    description = "LFM2.5-Audio (Liquid AI liquid-audio), ASR via the chat prompt"
    default_memory_mb = 8000.0  # about 6 GB of float32 weights, + runtime
    runtime_memory_mb = 1300.0
    hub_models = True
    large_model = True
    # No long-form algorithm of its own: long audio is cut into windows by the evaluator.
    window_seconds = 30.0
    long_form_default = "chunked"

    @classmethod
    def supported_languages(cls, model: str) -> frozenset[str] | None:
        return frozenset({"en"})  # LFM2.5-Audio's ASR is English

    options = {
        "dtype": None,  # bfloat16 on CUDA, float32 on CPU and MPS
        **TOKEN_BUDGET,  # max_new_tokens None: scaled with audio length (tokens_per_second, min_new_tokens)
        "temperature": 0.0,  # 0: greedy (argmax); > 0 samples
        "top_k": None,  # only with temperature > 0
        "system_prompt": "Perform ASR.",
        "revision": None,  # hub revision (commit, branch or tag); not for local directories
    }

    @classmethod
    def resolve_options(cls, options: Mapping[str, Any], device: str) -> dict[str, Any]:
        resolved = super().resolve_options(options, device)
        resolved["dtype"] = resolve_dtype(resolved["dtype"], device, cuda_default="bfloat16", half_on_cpu=True)
        check_token_budget(resolved)
        return resolved

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        opts = self.effective_options
        torch_device = prepare_torch(device, cpu_threads)
        self._dtype = torch_dtype(opts["dtype"])

        import torch
        from liquid_audio import ChatState, LFM2AudioModel, LFM2AudioProcessor

        self._torch = torch
        self._chat_state = ChatState
        revision = opts["revision"]
        if os.path.isdir(model):
            if revision is not None:
                raise ConfigError(f"option revision={revision!r} applies to hub ids, not the local directory {model}")
            folder = Path(model)
        else:
            folder = _download(model, revision)
        self.weights = str(folder)

        # A Path: liquid-audio takes a str for a hub id. Processor on CPU (never the library's
        # default "cuda"); only the model goes to the device.
        self._processor = LFM2AudioProcessor.from_pretrained(folder, device="cpu").eval()
        self._model = LFM2AudioModel.from_pretrained(folder, dtype=self._dtype, device=torch_device).eval()
        if torch_device.type != "cuda" or self._dtype == torch.float32:
            # liquid-audio picks flash_attention_2 whenever flash_attn is importable: CUDA half only.
            self._model.lfm.set_attn_implementation("sdpa")
        self.compute_type_used = str(self._dtype).removeprefix("torch.")
        self._device = torch_device
        self.device = str(torch_device)

        # generate_sequential switches to audio on the hard-coded id 128; the tokenizer's id for
        # <|audio_start|> is also honoured should a checkpoint map it elsewhere.
        self._audio_start_ids = {AUDIO_START} | _token_ids(self._processor.text, "<|audio_start|>")

        temperature = opts["temperature"]
        self._sampling: dict[str, Any] = {
            "text_temperature": float(temperature) if temperature else None,
            "text_top_k": int(opts["top_k"]) if opts["top_k"] else None,
        }

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        torch = self._torch
        samples = np.asarray(audio, dtype=np.float32).reshape(-1)
        seconds = samples.size / SAMPLE_RATE
        if samples.size < MIN_SAMPLES:
            samples = np.pad(samples, (0, MIN_SAMPLES - samples.size))
        wav = torch.from_numpy(np.ascontiguousarray(samples)).unsqueeze(0)  # [1, T], mono

        chat = self._chat_state(self._processor, dtype=self._dtype)
        chat.new_turn("system")
        chat.add_text(self.effective_options["system_prompt"])
        chat.end_turn()
        chat.new_turn("user")
        chat.add_audio(wav, SAMPLE_RATE)
        chat.end_turn()
        chat.new_turn("assistant")
        inputs = {key: chat[key].to(self._device) for key in chat}

        text_ids: list[int] = []
        reason: str | None = TOKEN_CAP_REASON  # unless an end token or audio output comes first
        tokens = self._model.generate_sequential(
            **inputs, max_new_tokens=token_budget(self.effective_options, seconds), **self._sampling
        )
        try:
            for token in tokens:
                # An audio frame (8 codebooks) or <|audio_start|>: the model began speaking and
                # liquid-audio would go on generating audio to the budget. Stop here.
                if token.numel() != 1:
                    reason = AUDIO_START_REASON
                    break
                token_id = int(token.item())
                if token_id in self._audio_start_ids:
                    reason = AUDIO_START_REASON
                    break
                if token_id in (IM_END, TEXT_END):
                    reason = None
                    break
                text_ids.append(token_id)
        finally:
            close = getattr(tokens, "close", None)
            if close is not None:
                close()  # a generator: no further generation steps
        text = self._processor.text.decode(text_ids, skip_special_tokens=True).strip()
        return Transcription(text=text, truncated=reason is not None, truncated_reason=reason)


def _token_ids(tokenizer: Any, token: str) -> set[int]:
    """The tokenizer's id for a special token, if it has one (empty set otherwise)."""
    token_id = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(token_id, int) or token_id < 0 or token_id == getattr(tokenizer, "unk_token_id", None):
        return set()
    return {token_id}


def _download(repo_id: str, revision: str | None) -> Path:
    """The hub snapshot without the speech-output weights (cached; honours ``HF_HUB_OFFLINE``)."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, revision=revision, ignore_patterns=list(SPEECH_OUTPUT_FILES)))
