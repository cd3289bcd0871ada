"""The worker that a Ray actor wraps: loads one backend once, then transcribes work items.

Two kinds of work arrive from the driver:

- a :class:`~evaluator.data.sources.Shard` of samples: short samples are transcribed and scored
  here; a sample longer than the window under the ``chunked``/``vad`` strategies is only
  *planned* (its windows computed from the file header or a VAD pass) and handed back, so the
  driver can spread its windows over all actors;
- a :class:`~evaluator.data.sources.ChunkJob`: some windows of one long sample, each read from the
  file by seeking (memory is bounded by the window, not the file).

Per-sample failures (audio that does not decode, inference that raises) become rows with
``error`` set; they never become empty hypotheses.
"""

from __future__ import annotations

import os
import resource
import socket
import sys
import time
from typing import Any

from evaluator.data.audio import SAMPLE_RATE, audio_duration, audio_warning, decode_audio, decode_audio_range
from evaluator.data.sources import (
    AssembleJob,
    ChunkJob,
    OpenedDataset,
    Shard,
    metadata_json,
    open_dataset,
    read_row,
    read_shard,
)
from evaluator.data.spec import DatasetSpec
from evaluator.data.vad import speech_in
from evaluator.models.backends import get_backend
from evaluator.models.backends.base import Transcription
from evaluator.models.provenance import describe_weights
from evaluator.models.spec import ModelSpec
from evaluator.results.records import ChunkRow, ResultRow
from evaluator.run.hardware import cpu_info
from evaluator.scoring.languages import LanguageError, LanguagePlan, describe, resolve
from evaluator.scoring.longform import (
    ChunkText,
    LongForm,
    Window,
    parse_segments,
    plan_windows,
    stitch,
    windows_from_speech,
)
from evaluator.scoring.rows import Timeline, assemble_long_form, finalize_row, holes, timeline_of

__all__ = ["Worker", "plan_long_sample"]


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _take(row: dict[str, Any], result: Transcription) -> None:
    """Copy a backend's transcription into a row or chunk dict (segments as plain lists, so
    they cross to the driver cheaply; they are not stored)."""
    if result.language is not None:
        try:
            row["detected_language"] = resolve(result.language).code
        except LanguageError:  # a code the map does not know: kept as the model wrote it
            row["detected_language"] = result.language
        row["language_probability"] = result.language_probability
    row["hypothesis"] = result.text
    row["token_cap_hit"] = result.truncated and result.truncated_reason in (None, "token cap")
    row["truncated_reason"] = result.truncated_reason if result.truncated else None
    row["transcribed_until_s"] = result.end_seconds
    row["segments"] = None if result.segments is None else [[s.start, s.end, s.text] for s in result.segments]


def plan_long_sample(cell: Any, long_form: LongForm) -> tuple[float, list[Window] | None]:
    """(duration, windows) for a sample; windows is None when it fits in one window."""
    duration = audio_duration(cell)
    if duration <= long_form.window:
        return duration, None
    if long_form.strategy == "vad":
        from evaluator.data.vad import speech_regions

        duration, regions = speech_regions(cell, long_form.window)
        return duration, windows_from_speech(regions, duration, long_form.window)
    return duration, plan_windows(duration, long_form.window, long_form.overlap)


def _weights_source(spec: ModelSpec, backend: Any) -> dict[str, Any]:
    """Where the backend's weights came from and their sha256 (never fails the worker)."""
    loaded = getattr(backend, "weights", None)
    if loaded is None:
        return {"kind": "unknown"}
    started = time.perf_counter()
    try:
        source = describe_weights(spec.model, str(loaded), revision=spec.options_dict().get("revision")).to_dict()
    except Exception as exc:  # an unreadable file: say so in the run, keep evaluating
        return {"kind": "unknown", "path": str(loaded), "error": _error_text(exc)}
    return {**source, "hash_seconds": round(time.perf_counter() - started, 3)}


