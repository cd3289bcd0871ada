"""Source: WebDataset tar shards (a folder of ``.tar`` files, or one), through ``datasets``' own
``webdataset`` loader.

Each sample is the tar members sharing a key: ``<key>.flac`` (or ``.wav``, ``.mp3``...) is the
audio column (named after its extension), ``<key>.txt`` the text and ``__key__`` the sample id;
``--text-column`` picks another member (``json`` members become dicts and are not read as text).
Splits come from the file names as on the hub (``test-000000.tar``...).
"""

from __future__ import annotations

from typing import Any

from evaluator.data.parquet import load_columnar

__all__ = ["load_webdataset"]


def load_webdataset(path: str) -> Any:
    """The shards as a dict of datasets by split (audio undecoded once cast by the caller)."""
    return load_columnar("webdataset", path)
