"""Source: a Hugging Face hub dataset id (or any name ``datasets.load_dataset`` resolves),
map-style or streamed."""

from __future__ import annotations

from typing import Any

from evaluator.data.registry import Source
from evaluator.data.spec import DatasetSpec

__all__ = ["SOURCES", "load_hub"]


def load_hub(spec: DatasetSpec, source: str) -> Any:
    """``load_dataset(source, config, split=..., streaming=...)``: a ``Dataset``, an
    ``IterableDataset`` or a dict of them by split."""
    import datasets

    return datasets.load_dataset(source, spec.config, split=spec.split, streaming=spec.streaming)


SOURCES = (Source("hub", "a Hugging Face hub id (org/name)", load_hub, fallback=True,
                  ids="the id column, else the row index"),)
