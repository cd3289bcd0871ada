"""Open a dataset spec: find which kind of source it names (:func:`source_kind`), load it with
that kind's module, choose the split, detect the columns and check the ids.

Sources, one module each (layouts and examples in ``docs/datasets.md``):

- a Hugging Face hub id (:mod:`~evaluator.data.hub`), a ``save_to_disk`` folder
  (:mod:`~evaluator.data.saved`), an ``audiofolder`` folder (:mod:`~evaluator.data.audiofolder`),
  the built-in sets ``builtin:NAME`` (:mod:`~evaluator.data.builtin`);
- Parquet/Arrow folders (:mod:`~evaluator.data.parquet`) and WebDataset tar shards
  (:mod:`~evaluator.data.webdataset`), through ``datasets``' own loaders;
- manifests read by position, never held whole (:class:`~evaluator.data.linetable.LineTable`):
  NeMo JSON lines (:mod:`~evaluator.data.nemo`), CSV/TSV (:mod:`~evaluator.data.delimited`),
  Common Voice releases (:mod:`~evaluator.data.commonvoice`), Kaldi data directories
  (:mod:`~evaluator.data.kaldi`).

Local paths and fsspec URLs (``s3://``, ``gs://``, ``hf://``, ``memory://``) both work for every
kind but ``saved`` and ``audiofolder``.

The driver calls :func:`open_dataset` and :func:`~evaluator.data.shards.plan_shards`; it never
touches audio. An actor opens :func:`resolved_spec`'s output (hitting the local ``datasets`` cache)
and calls :func:`~evaluator.data.readers.read_shard`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from evaluator.data import paths
from evaluator.data.audiofolder import is_audiofolder, load_audiofolder
from evaluator.data.builtin import BUILTIN_PREFIX, builtin_dir
from evaluator.data.columns import ROW_INDEX, Columns, detect_columns
from evaluator.data.commonvoice import is_common_voice, load_common_voice
from evaluator.data.delimited import DELIMITED_EXTENSIONS, load_delimited
from evaluator.data.hub import load_hub
from evaluator.data.kaldi import is_kaldi_dir, load_kaldi
from evaluator.data.linetable import LineTable
from evaluator.data.nemo import NEMO_EXTENSIONS, load_nemo
from evaluator.data.opened import LOCAL_STREAM_SHARDS, OpenedDataset
from evaluator.data.parquet import columnar_kind, load_columnar
from evaluator.data.saved import is_saved_dataset, load_saved
from evaluator.data.spec import FORMATS, DatasetSpec
from evaluator.data.webdataset import load_webdataset
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
    """The kind of source a spec names (one of :data:`~evaluator.data.spec.FORMATS`): the spec's
    format (or ``FORMAT:`` prefix) if given, else detected from what is at the path.

    Raises:
        DatasetError: the format is unknown, or a local path holds no known layout.
    """
    kind, _ = spec.location()
    if kind is not None:
        if kind not in FORMATS:
            raise DatasetError(f"unknown dataset format {kind!r}; formats are {', '.join(FORMATS)}")
        return kind
    if not paths.is_url(source) and not os.path.exists(source):
        prefix, sep, rest = source.partition(":")
        if sep and os.path.exists(rest):
            raise DatasetError(f"unknown dataset format {prefix!r} in {source!r}; formats are {', '.join(FORMATS)}")
        return "hub"
    if paths.isdir(source):
        if not paths.is_url(source) and is_saved_dataset(source):
            return "saved"
        if is_kaldi_dir(source):
            return "kaldi"
        if is_common_voice(source):
            return "commonvoice"
        if not paths.is_url(source) and is_audiofolder(source):
            return "audiofolder"
        if (columnar := columnar_kind(source)) is not None:
            return columnar
        raise DatasetError(
            f"{source} is neither a save_to_disk dataset nor an audiofolder (add a metadata.csv with columns "
            "file_name,transcription, or one sub-folder per split holding one), nor a Kaldi data directory "
            "(wav.scp + text), a Common Voice release (clips/ + test.tsv) or a folder of .parquet, .arrow or "
            "WebDataset .tar files (see docs/datasets.md)")
    if not paths.exists(source):
        raise DatasetError(f"{source} does not exist")
    lowered = source.lower()
    if lowered.endswith(NEMO_EXTENSIONS):
        return "nemo"
    if lowered.endswith(DELIMITED_EXTENSIONS):
        return lowered.rsplit(".", 1)[1]
    if (columnar := columnar_kind(source)) is not None:
        return columnar
    raise DatasetError(
        f"{source} is a file of no known kind: --dataset takes a NeMo manifest (.json, .jsonl), a CSV or TSV "
        "manifest (.csv, .tsv), a .parquet, .arrow or WebDataset .tar file, or a folder; name the format with a "
        f"prefix if the extension does not say (e.g. nemo:{source}; formats: {', '.join(FORMATS)})")


def _load(spec: DatasetSpec, source: str) -> Any:
    """The source loaded by its kind's module: a dataset, a :class:`LineTable`, or a dict of
    them by split."""
    kind = source_kind(spec, source)
    if kind == "hub":
        return load_hub(spec, source)
    if kind == "saved":
        return load_saved(source)
    if kind == "audiofolder":
        return load_audiofolder(source)
    if kind == "nemo":
        return load_nemo(spec, source)
    if kind in ("csv", "tsv"):
        return load_delimited(spec, source)
    if kind == "commonvoice":
        return load_common_voice(spec, source)
    if kind == "kaldi":
        return load_kaldi(spec, source)
    if kind == "webdataset":
        return load_webdataset(source)
    return load_columnar(kind, source)


def open_dataset(spec: DatasetSpec, check_ids: bool = True) -> OpenedDataset:
    """Open the dataset a spec names, with audio left undecoded.

    ``check_ids`` reads the id column to make sure ids are unique (the driver does it once;
    actors open :func:`resolved_spec`'s output and skip it).

    Raises:
        DatasetError: the source cannot be found/loaded, a split or column is missing.
    """
    import datasets

    name = spec.source or f"{BUILTIN_PREFIX}sample"
    source = spec.location()[1] or name
    if source.startswith(BUILTIN_PREFIX):
        source = builtin_dir(source.removeprefix(BUILTIN_PREFIX))
    streaming = spec.streaming
    try:
        loaded = _load(spec, source)
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
        return OpenedDataset(data=data, columns=data.columns, split=split, name=name, streaming=False)
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
