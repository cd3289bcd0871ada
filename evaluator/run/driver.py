"""The driver: plans shards, runs one actor pool per model on Ray, streams results into DuckDB.

The scheduling itself (who gets which work, retries, long files) is :mod:`evaluator.run.scheduler`,
which has no Ray in it; here are its Ray executor and its store recorder. Shards are descriptors
(dataset spec + row range), never audio. Each idle actor pulls the next shard of its model, so
fast actors do more. A shard's rows are written in one transaction when the shard completes, so
an actor that dies mid-shard loses nothing that was written and the shard is re-run elsewhere
without duplicates. The driver is the only DuckDB writer.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import platform
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import evaluator
from evaluator.data.opened import OpenedDataset
from evaluator.data.readers import language_values, read_shard
from evaluator.data.shards import Sample, Shard, plan_shards
from evaluator.data.sources import open_dataset, resolved_spec
from evaluator.data.windows import LongForm
from evaluator.errors import ConfigError, MissingDependencyError
from evaluator.models.backends import get_backend
from evaluator.models.files import weight_files
from evaluator.results.records import ChunkRow, LostShard, ResultRow
from evaluator.results.store import Store
from evaluator.run.config import RunConfig, run_config_from_json
from evaluator.run.devices import MPS_RESOURCE, missing_mps_warning, plan_device
from evaluator.run.hardware import cpu_info
from evaluator.run.nodes import check_dataset_on_nodes, dataset_probe_paths
from evaluator.run.planning import ModelRequest, Plan, estimate_memory, measured_peaks, plan_models, run_dtype
from evaluator.run.scheduler import Outcome, Pool, Scheduler
from evaluator.scoring.languages import LanguagePlan, ModelLanguages, SettledLanguages, settle
from evaluator.scoring.metrics import NORMALIZER_NAME, NORMALIZER_VERSION

__all__ = ["Progress", "RunSummary", "check_languages", "check_resumable", "measured_history", "new_run_id",
           "plan_run",
           "run_evaluation", "resume_config"]

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Passed to the progress callback after each shard: (model, sample) pairs done so far."""

    done: int
    total: int | None
    errors: int
    audio_seconds: float


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


def check_resumable(run: dict[str, Any], versions: dict[str, dict[str, str | None]]) -> None:
    """Refuse to resume a run whose stored rows were scored with another normalizer or produced
    with other library versions than this driver has: one run would mix two of them.

    ``run`` is the ``runs`` row; ``versions`` the current library versions per model label.
    """
    problems = []
    if run.get("normalizer_version") not in (None, NORMALIZER_VERSION):
        problems.append(f"text normalizer {run.get('normalizer_name')} {run['normalizer_version']}, "
                        f"now {NORMALIZER_NAME} {NORMALIZER_VERSION}")
    before = json.loads(run.get("library_versions") or "{}")
    for label, now in versions.items():
        then = before.get(label)
        changed = {lib: (then.get(lib), v) for lib, v in now.items() if then is not None and then.get(lib) != v}
        problems += [f"{label}: {lib} {a}, now {b}" for lib, (a, b) in sorted(changed.items())]
    if problems:
        rescore = (f" (a normalizer change alone: `evaluator rescore --run {run.get('run_id')}` scores the stored "
                   "rows again with the current one, then the run resumes)") if problems[0].startswith("text") else ""
        raise ConfigError(
            f"run {run.get('run_id')} cannot be resumed: its rows were made with " + "; ".join(problems)
            + ". Resuming would mix both in one run: start a new run (without --resume), or reinstall "
            "the versions the run used" + rescore + "."
        )


def check_languages(config: RunConfig, opened: OpenedDataset | None = None) -> SettledLanguages:
    """Settle the run's languages before Ray or any actor starts: ``--language`` and every value
    of the dataset's language column must name a language, and each model must transcribe them
    (see :func:`evaluator.scoring.languages.settle`; a stream's values are checked as far as its first
    rows go, the rest per row).

    Raises:
        LanguageError: with the valid choices.
    """
    opened = opened or open_dataset(config.dataset)
    values, complete = language_values(opened, config.max_samples)
    models = [ModelLanguages(m.label, (cls := get_backend(m.backend).for_model(m.model, m.options_dict()))
                             .supported_languages(m.model), cls.needs_language) for m in config.models]
    return settle(config.language, values, models, complete, config.detect_language)


