"""The stages a shard flows through inside an actor, each handing its output down:

1. read: :func:`evaluator.data.readers.read_shard` yields the shard's samples (audio undecoded);
2. :class:`Prepare`: a sample becomes an :class:`Item` — its language resolved for this model,
   a long sample planned into windows (``chunked``/``vad``), a short one decoded to 16 kHz;
3. :class:`Transcribe`: the backend fills each item's hypothesis, in batches of similar
   durations; a window of a long sample (read from the file by seeking, :func:`read_window`)
   is an item of its own, transcribed as one clip, so it may share a batch with short clips;
4. :func:`score`: the reference and hypothesis become a scored row
   (:func:`evaluator.scoring.rows.finalize_row`).

The actor (:mod:`evaluator.run.execute.actor`) wires these once per shard. A sample that fails in any
stage becomes a row with ``error`` set, never an empty hypothesis.
"""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from evaluator.data.audio import SAMPLE_RATE, audio_duration, audio_warning, decode_audio, decode_audio_range
from evaluator.data.columns import metadata_json
from evaluator.data.shards import Sample
from evaluator.data.vad import speech_in
from evaluator.data.windows import LongForm, Window, plan_windows, windows_from_speech
from evaluator.models.contract import Backend, Transcription
from evaluator.scoring.languages import LanguageError, LanguagePlan, describe, resolve
from evaluator.scoring.merging import ChunkText, parse_segments, stitch
from evaluator.scoring.rows import Timeline, finalize_row, holes, timeline_of

__all__ = ["Item", "Prepare", "Transcribe", "read_window", "score", "plan_long_sample", "error_text"]


def error_text(exc: BaseException) -> str:
    """How an exception is stored in a row's ``error``."""
    return f"{type(exc).__name__}: {exc}"[:2000]


def take(row: dict[str, Any], result: Transcription) -> None:
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


@dataclass
class Item:
    """A sample (or a long sample's window) on its way through the stages.

    Attributes:
        row: the result row being filled (identity, reference, language; then hypothesis, scores),
            or a window's dict (:func:`read_window`).
        audio: the decoded audio the model transcribes as one clip, a whole sample or a window
            (``None`` for errors and for a long sample's plan).
        windows: a long sample's window plan (``chunked``/``vad``); ``None`` when it fits in one.
        cell: the undecoded audio (a stream's long sample is transcribed window by window from it).
    """

    row: dict[str, Any]
    audio: Any = None
    windows: list[Window] | None = None
    cell: Any = None


class Prepare:
    """Stage 2: a :class:`~evaluator.data.shards.Sample` becomes an :class:`Item`.

    Args:
        label: the model's spec label (for messages).
        languages: the run's languages as the driver settled them.
        supported: canonical codes the model transcribes (``None``: unknown, anything goes).
        long_form: how audio longer than the model's window is handled.
        fields: columns every row of this actor carries (``device``, ``worker``).
        needs_audio: False for a backend that answers from the sample's id (``predictions``): the
            audio is not decoded, only its duration read where it can be.
    """

    def __init__(self, label: str, languages: LanguagePlan, supported: frozenset[str] | None, long_form: LongForm,
                 fields: dict[str, Any], needs_audio: bool = True):
        self.needs_audio = needs_audio
        self.label = label
        self.languages = languages
        self.supported = supported
        self.long_form = long_form
        self.fields = fields

    def language(self, raw: str | None) -> str | None:
        """A sample's canonical language; ``en`` for an English-only model given none.

        Raises:
            LanguageError: the value names no language, or one this model does not transcribe.
        """
        language = self.languages.code_of(raw)
        if language is None and self.supported == frozenset({"en"}):
            return "en"
        if language is not None and self.supported is not None and language not in self.supported:
            raise LanguageError(f"{self.label} does not transcribe {describe([language])}; it transcribes: "
                                + ", ".join(sorted(self.supported)))
        return language

    def row(self, sample: Sample) -> dict[str, Any]:
        """The row's identity, reference and language (or the language's error)."""
        try:
            language, error = self.language(sample.language), None
        except LanguageError as exc:  # decided up front for a dataset read whole; per row for a stream
            language, error = self.languages.canonical_or_raw(sample.language), error_text(exc)
        return {
            "sample_id": sample.sample_id,
            "sample_index": sample.index,
            "language": language,
            "language_raw": sample.language,
            "reference": sample.reference,
            **self.fields,
            "long_form": self.long_form.strategy,
            "num_chunks": 1,
            "error": error,
            "metadata": metadata_json(sample.metadata),
        }

    def __call__(self, sample: Sample) -> Item:
        row = self.row(sample)
        if row["error"] is not None:
            return Item(row)
        if not self.needs_audio:
            try:
                row["audio_seconds"] = audio_duration(sample.audio)
            except Exception:  # no audio at hand: the prediction is still scored, without RTFx
                row["audio_seconds"] = None
            return Item(row)
        try:
            if self.long_form.splits:
                duration, windows = plan_long_sample(sample.audio, self.long_form)
                if windows is not None:
                    row["audio_seconds"] = duration
                    return Item(row, windows=windows, cell=sample.audio)
            started = time.perf_counter()
            audio = decode_audio(sample.audio)
            row["decode_seconds"] = time.perf_counter() - started
            row["audio_seconds"] = len(audio) / SAMPLE_RATE
            row["warning"] = audio_warning(audio)
            return Item(row, audio=audio)
        except Exception as exc:  # a sample that does not decode becomes an error row
            row["error"] = error_text(exc)
            return Item(row)


