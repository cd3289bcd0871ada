"""Units of work sent to actors (shards of rows, windows of one long sample, a long sample to
assemble), the samples read from them, and :func:`plan_shards`, which cuts a dataset into shards
without reading it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluator.data.opened import OpenedDataset
from evaluator.data.spec import DatasetSpec

__all__ = ["AssembleJob", "ChunkJob", "Sample", "Shard", "ShardPlan", "plan_shards"]


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


def _num_file_shards(data: Any) -> int:
    return int(getattr(data, "num_shards", None) or getattr(data, "n_shards", 1) or 1)


@dataclass(frozen=True)
class ShardPlan(Sequence[Shard]):
    """The shards of a dataset, made on demand (a plan for a billion rows is a few integers).

    ``tail``: the last samples, one shard each, so that actors transcribing one clip at a time
    finish together (with whole shards at the end, one actor may still hold a shard or two
    while the others have nothing left to take)."""

    spec: DatasetSpec
    total: int
    shard_size: int
    tail: int = 0

    def _body(self) -> tuple[int, int]:
        """(samples in full-size shards, number of those shards)."""
        body = max(0, self.total - min(self.tail, self.total))
        return body, -(-body // self.shard_size)

    def __len__(self) -> int:
        body, shards = self._body()
        return shards + self.total - body

    def __getitem__(self, i: int) -> Shard:  # type: ignore[override]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        body, shards = self._body()
        if i >= shards:
            start = body + i - shards
            return Shard(self.spec, i, start=start, stop=start + 1)
        start = i * self.shard_size
        return Shard(self.spec, i, start=start, stop=min(start + self.shard_size, body))


def plan_shards(
    opened: OpenedDataset, spec: DatasetSpec, shard_size: int, max_samples: int | None, tail: int = 0
) -> tuple[int | None, Sequence[Shard]]:
    """Split the dataset into shards; returns (number of samples or None if unknown, shards).

    Map-style datasets are cut into row ranges of ``shard_size`` (a lazy sequence), the last
    ``tail`` samples one shard each (:class:`ShardPlan`). A streaming dataset is cut into its
    file shards (one shard per file), or read as one shard when ``max_samples`` is set.
    """
    if opened.streaming:
        if max_samples is not None:
            return max_samples, [Shard(spec, 0, file_shard=0, num_file_shards=1, limit=max_samples)]
        n = _num_file_shards(opened.data)
        return None, [Shard(spec, k, file_shard=k, num_file_shards=n) for k in range(n)]
    total = opened.num_rows or 0
    if max_samples is not None:
        total = min(total, max_samples)
    return total, ShardPlan(spec, total, shard_size, tail)
