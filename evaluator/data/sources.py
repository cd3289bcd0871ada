"""Open a dataset spec (hub id, ``save_to_disk`` folder, ``audiofolder`` folder, streaming),
detect its columns, plan shards, and read one shard's samples.

The driver calls :func:`open_dataset` and :func:`plan_shards`; it never touches audio. An actor
opens the same spec (hitting the local ``datasets`` cache) and calls :func:`read_shard`.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluator.data.builtin import BUILTIN_PREFIX, builtin_dir, sample_data_dir
from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError

__all__ = [
    "AUDIO_COLUMNS",
    "TEXT_COLUMNS",
    "ID_COLUMNS",
    "LANGUAGE_COLUMNS",
    "AssembleJob",
    "Columns",
    "OpenedDataset",
    "Sample",
    "Shard",
    "ChunkJob",
    "read_row",
    "METADATA_VALUE_CHARS",
    "METADATA_MAX_BYTES",
    "row_metadata",
    "metadata_json",
    "resolved_spec",
    "ROW_INDEX",
    "sample_data_dir",
    "detect_columns",
    "open_dataset",
    "plan_shards",
    "read_shard",
]

log = logging.getLogger(__name__)

# ``DatasetSpec.id_column`` value meaning "the row index is the sample id".
ROW_INDEX = ""

AUDIO_COLUMNS = ("audio", "speech", "wav", "file_audio")
TEXT_COLUMNS = (
    "text",
    "sentence",
    "transcription",
    "transcript",
    "normalized_text",
    "raw_text",
    "reference",
    "label",
)
ID_COLUMNS = ("id", "sample_id", "utt_id", "utterance_id", "segment_id", "audio_id", "key", "file_id")
LANGUAGE_COLUMNS = ("language", "lang", "locale", "language_code")


@dataclass(frozen=True)
class Columns:
    audio: str
    text: str
    id: str | None
    language: str | None


@dataclass(frozen=True)
class OpenedDataset:
    """A dataset ready to read: ``data`` is a ``datasets.Dataset`` or ``IterableDataset``
    with its audio column cast to ``Audio(decode=False)``.

    ``shard_starts``: for a local dataset read as a stream, the global row index of each file
    shard's first row, so a row gets the same id (its row index) however it is read; None for
    a hub stream, whose shards' row counts are unknown.
    """

    data: Any
    columns: Columns
    split: str
    name: str
    streaming: bool
    shard_starts: tuple[int, ...] | None = None

    @property
    def num_rows(self) -> int | None:
        return None if self.streaming else len(self.data)


@dataclass(frozen=True)
class Shard:
    """Work for one actor call: a dataset reference and which rows, never audio.

    Attributes:
        shard_id: position in the plan (for logs and retries).
        start / stop: row range for map-style datasets.
        file_shard / num_file_shards: for streaming datasets, which file shard.
        limit: for streaming, stop after this many rows of the shard.
        skip_ids: sample ids already in the database (resume); read but not transcribed.
    """

    dataset: DatasetSpec
    shard_id: int
    start: int = 0
    stop: int = 0
    file_shard: int | None = None
    num_file_shards: int | None = None
    limit: int | None = None
    skip_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def size(self) -> int | None:
        return None if self.file_shard is not None else self.stop - self.start


@dataclass(frozen=True)
class ChunkJob:
    """Some windows of one long sample, for one actor: the sample is found again by row index.

    Attributes:
        shard_id: the shard the sample came from (for logs).
        sample_index / sample_id: which row.
        windows: the windows to transcribe (a subset of the file's plan).
    """

    dataset: DatasetSpec
    shard_id: int
    sample_index: int
    sample_id: str
    windows: tuple[Any, ...]


@dataclass(frozen=True)
class AssembleJob:
    """Every window of one long sample, back from the actors: to be stitched and scored.

    Attributes:
        sample: the row's fields known before transcription (id, reference, duration, ...).
        windows: the file's plan.
        chunks: one dict per window as the actors returned it (text, segments, speech, error).
        dataset: the dataset the sample is from (where its row is recorded).
    """

    sample: dict[str, Any]
    windows: tuple[Any, ...]
    chunks: tuple[dict[str, Any], ...]
    dataset: DatasetSpec | None = None


@dataclass(frozen=True)
class Sample:
    """One row to transcribe; ``audio`` is the undecoded cell.

    ``metadata``: the row's other scalar columns (see :func:`row_metadata`).
    """

    sample_id: str
    index: int | None
    audio: Any
    reference: str
    language: str | None
    metadata: dict[str, Any] = field(default_factory=dict)


# Caps on what a row keeps of its dataset's other columns: each string value is cut to this many
# characters, and keys are kept in column order while the JSON object stays within the size.
METADATA_VALUE_CHARS = 256
METADATA_MAX_BYTES = 4096


def row_metadata(row: dict[str, Any], columns: Columns) -> dict[str, Any]:
    """The row's scalar columns other than audio, text, id and language: strings (cut to
    :data:`METADATA_VALUE_CHARS` characters), finite numbers and booleans. Lists, dicts, bytes,
    None and NaN are left out; keys are kept in column order while the JSON object stays
    within :data:`METADATA_MAX_BYTES` bytes (later keys are dropped)."""
    import json
    import math

    skip = {columns.audio, columns.text, columns.id, columns.language}
    out: dict[str, Any] = {}
    size = 2
    for key, value in row.items():
        if key in skip:
            continue
        if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
            try:
                value = value.item()
            except (TypeError, ValueError):
                continue
        if isinstance(value, str):
            value = value[:METADATA_VALUE_CHARS]
        elif isinstance(value, bool | int):
            pass
        elif isinstance(value, float):
            if not math.isfinite(value):
                continue
        else:
            continue
        item = len(json.dumps({str(key): value}, ensure_ascii=False).encode()) - 2 + (2 if out else 0)  # ", "
        if size + item > METADATA_MAX_BYTES:
            break
        out[str(key)] = value
        size += item
    return out


def metadata_json(metadata: dict[str, Any]) -> str | None:
    """A sample's metadata as the JSON text stored in ``results.metadata`` (None when empty)."""
    import json

    return json.dumps(metadata, ensure_ascii=False) if metadata else None


