"""Run configuration: a frozen dataclass validated at the boundary and stored as JSON in ``runs``.

Models are :class:`~evaluator.models.spec.ModelSpec` (``backend:model[?key=value]``), the
datasets :class:`~evaluator.data.spec.DatasetSpec` (one, or a suite's entries: see
:mod:`evaluator.data.suites`). A config stored by an older version, with one ``dataset``, reads as
a run of that one dataset.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evaluator.data.spec import DatasetSpec, default_name, split_name
from evaluator.errors import ConfigError
from evaluator.models.spec import ModelSpec, parse_model_spec
from evaluator.scoring.profiles import profile

__all__ = [
    "RunConfig",
    "run_config_from_json",
    "dataset_name",
    "DEVICES",
    "LONG_FORM_STRATEGIES",
]

DEVICES = ("auto", "cpu", "cuda", "mps")
LONG_FORM_STRATEGIES = ("native", "chunked", "vad", "none")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; stored as JSON in ``runs.config``.

    Attributes:
        models: the models to compare, each with its own actor pool.
        datasets: what to evaluate on: every model on every dataset, in one run (a suite). Their
            names (``DatasetSpec.name``, else the source) must differ.
        dataset: the first of ``datasets`` (given alone: a run of that one dataset).
        db: path of the DuckDB results file.
        name: a human label for the run.
        device: ``auto`` (cuda > mps > cpu among what the backend supports), ``cpu``,
            ``cuda``, ``cuda:N`` or ``mps``.
        language: language of samples with none of their own (any form
            :func:`evaluator.scoring.languages.resolve` accepts); checked before the run starts.
        detect_language: give models that detect the language (multilingual Whisper) no
            language, even where the sample has one: they detect it, and ``lid_mismatches``
            counts the rows where they disagree with the dataset. Rows are still scored in the
            dataset's language.
        max_samples: evaluate only the first N samples (quick look).
        actors_per_model: actors per model; ``None`` picks from the cluster's resources.
        cpus_per_actor: CPUs reserved by each CPU actor (also its inference threads).
        gpus_per_actor: share of a GPU (or of the Apple MPS device) each accelerator actor
            reserves; below 1 lets several actors of a model share one device.
        shard_size: samples per shard handed to an actor at a time.
        max_shard_attempts: how often a shard is retried when its actor dies.
        address: Ray address to join; ``None`` joins ``RAY_ADDRESS`` or starts a local cluster.
        long_form: ``native``, ``chunked``, ``vad`` or ``none`` for audio longer than a model's
            window; ``None`` takes each backend's default (see ``evaluator models``).
        chunk_seconds / chunk_overlap: window and overlap of the ``chunked`` strategy (the
            window is also the longest ``vad`` window).
        chunks_per_job: windows of one long file handed to an actor at a time; the other windows
            of the file go to other actors.
        verify_audio: fingerprint each dataset's audio by its full contents, not its file sizes
            (see :mod:`evaluator.data.fingerprint`).
        scoring: the scoring profile (``whisper``, ``open-asr-leaderboard``, ``exact``; see
            :mod:`evaluator.scoring.profiles`), stored with the run and every row.
    """

    models: tuple[ModelSpec, ...]
    dataset: DatasetSpec | None = None
    datasets: tuple[DatasetSpec, ...] = ()
    db: str = "results.duckdb"
    name: str | None = None
    device: str = "auto"
    language: str | None = None
    detect_language: bool = False
    max_samples: int | None = None
    actors_per_model: int | None = None
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 1.0
    shard_size: int = 4
    max_shard_attempts: int = 3
    address: str | None = None
    long_form: str | None = None
    chunk_seconds: float = 30.0
    chunk_overlap: float = 5.0
    chunks_per_job: int = 4
    verify_audio: bool = False
    scoring: str = "whisper"

    def __post_init__(self) -> None:
        datasets = tuple(self.datasets) or (self.dataset or DatasetSpec(),)
        if self.dataset is not None and self.datasets and self.dataset != datasets[0]:
            raise ConfigError("give the run's datasets as `datasets` (or one `dataset`), not both")
        object.__setattr__(self, "datasets", datasets)
        object.__setattr__(self, "dataset", datasets[0])
        _check_datasets(datasets)
        if not self.models:
            raise ConfigError("no model given: pass --model BACKEND:MODEL (e.g. faster-whisper:tiny.en)")
        labels = [m.label for m in self.models]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"the same model is listed twice: {labels}")
        if self.device not in DEVICES and not re.fullmatch(r"cuda:\d+", self.device):
            raise ConfigError(f"unknown device {self.device!r}; valid: auto, cpu, cuda, cuda:N, mps")
        if self.max_samples is not None and self.max_samples < 1:
            raise ConfigError(f"max_samples must be at least 1, got {self.max_samples}")
        if self.actors_per_model is not None and self.actors_per_model < 1:
            raise ConfigError(f"actors_per_model must be at least 1, got {self.actors_per_model}")
        if self.cpus_per_actor <= 0:
            raise ConfigError(f"cpus_per_actor must be positive, got {self.cpus_per_actor}")
        if not 0 < self.gpus_per_actor <= 1:
            raise ConfigError(f"gpus_per_actor must be in (0, 1], got {self.gpus_per_actor}")
        if self.shard_size < 1:
            raise ConfigError(f"shard_size must be at least 1, got {self.shard_size}")
        if self.long_form is not None and self.long_form not in LONG_FORM_STRATEGIES:
            raise ConfigError(
                f"unknown long-form strategy {self.long_form!r}; valid: {', '.join(LONG_FORM_STRATEGIES)}"
            )
        if not (self.chunk_seconds > 0 and 0 <= self.chunk_overlap < self.chunk_seconds / 2):
            raise ConfigError(
                f"need chunk_seconds > 0 and 0 <= chunk_overlap < chunk_seconds / 2, "
                f"got {self.chunk_seconds} and {self.chunk_overlap}"
            )
        if self.chunks_per_job < 1:
            raise ConfigError(f"chunks_per_job must be at least 1, got {self.chunks_per_job}")
        profile(self.scoring)  # an unknown profile, or its libraries missing, fails here
        if self.max_shard_attempts < 1:
            raise ConfigError(f"max_shard_attempts must be at least 1, got {self.max_shard_attempts}")

    def dataset_names(self) -> tuple[str, ...]:
        """The name each dataset's rows carry (``results.dataset``), in order."""
        return tuple(dataset_name(d) for d in self.datasets)

    def to_json_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["dataset"]  # the first of `datasets`
        data["models"] = [
            {"spec": m.label, "backend": m.backend, "model": m.model, "options": m.options_dict()}
            for m in self.models
        ]
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RunConfig:
        """Build from a YAML/JSON mapping whose keys are the CLI's long flags
        (``dataset``, ``split``, ``model``/``models``, ``max-samples`` or ``max_samples``, ...)."""
        data = {str(k).replace("-", "_"): v for k, v in data.items()}
        models = data.pop("models", None) or data.pop("model", None)
        if isinstance(models, str):
            models = [models]
        run_fields = {f.name for f in dataclasses.fields(cls)} - {"models", "dataset", "datasets"}
        dataset_fields = {f.name for f in dataclasses.fields(DatasetSpec)} - run_fields
        ds_kwargs: dict[str, Any] = {}
        datasets: tuple[DatasetSpec, ...] = tuple(data.pop("datasets", None) or ())
        if isinstance(data.get("dataset"), list | tuple):  # a repeated --dataset
            sources = [str(s) for s in data.pop("dataset")]
            if len(sources) == 1:
                data["dataset"] = sources[0]
            else:
                datasets += _named(sources)
        if "dataset" in data:
            ds_kwargs["source"] = data.pop("dataset")
        run_kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in dataset_fields:
                ds_kwargs[key] = value
            elif key in run_fields:
                run_kwargs[key] = value
            else:
                valid = sorted((dataset_fields - {"source"}) | run_fields | {"dataset", "models"})
                raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(valid)}")
        specs = tuple(
            m if isinstance(m, ModelSpec) else parse_model_spec(str(m)) for m in (models or ())
        )
        if datasets:
            if ds_kwargs:  # dataset options of a suite go into its entries
                raise ConfigError(f"{', '.join(sorted(ds_kwargs))}: with several datasets (a suite), give "
                                  "dataset options per entry of the suite file")
            specs_ds = tuple(d if isinstance(d, DatasetSpec) else DatasetSpec(**d) for d in datasets)
            return cls(models=specs, datasets=tuple(d.resolved() for d in specs_ds), **run_kwargs)
        return cls(models=specs, dataset=DatasetSpec(**ds_kwargs).resolved(), **run_kwargs)


