"""Dataset specs: which dataset to evaluate on and how to read it."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass

from evaluator.errors import ConfigError

__all__ = ["DatasetSpec", "default_name", "split_name"]

# ``NAME=SOURCE``: a name of letters, digits, ``_``, ``.`` and ``-`` before the first ``=``.
_NAMED = re.compile(r"([A-Za-z0-9][\w.-]*)=(.+)")


def split_name(source: str | None) -> tuple[str | None, str | None]:
    """``(name, source)`` of ``NAME=SOURCE`` (``calls=./data/calls``); ``(None, source)`` for a
    source without a name (or an existing path that happens to hold ``=``)."""
    if source is None or os.path.exists(source):
        return None, source
    match = _NAMED.fullmatch(source)
    if match is None or "/" in match.group(1) or ":" in match.group(1):
        return None, source
    return match.group(1), match.group(2)


def default_name(source: str | None) -> str:
    """The name of a dataset given none: the last part of a local path or URL (``calls`` for
    ``/data/calls/``, with or without a ``FORMAT:`` prefix), a hub id or ``builtin:NAME`` as
    written; no source is the bundled ``builtin:sample``. Never an absolute path, so the same data
    in another checkout carries the same name."""
    if not source:
        return "builtin:sample"
    location = source
    prefix, sep, rest = source.partition(":")
    if sep and "/" not in prefix and not rest.startswith("//") and rest.startswith(("/", ".", "~")):
        location = rest  # FORMAT:PATH
    if "://" in location:
        location = location.split("://", 1)[1]
    elif not (os.path.isabs(location) or location.startswith((".", "~")) or os.path.exists(location)):
        return source  # a hub id, builtin:NAME
    return location.rstrip("/").rstrip(os.sep).rsplit("/", 1)[-1] or source


@dataclass(frozen=True)
class DatasetSpec:
    """Which dataset to evaluate on and how to read it.

    Attributes:
        source: a Hugging Face hub id; a local path or fsspec URL (``s3://``, ``gs://``,
            ``hf://``...) of a ``save_to_disk`` directory, an ``audiofolder`` directory (audio
            files + ``metadata.csv``), a NeMo manifest (``.json``/``.jsonl``), a Kaldi data
            directory, a Common Voice release folder, a CSV/TSV manifest, a folder of Parquet,
            Arrow or WebDataset ``.tar`` files; or ``builtin:NAME``. A ``FORMAT:`` prefix
            (``nemo:/data/list.txt``) names the format as :attr:`format` does. ``None`` means the
            bundled sample set. See ``docs/datasets.md``.
        config: hub dataset configuration name (``load_dataset(source, config)``).
        split: split to evaluate. ``None`` takes the only split, else ``test``; a dataset
            with several splits and no ``test`` asks for one.
        streaming: read a hub dataset as a stream (shards are the dataset's files).
        audio_column / text_column / id_column / language_column: override auto-detection.
        format: the source's kind when its name does not say (a manifest named ``.txt``): one of
            :func:`evaluator.data.registry.source_names` (``None``: detected from the path). See
            :func:`evaluator.data.registry.detect`.
        name: the short name results and tables use for this dataset (a suite entry's ``name``,
            e.g. ``ami``; ``NAME=`` before the source sets it); ``None`` names it by its source
            (:func:`default_name`). Stored as ``results.dataset``.
        language: language of this dataset's samples with none of their own (overrides the
            run's ``--language`` for this dataset).
        max_samples: evaluate only its first N samples (overrides the run's ``--max-samples``).
        long_form: long-form strategy for this dataset (``native``, ``chunked``, ``vad``,
            ``none``); ``None`` takes the run's.
    """

    source: str | None = None
    config: str | None = None
    split: str | None = None
    streaming: bool = False
    audio_column: str | None = None
    text_column: str | None = None
    id_column: str | None = None
    language_column: str | None = None
    format: str | None = None
    name: str | None = None
    language: str | None = None
    max_samples: int | None = None
    long_form: str | None = None

    def __post_init__(self) -> None:
        name, source = split_name(self.source)
        if name is not None:  # NAME=SOURCE
            if self.name is not None and self.name != name:
                raise ConfigError(f"dataset {self.source!r} is named twice: {name!r} and {self.name!r}")
            object.__setattr__(self, "name", name)
            object.__setattr__(self, "source", source)

    def location(self) -> tuple[str | None, str | None]:
        """(format, source without its ``FORMAT:`` prefix): the prefix wins over :attr:`format`."""
        from evaluator.data.registry import source_names

        source = self.source
        if source and "://" not in source:
            prefix, sep, rest = source.partition(":")
            if sep and prefix in source_names():
                return prefix, rest
        return self.format, source

    def resolved(self) -> DatasetSpec:
        """Local paths made absolute so actors on other working directories find them (a
        ``FORMAT:`` prefix becomes :attr:`format`)."""
        kind, source = self.location()
        if source and "://" not in source and os.path.exists(source):
            source = os.path.abspath(source)
        if (kind, source) == (self.format, self.source):
            return self
        return dataclasses.replace(self, source=source, format=kind)
