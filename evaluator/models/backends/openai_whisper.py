"""openai-whisper backend (the reference PyTorch implementation).

Model: a size alias (``tiny.en``, ``base``: derived from the bundled CTranslate2 weights when
installed, otherwise downloaded by openai-whisper) or a ``.pt`` checkpoint path. Sequential
long-form decoding per sample (openai-whisper's own ``transcribe``).

On Apple MPS some openai-whisper versions fail when moving the model, because the
``alignment_heads`` buffer is a sparse tensor and MPS has no sparse kernels: the buffer is
made dense and, if the move still fails, the model stays on CPU with a warning (recorded).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import socket
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import numpy as np

from evaluator.errors import ConfigError
from evaluator.models.backends.base import Backend, Segment, Transcription, WhisperLanguages
from evaluator.models.files import ModelLocation

__all__ = ["OpenAIWhisperBackend"]

_TRANSCRIBE_OPTIONS = (
    "temperature", "compression_ratio_threshold", "logprob_threshold", "no_speech_threshold",
    "condition_on_previous_text", "initial_prompt",
)


class OpenAIWhisperBackend(WhisperLanguages, Backend):
    name = "openai-whisper"
    extra = "openai-whisper"
    modules = ("whisper", "torch")
    distributions = ("openai-whisper", "torch")
    devices = ("cuda", "mps", "cpu")
    native_long_form = (
        "whisper.transcribe's sequential decoding: 30 s windows advanced by the last timestamp, each conditioned "
        "on the previous window's text (condition_on_previous_text=true, the library default; "
        "?condition_on_previous_text=false decodes each window on its own)"
    )
    description = "Whisper reference implementation (openai/whisper)"
    # Given no language, detect_language on the first 30 s (as whisper.transcribe does), then
    # transcribe in the detected language.
    detects_language = True
    bundled_weights = True
    default_memory_mb = 3000.0
    runtime_memory_mb = 1000.0
    # Greedy decoding by default: beam 1 (openai-whisper's greedy path), temperature 0.
    options = {
        "beam_size": 1,
        "best_of": None,
        "patience": None,
        "length_penalty": None,
        "temperature": 0.0,
        "condition_on_previous_text": True,
        "compression_ratio_threshold": 2.4,
        "logprob_threshold": -1.0,
        "no_speech_threshold": 0.6,
        "initial_prompt": None,
        "fp16": None,  # True on CUDA, False elsewhere
        "without_timestamps": False,
    }

    @classmethod
    def check_model(cls, model: str, options: Mapping[str, Any]) -> ModelLocation:
        """As every backend does, and for a size openai-whisper downloads itself (``small``): the
        size exists, and its checkpoint is in openai-whisper's download folder or the download
        host answers (one connection, 2 s); else one line naming the fix."""
        location = super().check_model(model, options)
        if location.kind != "library":
            return location
        urls = _download_urls()
        if model not in urls:
            raise ConfigError(f"openai-whisper:{model}: no such model; openai-whisper sizes: {', '.join(urls)} "
                              "(or a .pt checkpoint path)")
        folder = os.path.join(os.getenv("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")), "whisper")
        cached = os.path.join(folder, os.path.basename(urls[model]))
        if os.path.isfile(cached):
            return ModelLocation("library", (cached,), f"{model} (openai-whisper's download folder, {cached})")
        host = urlparse(urls[model]).hostname or ""
        if not _reachable(host):
            raise ConfigError(
                f"openai-whisper:{model}: its checkpoint is not in {folder} and {host} cannot be reached; download it "
                f"where there is a network (python -c \"import whisper; whisper.load_model('{model}')\") and copy "
                f"{os.path.basename(cached)} to {folder}, or give a .pt checkpoint path")
        return ModelLocation("library", (), f"{model} (openai-whisper downloads it from {host} when an actor loads it)")

    @classmethod
    def resolve_options(cls, options: Mapping[str, Any], device: str) -> dict[str, Any]:
        resolved = super().resolve_options(options, device)
        if resolved["fp16"] is None:
            resolved["fp16"] = device.startswith("cuda")
        return resolved

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        from evaluator.models.backends._torch import prepare_torch
        from evaluator.models.convert import load_openai_whisper
        from evaluator.models.weights import resolve_model

        target = prepare_torch(device, cpu_threads)
        path = resolve_model(model, "openai-whisper")
        self.weights = path
        # Load on CPU, then move: the MPS recipe, and harmless elsewhere.
        if os.path.isfile(path):
            self._model = load_openai_whisper(path, device="cpu")  # keeps stored alignment heads
        else:
            import whisper

            self._model = whisper.load_model(path, device="cpu")  # a size name: openai-whisper downloads it
        self._model = self._move(self._model, target)
        opts = self.effective_options
        self._transcribe_opts = {k: opts[k] for k in _TRANSCRIBE_OPTIONS}
        beam = opts["beam_size"]
        self._decode_opts = {
            "beam_size": None if beam in (None, 1) else beam,  # None is openai-whisper's greedy search
            "best_of": opts["best_of"],
            "patience": opts["patience"],
            "length_penalty": opts["length_penalty"],
            "fp16": opts["fp16"] and self.device != "cpu",
            "without_timestamps": opts["without_timestamps"],
        }
        self.compute_type_used = "float16" if self._decode_opts["fp16"] else "float32"

    def _move(self, model: Any, target: Any) -> Any:
        if target.type != "mps":
            return model.to(target)
        import torch

        heads = getattr(model, "alignment_heads", None)
        if heads is not None and heads.is_sparse:
            model.register_buffer("alignment_heads", heads.to_dense(), persistent=False)
        try:
            return model.to(target)
        except (RuntimeError, NotImplementedError) as exc:
            self.warnings.append(f"openai-whisper could not move to mps ({exc}); running on cpu")
            self.device = "cpu"
            return model.to(torch.device("cpu"))

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        import whisper

        detected: tuple[str, float] | None = None
        if not self._model.is_multilingual:
            language = "en"
        elif language is None:
            detected = self._detect(audio)
            language = detected[0]
        result = whisper.transcribe(
            self._model, audio, language=language, task="transcribe", verbose=None,
            **self._transcribe_opts, **self._decode_opts,
        )
        segments = tuple(Segment(float(s["start"]), float(s["end"]), str(s["text"]))
                         for s in result.get("segments") or [])
        return Transcription(text=str(result["text"]).strip(), end_seconds=segments[-1].end if segments else None,
                             segments=None if self.effective_options["without_timestamps"] else segments,
                             language=detected[0] if detected else None,
                             language_probability=detected[1] if detected else None)

    def _detect(self, audio: np.ndarray) -> tuple[str, float]:
        """(language, probability) from the first 30 s, as ``whisper.transcribe`` detects it."""
        import torch
        import whisper

        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), self._model.dims.n_mels)
        with torch.inference_mode():
            _, probs = self._model.detect_language(mel.to(self._model.device, next(self._model.parameters()).dtype))
        language = max(probs, key=probs.get)
        return language, float(probs[language])


def _download_urls() -> dict[str, str]:
    """openai-whisper's sizes and checkpoint URLs (its ``_MODELS``), read from its source without
    importing it (which would import torch)."""
    spec = importlib.util.find_spec("whisper")
    if spec is None or spec.origin is None:
        return {}
    with open(spec.origin) as fh:
        tree = ast.parse(fh.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_MODELS" for t in node.targets):
            return dict(ast.literal_eval(node.value))
    return {}


def _reachable(host: str, timeout: float = 2.0) -> bool:
    """Whether ``host`` accepts a connection on 443 within ``timeout`` seconds (name lookup
    included: it runs in a thread that is not waited for longer)."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])
