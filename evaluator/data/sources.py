"""Open a dataset spec: find which kind of source it names (:func:`source_kind`, through the
registry of :mod:`evaluator.data.registry`), load it with that kind's module, choose the split,
detect the columns and settle the sample ids.

Sources are the modules of :mod:`evaluator.data.formats`, one each (layouts and examples in
``docs/datasets.md``); the built-in sets ``builtin:NAME`` (:mod:`~evaluator.data.builtin`) are
audiofolders. A sample's id is what identifies it in its source: the spec's ``id_column``, else
an id column the data has (``id``, ``utt_id``, ``__key__``...), else the source's own (an
audiofolder's ``file_name``, a manifest's audio path as written), else the row index. Ids are
unique within a dataset: a repeat is an error naming its rows.

Local paths and fsspec URLs (``s3://``, ``gs://``, ``hf://``, ``memory://``) both work for every
kind but ``saved`` and ``audiofolder``.

The driver calls :func:`open_dataset` and :func:`~evaluator.data.shards.plan_shards`; it never
touches audio. An actor opens :func:`resolved_spec`'s output (hitting the local ``datasets`` cache)
and calls :func:`~evaluator.data.readers.read_shard`.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from evaluator.data.builtin import BUILTIN_PREFIX, builtin_dir
from evaluator.data.columns import NATURAL_ID, ROW_INDEX, Columns, detect_columns, first_repeat
from evaluator.data.linetable import LineTable
from evaluator.data.opened import LOCAL_STREAM_SHARDS, OpenedDataset
from evaluator.data.registry import Source, detect
from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError

__all__ = ["open_dataset", "resolved_spec", "source_kind"]

log = logging.getLogger(__name__)


def _choose_split(available: list[str], wanted: str | None, source: str) -> str:
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


def source_kind(spec: DatasetSpec, source: str) -> str:
    """The kind of source a spec names (one of :func:`~evaluator.data.registry.source_names`):
    the spec's format (or ``FORMAT:`` prefix) if given, else detected from what is at the path
    (see :func:`evaluator.data.registry.detect`).

    Raises:
        DatasetError: the format is unknown, or a local path holds no known layout.
    """
    return detect(spec.location()[0], source)[0].name


def _id_description(columns: Columns, source: Source) -> str:
    """How the samples are identified, as ``runs`` shows it."""
    if columns.id is None:
        return "row index"
    if columns.id == NATURAL_ID or columns.id == source.natural_id:
        return source.ids.split(", else ")[-1] if ", else " in source.ids else source.ids
    return f"column {columns.id}"


def _dataset_ids(data: Any, columns: Columns, spec: DatasetSpec, source: Source, name: str) -> Columns:
    """The id column of a ``datasets`` dataset once its ids are checked unique: the spec's, else
    a detected id column, else the source's own (an audiofolder's ``file_name``), else the row
    index. A detected column that repeats falls back to the next; the spec's, or the source's
    own, repeating is an error naming the rows."""
    candidates = [columns.id] if spec.id_column else [c for c in (
        columns.id, source.natural_id if source.natural_id in (data.column_names or []) else None) if c]
    for column in dict.fromkeys(candidates):
        found = first_repeat(data[column])
        if found is None:
            return dataclasses.replace(columns, id=column)
        value, a, b = found
        if spec.id_column or column == source.natural_id:
            raise DatasetError(f"{name}: sample id {value!r} (column {column!r}) is on rows {a} and {b}; ids must "
                               "be unique within a dataset (remove the repeated row, or pass --id-column to "
                               "choose a column that is unique)")
        log.warning("column %r has repeated values (%r on rows %d and %d; e.g. several speakers per sentence); "
                    "not using it as the sample id", column, value, a, b)
    return dataclasses.replace(columns, id=None)


def open_dataset(spec: DatasetSpec, check_ids: bool = True) -> OpenedDataset:
    """Open the dataset a spec names, with audio left undecoded.

    ``check_ids`` reads the id column to make sure ids are unique (the driver does it once;
    actors open :func:`resolved_spec`'s output and skip it).

    Raises:
        DatasetError: the source cannot be found/loaded, a split or column is missing.
    """
    name = spec.source or f"{BUILTIN_PREFIX}sample"
    source = spec.location()[1] or name
    if source.startswith(BUILTIN_PREFIX):
        source = builtin_dir(source.removeprefix(BUILTIN_PREFIX))
    streaming = spec.streaming
    try:  # detecting a URL's kind already asks its server
        kind, location = detect(spec.location()[0], source)
        loaded = kind.load(spec, location)
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"cannot open dataset {source!r}: {exc}") from exc

    if isinstance(loaded, dict):  # DatasetDict, IterableDatasetDict, or a dict of LineTables
        split = _choose_split(list(loaded.keys()), spec.split, name)
        data = loaded[split]
    else:
        split = spec.split or str(getattr(loaded, "split", None) or "train")
        data = loaded

    if isinstance(data, LineTable):  # a manifest: read by position, never as a stream
        if check_ids and data.columns.id is not None:
            data.check_unique(data.columns.id)
        return OpenedDataset(data=data, columns=data.columns, split=split, name=name, streaming=False,
                             kind=kind.name, ids=_id_description(data.columns, kind))
    import datasets

    names = list(data.column_names or [])
    columns = detect_columns(names, data.features, spec)
    if columns.id is None and spec.id_column is None and kind.natural_id in names:
        columns = dataclasses.replace(columns, id=kind.natural_id)
    if check_ids and columns.id is not None and not streaming:
        columns = _dataset_ids(data, columns, spec, kind, name)
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
                         shard_starts=shard_starts, kind=kind.name, ids=_id_description(columns, kind))


def resolved_spec(opened: OpenedDataset, spec: DatasetSpec) -> DatasetSpec:
    """The spec with the columns the driver settled on, for actors: same columns, no repeated
    detection or id check (``id_column=ROW_INDEX`` when ids are row indexes)."""
    cols = opened.columns
    return dataclasses.replace(spec, audio_column=cols.audio, text_column=cols.text,
                               id_column=cols.id or ROW_INDEX, language_column=cols.language)
