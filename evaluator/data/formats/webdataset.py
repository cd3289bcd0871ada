"""Source: WebDataset tar shards (a folder of ``.tar`` files, or one), through ``datasets``' own
``webdataset`` loader.

Each sample is the tar members sharing a key: ``<key>.flac`` (or ``.wav``, ``.mp3``, ``.m4a``...)
is the audio column (named after its extension), ``<key>.txt`` the text and ``__key__`` the
sample id; ``--text-column`` picks another member (``json`` members become dicts and are not read
as text). Splits come from the file names as on the hub (``test-000000.tar``...).

The loader's own feature inference types audio members as ``Audio``, whose encoding needs
torchcodec; the features are inferred here the same way from the first sample (with the loader's
own member decoders) but audio members typed as raw bytes, so no audio library is needed to load
the shards and each audio cell is the member's original bytes.
"""

from __future__ import annotations

import tarfile
from typing import Any

from evaluator.data import paths
from evaluator.data.formats.parquet import columnar_kind, load_columnar
from evaluator.data.registry import Source
from evaluator.errors import DatasetError

__all__ = ["SOURCES", "load_webdataset", "webdataset_features"]


def _first_tar(path: str) -> str:
    if not paths.isdir(path):
        return path
    tars = [f for f in paths.files_under(path) if f.lower().endswith(".tar")]
    if not tars:
        raise DatasetError(f"{path} holds no .tar file")
    return tars[0]


def webdataset_features(path: str) -> Any:
    """``datasets.Features`` of the shards, from their first sample; audio members are binary."""
    import datasets
    import pyarrow as pa
    from datasets.features.features import cast_to_python_objects
    from datasets.packaged_modules.webdataset.webdataset import WebDataset

    first = _first_tar(path)
    with paths.open_binary(first) as fh, tarfile.open(fileobj=fh, mode="r|*") as tar:
        members = ((m.name, tar.extractfile(m)) for m in tar if m.isfile())
        example = next(iter(WebDataset._get_pipeline_from_tar(first, members)), None)
    if not example:
        raise DatasetError(f"{first} holds no WebDataset sample (members named <key>.<extension>)")
    table = pa.Table.from_pylist(cast_to_python_objects([example], only_1d_for_numpy=True))
    features = datasets.Features.from_arrow_schema(table.schema)
    for name in example:
        if name.rsplit(".", 1)[-1].lower() in WebDataset.AUDIO_EXTENSIONS:
            features[name] = datasets.Value("binary")
    return features


def load_webdataset(path: str) -> Any:
    """The shards as a dict of datasets by split; audio cells are the members' bytes."""
    return load_columnar("webdataset", path, features=webdataset_features(path))


SOURCES = (Source("webdataset", "WebDataset .tar shards", lambda spec, path: load_webdataset(path),
                  detect=lambda path: paths.isdir(path) and columnar_kind(path) == "webdataset", extensions=(".tar",),
                  order=62, ids="the sample key (__key__)", natural_id="__key__"),)
