"""Open a dataset spec: find which kind of source it names, load it with that kind's module,
choose the split, detect the columns and check the ids.

Sources (one module each): a Hugging Face hub id (:mod:`~evaluator.data.hub`), a ``save_to_disk``
folder (:mod:`~evaluator.data.saved`), an ``audiofolder`` folder (:mod:`~evaluator.data.audiofolder`)
and the built-in sets (``builtin:NAME``, :mod:`~evaluator.data.builtin`).

The driver calls :func:`open_dataset` and :func:`~evaluator.data.shards.plan_shards`; it never
touches audio. An actor opens :func:`resolved_spec`'s output (hitting the local ``datasets`` cache)
and calls :func:`~evaluator.data.readers.read_shard`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from evaluator.data.audiofolder import load_audiofolder
from evaluator.data.builtin import BUILTIN_PREFIX, builtin_dir
from evaluator.data.columns import ROW_INDEX, Columns, detect_columns
from evaluator.data.hub import load_hub
from evaluator.data.opened import LOCAL_STREAM_SHARDS, OpenedDataset
from evaluator.data.saved import is_saved_dataset, load_saved
from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError

__all__ = ["open_dataset", "resolved_spec"]

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


def _load(spec: DatasetSpec, source: str) -> Any:
    """The source loaded by its kind's module: a dataset or a dict of them by split."""
    if os.path.isdir(source):
        if is_saved_dataset(source):
            return load_saved(source)
        return load_audiofolder(source)
    if os.path.exists(source):
        raise DatasetError(
            f"{source} is a file; --dataset takes a hub id, a save_to_disk folder "
            "or an audiofolder folder (audio files + metadata.csv)"
        )
    return load_hub(spec, source)


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
        loaded = _load(spec, source)
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


def resolved_spec(opened: OpenedDataset, spec: DatasetSpec) -> DatasetSpec:
    """The spec with the columns the driver settled on, for actors: same columns, no repeated
    detection or id check (``id_column=ROW_INDEX`` when ids are row indexes)."""
    cols = opened.columns
    return dataclasses.replace(spec, audio_column=cols.audio, text_column=cols.text,
                               id_column=cols.id or ROW_INDEX, language_column=cols.language)
