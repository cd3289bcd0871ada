"""The driver: checks and plans a run, starts one actor pool per model on Ray, runs the scheduler
to the end and records the run's accounting.

The scheduling itself (who gets which work, retries, long files) is :mod:`evaluator.run.execute.scheduler`,
which has no Ray in it; its Ray executor is :mod:`evaluator.run.execute.executor` and its recorder (rows
into DuckDB) :mod:`evaluator.run.execute.recorder`. Shards are descriptors (dataset spec + row range),
never audio. Each idle actor pulls the next shard of its model, so fast actors do more. Rows are
written in batches, about once a second (one transaction each): a row is stored once, so an actor
that dies mid-shard loses only the rows not yet back, and ``--resume`` evaluates just those. The
driver is the only DuckDB writer.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
import logging
import platform
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import evaluator
from evaluator.data.fingerprint import Fingerprint, fingerprint
from evaluator.data.opened import OpenedDataset
from evaluator.data.readers import language_values
from evaluator.data.shards import Shard, plan_shards
from evaluator.data.sources import open_dataset, resolved_spec
from evaluator.data.spec import DatasetSpec
from evaluator.data.windows import LongForm
from evaluator.errors import MissingDependencyError, mask_credentials
from evaluator.models.backends import get_backend
from evaluator.models.files import weight_files
from evaluator.results.datasets import DatasetRead, record_datasets
from evaluator.results.predictions import unmatched_predictions
from evaluator.results.store import Store
from evaluator.run.execute.executor import RayExecutor
from evaluator.run.execute.interfaces import Pool
from evaluator.run.execute.recorder import (
    Progress,
    RunDataset,
    StoreRecorder,
    check_resumable,
    fresh_shards,
    measured_history,
    resume_config,
)
from evaluator.run.execute.scheduler import Scheduler
from evaluator.run.origin import run_origin
from evaluator.run.plan.config import RunConfig
from evaluator.run.plan.devices import MPS_RESOURCE, missing_mps_warning, plan_device
from evaluator.run.plan.hardware import cpu_info
from evaluator.run.plan.nodes import check_dataset_on_nodes, dataset_probe_paths
from evaluator.run.plan.placement import ModelRequest, Plan, estimate_memory, plan_models, run_dtype, shard_size_for
from evaluator.scoring.languages import LanguagePlan, ModelLanguages, SettledLanguages, settle
from evaluator.scoring.profiles import profile

# Progress, check_resumable, measured_history and resume_config live in evaluator.run.execute.recorder;
# they are named here too, so callers take a run's whole API from the driver.
__all__ = ["CheckedDatasets", "Progress", "RunSummary", "check_datasets", "check_languages", "check_resumable",
           "measured_history", "new_run_id", "plan_run", "run_evaluation", "resume_config"]

# At most this many samples are handed out one by one at the end of a dataset (each is a call
# and a write of its own).
MAX_TAIL = 256

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    status: str
    rows: int
    errors: int
    wall_seconds: float
    failed_models: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def all_failed(self) -> bool:
        return self.rows == 0 or self.errors == self.rows


def new_run_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def check_languages(config: RunConfig, opened: Mapping[DatasetSpec, OpenedDataset] | OpenedDataset | None = None
                    ) -> SettledLanguages:
    """Settle the run's languages before Ray or any actor starts: ``--language`` (and each
    dataset's own ``language``) and every value of each dataset's language column must name a
    language, and each model must transcribe some of them (see
    :func:`evaluator.scoring.languages.settle`; a stream's values are checked as far as its first
    rows go, the rest per row). Over a suite, a model that transcribes some datasets' languages
    but not others gets a warning (its rows in the others are not transcribable), not a refusal.

    ``opened``: the datasets already opened, by spec (one: a run of one dataset).

    Raises:
        LanguageError: with the valid choices.
    """
    if isinstance(opened, OpenedDataset):
        opened = {config.dataset: opened}
    opened = opened or {}
    models = [ModelLanguages(m.label, (cls := get_backend(m.backend).for_model(m.model, m.options_dict()))
                             .supported_languages(m.model), cls.needs_language) for m in config.models]
    # Per dataset: its values name languages; a model that needs a language meets none missing.
    anywhere = [ModelLanguages(m.label, None, m.needs_language) for m in models]
    each = []
    for spec in config.datasets:
        ds = opened.get(spec) or open_dataset(spec)
        values, complete = language_values(ds, spec.max_samples or config.max_samples)
        each.append(settle(spec.language or config.language, values, anywhere, complete, config.detect_language))
    used = sorted(set().union(*(e.used for e in each)))
    # Over the run: each model transcribes some of its languages (warned about the others).
    over = settle(None, used, models, True, config.detect_language)
    mapping = {k: v for e in each for k, v in e.plan.values.items()}
    default = each[0].plan.default if len(each) == 1 else settle(config.language, [], []).plan.default
    plan = LanguagePlan(default, mapping, config.detect_language)
    return SettledLanguages(plan, frozenset(used), over.warnings, all(e.complete for e in each))


@dataclass(frozen=True)
class CheckedDatasets:
    """A run's datasets made ready before any model loads (:func:`check_datasets`; a session does
    it on another thread while Ray starts): opened with their ids checked, their languages
    settled (:func:`check_languages`), and the fingerprints a new run records, by (spec,
    ``verify_audio``)."""

    opened: dict[DatasetSpec, OpenedDataset]
    languages: SettledLanguages
    fingerprints: dict[tuple[DatasetSpec, bool], Fingerprint]


def check_datasets(config: RunConfig) -> CheckedDatasets:
    """Open the run's datasets, settle their languages and fingerprint the samples it reads.

    Raises:
        DatasetError: a dataset cannot be opened or its ids repeat.
        LanguageError: with the valid choices.
    """
    opened = {spec: open_dataset(spec) for spec in config.datasets}
    languages = check_languages(config, opened)
    prints = {(spec, config.verify_audio): fingerprint(opened[spec], spec.max_samples or config.max_samples,
                                                       config.verify_audio) for spec in config.datasets}
    return CheckedDatasets(opened, languages, prints)


def _long_form(config: RunConfig, backend: Any) -> LongForm:
    strategy = config.long_form or backend.long_form_default
    window = min(config.chunk_seconds, backend.window_seconds or float("inf"))
    if strategy == "vad" and importlib.util.find_spec("faster_whisper") is None:
        raise MissingDependencyError(
            "the vad long-form strategy uses faster-whisper's Silero VAD: pip install 'evaluator[faster-whisper]'"
        )
    return LongForm(strategy, window, min(config.chunk_overlap, window / 3))


def _host_info() -> dict[str, Any]:
    """Where and by whom the run was made (:func:`evaluator.run.origin.run_origin`), on what."""
    import ray

    return {
        **run_origin(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ray": ray.__version__,
        "cluster_resources": ray.cluster_resources(),
        "cpu": cpu_info(),
    }


def _device_reason(requested: str, backend: Any, device: str, cluster: dict[str, float]) -> str:
    if requested != "auto":
        return f"device {device}: --device {requested}"
    has = [name for name, key in (("cuda", "GPU"), ("mps", MPS_RESOURCE)) if cluster.get(key, 0) >= 1]
    return (f"device {device}: auto takes cuda > mps > cpu among what {backend.name} supports "
            f"({', '.join(backend.devices)}) and the cluster has ({', '.join(has) or 'CPUs only'})")


def _prepare(config: RunConfig, cluster: dict[str, float], history: dict[tuple[str, str], float]
             ) -> tuple[list[Plan], list[LongForm], dict[str, Any]]:
    """Check every model (backend installed, options, weights resolvable) and plan its actors;
    returns the plans, the long-form settings and the effective config to record."""
    backends = {m.label: get_backend(m.backend).for_model(m.model, m.options_dict()) for m in config.models}
    for cls in backends.values():
        cls.require()  # a missing extra fails here, before any actor starts
    if any(d.long_form == "vad" for d in config.datasets) and importlib.util.find_spec("faster_whisper") is None:
        raise MissingDependencyError("a dataset's vad long-form strategy uses faster-whisper's Silero VAD: "
                                     "pip install 'evaluator[faster-whisper]'")
    requests = []
    long_forms = []
    config_json = config.to_json_dict()
    for spec, entry in zip(config.models, config_json["models"], strict=True):
        cls = backends[spec.label]
        device = plan_device(config.device, cls.name, cls.devices, cluster, config.cpus_per_actor,
                             config.gpus_per_actor)
        # Unknown options fail here, before any actor starts; the effective ones are recorded.
        options = entry["effective_options"] = cls.resolve_options(spec.options_dict(), device.device)
        # A model name that resolves to nothing (no such path; a hub id not cached while offline) too.
        location = cls.check_model(spec.model, options)
        entry["device"] = device.device
        long_forms.append(_long_form(config, cls))
        entry["long_form"] = dataclasses.asdict(long_forms[-1])
        if long_forms[-1].strategy in ("native", "none"):
            entry["long_form"]["native"] = cls.native_long_form or "the whole file in one call"
        measured = history.get((spec.label, device.device.split(":", 1)[0]))
        memory = estimate_memory(weight_files(location), run_dtype(options, device.device), cls.default_memory_mb,
                                 measured, location.float16_on_disk, cls.runtime_memory_mb)
        lf = long_forms[-1]
        requests.append(ModelRequest(
            spec.label, device, memory,
            f"{lf.strategy} ({lf.window:g} s windows)" if lf.strategy in ("chunked", "vad") else lf.strategy,
            cls.large_model,
            _device_reason(config.device, cls, device.device, cluster), location.detail,
            int(options.get("batch_size") or 1), "batch_size" not in spec.options_dict()))
    plans = plan_models(requests, cluster, actors_per_model=config.actors_per_model,
                        cpus_per_actor=config.cpus_per_actor)
    for plan, entry in zip(plans, config_json["models"], strict=True):
        entry["plan"] = {k: v for k, v in plan.to_dict().items() if k != "model"}
    return plans, long_forms, config_json


def plan_run(config: RunConfig, cluster: dict[str, float],
             history: dict[tuple[str, str], float] | None = None) -> list[Plan]:
    """The plan of a run on a cluster (``ray.cluster_resources()``), without starting anything:
    what ``evaluator run --plan`` prints. ``history``: :func:`measured_history` of the database."""
    return _prepare(config, cluster, history or {})[0]


def run_evaluation(
    config: RunConfig,
    store: Store,
    *,
    run_id: str | None = None,
    resume: bool = False,
    retry_errors: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    checked: CheckedDatasets | None = None,
) -> RunSummary:
    """Evaluate every model of ``config`` on every one of its datasets; rows land in ``store``.

    One set of actors per model serves all the datasets (a suite): each model loads once per
    actor, and its actors pull the shards of every dataset, one dataset after the other. With
    ``resume=True``, ``run_id`` names an existing run and only (model, dataset, sample) triples
    not yet stored are evaluated (``retry_errors`` first deletes the run's error rows).
    Ray must be connected (:func:`evaluator.run.plan.cluster.connect_ray`). ``checked``: the
    datasets already made ready (:func:`check_datasets`); without it they are made ready here.
    """
    import ray

    started = time.perf_counter()
    cluster = {k: float(v) for k, v in ray.cluster_resources().items()}
    plans, long_forms, config_json = _prepare(config, cluster, measured_history(store))
    backends = {m.label: get_backend(m.backend).for_model(m.model, m.options_dict()) for m in config.models}
    mps_warning = missing_mps_warning(cluster) if config.device == "auto" and any(
        "mps" in cls.devices for cls in backends.values()) else None
    checked = checked or check_datasets(config)
    opened, languages = checked.opened, checked.languages
    if not languages.complete:
        log.info("languages checked on the stream's first rows (%s); later rows are checked as they come",
                 ", ".join(sorted(languages.used)) or "none given")
    datasets = []
    # Shards hold at least a batch of the model that batches most (the actors fill batches across them).
    shard_size = config_json["shard_size"] = shard_size_for(config.shard_size, (p.min_shard for p in plans))
    # Models that transcribe one clip at a time take the last samples one by one, so their actors
    # finish together; a batching model keeps whole shards (its batches fill across them).
    tail = min(2 * shard_size * max(p.actors for p in plans), MAX_TAIL) if all(p.min_shard == 1 for p in plans) else 0
    for spec, name in zip(config.datasets, config.dataset_names(), strict=True):
        # A local path must exist on every node where actors run: asked before any model loads.
        check_dataset_on_nodes(dataset_probe_paths(spec.source, _first_audio(opened[spec])),
                               [p.ray_options for p in plans])
        # Shards carry the columns settled here, so actors neither detect them nor re-check ids.
        settled = resolved_spec(opened[spec], spec)
        total, shards = plan_shards(opened[spec], settled, shard_size, spec.max_samples or config.max_samples, tail)
        datasets.append(RunDataset(settled, name, opened[spec], total, shards))
    total_samples = None if any(d.total is None for d in datasets) else sum(d.total or 0 for d in datasets)
    num_shards = sum(len(d.shards) for d in datasets)

    run_id = run_id or new_run_id()
    scoring = profile(config.scoring)
    versions = {label: cls.library_versions() for label, cls in backends.items()}
    earlier: dict[str, Any] = {}
    read = [DatasetRead(d.name, d.spec, d.opened, d.total) for d in datasets]
    if resume:
        run = store.get_run(run_id) or {}
        check_resumable(run, versions)
        # the datasets must be what the run read: a changed sample is refused, named
        record_datasets(store, run_id, read, resume=True, verify_audio=config.verify_audio,
                        known=checked.fingerprints)
        earlier = json.loads(run.get("models") or "{}")
        store.mark_running(run_id)
        if retry_errors:
            log.info("deleted %d error rows to retry them", store.delete_errors(run_id))
    else:
        record_datasets(store, run_id, read, verify_audio=config.verify_audio,  # name, ids, fingerprint
                        known=checked.fingerprints)
        store.create_run(
            run_id, config.name, json.loads(mask_credentials(json.dumps(config_json))),
            evaluator_version=evaluator.__version__,
            normalizer=(scoring.normalizer_set, scoring.version), host=_host_info(), scoring=scoring.name,
        )
        store.update_run(run_id, library_versions=versions)  # known even if this driver dies
    warnings = ([p.warning for p in plans if p.warning] + ([mps_warning] if mps_warning else [])
                + list(languages.warnings.values()))
    for w in warnings:
        log.warning(w)

    if resume:
        forgotten = store.forget_lost_shards(run_id)  # tried again below
        if forgotten:
            log.info("trying %d lost shards again", forgotten)
    pools: list[Pool] = []
    already_done = 0
    for spec, plan, long_form in zip(config.models, plans, long_forms, strict=True):
        size = plan.actors
        for d in datasets:
            store.plan_model(run_id, spec.label, d.name, d.opened.split, d.total)
            if resume:
                already_done += len(store.done_ids(run_id, spec.label, dataset=d.name))
        # No more actors than shards, unless long files may be split across actors.
        if not long_form.splits:
            size = min(size, max(1, num_shards))
        # The datasets' shards one after the other, made as actors ask for them.
        fresh = _suite_shards(datasets, store, run_id, spec.label) if resume else itertools.chain.from_iterable(
            d.shards for d in datasets)
        pools.append(Pool(spec.label, long_form, size, fresh, spec=spec, plan=plan.device_plan))
        log.info("%s: %d actors on %s (%d threads, %.1f GiB each), %d shards%s", spec.label, size, plan.device,
                 plan.threads, plan.memory_mb / 1024, num_shards,
                 f" of {len(datasets)} datasets" if len(datasets) > 1 else "")

    progress = Progress(
        done=already_done,
        total=None if total_samples is None else total_samples * len(config.models),
        errors=0,
        audio_seconds=0.0,
    )
    status = "failed"
    executor = RayExecutor(languages.plan, config.scoring, [d.spec for d in datasets])
    recorder = StoreRecorder(store, run_id, datasets, progress, on_progress)
    scheduler = Scheduler(pools, executor, recorder, max_attempts=config.max_shard_attempts,
                          chunks_per_job=config.chunks_per_job, default_language=languages.plan.default,
                          languages=languages.plan, wait_seconds=1.0)
    store.release()  # readers may open the file from here on, between the driver's writes
    try:
        scheduler.run()
        recorder.flush()
        store.write_word_errors(run_id)  # confusion pairs for `evaluator errors`
        store.save_intervals(run_id)  # bootstrap intervals of WER/CER, overall and per group
        for pool in pools:  # lines of a predictions file that no sample used: said, never dropped silently
            if pool.spec.backend == "predictions" and (
                    unused := unmatched_predictions(store.con, run_id, pool.label, pool.spec.model)):
                log.warning("%s", unused)
                warnings.append(unused)
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        recorder.flush()  # rows already back are kept, even when interrupted
        scheduler.stop_actors()
        for pool in pools:
            store.finish_model(run_id, pool.label, pool.wall_seconds,
                               "interrupted" if status == "interrupted" else "failed" if pool.failed else "complete",
                               pool.failed)
        counts = store.count_results(run_id)
        failed = {p.label: p.failed for p in pools if p.failed}
        store.update_run(
            run_id,
            models={
                p.label: {"device": p.plan.device, "actors": p.size, "restarts": p.restarts,
                          "load_failures": p.load_failures,
                          # model loads this session: one per actor started, whatever the datasets
                          "loads": len(p.workers), "datasets": [d.name for d in datasets],
                          # a resumed run keeps the workers of its earlier sessions
                          "workers": (earlier.get(p.label) or {}).get("workers", []) + p.workers,
                          "long_form": dataclasses.asdict(p.long_form),
                          "error": p.failed, "warning": p.plan.warning,
                          "language_warning": languages.warnings.get(p.label)}
                for p in pools
            },
        )
        if status == "finished" and counts["rows"] == 0:
            status = "failed"
        end = time.perf_counter()
        summary = {**counts, "failed_models": failed, "warnings": warnings,
                   "wall_seconds": round(end - started, 3),
                   # from the first actor ready (model loaded) to the end: steady-state work
                   "processing_seconds": round(end - scheduler.first_ready, 3) if scheduler.first_ready else None}
        store.finish_run(run_id, status, summary)
        store.release()
    return RunSummary(run_id, status, counts["rows"], counts["errors"],
                      time.perf_counter() - started, failed, tuple(warnings))


def _suite_shards(datasets: list[RunDataset], store: Store, run_id: str, model: str) -> Iterator[Shard]:
    """A resumed run's shards of every dataset, one dataset after the other, for one model."""
    for d in datasets:
        yield from fresh_shards(d.shards, store, run_id, model, d.name)


def _first_audio(opened: OpenedDataset) -> Any:
    """The first sample's undecoded audio cell (a path for an audiofolder), None if streaming."""
    if opened.streaming or not opened.num_rows:
        return None
    return opened.data[0][opened.columns.audio]


