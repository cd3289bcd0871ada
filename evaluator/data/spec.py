"""Dataset specs: which dataset to evaluate on and how to read it."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

__all__ = ["DatasetSpec"]


@dataclass(frozen=True)
class DatasetSpec:
    """Which dataset to evaluate on and how to read it.

    Attributes:
        source: a Hugging Face hub id, a ``save_to_disk`` directory or an ``audiofolder``
            directory (audio files + ``metadata.csv``). ``None`` means the bundled sample set.
        config: hub dataset configuration name (``load_dataset(source, config)``).
        split: split to evaluate. ``None`` takes the only split, else ``test``; a dataset
            with several splits and no ``test`` asks for one.
        streaming: read a hub dataset as a stream (shards are the dataset's files).
        audio_column / text_column / id_column / language_column: override auto-detection.
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
    name: str | None = None
    language: str | None = None
    max_samples: int | None = None
    long_form: str | None = None

    def resolved(self) -> DatasetSpec:
        """Local paths made absolute so actors on other working directories find them."""
        if self.source and os.path.exists(self.source):
            return dataclasses.replace(self, source=os.path.abspath(self.source))
        return self