def _pick(names: Sequence[str], candidates: Sequence[str], override: str | None, what: str) -> str | None:
    if override:
        if override not in names:
            raise DatasetError(
                f"{what} column {override!r} is not in the dataset; columns are: {', '.join(names)}"
            )
        return override
    lowered = {n.lower(): n for n in names}
    for cand in candidates:
        if cand in lowered:
            return lowered[cand]
    return None


def detect_columns(names: Sequence[str], features: Any, spec: DatasetSpec) -> Columns:
    """Find audio, text, id and language columns, honouring the spec's overrides.

    An ``Audio`` feature wins for the audio column; otherwise the common names are tried.
    """
    audio = spec.audio_column
    if audio is None and features is not None:
        from datasets import Audio

        audio = next((n for n in names if isinstance(features.get(n), Audio)), None)
    audio = _pick(names, AUDIO_COLUMNS, audio, "audio")
    if audio is None:
        raise DatasetError(
            f"no audio column found among {', '.join(names)}; pass --audio-column "
            f"(looked for an Audio feature or one of {', '.join(AUDIO_COLUMNS)})"
        )
    text = _pick(names, TEXT_COLUMNS, spec.text_column, "text")
    if text is None:
        raise DatasetError(
            f"no reference text column found among {', '.join(names)}; pass --text-column "
            f"(looked for {', '.join(TEXT_COLUMNS)})"
        )
    return Columns(
        audio=audio,
        text=text,
        id=None if spec.id_column == ROW_INDEX else _pick(names, ID_COLUMNS, spec.id_column, "id"),
        language=_pick(names, LANGUAGE_COLUMNS, spec.language_column, "language"),
    )


def _choose_split(available: Sequence[str], wanted: str | None, source: str) -> str:
    if wanted is not None:
        if wanted not in available:
            raise DatasetError(
                f"split {wanted!r} not in {source}; available splits: {', '.join(available)}"
            )
        return wanted
    if len(available) == 1:
        return available[0]
    if "test" in available:
        return "test"
    raise DatasetError(
        f"{source} has several splits ({', '.join(available)}); choose one with --split"
    )


def _is_saved_dataset(path: str) -> bool:
    return any(
        os.path.exists(os.path.join(path, marker))
        for marker in ("dataset_dict.json", "state.json", "dataset_info.json")
    ) and not os.path.exists(os.path.join(path, "metadata.csv"))


def _read_metadata(folder: str) -> Any | None:
    """A ``datasets.Dataset`` for one audiofolder level, or None if it has no metadata file.

    The ``audio`` column holds absolute file paths (decoded later by :mod:`evaluator.data.audio`);
    building it this way avoids ``datasets``' audio encoding, which needs torchcodec.
    """
    import datasets

    csv_path = os.path.join(folder, "metadata.csv")
    jsonl_path = os.path.join(folder, "metadata.jsonl")
    if os.path.exists(csv_path):
        import csv

        with open(csv_path, newline="", encoding="utf-8-sig") as fh:  # -sig: Excel writes a BOM
            records = list(csv.DictReader(fh))
    elif os.path.exists(jsonl_path):
        import json

        with open(jsonl_path, encoding="utf-8-sig") as fh:
            records = [json.loads(line) for line in fh if line.strip()]
    else:
        return None
    if records and "file_name" not in records[0]:
        raise DatasetError(f"{csv_path if os.path.exists(csv_path) else jsonl_path} needs a file_name column")
    if not records:
        raise DatasetError(f"the metadata file in {folder} lists no files")
    columns: dict[str, list[Any]] = {"audio": []}
    for record in records:
        columns["audio"].append(os.path.join(folder, str(record["file_name"])))
        for key, value in record.items():
            columns.setdefault(key, []).append(value)
    return datasets.Dataset.from_dict(columns)


