"""The row schema: one typed record per stored row, the single source of the ``results`` and
``chunks`` tables' columns, of the store's inserts and of the tests.

Each field carries its SQL type and its meaning. The store creates the tables from these
records and adds a column that a database made by an older version lacks, so a new field is
one line here. A row given as a mapping is checked against the record: a key that is not a
field (a misspelling) is an error, never a silently empty column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["ResultRow", "ChunkRow", "RunModel", "LostShard", "column_names", "create_table_sql", "as_record"]


def _col(sql: str, doc: str, default: Any = None, backfill: str | None = None) -> Any:
    """A column: SQL type, meaning; ``backfill``: the SQL expression (over the old table as
    ``old``) that fills it in rows stored before it existed, when the table is rebuilt for a new key."""
    return field(default=default, metadata={"sql": sql, "doc": doc, "backfill": backfill})


@dataclass(slots=True)
class ResultRow:
    """One (run, model, sample): raw text, scores and signals. An error row has ``error`` set and
    NULL scores: counted by the leaderboard, never scored."""

    TABLE: ClassVar[str] = "results"
    KEY: ClassVar[tuple[str, ...]] = ("run_id", "model", "dataset", "sample_id")
    EXTRA: ClassVar[tuple[str, ...]] = ("created_at TIMESTAMP NOT NULL DEFAULT current_timestamp",)

    run_id: str = _col("VARCHAR NOT NULL", "the run")
    model: str = _col("VARCHAR NOT NULL", "model spec, e.g. faster-whisper:tiny.en")
    backend: str = _col("VARCHAR NOT NULL", "backend name")
    dataset: str = _col("VARCHAR NOT NULL", "the dataset's name in the run: NAME of --dataset NAME=SOURCE or a suite "
                        "entry's `name`, else the last part of its path (a hub id as written); unique within a run")
    split: str = _col("VARCHAR NOT NULL", "dataset split")
    sample_id: str = _col("VARCHAR NOT NULL", "sample id, unique within its dataset: the id column, else what names "
                          "the sample in its source (file name, manifest audio path), else the row index")
    sample_index: int | None = _col("BIGINT", "row position (NULL when streaming)")
    language: str | None = _col(
        "VARCHAR",
        "the sample's language, canonical code (dataset column or --language; see evaluator.scoring.languages)")
    language_raw: str | None = _col("VARCHAR", "the sample's language as the dataset wrote it (e.g. zh-TW, nb_no)")
    audio_seconds: float | None = _col("DOUBLE", "audio duration")
    reference: str | None = _col("VARCHAR", "raw reference text")
    hypothesis: str | None = _col("VARCHAR", "raw model output")
    reference_norm: str | None = _col("VARCHAR", "normalized reference (scored rows)")
    hypothesis_norm: str | None = _col("VARCHAR", "normalized hypothesis (scored rows)")
    hits: int | None = _col("INTEGER", "words aligned correctly")
    substitutions: int | None = _col("INTEGER", "substituted words")
    deletions: int | None = _col("INTEGER", "reference words missing")
    insertions: int | None = _col("INTEGER", "inserted words")
    ref_words: int | None = _col("INTEGER", "reference words after normalization (0: empty, not in WER)")
    hyp_words: int | None = _col("INTEGER", "hypothesis words after normalization")
    ref_chars: int | None = _col("INTEGER", "reference characters (CER denominator)")
    char_errors: int | None = _col("INTEGER", "character edit distance")
    decode_seconds: float | None = _col("DOUBLE", "audio reading and decoding time")
    inference_seconds: float | None = _col("DOUBLE", "model time (a batch's time split by audio length)")
    truncated: bool | None = _col("BOOLEAN", "token cap, completion < 0.5 or text ending early")
    device: str | None = _col("VARCHAR", "device the sample ran on")
    worker: str | None = _col("VARCHAR", "host:pid of the actor")
    error: str | None = _col("VARCHAR", "why the sample could not be evaluated (NULL: scored)")
    long_form: str | None = _col("VARCHAR", "native | chunked | vad | none")
    num_chunks: int | None = _col("INTEGER", "windows the file was cut into (1: whole file)")
    completion_ratio: float | None = _col("DOUBLE", "hypothesis words / reference words")
    repetition: float | None = _col("DOUBLE", "share of repeated word 5-grams in the hypothesis")
    max_insertion_run: int | None = _col("INTEGER", "longest run of inserted words")
    token_cap_hit: bool | None = _col("BOOLEAN", "the model stopped at its token cap")
    transcribed_until_s: float | None = _col("DOUBLE", "end of the last window/segment with text")
    max_repeats: int | None = _col("INTEGER", "most back-to-back repeats of a stretch of <= 40 words")
    looping: bool | None = _col("BOOLEAN", "a hallucination loop (repeats, 1.5x length, 50+ insertions)")
    truncated_reason: str | None = _col("VARCHAR", "why `truncated` is set (joined by '; ')")
    max_deletion_run: int | None = _col("INTEGER", "longest run of consecutive reference words missing")
    max_deletion_run_s: float | None = _col("DOUBLE", "seconds that run spans (needs timestamps)")
    untranscribed_speech_s: float | None = _col("DOUBLE", "long files: VAD speech in 2 s+ gaps of the text")
    skipped: bool | None = _col("BOOLEAN", "20+ words in a row missing, or a 10 s+ hole")
    normalizer: str | None = _col(
        "VARCHAR", "text normalizer and version (whisper-english | whisper-basic | whisper-basic-chars: CER only; "
        "open-asr-english | open-asr-multilingual | exact ...: see evaluator/scoring/profiles.py)")
    scoring: str | None = _col("VARCHAR", "scoring profile and version (whisper | open-asr-leaderboard | exact); "
                               "NULL: a row stored before profiles, scored by whisper")
    detected_language: str | None = _col("VARCHAR", "language the model detected (no language given), canonical")
    language_probability: float | None = _col("DOUBLE", "the model's probability of detected_language")
    warning: str | None = _col("VARCHAR", "a doubt about the input, the row still scored: all-zero audio, "
                               "a clip under 0.1 s")
    metadata: str | None = _col("JSON", "the dataset row's other scalar columns (speaker, gender, accent, ...); "
                                "values capped at 256 characters, the object at 4 KiB (evaluator/data/columns.py)")


@dataclass(slots=True)
class ChunkRow:
    """One window of a long file transcribed in windows (``chunked``/``vad``)."""

    TABLE: ClassVar[str] = "chunks"
    KEY: ClassVar[tuple[str, ...]] = ("run_id", "model", "dataset", "sample_id", "chunk_index")
    EXTRA: ClassVar[tuple[str, ...]] = ()

    run_id: str = _col("VARCHAR NOT NULL", "the run")
    model: str = _col("VARCHAR NOT NULL", "model spec")
    dataset: str = _col("VARCHAR NOT NULL", "the long file's dataset (results.dataset)", "",
                        backfill="(SELECT any_value(r.dataset) FROM results r WHERE r.run_id = old.run_id "
                                 "AND r.model = old.model AND r.sample_id = old.sample_id)")
    sample_id: str = _col("VARCHAR NOT NULL", "the long file")
    chunk_index: int = _col("INTEGER NOT NULL", "window position in the file's plan")
    start_s: float = _col("DOUBLE NOT NULL", "window start (s in file)")
    end_s: float = _col("DOUBLE NOT NULL", "window end (s in file)")
    hypothesis: str | None = _col("VARCHAR", "the window's raw text")
    inference_seconds: float | None = _col("DOUBLE", "model time for the window")
    worker: str | None = _col("VARCHAR", "the actor that transcribed this window")
    error: str | None = _col("VARCHAR", "why the window failed")
    seam: str | None = _col("VARCHAR", "how it joined the text before: aligned | midpoint | adjacent")
    seam_matched: int | None = _col("INTEGER", "words both windows agreed on inside the overlap")
    seam_cut_s: float | None = _col("DOUBLE", "where the text switches to this window (s in file)")


@dataclass(slots=True)
class RunModel:
    """What a run planned for one model and what it covered: the leaderboard's accounting."""

    TABLE: ClassVar[str] = "run_models"
    KEY: ClassVar[tuple[str, ...]] = ("run_id", "model", "dataset")
    EXTRA: ClassVar[tuple[str, ...]] = ()

    run_id: str = _col("VARCHAR NOT NULL", "the run")
    model: str = _col("VARCHAR NOT NULL", "model spec")
    dataset: str = _col("VARCHAR NOT NULL", "dataset name (results.dataset): one row per model and dataset", "")
    split: str | None = _col("VARCHAR", "dataset split")
    planned: int | None = _col("BIGINT", "samples the run was asked for (NULL: unknown, a stream)")
    wall_seconds: float | None = _col(
        "DOUBLE", "the model's end-to-end time: first actor start to last row, summed over resumed sessions; the "
        "same on each of its datasets' rows (a suite's datasets share the model's actors)")
    status: str | None = _col("VARCHAR", "running | complete | failed (could not load; rows are errors)")
    error: str | None = _col("VARCHAR", "why the model failed")


