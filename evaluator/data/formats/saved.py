"""Source: a folder written by ``datasets``' ``save_to_disk`` (a ``Dataset`` or ``DatasetDict``)."""

from __future__ import annotations

import os
from typing import Any

from evaluator.data.registry import Source

__all__ = ["SOURCES", "is_saved_dataset", "load_saved"]


def is_saved_dataset(path: str) -> bool:
    return any(
        os.path.exists(os.path.join(path, marker))
        for marker in ("dataset_dict.json", "state.json", "dataset_info.json")
    ) and not os.path.exists(os.path.join(path, "metadata.csv"))


def load_saved(path: str) -> Any:
    """The saved ``Dataset`` or ``DatasetDict`` (memory-mapped, not read into memory)."""
    import datasets

    return datasets.load_from_disk(path)


SOURCES = (Source("saved", "a save_to_disk folder", lambda spec, path: load_saved(path), detect=is_saved_dataset,
                  order=10, urls=False, ids="the id column, else the row index"),)
