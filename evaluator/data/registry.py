"""The data-source registry: which kinds of dataset evaluator reads, how each is recognised and
how it loads.

A source is one module of :mod:`evaluator.data.formats` that declares ``SOURCES``, a tuple of
:class:`Source` (most modules declare one; ``delimited`` declares ``csv`` and ``tsv``). The
registry finds them by listing that package, so adding a format is adding one module there. The
kinds a ``FORMAT:`` prefix or :attr:`DatasetSpec.format` may name, the detection of what is at a
path, the dispatch to a loader, the messages for paths of no known kind and the ``--dataset``
help all come from the declared sources.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evaluator.data import paths
from evaluator.errors import DatasetError

__all__ = ["Source", "all_sources", "dataset_help", "detect", "get_source", "source_names"]

_PACKAGE = "evaluator.data.formats"


@dataclass(frozen=True)
class Source:
    """One kind of dataset.

    Attributes:
        name: the kind (``nemo``): the ``FORMAT:`` prefix, :attr:`DatasetSpec.format`, stored per run.
        summary: what it reads, for help and messages (``a NeMo manifest (.json, .jsonl)``).
        load: ``(spec, source) -> data``: a ``datasets`` dataset, a
            :class:`~evaluator.data.linetable.LineTable`, or a dict of them by split.
        detect: ``path -> bool`` for an existing path (a folder or a file) holding this kind;
            None for a kind recognised only by its extensions or by name.
        extensions: file extensions that are this kind (lower case, with the dot).
        manifest: a text manifest: a folder holding exactly one such file is read as that file.
        order: detection order among folder layouts (lower is tried first).
        urls: reads fsspec URLs as well as local paths.
        fallback: the kind of a name that is no path (a Hugging Face hub id).
        ids: how a sample is identified when the data has no id column (for docs and ``runs``).
        natural_id: the loaded data's column holding that identification (an audiofolder's
            ``file_name``); a manifest's loader fills its own.
    """

    name: str
    summary: str
    load: Callable[[Any, str], Any]
    detect: Callable[[str], bool] | None = None
    extensions: tuple[str, ...] = ()
    manifest: bool = False
    order: int = 50
    urls: bool = True
    fallback: bool = False
    ids: str = "row index"
    natural_id: str | None = None


def all_sources() -> tuple[Source, ...]:
    """Every declared source, in detection order (the modules of :mod:`evaluator.data.formats`)."""
    package = importlib.import_module(_PACKAGE)
    found: list[Source] = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{_PACKAGE}.{info.name}")
        found += getattr(module, "SOURCES", ())
    return tuple(sorted(found, key=lambda s: (s.order, s.name)))


def source_names() -> tuple[str, ...]:
    """The kinds a ``FORMAT:`` prefix may name."""
    return tuple(s.name for s in all_sources())


def get_source(name: str) -> Source:
    """The source of a kind.

    Raises:
        DatasetError: no source has that name (the message lists the known ones).
    """
    for source in all_sources():
        if source.name == name:
            return source
    raise DatasetError(f"unknown dataset format {name!r}; formats are {', '.join(source_names())}")


def _extension(path: str) -> str:
    name = paths.basename(path).lower()
    return "." + name.rsplit(".", 1)[1] if "." in name else ""


def _local(source: str, sources: tuple[Source, ...]) -> bool:
    """Whether ``source`` can only be a local path (never a hub id, ``namespace/name``):
    absolute, relative to ``.`` or ``~``, more than two parts, or a manifest's extension."""
    return (os.path.isabs(source) or source.startswith((".", "~")) or source.count("/") > 1
            or any(_extension(source) in s.extensions for s in sources))


def _single_manifest(folder: str, sources: tuple[Source, ...]) -> tuple[Source, str] | None:
    """The one manifest file at the top of a folder (by extension), with its source."""
    found = []
    for entry in paths.listdir(folder):
        path = paths.join(folder, entry)
        for source in sources:
            if source.manifest and _extension(entry) in source.extensions and paths.isfile(path):
                found.append((source, path))
    return found[0] if len(found) == 1 else None


def detect(spec_format: str | None, source: str) -> tuple[Source, str]:
    """The source of a dataset and the path to load: ``spec_format`` if given (the spec's format
    or ``FORMAT:`` prefix), else detected from what is at ``source``. A folder of no known
    layout that holds a single manifest file is read as that manifest.

    Raises:
        DatasetError: the format is unknown, or the path holds no known kind (the message lists
            what each kind looks like).
    """
    sources = all_sources()
    names = ", ".join(s.name for s in sources)
    if spec_format is not None:
        return get_source(spec_format), source
    if not paths.is_url(source) and not os.path.exists(source):
        prefix, sep, rest = source.partition(":")
        if sep and os.path.exists(rest):
            raise DatasetError(f"unknown dataset format {prefix!r} in {source!r}; formats are {names}")
        if _local(source, sources):
            raise DatasetError(f"{source}: no such file or folder ({os.path.abspath(os.path.expanduser(source))}); "
                               "give an existing path, or a hub id (namespace/name)")
        return next(s for s in sources if s.fallback), source
    usable = [s for s in sources if s.urls or not paths.is_url(source)]
    if paths.isdir(source):
        for s in usable:
            if s.detect is not None and s.detect(source):
                return s, source
        single = _single_manifest(source, tuple(usable))
        if single is not None:
            return single
        layouts = "; ".join(s.summary for s in usable if s.detect is not None)
        raise DatasetError(f"{source} holds no dataset layout evaluator knows (nor a single manifest file); "
                           f"a folder can be {layouts} (see docs/datasets.md)")
    if not paths.exists(source):
        raise DatasetError(f"{source} does not exist")
    ext = _extension(source)
    for s in usable:
        if ext in s.extensions:
            return s, source
    files = ", ".join(s.summary for s in usable if s.extensions)
    raise DatasetError(
        f"{source} is a file of no known kind: --dataset takes {files}, or a folder; name the format with a "
        f"prefix if the extension does not say (e.g. nemo:{source}; formats: {names})")


def dataset_help() -> str:
    """The ``--dataset`` help: every source's summary."""
    sources = all_sources()
    hub = next((s.summary for s in sources if s.fallback), "")
    rest = "; ".join(s.summary for s in sources if not s.fallback)
    return (f"{hub}; or a path or fsspec URL (s3://, gs://, hf://) to {rest}, or a folder holding one manifest "
            f"(FORMAT:PATH names the format: {', '.join(s.name + ':' for s in sources)}; see docs/datasets.md); "
            "or builtin:sample (default, 24 short clips) / builtin:multilingual / builtin:long / builtin:repeats. "
            "NAME= names it in every table (default: the last part of its path); repeat for several datasets")