@dataclass(slots=True)
class LostShard:
    """A shard whose samples could not even be named (a stream that cannot be read): recorded so
    nothing is lost silently, and retried by ``--resume``."""

    TABLE: ClassVar[str] = "lost_shards"
    KEY: ClassVar[tuple[str, ...]] = ("run_id", "model", "dataset", "shard_id")
    EXTRA: ClassVar[tuple[str, ...]] = ("lost_at TIMESTAMP NOT NULL DEFAULT current_timestamp",)

    run_id: str = _col("VARCHAR NOT NULL", "the run")
    model: str = _col("VARCHAR NOT NULL", "model spec")
    shard_id: int = _col("INTEGER NOT NULL", "position in the dataset's shard plan")
    reason: str | None = _col("VARCHAR", "the last failure")
    dataset: str = _col("VARCHAR NOT NULL", "the shard's dataset (results.dataset)", "",
                        backfill="(SELECT any_value(m.dataset) FROM run_models m WHERE m.run_id = old.run_id "
                                 "AND m.model = old.model)")


Record = ResultRow | ChunkRow | RunModel | LostShard


def column_names(record: type) -> tuple[str, ...]:
    """The stored columns of a record type, in order."""
    return tuple(f.name for f in dataclasses.fields(record))


def create_table_sql(record: type) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a record type."""
    lines = [f"    {f.name} {f.metadata['sql']}" for f in dataclasses.fields(record)]
    lines += [f"    {extra}" for extra in record.EXTRA]
    lines.append(f"    PRIMARY KEY ({', '.join(record.KEY)})")
    return f"CREATE TABLE IF NOT EXISTS {record.TABLE} (\n" + ",\n".join(lines) + "\n)"


def as_record(record: type, row: Any) -> Any:
    """``row`` as a ``record``: a record passes through; a mapping must name only fields."""
    if isinstance(row, record):
        return row
    if not isinstance(row, Mapping):
        raise TypeError(f"expected a {record.__name__} or a mapping, got {type(row).__name__}")
    unknown = set(row) - set(column_names(record))
    if unknown:
        raise ValueError(f"not columns of {record.TABLE}: {', '.join(sorted(unknown))} "
                         f"(the columns are the fields of evaluator.results.records.{record.__name__})")
    return record(**row)