def _load_audiofolder(folder: str) -> Any:
    """An audiofolder (``metadata.csv``/``metadata.jsonl`` with ``file_name``), top level or one
    sub-folder per split, as a ``DatasetDict``."""
    import datasets

    top = _read_metadata(folder)
    if top is not None:
        return datasets.DatasetDict({"train": top})
    splits = {}
    for entry in sorted(os.listdir(folder)):
        sub = os.path.join(folder, entry)
        if os.path.isdir(sub) and (found := _read_metadata(sub)) is not None:
            splits[entry] = found
    if not splits:
        raise DatasetError(
            f"{folder} is neither a save_to_disk dataset nor an audiofolder: add a metadata.csv "
            "with columns file_name,transcription (or one sub-folder per split holding one)"
        )
    return datasets.DatasetDict(splits)


def open_dataset(spec: DatasetSpec, check_ids: bool = True) -> OpenedDataset:
    """Open the dataset a spec names, with audio left undecoded.

    ``check_ids`` reads the id column to make sure ids are unique (the driver does it once;
    actors open :func:`resolved_spec`'s output and skip it).

    Raises:
        DatasetError: the source cannot be found/loaded, a split or column is missing.
    """
    import datasets

    name = spec.source or f"{BUILTIN_PREFIX}sample"
    source = builtin_dir(name.removeprefix(BUILTIN_PREFIX)) if name.startswith(BUILTIN_PREFIX) else name
    streaming = spec.streaming
    try:
        if os.path.isdir(source):
            if _is_saved_dataset(source):
                loaded = datasets.load_from_disk(source)
            else:
                loaded = _load_audiofolder(source)
        elif os.path.exists(source):
            raise DatasetError(
                f"{source} is a file; --dataset takes a hub id, a save_to_disk folder "
                "or an audiofolder folder (audio files + metadata.csv)"
            )
        else:
            loaded = datasets.load_dataset(
                source, spec.config, split=spec.split, streaming=streaming
            )
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"cannot open dataset {source!r}: {exc}") from exc

    if isinstance(loaded, datasets.DatasetDict | datasets.IterableDatasetDict):
        split = _choose_split(list(loaded.keys()), spec.split, name)
        data = loaded[split]
    else:
        split = spec.split or str(getattr(loaded, "split", None) or "train")
        data = loaded

    names = list(data.column_names or [])
    columns = detect_columns(names, data.features, spec)
    if check_ids and columns.id is not None and not streaming:
        ids = data[columns.id]
        if len(set(ids)) != len(ids):
            if spec.id_column:
                raise DatasetError(f"id column {columns.id!r} has repeated values; ids must be unique")
            log.warning("column %r has repeated values (e.g. several speakers per sentence); "
                        "using the row index as sample id", columns.id)
            columns = Columns(columns.audio, columns.text, None, columns.language)
    if isinstance(data.features.get(columns.audio), datasets.Audio):
        data = data.cast_column(columns.audio, datasets.Audio(decode=False))
    shard_starts = None
    if streaming and isinstance(data, datasets.Dataset):
        # A local dataset read as a stream (no random access), in file-like shards: contiguous
        # row ranges, whose starts make the row index (the map-style id) known while streaming.
        num_shards = max(1, min(LOCAL_STREAM_SHARDS, len(data)))
        sizes = [len(data.shard(num_shards=num_shards, index=k, contiguous=True)) for k in range(num_shards)]
        shard_starts = tuple(int(sum(sizes[:k])) for k in range(num_shards))
        data = data.to_iterable_dataset(num_shards=num_shards)
    return OpenedDataset(data=data, columns=columns, split=split, name=name, streaming=streaming,
                         shard_starts=shard_starts)


LOCAL_STREAM_SHARDS = 8


def language_values(opened: OpenedDataset, max_samples: int | None = None) -> tuple[list[str | None], bool]:
    """The distinct values of the language column among the rows a run reads (``[None]``: no
    column) and whether that is all of them (a stream: the values of its first rows only)."""
    column = opened.columns.language
    if column is None:
        return [None], True
    data = opened.data
    if opened.streaming:
        seen = {_language_name(opened, row[column])
                for row in itertools.islice(iter(data.select_columns([column])), 200)}
        return sorted(seen, key=lambda v: (v is None, v or "")), False
    if max_samples is not None and max_samples < len(data):
        data = data.select(range(max_samples))
    return [_language_name(opened, v) for v in data.unique(column)], True


