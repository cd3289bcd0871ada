"""An opened dataset: what :func:`evaluator.data.sources.open_dataset` returns and what
shards are planned and read from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaluator.data.columns import Columns

__all__ = ["LOCAL_STREAM_SHARDS", "OpenedDataset"]

# A local dataset read as a stream is cut into this many file-like shards.
LOCAL_STREAM_SHARDS = 8


@dataclass(frozen=True)
class OpenedDataset:
    """A dataset ready to read: ``data`` is a ``datasets.Dataset`` or ``IterableDataset``
    with its audio column cast to ``Audio(decode=False)``.

    ``shard_starts``: for a local dataset read as a stream, the global row index of each file
    shard's first row, so a row gets the same id (its row index) however it is read; None for
    a hub stream, whose shards' row counts are unknown.

    ``kind``: the source's kind (:func:`evaluator.data.registry.source_names`); ``ids``: how its
    samples are identified (``file_name as the metadata file writes it``, ``column id``, ``row index``...).
    """

    data: Any
    columns: Columns
    split: str
    name: str
    streaming: bool
    shard_starts: tuple[int, ...] | None = None
    kind: str = ""
    ids: str = "row index"

    @property
    def num_rows(self) -> int | None:
        return None if self.streaming else len(self.data)