class Worker:
    """One model on one device. Wrapped with ``ray.remote`` by the driver.

    Args:
        spec: the model to load.
        device: resolved device (``cpu``, ``cuda``, ``mps``).
        cpu_threads: inference threads (the CPUs the actor reserved).
        languages: the run's languages as the driver settled them (a plain code: ``--language``).
        long_form: how audio longer than the model's window is handled.
    """

    def __init__(self, spec: ModelSpec, device: str, cpu_threads: int, languages: LanguagePlan | str | None,
                 long_form: LongForm):
        started = time.perf_counter()
        backend_cls = get_backend(spec.backend).for_model(spec.model, spec.options_dict())
        self.spec = spec
        self.backend = backend_cls(spec.model, device, spec.options_dict(), cpu_threads)
        self.load_seconds = time.perf_counter() - started
        self.weights = _weights_source(spec, self.backend)
        if not isinstance(languages, LanguagePlan):
            languages = LanguagePlan(resolve(languages).code if languages else None)
        self.languages = languages
        self.supported = backend_cls.supported_languages(spec.model)
        self.long_form = long_form
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._opened: dict[DatasetSpec, OpenedDataset] = {}

    def info(self) -> dict[str, Any]:
        """What was loaded, where: recorded in the run."""
        return {
            "worker": self.name,
            "device": self.backend.device,
            "load_seconds": round(self.load_seconds, 3),
            "options": self.backend.effective_options,
            "warnings": self.backend.warnings,
            "versions": self.backend.library_versions(),
            "compute_type": getattr(self.backend, "compute_type_used", None),
            "cpu": cpu_info(),
            "weights": self.weights,
            **({"runtime_libraries": libs} if (libs := getattr(self.backend, "runtime_libraries", None)) else {}),
        }

    def peak_memory_mb(self) -> float:
        """Peak resident memory of this actor process so far (MiB)."""
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024

    def _open(self, spec: DatasetSpec) -> OpenedDataset:
        if spec not in self._opened:
            self._opened[spec] = open_dataset(spec, check_ids=False)  # the driver checked them
        return self._opened[spec]

    def _language(self, raw: str | None) -> str | None:
        """A sample's canonical language; ``en`` for an English-only model given none.

        Raises:
            LanguageError: the value names no language, or one this model does not transcribe.
        """
        language = self.languages.code_of(raw)
        if language is None and self.supported == frozenset({"en"}):
            return "en"
        if language is not None and self.supported is not None and language not in self.supported:
            raise LanguageError(f"{self.spec.label} does not transcribe {describe([language])}; it transcribes: "
                                + ", ".join(sorted(self.supported)))
        return language

    def _code(self, language: str | None) -> str | None:
        """The backend's code for a canonical language (``None``: detect it, also when the run
        asks models that can to detect every language)."""
        if language is None or (self.languages.detect and self.backend.detects_language):
            return None
        return self.backend.language_code(resolve(language))

    def _base_row(self, sample: Any) -> dict[str, Any]:
        try:
            language, error = self._language(sample.language), None
        except LanguageError as exc:  # decided up front for a dataset read whole; per row for a stream
            language, error = sample.language, _error_text(exc)
        return {
            "sample_id": sample.sample_id,
            "sample_index": sample.index,
            "language": language,
            "reference": sample.reference,
            "device": self.backend.device,
            "worker": self.name,
            "long_form": self.long_form.strategy,
            "num_chunks": 1,
            "error": error,
            "metadata": metadata_json(sample.metadata),
        }

    def run_shard(self, shard: Shard) -> dict[str, list[Any]]:
        """Transcribe and score a shard's samples.

        Returns ``{"rows": finished ResultRows, "chunks": their ChunkRows, "long": [{"sample": row
        fields, "windows": [...]}]}``; ``long`` lists samples to be transcribed window by window
        through :meth:`run_chunks` (from a streaming dataset, which has no random access, the
        windows are transcribed here and the sample comes back finished, with its chunks).
        A backend that batches gets the shard's clips sorted by duration (rows keep the shard's
        order). In a batch, each sample's ``inference_seconds`` is the batch time split in
        proportion to audio length.
        """
        opened = self._open(shard.dataset)
        rows: list[dict[str, Any]] = []
        chunk_rows: list[dict[str, Any]] = []
        long: list[dict[str, Any]] = []
        ready: list[tuple[dict[str, Any], Any]] = []
        for sample in read_shard(opened, shard):
            row = self._base_row(sample)
            if row["error"] is not None:
                rows.append(row)
                continue
            try:
                if self.long_form.splits:
                    duration, windows = plan_long_sample(sample.audio, self.long_form)
                    if windows is not None:
                        row["audio_seconds"] = duration
                        if opened.streaming:  # no random access: do the windows here
                            chunks = self._transcribe_windows(sample.audio, windows, row["language"])
                            row, done = assemble_long_form(row, windows, chunks)
                            rows.append(row)
                            chunk_rows += done
                        else:
                            long.append({"sample": row, "windows": windows})
                        continue
                started = time.perf_counter()
                audio = decode_audio(sample.audio)
                row["decode_seconds"] = time.perf_counter() - started
                row["audio_seconds"] = len(audio) / SAMPLE_RATE
                row["warning"] = audio_warning(audio)
                ready.append((row, audio))
            except Exception as exc:  # a sample that does not decode becomes an error row
                row["error"] = _error_text(exc)
            rows.append(row)
        size = max(1, self.backend.batch_size)
        # Batches of similar lengths pad less; rows keep their order (``rows`` holds them).
        by_length = sorted(ready, key=lambda item: item[0]["audio_seconds"]) if size > 1 else ready
        for start in range(0, len(by_length), size):
            self._transcribe(by_length[start : start + size])
        for row, audio in ready:  # a long file decoded whole (native): where did the text go?
            segments = parse_segments(row.pop("segments", None))
            if row["audio_seconds"] > self.long_form.window and row.get("error") is None:
                finalize_row(row, self._timeline(row, segments, audio))
        for row in rows:
            if "reference_norm" not in row:
                finalize_row(row)
        return {"rows": [ResultRow(**r) for r in rows], "chunks": [ChunkRow(**c) for c in chunk_rows], "long": long}

    def assemble(self, job: AssembleJob) -> dict[str, list[Any]]:
        """Stitch a long sample's windows (from any actors) into its row and score it."""
        row, chunks = assemble_long_form(job.sample, job.windows, job.chunks)
        return {"rows": [ResultRow(**row)], "chunks": [ChunkRow(**c) for c in chunks]}

    def _timeline(self, row: dict[str, Any], segments: tuple[tuple[float, float, str], ...] | None,
                  audio: Any) -> Timeline:
        """The transcript's place in time and the file's speech, for the skip signals: the
        whole file read as one window."""
        speech = speech_in(audio)
        whole = ChunkText(Window(0, 0.0, row["audio_seconds"]), row.get("hypothesis") or "", segments,
                          None if speech is None else tuple(speech))
        return timeline_of([whole], stitch([whole]), speech)

    def run_chunks(self, job: ChunkJob) -> list[dict[str, Any]]:
        """Transcribe some windows of one long sample; one dict per window."""
        sample = read_row(self._open(job.dataset), job.sample_index)
        return self._transcribe_windows(sample.audio, list(job.windows), self._language(sample.language))

    def _transcribe_windows(self, cell: Any, windows: list[Window], language: str | None) -> list[dict[str, Any]]:
        """Transcribe windows of one file; each window's speech is found by VAD (for the skip
        signals and for placing words in time when stitching)."""
        items: list[tuple[dict[str, Any], Any]] = []
        chunks = []
        for window in windows:
            chunk: dict[str, Any] = {"chunk_index": window.index, "error": None, "hypothesis": None,
                                     "worker": self.name}
            chunks.append(chunk)
            try:
                started = time.perf_counter()
                audio = decode_audio_range(cell, window.start, window.end)
                chunk["decode_seconds"] = time.perf_counter() - started
                speech = speech_in(audio, window.start)
                chunk["audio_seconds"] = len(audio) / SAMPLE_RATE
                chunk["language"] = language
                chunk["speech"] = speech
                items.append((chunk, audio))
            except Exception as exc:
                chunk["error"] = _error_text(exc)
        size = max(1, self.backend.batch_size)
        for start in range(0, len(items), size):
            self._transcribe(items[start : start + size])
        by_index = {w.index: w for w in windows}
        for chunk, audio in items:
            if chunk.get("error") is None:
                self._fill_holes(chunk, audio, by_index[chunk["chunk_index"]])
        return chunks

    def _fill_holes(self, chunk: dict[str, Any], audio: Any, window: Window) -> None:
        """Transcribe again each stretch of a window where VAD hears speech but the transcript has
        none (Whisper sometimes ends a window early or jumps ahead), as its own sequential
        decoding would by seeking there; the new segments join the window's. Needs timestamps.
        Stretches within half the overlap of a ``chunked`` window's edges are left to the
        neighbouring window; a window with no text at all is left as it is (the same audio would
        give the same answer). ``holes_filled`` counts the new segments."""
        segments, speech = chunk.get("segments"), chunk.get("speech")
        if not segments or speech is None:
            return
        edge = self.long_form.overlap / 2 if self.long_form.strategy == "chunked" else 0.0
        added: list[list[Any]] = []
        for a, b in holes(parse_segments(segments) or (), speech, window, edge):
            piece = audio[round((a - window.start) * SAMPLE_RATE): round((b - window.start) * SAMPLE_RATE)]
            started = time.perf_counter()
            try:
                result = self.backend.transcribe(piece, self._code(chunk["language"]))
            except Exception:  # the first pass stands
                continue
            finally:
                chunk["inference_seconds"] = (chunk.get("inference_seconds") or 0.0) + time.perf_counter() - started
            offset = a - window.start
            added += [[offset + s.start, offset + s.end, s.text] for s in result.segments or () if s.text.strip()]
        if added:
            merged = sorted([*segments, *added], key=lambda s: s[0])
            chunk["segments"] = merged
            chunk["hypothesis"] = "".join(s[2] for s in merged).strip()
            chunk["holes_filled"] = len(added)

    def _transcribe(self, batch: list[tuple[dict[str, Any], Any]]) -> None:
        """Fill ``hypothesis``, ``inference_seconds``, ``token_cap_hit`` (or ``error``) of each item."""
        if len(batch) > 1:
            try:
                started = time.perf_counter()
                results = self.backend.transcribe_batch([a for _, a in batch],
                                                        [self._code(r["language"]) for r, _ in batch])
                elapsed = time.perf_counter() - started
                total_audio = sum(r["audio_seconds"] for r, _ in batch) or 1.0
                for (row, _), result in zip(batch, results, strict=True):
                    row["inference_seconds"] = elapsed * row["audio_seconds"] / total_audio
                    _take(row, result)
                return
            except Exception:  # retry one by one so a bad sample fails alone
                pass
        for row, audio in batch:
            try:
                started = time.perf_counter()
                result = self.backend.transcribe(audio, self._code(row["language"]))
                row["inference_seconds"] = time.perf_counter() - started
                _take(row, result)
            except Exception as exc:  # inference that raises becomes an error row
                row["error"] = _error_text(exc)
