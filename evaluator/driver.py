"""The driver: plans shards, runs one actor pool per model, streams results into DuckDB.

Shards are descriptors (dataset spec + row range), never audio. Each idle actor pulls the next
shard of its model, so fast actors do more. A shard's rows are written in one transaction when
the shard completes, so an actor that dies mid-shard loses nothing that was written and the
shard is re-run elsewhere without duplicates. The driver is the only DuckDB writer.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import platform
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import evaluator
from evaluator.backends import get_backend
from evaluator.chunking import LongForm, Window
from evaluator.config import ModelSpec, RunConfig, run_config_from_json
from evaluator.dataset import (
    ChunkJob,
    OpenedDataset,
    Shard,
    metadata_json,
    open_dataset,
    plan_shards,
    read_shard,
    resolved_spec,
)
from evaluator.devices import DevicePlan, local_custom_resources, plan_device
from evaluator.errors import ConfigError, MissingDependencyError
from evaluator.hardware import cpu_info
from evaluator.metrics import NORMALIZER_NAME, NORMALIZER_VERSION
from evaluator.rows import assemble_long_form, finalize_row
from evaluator.store import Store

__all__ = ["Progress", "RunSummary", "check_resumable", "connect_ray", "new_run_id", "run_evaluation",
           "resume_config"]

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


def connect_ray(address: str | None = None, num_cpus: int | None = None,
                env_vars: dict[str, str] | None = None) -> None:
    """Join ``address`` (or ``RAY_ADDRESS``, as inside ``ray job submit``), else start a local
    cluster with an ``mps`` resource on Apple Silicon. ``env_vars`` are set in every worker."""
    import ray

    if ray.is_initialized():
        return
    common: dict[str, Any] = {"configure_logging": False, "log_to_driver": True}
    if env_vars:
        common["runtime_env"] = {"env_vars": env_vars}
    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address, **common)
        return
    ray.init(num_cpus=num_cpus, resources=local_custom_resources(), include_dashboard=False, **common)


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
        raise ConfigError(
            f"run {run.get('run_id')} cannot be resumed: its rows were made with " + "; ".join(problems)
            + ". Resuming would mix both in one run: start a new run (without --resume), or reinstall "
            "the versions the run used."
        )


def resume_config(store: Store, run_id: str) -> RunConfig:
    run = store.get_run(run_id)
    if run is None:
        (ids, rows) = store.query("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 5")
        recent = ", ".join(r[0] for r in rows) or "none"
        raise ConfigError(f"no run {run_id!r} in {store.path}; recent runs: {recent}")

    return run_config_from_json(json.loads(run["config"]))


@dataclass
class _Pool:
    """One model's actors and its queue of work (shards and chunk jobs) with attempt counts."""

    spec: ModelSpec
    plan: DevicePlan
    long_form: LongForm
    size: int
    num_shards: int
    fresh: Iterator[Shard]  # shards not yet handed out, made on demand
    queue: deque[tuple[Shard | ChunkJob, int]] = field(default_factory=deque)  # retries, windows: first
    lookahead: Shard | None = None
    slots: list[Any] = field(default_factory=list)
    idle: list[Any] = field(default_factory=list)  # loaded actors waiting for chunk jobs
    shards_in_flight: int = 0
    workers: list[dict[str, Any]] = field(default_factory=list)
    restarts: int = 0
    failed: str | None = None

    def has_work(self) -> bool:
        if self.queue:
            return True
        if self.lookahead is None:
            self.lookahead = next(self.fresh, None)
        return self.lookahead is not None

    def take(self) -> tuple[Shard | ChunkJob, int]:
        """The next work item and how many attempts it has had."""
        if self.queue:
            return self.queue.popleft()
        if not self.has_work():
            raise IndexError("no work left")
        work, self.lookahead = self.lookahead, None
        assert work is not None
        return work, 0


@dataclass
class _LongSample:
    """A long sample whose windows are out on actors; assembled when every window is back."""

    sample: dict[str, Any]
    windows: list[Window]
    chunks: list[dict[str, Any]] = field(default_factory=list)


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
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ray": ray.__version__,
        "cluster_resources": ray.cluster_resources(),
        "cpu": cpu_info(),
    }


