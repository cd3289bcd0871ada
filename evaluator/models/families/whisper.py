"""Whisper in transformers (``WhisperForConditionalGeneration``): the family and the Backend that runs it.

:class:`WhisperFamily` matches Whisper checkpoints; :class:`TransformersWhisperBackend` runs them (it
has its own options, language detection and native long-form, so it is a Backend of its own rather
than an adapter hosted by the family backend).

Model: a hub id, a local directory saved with ``save_pretrained``, or a bundled alias
(``tiny.en``, ``base``: derived from the bundled CTranslate2 weights when installed).
Clips up to 30 s are batched through ``generate``; longer clips use transformers' sequential
long-form generation with timestamps, one at a time.

Input features of a short clip are prepared as openai-whisper's (and faster-whisper's)
``transcribe`` does: the log-mel of the clip followed by 30 s of silence, cut to the clip's
frames and padded with zeros to 3000 frames. transformers' processor instead pads the audio
before the log-mel; on uncertain audio that alone changes greedy transcripts (5.7% WER between
runtimes on the sample set with the same weights). ``features=processor`` restores it.

Language identification: given no language, a multilingual model's language is detected as
openai-whisper's ``detect_language`` does it (one decoder step from the start token on the first
30 s, softmax over the language tokens); the clip is then transcribed in that language, and the
language and its probability are returned (``detected_language`` per row).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from evaluator.data.audio import SAMPLE_RATE
from evaluator.models.contract import Backend, Transcription
from evaluator.models.families.base import FamilyInfo
from evaluator.models.options import check_at_least_one, resolve_dtype
from evaluator.models.whisper import WhisperLanguages

__all__ = ["TransformersWhisperBackend", "WhisperFamily"]

_WINDOW_SECONDS = 30.0


class TransformersWhisperBackend(WhisperLanguages, Backend):
    name = "transformers"
    extra = "transformers"
    modules = ("transformers", "torch")
    distributions = ("transformers", "torch")
    devices = ("cuda", "mps", "cpu")
    native_long_form = (
        "transformers' sequential long-form generate with timestamps, each window conditioned on the previous "
        "one's tokens (condition_on_prev_tokens=true, as openai-whisper; ?condition_on_prev_tokens=false turns "
        "it off)"
    )
    description = "Whisper in Hugging Face transformers"
    detects_language = True
    bundled_weights = True
    default_memory_mb = 3000.0
    runtime_memory_mb = 1300.0
    hub_models = True
    # Greedy by default; batch_size applies to clips up to 30 s.
    options = {
        "batch_size": 8,
        "num_beams": 1,
        "dtype": None,  # float16 on CUDA, float32 elsewhere
        "max_new_tokens": 440,  # Whisper's decoder holds 448 positions, 4 go to the prompt
        "condition_on_prev_tokens": True,  # as openai-whisper and faster-whisper do by default
        "return_timestamps": True,  # predict timestamps, as openai-whisper and faster-whisper do by default
        "features": "whisper",  # "whisper": openai-whisper's padding of the log-mel; "processor": transformers'
    }

    @classmethod
    def resolve_options(cls, options: Mapping[str, Any], device: str) -> dict[str, Any]:
        resolved = super().resolve_options(options, device)
        resolved["dtype"] = resolve_dtype(resolved["dtype"], device)
        check_at_least_one(resolved, "batch_size", "num_beams", "max_new_tokens")
        return resolved

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        from evaluator.models.torch_runtime import attention_implementation, prepare_torch, torch_dtype
        from evaluator.models.weights import resolve_model

        target = prepare_torch(device, cpu_threads)  # first: torch reads the MPS fallback variable on import
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        path = resolve_model(model, "transformers")
        self.weights = path
        opts = self.effective_options
        self._dtype = torch_dtype(opts["dtype"])
        self.compute_type_used = opts["dtype"]
        # Processor on CPU; model loaded on CPU then moved (never let a library pick the device).
        self._processor = WhisperProcessor.from_pretrained(path)
        self._model = WhisperForConditionalGeneration.from_pretrained(path, dtype=self._dtype)
        self._model.to(target).eval()
        self._target = target
        self.details["attention"] = attention_implementation(self._model)  # recorded with the run
        self.batch_size = int(opts["batch_size"])
        gen = self._model.generation_config
        self._multilingual = bool(getattr(gen, "is_multilingual", False))
        self._eos = gen.eos_token_id

    def _generate_kwargs(self, language: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"num_beams": self.effective_options["num_beams"], "do_sample": False}
        if self._multilingual:
            kwargs.update(task="transcribe", language=language)
        return kwargs

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        return self.transcribe_batch([audio], [language])[0]

    def transcribe_batch(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        results: list[Transcription | None] = [None] * len(audios)
        short: dict[str | None, list[int]] = {}
        detected: dict[int, tuple[str, float]] = {}
        unknown = [i for i, language in enumerate(languages) if language is None]
        if self._multilingual and unknown:
            found = self._detect([audios[i] for i in unknown])
            detected = dict(zip(unknown, found, strict=True))
            languages = [detected[i][0] if i in detected else lang for i, lang in enumerate(languages)]
        for i, (audio, language) in enumerate(zip(audios, languages, strict=True)):
            if len(audio) / SAMPLE_RATE <= _WINDOW_SECONDS:
                short.setdefault(language if self._multilingual else None, []).append(i)
            else:
                results[i] = self._long_form(audio, language)
        for language, indices in short.items():
            for i, result in zip(indices, self._short_form([audios[i] for i in indices], language), strict=True):
                results[i] = result
        for i, (language, probability) in detected.items():
            results[i] = dataclasses.replace(results[i], language=language, language_probability=probability)
        return [r for r in results if r is not None]

    def _detect(self, audios: list[np.ndarray]) -> list[tuple[str, float]]:
        """(Whisper code, probability) of each clip's language, from its first 30 s."""
        import torch

        gen = self._model.generation_config
        features = torch.from_numpy(np.stack([self._whisper_features(a[: int(_WINDOW_SECONDS * SAMPLE_RATE)])
                                              for a in audios]))
        start = torch.full((len(audios), 1), gen.decoder_start_token_id, dtype=torch.long, device=self._target)
        with torch.inference_mode():
            logits = self._model(input_features=features.to(self._target, self._dtype), decoder_input_ids=start,
                                 use_cache=False).logits[:, -1].float()
        tokens = list(gen.lang_to_id)
        probs = torch.softmax(logits[:, [gen.lang_to_id[t] for t in tokens]], dim=-1)
        best = probs.argmax(-1).tolist()
        return [(tokens[k].strip("<|>"), float(probs[row, k])) for row, k in enumerate(best)]

    def _short_form(self, audios: list[np.ndarray], language: str | None) -> list[Transcription]:
        import torch

        opts = self.effective_options
        if opts["features"] == "processor":
            features = self._processor(audios, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
        else:
            features = torch.from_numpy(np.stack([self._whisper_features(a) for a in audios]))
        cap = int(opts["max_new_tokens"])
        with torch.inference_mode():
            out = self._model.generate(
                features.to(self._target, self._dtype), max_new_tokens=cap,
                return_timestamps=opts["return_timestamps"], **self._generate_kwargs(language),
            )
        sequences = out.sequences if hasattr(out, "sequences") else out
        texts = self._processor.batch_decode(sequences, skip_special_tokens=True)
        # Sequences hold the generated tokens without prompt and end-of-text; shorter rows are
        # padded with end-of-text. A row that used every allowed token stopped at the cap.
        lengths = [row.tolist().index(self._eos) if self._eos in row.tolist() else len(row) for row in sequences]
        return [Transcription(t.strip(), n >= cap) for t, n in zip(texts, lengths, strict=True)]

    def _whisper_features(self, audio: np.ndarray) -> np.ndarray:
        """openai-whisper's input for one window: log-mel of the audio followed by 30 s of
        silence, cut to the audio's frames, padded with zeros to 3000 frames."""
        extractor = self._processor.feature_extractor
        padded = np.concatenate([audio, np.zeros(extractor.n_samples, dtype=np.float32)])
        mel = extractor(padded, sampling_rate=SAMPLE_RATE, return_tensors="np", truncation=False,
                        padding="longest").input_features[0]
        frames = min(len(audio) // extractor.hop_length, extractor.nb_max_frames)
        out = np.zeros((mel.shape[0], extractor.nb_max_frames), dtype=np.float32)
        out[:, :frames] = mel[:, :frames]
        return out

    def _long_form(self, audio: np.ndarray, language: str | None) -> Transcription:
        import torch

        inputs = self._processor(
            audio, sampling_rate=SAMPLE_RATE, return_tensors="pt", truncation=False,
            padding="longest", return_attention_mask=True,
        )
        with torch.inference_mode():
            out = self._model.generate(
                inputs.input_features.to(self._target, self._dtype),
                attention_mask=inputs.attention_mask.to(self._target),
                return_timestamps=True,
                condition_on_prev_tokens=self.effective_options["condition_on_prev_tokens"],
                **self._generate_kwargs(language),
            )
        sequences = out.sequences if hasattr(out, "sequences") else out
        text = self._processor.batch_decode(sequences, skip_special_tokens=True)[0]
        return Transcription(text.strip())


class WhisperFamily(FamilyInfo):
    """Whisper checkpoints (and the bundled ``tiny.en``/``base``), run by :attr:`backend`."""

    name = "whisper"
    kind = "seq2seq"
    description = "OpenAI Whisper (WhisperForConditionalGeneration), the bundled tiny.en/base too"
    model_types = ("whisper",)
    architectures = ("WhisperForConditionalGeneration",)
    examples = ("openai/whisper-large-v3-turbo", "openai/whisper-small", "tiny.en (bundled)")
    backend = TransformersWhisperBackend
