"""Dataset specs: which dataset to evaluate on and how to read it."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

__all__ = ["FORMATS", "DatasetSpec"]

# Source kinds :attr:`DatasetSpec.format` may name (``hub``: a Hugging Face hub id).
FORMATS = ("hub", "saved", "audiofolder", "nemo", "kaldi", "commonvoice", "csv", "tsv", "parquet", "arrow",
           "webdataset")


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
            :data:`FORMATS` (``None``: detected from the path). See
            :func:`evaluator.data.sources.source_kind`.
        name: the short name results and tables use for this dataset (a suite entry's ``name``,
            e.g. ``ami``); ``None`` names it by its source. Stored as ``results.dataset``.
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

    def location(self) -> tuple[str | None, str | None]:
        """(format, source without its ``FORMAT:`` prefix): the prefix wins over :attr:`format`."""
        source = self.source
        if source and "://" not in source:
            prefix, sep, rest = source.partition(":")
            if sep and prefix in FORMATS:
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
