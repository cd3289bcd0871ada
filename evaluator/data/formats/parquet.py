"""Source: a folder of Parquet or Arrow files (as a Hugging Face hub dataset is stored: e.g.
``data/test-00000-of-00001.parquet``), or one such file, through ``datasets``' own ``parquet`` and
``arrow`` loaders.

Splits come from the file names as on the hub (``test-*.parquet``, ``test/``...; a folder without
such names is one ``train`` split). An ``Audio`` column is read undecoded (its bytes or path);
a column of structs with ``bytes``/``path`` or of paths works too. The loaders copy the rows into
``datasets``' memory-mapped cache once; nothing is held in memory.
"""

from __future__ import annotations

from typing import Any

from evaluator.data import paths
from evaluator.data.registry import Source

__all__ = ["COLUMNAR_EXTENSIONS", "SOURCES", "columnar_kind", "load_columnar"]

COLUMNAR_EXTENSIONS = {".parquet": "parquet", ".arrow": "arrow", ".tar": "webdataset"}


def columnar_kind(path: str) -> str | None:
    """``parquet``, ``arrow`` or ``webdataset`` for a file of that kind or a folder holding such
    files (Parquet first when a folder holds several kinds); None otherwise."""
    if not paths.isdir(path):
        ext = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
        return COLUMNAR_EXTENSIONS.get(ext)
    found = {COLUMNAR_EXTENSIONS.get("." + f.rsplit(".", 1)[-1].lower()) for f in paths.files_under(path) if "." in f}
    return next((kind for kind in ("parquet", "arrow", "webdataset") if kind in found), None)


def load_columnar(kind: str, path: str, features: Any = None) -> Any:
    """``datasets.load_dataset(kind, data_dir=folder)`` (or ``data_files=file``): a dict of
    datasets by split."""
    import datasets

    if not paths.isdir(path):
        return datasets.load_dataset(kind, data_files={"train": path}, features=features)
    if not paths.is_url(path):
        return datasets.load_dataset(kind, data_dir=path, features=features)
    # data_dir takes local folders only: resolve the hub's split patterns under the URL here
    from datasets.data_files import DataFilesDict, get_data_patterns

    extension = next(ext for ext, k in COLUMNAR_EXTENSIONS.items() if k == kind)
    files = DataFilesDict.from_patterns(get_data_patterns(path), base_path=path, allowed_extensions=[extension])
    return datasets.load_dataset(kind, data_files={str(k): list(v) for k, v in files.items()}, features=features)


def _folder_of(kind: str) -> Any:
    return lambda path: paths.isdir(path) and columnar_kind(path) == kind


def _loader(kind: str) -> Any:
    return lambda spec, path: load_columnar(kind, path)


SOURCES = tuple(Source(kind, f"{ext} files", _loader(kind),
                       detect=_folder_of(kind), extensions=(ext,), order=60 + k,
                       ids="the id column, else the row index")
                for k, (ext, kind) in enumerate(COLUMNAR_EXTENSIONS.items()) if kind != "webdataset")