def resolved_spec(opened: OpenedDataset, spec: DatasetSpec) -> DatasetSpec:
    """The spec with the columns the driver settled on, for actors: same columns, no repeated
    detection or id check (``id_column=ROW_INDEX`` when ids are row indexes)."""
    cols = opened.columns
    return dataclasses.replace(spec, audio_column=cols.audio, text_column=cols.text,
                               id_column=cols.id or ROW_INDEX, language_column=cols.language)


def _num_file_shards(data: Any) -> int:
    return int(getattr(data, "num_shards", None) or getattr(data, "n_shards", 1) or 1)


@dataclass(frozen=True)
class ShardPlan(Sequence[Shard]):
    """The shards of a dataset, made on demand (a plan for a billion rows is a few integers)."""

    spec: DatasetSpec
    total: int
    shard_size: int

    def __len__(self) -> int:
        return -(-self.total // self.shard_size)

    def __getitem__(self, i: int) -> Shard:  # type: ignore[override]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        start = i * self.shard_size
        return Shard(self.spec, i, start=start, stop=min(start + self.shard_size, self.total))


def plan_shards(
    opened: OpenedDataset, spec: DatasetSpec, shard_size: int, max_samples: int | None
) -> tuple[int | None, Sequence[Shard]]:
    """Split the dataset into shards; returns (number of samples or None if unknown, shards).

    Map-style datasets are cut into row ranges of ``shard_size`` (a lazy sequence). A streaming
    dataset is cut into its file shards (one shard per file), or read as one shard when
    ``max_samples`` is set.
    """
    if opened.streaming:
        if max_samples is not None:
            return max_samples, [Shard(spec, 0, file_shard=0, num_file_shards=1, limit=max_samples)]
        n = _num_file_shards(opened.data)
        return None, [Shard(spec, k, file_shard=k, num_file_shards=n) for k in range(n)]
    total = opened.num_rows or 0
    if max_samples is not None:
        total = min(total, max_samples)
    return total, ShardPlan(spec, total, shard_size)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _language_name(opened: OpenedDataset, value: Any) -> str | None:
    """A language cell as text; a ``ClassLabel`` column's integer becomes its label name."""
    import datasets

    feature = (opened.data.features or {}).get(opened.columns.language)
    if isinstance(feature, datasets.ClassLabel) and isinstance(value, int) and value >= 0:
        return feature.int2str(value)
    return _text(value) or None


def _language(opened: OpenedDataset, row: Any) -> str | None:
    return _language_name(opened, row[opened.columns.language]) if opened.columns.language else None


def read_shard(opened: OpenedDataset, shard: Shard, with_audio: bool = True) -> Iterator[Sample]:
    """Yield the shard's samples (audio undecoded), skipping ids listed in ``skip_ids``.

    ``with_audio=False`` reads only ids and texts (``Sample.audio`` is ``None``).
    """
    cols = opened.columns
    data = opened.data
    if not with_audio:
        data = data.remove_columns([cols.audio])
    if shard.file_shard is not None:
        if shard.num_file_shards and shard.num_file_shards > 1:
            data = data.shard(num_shards=shard.num_file_shards, index=shard.file_shard)
        rows = data.take(shard.limit) if shard.limit else data
        # Without an id column: the global row index where the shards' sizes are known (a local
        # dataset, or the first rows of a stream), so ids match a map-style read of the same
        # dataset; otherwise "<file shard>-<row in shard>".
        start = None
        if (shard.num_file_shards or 1) == 1:
            start = 0
        elif opened.shard_starts is not None and len(opened.shard_starts) == shard.num_file_shards:
            start = opened.shard_starts[shard.file_shard]
        for counter, row in enumerate(rows):
            if cols.id:
                sid = _text(row[cols.id])
            else:
                sid = str(start + counter) if start is not None else f"{shard.file_shard}-{counter}"
            if sid in shard.skip_ids:
                continue
            yield Sample(sid, None, row.get(cols.audio), _text(row[cols.text]),
                         _language(opened, row), row_metadata(row, cols))
        return
    subset = data.select(range(shard.start, shard.stop))
    for offset, row in enumerate(subset):
        index = shard.start + offset
        sid = _text(row[cols.id]) if cols.id else str(index)
        if sid in shard.skip_ids:
            continue
        yield Sample(sid, index, row.get(cols.audio), _text(row[cols.text]),
                     _language(opened, row), row_metadata(row, cols))


def read_row(opened: OpenedDataset, index: int) -> Sample:
    """One row of a map-style dataset by position (audio undecoded)."""
    cols = opened.columns
    row = opened.data[index]
    sid = _text(row[cols.id]) if cols.id else str(index)
    return Sample(sid, index, row[cols.audio], _text(row[cols.text]),
                  _language(opened, row), row_metadata(row, cols))