def _actors_per_model(config: RunConfig, plans: list[DevicePlan], cluster: dict[str, float]) -> list[int]:
    if config.actors_per_model is not None:
        return [config.actors_per_model] * len(plans)
    n_cpu = sum(1 for p in plans if p.device == "cpu") or 1
    sizes = []
    for plan in plans:
        if plan.device == "cuda":  # one actor per GPU per model, or more with fractions
            sizes.append(max(1, int(cluster.get("GPU", 1) / config.gpus_per_actor)))
        elif plan.device == "mps":
            sizes.append(max(1, int(1 / config.gpus_per_actor)))
        else:
            sizes.append(max(1, int(cluster.get("CPU", 1) // (config.cpus_per_actor * n_cpu))))
    return sizes


def _check_fits(spec: ModelSpec, plan: DevicePlan, cluster: dict[str, float]) -> None:
    cpus = plan.ray_options.get("num_cpus", 0)
    if cpus > cluster.get("CPU", 0):
        raise ConfigError(
            f"{spec.label}: an actor asks for {cpus} CPUs but the cluster has "
            f"{cluster.get('CPU', 0)}; lower --cpus-per-actor"
        )


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
    Ray must be connected (:func:`connect_ray`).
    """
    import ray

    started = time.perf_counter()
    backends = {m.label: get_backend(m.backend) for m in config.models}
    for cls in backends.values():
        cls.require()  # a missing extra fails here, before any actor starts
    cluster = {k: float(v) for k, v in ray.cluster_resources().items()}
    plans = []
    long_forms = []
    config_json = config.to_json_dict()
    for spec, entry in zip(config.models, config_json["models"], strict=True):
        cls = backends[spec.label]
        plan = plan_device(config.device, cls.name, cls.devices, cluster, config.cpus_per_actor,
                           config.gpus_per_actor)
        # Unknown options fail here, before any actor starts; the effective ones are recorded.
        entry["effective_options"] = cls.resolve_options(spec.options_dict(), plan.device)
        entry["device"] = plan.device
        long_forms.append(_long_form(config, cls))
        entry["long_form"] = dataclasses.asdict(long_forms[-1])
        if long_forms[-1].strategy in ("native", "none"):
            entry["long_form"]["native"] = cls.native_long_form or "the whole file in one call"
        _check_fits(spec, plan, cluster)
        plans.append(plan)
    opened = open_dataset(config.dataset)
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
    warnings = [p.warning for p in plans if p.warning]
    for w in warnings:
        log.warning(w)

    sizes = _actors_per_model(config, plans, cluster)
    pools: list[_Pool] = []
    already_done = 0
    for spec, plan, long_form, size in zip(config.models, plans, long_forms, sizes, strict=True):
        if resume:
            already_done += len(store.done_ids(run_id, spec.label))
        # No more actors than shards, unless long files may be split across actors.
        if not long_form.splits:
            size = min(size, max(1, len(shards)))
        fresh = _fresh_shards(shards, store, run_id, spec.label) if resume else iter(shards)
        pools.append(_Pool(spec, plan, long_form, size, len(shards), fresh))

    progress = Progress(
        done=already_done,
        total=None if total_samples is None else total_samples * len(config.models),
        errors=0,
        audio_seconds=0.0,
    )
    status = "failed"
    loop = _Loop(config, store, run_id, opened, pools, progress, on_progress)
    try:
        loop.run()
        store.save_intervals(run_id)  # bootstrap intervals of WER/CER, overall and per group
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        counts = store.count_results(run_id)
        failed = {p.spec.label: p.failed for p in pools if p.failed}
        store.update_run(
            run_id,
            models={
                p.spec.label: {"device": p.plan.device, "actors": p.size, "restarts": p.restarts,
                               # a resumed run keeps the workers of its earlier sessions
                               "workers": (earlier.get(p.spec.label) or {}).get("workers", [])
                               + [{k: v for k, v in w.items() if k != "handle_id"} for w in p.workers],
                               "long_form": dataclasses.asdict(p.long_form),
                               "error": p.failed, "warning": p.plan.warning}
                for p in pools
            },
        )
        if status == "finished" and counts["rows"] == 0:
            status = "failed"
        end = time.perf_counter()
        summary = {**counts, "failed_models": failed, "warnings": warnings,
                   "wall_seconds": round(end - started, 3),
                   # from the first actor ready (model loaded) to the end: steady-state work
                   "processing_seconds": round(end - loop.first_ready, 3) if loop.first_ready else None}
        store.finish_run(run_id, status, summary)
        for pool in pools:
            for slot in pool.slots:
                ray.kill(slot.handle)
    store.write_word_errors(run_id)  # confusion pairs for `evaluator errors`
    return RunSummary(run_id, status, counts["rows"], counts["errors"],
                      time.perf_counter() - started, failed, tuple(warnings))


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


@dataclass
class _Slot:
    pool: _Pool
    handle: Any
    work: Shard | ChunkJob | None = None
    attempt: int = 0


class _Loop:
    """The scheduling loop: start actors, hand out work, collect rows, replace dead actors."""

    def __init__(self, config: RunConfig, store: Store, run_id: str, opened: OpenedDataset,
                 pools: list[_Pool], progress: Progress,
                 on_progress: Callable[[Progress], None] | None):
        self.config = config
        self.store = store
        self.run_id = run_id
        self.opened = opened
        self.pools = pools
        self.progress = progress
        self.on_progress = on_progress
        self.pending: dict[Any, tuple[_Slot, str]] = {}
        self.long: dict[tuple[str, str], _LongSample] = {}
        self.first_ready: float | None = None

    def _start_actor(self, pool: _Pool) -> None:
        import ray

        from evaluator.actor import Worker

        options = dict(pool.plan.ray_options)
        actor_cls = ray.remote(Worker).options(max_restarts=0, max_concurrency=1, **options)
        handle = actor_cls.remote(pool.spec, pool.plan.device, pool.plan.cpu_threads,
                                  self.config.language, pool.long_form)
        slot = _Slot(pool, handle)
        pool.slots.append(slot)
        self.pending[handle.info.remote()] = (slot, "info")

    def _release(self, slot: _Slot) -> None:
        import ray

        slot.pool.slots.remove(slot)
        try:  # record the actor's peak memory before it goes
            peak = ray.get(slot.handle.peak_memory_mb.remote(), timeout=30)
            for worker in slot.pool.workers:
                if worker.get("handle_id") == id(slot):
                    worker["peak_memory_mb"] = round(peak, 1)
        except Exception:  # a worker that cannot answer still gets released
            pass
        ray.kill(slot.handle)

    def _dispatch(self, slot: _Slot) -> None:
        pool = slot.pool
        if not pool.failed and not pool.has_work() and pool.long_form.splits and pool.shards_in_flight:
            pool.idle.append(slot)  # a shard in flight may still hand back windows of long files
            return
        if pool.failed or not pool.has_work():
            self._release(slot)  # frees its CPUs/GPU for other models' actors
            return
        slot.work, slot.attempt = pool.take()
        if isinstance(slot.work, ChunkJob):
            self.pending[slot.handle.run_chunks.remote(slot.work)] = (slot, "chunks")
        else:
            pool.shards_in_flight += 1
            self.pending[slot.handle.run_shard.remote(slot.work)] = (slot, "shard")

    def _wake(self, pool: _Pool) -> None:
        """Give queued work to idle actors; release them once no more work can appear."""
        while pool.idle and (pool.has_work() or not pool.shards_in_flight or pool.failed):
            self._dispatch(pool.idle.pop())

    def run(self) -> None:
        import ray

        for pool in self.pools:
            if not pool.has_work():
                continue
            log.info("%s: %d actors on %s, %d shards, long-form %s", pool.spec.label, pool.size,
                     pool.plan.device, pool.num_shards, pool.long_form.strategy)
            for _ in range(pool.size):
                self._start_actor(pool)
        while self.pending:
            ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=5.0)
            for ref in ready:
                slot, kind = self.pending.pop(ref)
                if kind == "shard":
                    slot.pool.shards_in_flight -= 1
                try:
                    value = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    self._actor_died(slot, kind, exc)
                except ray.exceptions.RayTaskError as exc:
                    self._work_failed(slot, exc)
                    self._dispatch(slot)
                else:
                    if kind == "info":
                        self.first_ready = self.first_ready or time.perf_counter()
                        slot.pool.workers.append({**value, "handle_id": id(slot)})
                        log.info("%s loaded on %s in %.1fs", slot.pool.spec.label,
                                 value["worker"], value["load_seconds"])
                    elif kind == "shard":
                        self._write(slot.pool, value["rows"], value["chunks"])
                        self._plan_long(slot.pool, slot.work, value["long"])
                    else:
                        self._collect_chunks(slot.pool, slot.work, value)
                    slot.work = None
                    self._dispatch(slot)
                self._wake(slot.pool)

    def _plan_long(self, pool: _Pool, shard: Any, long: list[dict[str, Any]]) -> None:
        """Queue the windows of long samples, at the front so started files finish first."""
        jobs = []
        for item in long:
            sample, windows = item["sample"], list(item["windows"])
            key = (pool.spec.label, sample["sample_id"])
            self.long[key] = _LongSample(sample, windows)
            if not windows:  # nothing to transcribe (e.g. VAD found no speech)
                self._complete_long(pool, key)
                continue
            n = self.config.chunks_per_job
            for start in range(0, len(windows), n):
                jobs.append(ChunkJob(shard.dataset, shard.shard_id, sample["sample_index"],
                                     sample["sample_id"], tuple(windows[start : start + n])))
        for job in reversed(jobs):
            pool.queue.appendleft((job, 0))

    def _collect_chunks(self, pool: _Pool, job: ChunkJob, chunks: list[dict[str, Any]]) -> None:
        key = (pool.spec.label, job.sample_id)
        state = self.long[key]
        state.chunks.extend(chunks)
        if len(state.chunks) >= len(state.windows):
            self._complete_long(pool, key)

    def _complete_long(self, pool: _Pool, key: tuple[str, str]) -> None:
        state = self.long.pop(key)
        row, chunk_rows = assemble_long_form(state.sample, state.windows, state.chunks)
        self._write(pool, [row], chunk_rows)

    def _actor_died(self, slot: _Slot, kind: str, exc: Exception) -> None:
        pool = slot.pool
        pool.slots.remove(slot)
        if kind == "info" and getattr(exc, "actor_init_failed", False):
            message = _first_error_line(exc)
            if not pool.failed:
                log.error("%s failed to load: %s", pool.spec.label, message)
            pool.failed = message
            return
        if slot.work is not None:
            log.warning("%s: actor died during %s (attempt %d); re-queueing it",
                        pool.spec.label, _describe(slot.work), slot.attempt + 1)
            self._requeue(pool, slot.work, slot.attempt, f"actor died: {_first_error_line(exc)}")
        if pool.has_work() and pool.restarts < self.config.max_shard_attempts * pool.size:
            pool.restarts += 1
            self._start_actor(pool)
        elif pool.has_work() and not pool.slots:
            pool.failed = f"actors kept dying ({pool.restarts} restarts): {_first_error_line(exc)}"
            log.error("%s: %s", pool.spec.label, pool.failed)
            while pool.has_work():
                work, _ = pool.take()
                self._give_up(pool, work, pool.failed)

    def _work_failed(self, slot: _Slot, exc: Exception) -> None:
        assert slot.work is not None
        log.warning("%s: %s raised: %s", slot.pool.spec.label, _describe(slot.work), _first_error_line(exc))
        self._requeue(slot.pool, slot.work, slot.attempt, _first_error_line(exc))
        slot.work = None

    def _requeue(self, pool: _Pool, work: Shard | ChunkJob, attempt: int, reason: str) -> None:
        if attempt + 1 < self.config.max_shard_attempts:
            pool.queue.append((work, attempt + 1))
        else:
            self._give_up(pool, work, f"failed {attempt + 1} times; last: {reason}")

    def _give_up(self, pool: _Pool, work: Shard | ChunkJob, reason: str) -> None:
        """Record every sample (or window) that cannot be evaluated as an error."""
        if isinstance(work, ChunkJob):
            chunks = [{"chunk_index": w.index, "error": reason[:2000]} for w in work.windows]
            self._collect_chunks(pool, work, chunks)
            return
        if work.file_shard is not None:
            log.error("%s: streaming shard %d lost: %s", pool.spec.label, work.shard_id, reason)
            return
        rows = []
        for sample in read_shard(self.opened, work, with_audio=False):
            rows.append(finalize_row({
                "sample_id": sample.sample_id, "sample_index": sample.index,
                "language": sample.language or self.config.language,
                "reference": sample.reference, "error": reason[:2000],
                "metadata": metadata_json(sample.metadata),
            }))
        self._write(pool, rows)

    def _write(self, pool: _Pool, rows: list[dict[str, Any]], chunks: list[dict[str, Any]] = ()) -> None:
        ident = {"run_id": self.run_id, "model": pool.spec.label}
        for row in rows:
            row.update(ident, backend=pool.spec.backend, dataset=self.opened.name, split=self.opened.split)
        for chunk in chunks:
            chunk.update(ident)
        self.store.insert_results(rows, chunks)
        p = self.progress
        p.done += len(rows)
        p.errors += sum(1 for r in rows if r.get("error"))
        p.audio_seconds += sum(r.get("audio_seconds") or 0.0 for r in rows)
        if self.on_progress and rows:
            self.on_progress(p)


def _describe(work: Shard | ChunkJob) -> str:
    if isinstance(work, ChunkJob):
        return f"windows {work.windows[0].index}-{work.windows[-1].index} of sample {work.sample_id}"
    return f"shard {work.shard_id}"


def _first_error_line(exc: Exception) -> str:
    """The most useful line of a Ray error: the innermost exception's message."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if ": " in line and not line.startswith(("File ", "^", "~")):
            return line[:500]
    return (lines[-1] if lines else type(exc).__name__)[:500]
