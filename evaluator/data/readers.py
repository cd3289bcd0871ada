"""Read samples out of an opened dataset: a shard's rows, one row by position, and the language
values a run will meet. Audio stays undecoded (see :mod:`evaluator.data.audio`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from evaluator.data.columns import row_metadata
from evaluator.data.linetable import LineTable
from evaluator.data.opened import OpenedDataset
from evaluator.data.shards import Sample, Shard

__all__ = ["language_values", "read_row", "read_shard"]


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
    if isinstance(data, LineTable):  # one streamed pass over the manifest
        seen = {(str(v) if v not in (None, "") else None) for v in data.values(column, max_samples)}
        return sorted(seen, key=lambda v: (v is None, v or "")), True
    if max_samples is not None and max_samples < len(data):
        data = data.select(range(max_samples))
    return [_language_name(opened, v) for v in data.unique(column)], True


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _language_name(opened: OpenedDataset, value: Any) -> str | None:
    """A language cell as text; a ``ClassLabel`` column's integer becomes its label name."""
    feature = (opened.data.features or {}).get(opened.columns.language)
    if feature is not None and isinstance(value, int) and value >= 0:  # a manifest's rows have no features
        import datasets

        if isinstance(feature, datasets.ClassLabel):
            return feature.int2str(value)
    return _text(value) or None


def _language(opened: OpenedDataset, row: Any) -> str | None:
    return _language_name(opened, row.get(opened.columns.language)) if opened.columns.language else None


def read_shard(opened: OpenedDataset, shard: Shard, with_audio: bool = True) -> Iterator[Sample]:
    """Yield the shard's samples (audio undecoded), skipping ids listed in ``skip_ids``.

    ``with_audio=False`` reads only ids and texts (``Sample.audio`` is ``None``).
    """
    cols = opened.columns
    data = opened.data
    if not with_audio and not isinstance(data, LineTable):  # a manifest's cells are small dicts
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
    subset = data.rows(shard.start, shard.stop) if isinstance(data, LineTable) else data.select(
        range(shard.start, shard.stop))
    for offset, row in enumerate(subset):
        index = shard.start + offset
        sid = _text(row.get(cols.id)) if cols.id else str(index)
        if sid in shard.skip_ids:
            continue
        yield Sample(sid, index, row.get(cols.audio) if with_audio else None, _text(row.get(cols.text)),
                     _language(opened, row), row_metadata(row, cols))


def read_row(opened: OpenedDataset, index: int) -> Sample:
    """One row of a map-style dataset by position (audio undecoded)."""
    cols = opened.columns
    row = opened.data[index]
    sid = _text(row.get(cols.id)) if cols.id else str(index)
    return Sample(sid, index, row.get(cols.audio), _text(row.get(cols.text)),
                  _language(opened, row), row_metadata(row, cols))