def resume_config(store: Store, run_id: str) -> RunConfig:
    run = store.get_run(run_id)
    if run is None:
        (ids, rows) = store.query("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 5")
        recent = ", ".join(r[0] for r in rows) or "none"
        raise ConfigError(f"no run {run_id!r} in {store.path}; recent runs: {recent}")

    return run_config_from_json(json.loads(run["config"]))


def _long_form(config: RunConfig, backend: Any) -> LongForm:
    strategy = config.long_form or backend.long_form_default
    window = min(config.chunk_seconds, backend.window_seconds or float("inf"))
    if strategy == "vad" and importlib.util.find_spec("faster_whisper") is None:
        raise MissingDependencyError(
            "the vad long-form strategy uses faster-whisper's Silero VAD: pip install 'evaluator[faster-whisper]'"
        )
    return LongForm(strategy, window, min(config.chunk_overlap, window / 3))


def _host_info() -> dict[str, Any]:
    import ray

    return {
        "hostname": socket.gethostname(),
        "driver_pid": os.getpid(),
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


def measured_history(store: Any) -> dict[tuple[str, str], float]:
    """Peak memory per (model label, device kind) from the runs in ``store`` (a :class:`Store` or a
    read-only connection), for :func:`plan_run`."""
    sql = "SELECT models FROM runs WHERE models IS NOT NULL ORDER BY started_at DESC LIMIT 200"
    rows = store.query(sql)[1] if isinstance(store, Store) else store.execute(sql).fetchall()
    return measured_peaks(row[0] for row in rows)


def _prepare(config: RunConfig, cluster: dict[str, float], history: dict[tuple[str, str], float]
             ) -> tuple[list[Plan], list[LongForm], dict[str, Any]]:
    """Check every model (backend installed, options, weights resolvable) and plan its actors;
    returns the plans, the long-form settings and the effective config to record."""
    backends = {m.label: get_backend(m.backend).for_model(m.model, m.options_dict()) for m in config.models}
    for cls in backends.values():
        cls.require()  # a missing extra fails here, before any actor starts
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
            _device_reason(config.device, cls, device.device, cluster), location.detail))
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
) -> RunSummary:
    """Evaluate every model of ``config`` on its dataset; rows land in ``store``.

    With ``resume=True``, ``run_id`` names an existing run and only (model, sample) pairs not
    yet stored are evaluated (``retry_errors`` first deletes the run's error rows).
    Ray must be connected (:func:`evaluator.run.cluster.connect_ray`).
    """
    import ray

    started = time.perf_counter()
    cluster = {k: float(v) for k, v in ray.cluster_resources().items()}
    plans, long_forms, config_json = _prepare(config, cluster, measured_history(store))
    backends = {m.label: get_backend(m.backend).for_model(m.model, m.options_dict()) for m in config.models}
    mps_warning = missing_mps_warning(cluster) if config.device == "auto" and any(
        "mps" in cls.devices for cls in backends.values()) else None
    opened = open_dataset(config.dataset)
    languages = check_languages(config, opened)
    if not languages.complete:
        log.info("languages checked on the stream's first rows (%s); later rows are checked as they come",
                 ", ".join(sorted(languages.used)) or "none given")
    # A local path must exist on every node where actors run: asked before any model loads.
    check_dataset_on_nodes(dataset_probe_paths(config.dataset.source, _first_audio(opened)),
                           [p.ray_options for p in plans])
    # Shards carry the columns settled here, so actors neither detect them nor re-check ids.
    total_samples, shards = plan_shards(opened, resolved_spec(opened, config.dataset), config.shard_size,
                                        config.max_samples)

    run_id = run_id or new_run_id()
    versions = {label: cls.library_versions() for label, cls in backends.items()}
    earlier: dict[str, Any] = {}
    if resume:
        run = store.get_run(run_id) or {}
        check_resumable(run, versions)
        earlier = json.loads(run.get("models") or "{}")
        store.mark_running(run_id)
        if retry_errors:
            log.info("deleted %d error rows to retry them", store.delete_errors(run_id))
    else:
        store.create_run(
            run_id, config.name, config_json, evaluator_version=evaluator.__version__,
            normalizer=(NORMALIZER_NAME, NORMALIZER_VERSION), host=_host_info(),
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
        store.plan_model(run_id, spec.label, opened.name, opened.split, total_samples)
        if resume:
            already_done += len(store.done_ids(run_id, spec.label))
        # No more actors than shards, unless long files may be split across actors.
        if not long_form.splits:
            size = min(size, max(1, len(shards)))
        fresh = _fresh_shards(shards, store, run_id, spec.label) if resume else iter(shards)
        pools.append(Pool(spec.label, long_form, size, fresh, spec=spec, plan=plan.device_plan))
        log.info("%s: %d actors on %s (%d threads, %.1f GiB each), %d shards", spec.label, size, plan.device,
                 plan.threads, plan.memory_mb / 1024, len(shards))

    progress = Progress(
        done=already_done,
        total=None if total_samples is None else total_samples * len(config.models),
        errors=0,
        audio_seconds=0.0,
    )
    status = "failed"
    executor = _RayExecutor(languages.plan)
    recorder = _StoreRecorder(store, run_id, opened, progress, on_progress)
    scheduler = Scheduler(pools, executor, recorder, max_attempts=config.max_shard_attempts,
                          chunks_per_job=config.chunks_per_job, default_language=languages.plan.default,
                          languages=languages.plan, wait_seconds=1.0)
    store.release()  # readers may open the file from here on, between the driver's writes
    try:
        scheduler.run()
        recorder.flush()
        store.write_word_errors(run_id)  # confusion pairs for `evaluator errors`
        store.save_intervals(run_id)  # bootstrap intervals of WER/CER, overall and per group
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        recorder.flush()  # rows already back are kept, even when interrupted
        for pool in pools:
            for slot in list(pool.actors):
                ray.kill(slot.actor)
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


def _first_audio(opened: OpenedDataset) -> Any:
    """The first sample's undecoded audio cell (a path for an audiofolder), None if streaming."""
    if opened.streaming or not opened.num_rows:
        return None
    return opened.data[0][opened.columns.audio]


def _fresh_shards(shards: Sequence[Shard], store: Store, run_id: str, model: str) -> Iterator[Shard]:
    """Shards of a resumed run, each told which of its samples are already stored (looked up
    when the shard is about to be handed out, so nothing grows with the dataset)."""
    all_done: frozenset[str] | None = None
    for shard in shards:
        if shard.size is not None:
            skip = store.done_ids(run_id, model, shard.start, shard.stop)
            if len(skip) >= shard.size:
                continue
        else:  # streaming: no row ranges, so the model's stored ids
            all_done = store.done_ids(run_id, model) if all_done is None else all_done
            skip = all_done
        yield dataclasses.replace(shard, skip_ids=skip) if skip else shard


class _RayExecutor:
    """The scheduler's executor on Ray: one ``Worker`` actor per slot."""

    def __init__(self, languages: LanguagePlan):
        self.languages = languages

    def start(self, pool: Pool) -> tuple[Any, Any]:
        import ray

        from evaluator.run.actor import Worker

        actor_cls = ray.remote(Worker).options(max_restarts=0, max_concurrency=1, **pool.plan.ray_options)
        actor = actor_cls.remote(pool.spec, pool.plan.device, pool.plan.cpu_threads, self.languages, pool.long_form)
        return actor, actor.info.remote()

    def submit(self, actor: Any, kind: str, work: Any) -> Any:
        method = {"shard": actor.run_shard, "chunks": actor.run_chunks, "assemble": actor.assemble}[kind]
        return method.remote(work)

    def wait(self, tickets: Sequence[Any], timeout: float) -> list[tuple[Any, Outcome]]:
        import ray

        ready, rest = ray.wait(list(tickets), num_returns=1, timeout=timeout)
        if ready and rest:  # take everything already done in one go
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        done = []
        for ref in ready:
            try:
                done.append((ref, Outcome(ray.get(ref))))
            except ray.exceptions.RayActorError as exc:
                done.append((ref, Outcome(failure="died", message=_first_error_line(exc))))
            except ray.exceptions.RayTaskError as exc:
                done.append((ref, Outcome(failure="raised", message=_first_error_line(exc))))
        return done

    def release(self, actor: Any) -> float | None:
        import ray

        try:  # the actor's peak memory before it goes
            return float(ray.get(actor.peak_memory_mb.remote(), timeout=30))
        except Exception:  # a worker that cannot answer still gets released
            return None
        finally:
            ray.kill(actor)

    def abandon(self, actor: Any) -> None:
        import ray

        ray.kill(actor)


class _StoreRecorder:
    """The scheduler's recorder: rows into the store (the one writer), progress to the caller.

    Rows are buffered and written in one transaction per second (or per ``FLUSH_ROWS``); between
    writes the store lets go of the file, so readers can query it during the run. A row not yet
    written when the driver dies is simply evaluated again by ``--resume``.
    """

    FLUSH_ROWS = 2000
    FLUSH_SECONDS = 1.0
    HEARTBEAT_SECONDS = 15.0

    def __init__(self, store: Store, run_id: str, opened: OpenedDataset, progress: Progress,
                 on_progress: Callable[[Progress], None] | None):
        self.store = store
        self.run_id = run_id
        self.opened = opened
        self.progress = progress
        self.on_progress = on_progress
        self.rows: list[ResultRow] = []
        self.chunks: list[ChunkRow] = []
        self.flushed = self.beat = time.monotonic()

    def write(self, pool: Pool, rows: list[ResultRow], chunks: list[ChunkRow]) -> None:
        for row in rows:
            row.run_id, row.model, row.backend = self.run_id, pool.label, pool.spec.backend
            row.dataset, row.split = self.opened.name, self.opened.split
        for chunk in chunks:
            chunk.run_id, chunk.model = self.run_id, pool.label
        self.rows += rows
        self.chunks += chunks
        p = self.progress
        p.done += len(rows)
        p.errors += sum(1 for r in rows if r.error)
        p.audio_seconds += sum(r.audio_seconds or 0.0 for r in rows)
        if self.on_progress and rows:
            self.on_progress(p)
        if len(self.rows) >= self.FLUSH_ROWS:
            self.flush()

    def tick(self) -> None:
        now = time.monotonic()
        if self.rows or self.chunks:
            if now - self.flushed >= self.FLUSH_SECONDS:
                self.flush()
        elif now - self.beat >= self.HEARTBEAT_SECONDS:
            self.store.heartbeat(self.run_id)
            self.store.release()
            self.beat = now

    def flush(self) -> None:
        """Write the buffered rows in one transaction, beat, and let go of the file."""
        if self.rows or self.chunks:
            self.store.insert_results(self.rows, self.chunks)
            self.rows, self.chunks = [], []
        self.store.heartbeat(self.run_id)
        self.store.release()
        self.flushed = self.beat = time.monotonic()

    def lost(self, pool: Pool, shard: Shard, reason: str) -> None:
        self.store.record_lost_shard(LostShard(self.run_id, pool.label, shard.shard_id, reason))

    def name_samples(self, shard: Shard) -> list[Sample]:
        return list(read_shard(self.opened, shard, with_audio=False))


_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning)\b.*")


def _first_error_line(exc: Exception) -> str:
    """The most useful line of a Ray error: the innermost exception's ``Type: message`` (Ray's
    actor errors end with lines such as ``ip: ...`` that say nothing about the cause)."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line) and not line.startswith(("File ", "^", "~")):
            return line[:500]
    for line in reversed(lines):
        if ": " in line and not line.startswith(("File ", "^", "~")):
            return line[:500]
    return (lines[-1] if lines else type(exc).__name__)[:500]