def read_window(cell: Any, window: Window, language: str | None, worker: str) -> Item:
    """A window of a long file as an :class:`Item` whose row is the window's dict: read from the
    file by seeking (memory bounded by the window), its speech found by VAD (for the skip
    signals, for placing words in time when stitching, and for filling holes). A window that
    cannot be read is an item with ``error`` set and no audio."""
    chunk: dict[str, Any] = {"chunk_index": window.index, "error": None, "hypothesis": None, "worker": worker}
    try:
        started = time.perf_counter()
        audio = decode_audio_range(cell, window.start, window.end)
        chunk["decode_seconds"] = time.perf_counter() - started
        chunk["audio_seconds"] = len(audio) / SAMPLE_RATE
        chunk["language"] = language
        chunk["speech"] = speech_in(audio, window.start)
        return Item(chunk, audio=audio)
    except Exception as exc:  # this window's error; the file's other windows go on
        chunk["error"] = error_text(exc)
        return Item(chunk)


class Transcribe:
    """Stage 3: the backend turns audio into text.

    Args:
        backend: the loaded model.
        languages: the run's languages (``detect``: let models that can detect every language).
        long_form: the window plan's strategy and overlap (for filling holes in windows).
        worker: this actor's name, recorded with each window.
        lock: held around each call into the backend (one model, calls from several threads).
    """

    def __init__(self, backend: Backend, languages: LanguagePlan, long_form: LongForm, worker: str,
                 lock: threading.Lock | None = None):
        self.backend = backend
        self.languages = languages
        self.long_form = long_form
        self.worker = worker
        self.lock: AbstractContextManager[Any] = lock if lock is not None else nullcontext()

    def _code(self, language: str | None) -> str | None:
        """The backend's code for a canonical language (``None``: detect it, also when the run
        asks models that can to detect every language)."""
        if language is None or (self.languages.detect and self.backend.detects_language):
            return None
        return self.backend.language_code(resolve(language))

    def batch(self, items: list[Item]) -> None:
        """Transcribe decoded items as one batch (the pipeline's device thread sorted them)."""
        self._transcribe([(item.row, item.audio) for item in items])

    def windows(self, cell: Any, windows: list[Window], language: str | None) -> list[dict[str, Any]]:
        """Transcribe windows of one file on this thread, one window at a time; one dict per
        window. The actor's pipeline does the same for each window (:func:`read_window`, a batch,
        :meth:`finish_windows`), with the window in a batch of other clips."""
        items = [read_window(cell, window, language, self.worker) for window in windows]
        for item in items:
            if item.audio is not None:
                self._transcribe([(item.row, item.audio)])
        return self.finish_windows(items, windows)

    def finish_windows(self, items: list[Item], windows: list[Window]) -> list[dict[str, Any]]:
        """The windows' dicts once transcribed, with the stretches of speech their transcripts
        skipped transcribed again (:meth:`_fill_holes`)."""
        by_index = {w.index: w for w in windows}
        for item in items:
            if item.audio is not None and item.row.get("error") is None:
                self._fill_holes(item.row, item.audio, by_index[item.row["chunk_index"]])
        return [item.row for item in items]

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
                with self.lock:
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

    def by_id(self, row: dict[str, Any]) -> None:
        """Fill a row from a backend that answers by sample id (``predictions``), not from audio;
        the time it reports (a predictions file's) is the row's inference time."""
        try:
            result = self.backend.transcribe_sample(row["sample_id"])
        except Exception as exc:  # no prediction for this sample: an error row naming it
            row["error"] = error_text(exc)
            return
        row["inference_seconds"] = result.seconds
        take(row, result)

    def _transcribe(self, batch: list[tuple[dict[str, Any], Any]]) -> None:
        """Fill ``hypothesis``, ``inference_seconds``, ``token_cap_hit`` (or ``error``) of each item."""
        if len(batch) > 1:
            try:
                with self.lock:
                    started = time.perf_counter()
                    results = self.backend.transcribe_batch([a for _, a in batch],
                                                            [self._code(r["language"]) for r, _ in batch])
                elapsed = time.perf_counter() - started
                total_audio = sum(r["audio_seconds"] for r, _ in batch) or 1.0
                for (row, _), result in zip(batch, results, strict=True):
                    row["inference_seconds"] = elapsed * row["audio_seconds"] / total_audio
                    take(row, result)
                return
            except Exception:  # retry one by one so a bad sample fails alone
                pass
        for row, audio in batch:
            try:
                with self.lock:
                    started = time.perf_counter()
                    result = self.backend.transcribe(audio, self._code(row["language"]))
                row["inference_seconds"] = time.perf_counter() - started
                take(row, result)
            except Exception as exc:  # inference that raises becomes an error row
                row["error"] = error_text(exc)


def native_timeline(row: dict[str, Any], segments: tuple[tuple[float, float, str], ...] | None,
                    audio: Any) -> Timeline:
    """The transcript's place in time and the file's speech, for the skip signals of a long file
    decoded whole (``native``): the whole file read as one window."""
    speech = speech_in(audio)
    whole = ChunkText(Window(0, 0.0, row["audio_seconds"]), row.get("hypothesis") or "", segments,
                      None if speech is None else tuple(speech))
    return timeline_of([whole], stitch([whole]), speech)


def score(item: Item, window_seconds: float) -> dict[str, Any]:
    """Stage 4: score an item's row (a long file decoded whole is also placed in time, for the
    skip signals). Error rows keep NULL scores."""
    row = item.row
    segments = parse_segments(row.pop("segments", None))
    if item.audio is not None and row.get("error") is None and row["audio_seconds"] > window_seconds:
        return finalize_row(row, native_timeline(row, segments, item.audio))
    return finalize_row(row)