def dataset_name(spec: DatasetSpec) -> str:
    """The name a dataset's rows carry: its ``name`` (``NAME=SOURCE``), else the last part of
    its path, or its hub id (:func:`evaluator.data.spec.default_name`)."""
    return spec.name or default_name(spec.source)


def _named(sources: list[str]) -> tuple[DatasetSpec, ...]:
    """Datasets of a repeated ``--dataset``, each named by its ``NAME=`` or the last part of its
    source (with a number where two would share a name)."""
    out = []
    seen: dict[str, int] = {}
    for given in sources:
        name, source = split_name(given)
        base = name or default_name(source)
        seen[base] = seen.get(base, 0) + 1
        out.append(DatasetSpec(source=source, name=base if seen[base] == 1 or name else f"{base}-{seen[base]}"))
    return tuple(out)


def _check_datasets(datasets: tuple[DatasetSpec, ...]) -> None:
    names = [dataset_name(d) for d in datasets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"datasets named twice: {', '.join(twice)}; give each its own name (--dataset NAME=SOURCE, "
                          "or a suite entry's `name`)")
    for d in datasets:
        if d.max_samples is not None and d.max_samples < 1:
            raise ConfigError(f"{dataset_name(d)}: max_samples must be at least 1, got {d.max_samples}")
        if d.long_form is not None and d.long_form not in LONG_FORM_STRATEGIES:
            raise ConfigError(f"{dataset_name(d)}: unknown long-form strategy {d.long_form!r}; valid: "
                              + ", ".join(LONG_FORM_STRATEGIES))


def run_config_from_json(data: Mapping[str, Any]) -> RunConfig:
    """Rebuild a RunConfig from ``RunConfig.to_json_dict()`` output (as stored in ``runs``); a
    config stored before suites, with one ``dataset``, is a run of that dataset."""
    data = dict(data)
    stored = data.pop("datasets", None) or [data.pop("dataset")]
    data.pop("dataset", None)
    datasets = tuple(DatasetSpec(**d) for d in stored)
    models = tuple(parse_model_spec(m["spec"]) for m in data.pop("models"))
    return RunConfig(models=models, datasets=datasets, **data)
