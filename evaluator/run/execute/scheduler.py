"""The scheduling loop, with no Ray in it: which actor gets which work, retries, replacements,
long files put back together, and the promise that every planned sample ends as a row.

The loop talks to actors through an :class:`Executor` (Ray in :mod:`evaluator.run.driver`, a fake
in the tests) and hands finished rows to a :class:`Recorder` (the store). Work items:

- a :class:`~evaluator.data.shards.Shard`: its short samples come back as rows; long samples
  (``chunked``/``vad``) come back as plans of windows;
- a :class:`~evaluator.data.shards.ChunkJob`: some windows of one long sample;
- an :class:`~evaluator.data.shards.AssembleJob`: every window of a long sample, stitched and scored
  by an actor (the driver never scores: rows are scored in one place, the actors).

An actor may hold several work items at once: as many samples as its ``info`` asks
(``in_flight_samples``), up to :data:`~evaluator.run.execute.interfaces.MAX_CALLS_PER_ACTOR` calls, so
it reads the next shard while its device transcribes and fills its batches across shards. Each
item still comes back on its own, and its rows are recorded per shard.

A work item that raises or whose actor dies is retried on another actor up to
``max_attempts`` times, then its samples become error rows (a shard whose samples cannot even be
named, a stream that cannot be read, is recorded as lost). An actor that fails to load is
replaced while the model's load failures stay under ``max_attempts``; when a model has no actor
left, everything it has not done becomes error rows saying why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluator.data.columns import metadata_json
from evaluator.data.shards import AssembleJob, ChunkJob, Shard
from evaluator.data.spec import DatasetSpec
from evaluator.data.windows import Window
from evaluator.results.records import ChunkRow, ResultRow
from evaluator.run.execute.interfaces import (
    Executor,
    LongSample,
    Outcome,
    Pool,
    Recorder,
    ShardResult,
    Slot,
    Work,
    WorkKind,
    kind_of,
)
from evaluator.scoring.languages import LanguageError, LanguagePlan

__all__ = ["Outcome", "Executor", "Recorder", "Pool", "Scheduler", "Work"]  # the first three re-exported

log = logging.getLogger(__name__)


@dataclass
class _LongSample:
    """A long sample whose windows are out on actors; assembled when every window is back."""

    sample: dict[str, Any]
    windows: list[Window]
    dataset: DatasetSpec
    chunks: list[dict[str, Any]] = field(default_factory=list)


class Scheduler:
    """Runs every pool's work to the end on ``executor``, rows to ``recorder``.

    Args:
        max_attempts: tries per work item, and load failures tolerated per model.
        chunks_per_job: windows of a long file sent to one actor at a time.
        default_language: the language of error rows whose sample has none.
        languages: maps a sample's language value to its canonical code (for error rows).
        clock: seconds (``time.perf_counter``), for the end-to-end timings.
        load_timeout: seconds an actor may take to start and load its model; past that it counts
            as a load failure (no node has the resources it asks for, e.g. the only GPU node was
            lost, or the load hangs), so a run never waits forever.
    """

    def __init__(self, pools: Sequence[Pool], executor: Executor, recorder: Recorder, *, max_attempts: int = 3,
                 chunks_per_job: int = 4, default_language: str | None = None,
                 languages: LanguagePlan | None = None, clock: Callable[[], float] = time.perf_counter,
                 wait_seconds: float = 5.0, load_timeout: float = 900.0):
        self.pools = list(pools)
        self.executor = executor
        self.recorder = recorder
        self.max_attempts = max_attempts
        self.chunks_per_job = chunks_per_job
        self.default_language = default_language
        self.languages = languages
        self.clock = clock
        self.wait_seconds = wait_seconds
        self.load_timeout = load_timeout
        self.pending: dict[Any, tuple[Slot, WorkKind]] = {}
        self.long: dict[tuple[str, DatasetSpec, str], _LongSample] = {}  # (model, dataset, sample id)
        self.first_ready: float | None = None

    def _language(self, raw: str | None) -> str | None:
        """Canonical language of an error row's sample (its raw value if it names none)."""
        if self.languages is None:
            return raw or self.default_language
        try:
            return self.languages.code_of(raw)
        except LanguageError:
            return raw

    # actors -----------------------------------------------------------------------------

    def _start(self, pool: Pool) -> None:
        if pool.started_at is None:
            pool.started_at = self.clock()
        actor, ticket = self.executor.start(pool)
        slot = Slot(pool, actor, started=self.clock())
        pool.actors.append(slot)
        self.pending[ticket] = (slot, WorkKind.INFO)

    def _release(self, slot: Slot) -> None:
        slot.pool.actors.remove(slot)
        peak = self.executor.release(slot.actor)
        if slot.info is not None and peak is not None:
            slot.info["peak_memory_mb"] = round(peak, 1)

    def run(self) -> None:
        """Until every pool's work is done (or recorded as failed)."""
        for pool in self.pools:
            if not pool.has_work():
                continue
            log.info("%s: %d actors, long-form %s", pool.label, pool.size, pool.long_form.strategy)
            for _ in range(pool.size):
                self._start(pool)
        while self.pending:
            for ticket, outcome in self.executor.wait(list(self.pending), self.wait_seconds):
                slot, kind = self.pending.pop(ticket)
                self._handle(ticket, slot, kind, outcome)
                self._wake(slot.pool)
            self._expire_loads()
            self.recorder.tick()

    def _expire_loads(self) -> None:
        """Actors that did not start and load within ``load_timeout`` count as load failures."""
        now = self.clock()
        for ticket, (slot, kind) in list(self.pending.items()):
            if kind == WorkKind.INFO and now - slot.started > self.load_timeout:
                del self.pending[ticket]
                self.executor.abandon(slot.actor)
                self._load_failed(slot, f"the actor did not start and load within {self.load_timeout:.0f} s (no "
                                        "node has the resources it asks for, or its load hangs)")

    def _handle(self, ticket: Any, slot: Slot, kind: WorkKind, outcome: Outcome) -> None:
        pool = slot.pool
        work, attempt = slot.held.pop(ticket, (None, 0))
        if kind in (WorkKind.SHARD, WorkKind.CHUNKS):
            pool.in_flight -= 1
        if kind == WorkKind.INFO:
            if outcome.failure is not None:
                self._load_failed(slot, outcome.message)
                return
            self.first_ready = self.first_ready or self.clock()
            slot.info = dict(outcome.value)
            slot.ahead = max(1, int(slot.info.get("in_flight_samples") or 1))
            pool.workers.append(slot.info)
            log.info("%s loaded on %s in %.1fs", pool.label, slot.info.get("worker"), slot.info.get("load_seconds", 0))
        elif work is None:  # the actor died and its work was queued again when the first call said so
            return
        elif outcome.failure == "died":
            self._died(slot, [(work, attempt), *slot.held.values()], outcome.message)
            return
        elif outcome.failure is not None:
            log.warning("%s: %s raised: %s", pool.label, _describe(work), outcome.message)
            self._requeue(pool, work, attempt, outcome.message)
        elif kind == WorkKind.SHARD:
            assert isinstance(work, Shard) and isinstance(outcome.value, ShardResult)
            self._write(pool, work.dataset, outcome.value.rows, outcome.value.chunks)
            self._plan_long(pool, work, outcome.value.long)
        elif kind == WorkKind.CHUNKS:
            assert isinstance(work, ChunkJob)
            self._collect_chunks(pool, work, outcome.value)
        else:
            assert isinstance(work, AssembleJob) and isinstance(outcome.value, ShardResult)
            self._write(pool, work.dataset, outcome.value.rows, outcome.value.chunks)
        self._dispatch(slot)

    def _dispatch(self, slot: Slot) -> None:
        """Hand ``slot`` work while it wants more; an actor left with none waits for windows
        that work in flight may still bring, or is released."""
        pool = slot.pool
        if slot not in pool.actors:
            return
        while not pool.failed and pool.has_work() and slot.wants_more():
            work, attempt = pool.take()
            kind = kind_of(work)
            if kind in (WorkKind.SHARD, WorkKind.CHUNKS):
                pool.in_flight += 1
            ticket = self.executor.submit(slot.actor, kind, work)
            slot.held[ticket] = (work, attempt)
            self.pending[ticket] = (slot, kind)
        if slot.held:
            return
        if not pool.failed and pool.long_form.splits and pool.in_flight:
            if slot not in pool.idle:
                pool.idle.append(slot)  # work in flight may still hand back windows or assemblies
            return
        self._release(slot)  # frees its CPUs/GPU for other models' actors

    def _wake(self, pool: Pool) -> None:
        """Give queued work to idle actors; release them once no more work can appear."""
        while pool.idle and (pool.has_work() or not pool.in_flight or pool.failed):
            self._dispatch(pool.idle.pop())

    def stop_actors(self) -> None:
        """Stop every actor still running, at once (the run's end, or an interruption)."""
        for pool in self.pools:
            for slot in list(pool.actors):
                pool.actors.remove(slot)
                self.executor.abandon(slot.actor)
            pool.idle.clear()

    # failures ---------------------------------------------------------------------------
    def _load_failed(self, slot: Slot, message: str) -> None:
        pool = slot.pool
        pool.actors.remove(slot)
        pool.load_failures += 1
        replace = pool.has_work() and pool.load_failures < self.max_attempts
        log.error("%s: an actor failed to load (%s): %s", pool.label,
                  "starting another" if replace else f"{len(pool.actors)} actors left", message)
        if replace:
            self._start(pool)  # Ray may place it on another node or device
        elif not pool.actors and (pool.has_work() or any(k[0] == pool.label for k in self.long)):
            self._fail(pool, f"model failed to load ({pool.load_failures} tries): {message}")

    def _died(self, slot: Slot, held: list[tuple[Work, int]], message: str) -> None:
        """An actor is gone: every work item it held is queued again (its other calls come back
        failed too, and are then ignored); another actor starts while restarts last."""
        pool = slot.pool
        if slot in pool.actors:
            pool.actors.remove(slot)
        if slot in pool.idle:
            pool.idle.remove(slot)
        slot.held.clear()
        for work, attempt in held:
            log.warning("%s: actor died during %s (attempt %d); re-queueing it", pool.label, _describe(work),
                        attempt + 1)
            self._requeue(pool, work, attempt, f"actor died: {message}")
        if pool.has_work() and pool.restarts < self.max_attempts * pool.size:
            pool.restarts += 1
            self._start(pool)
        elif pool.has_work() and not pool.actors:
            self._fail(pool, f"actors kept dying ({pool.restarts} restarts): {message}")

    def _fail(self, pool: Pool, reason: str) -> None:
        """No actor is left: everything the model has not done becomes error rows."""
        pool.failed = reason
        log.error("%s: %s", pool.label, reason)
        while pool.has_work():
            work, _ = pool.take()
            self._give_up(pool, work, reason)
        for key in [k for k in self.long if k[0] == pool.label]:
            state = self.long.pop(key)
            self._write(pool, state.dataset, [_error_row(state.sample, reason)], [])
        self._wake(pool)

    def _requeue(self, pool: Pool, work: Work, attempt: int, reason: str) -> None:
        if attempt + 1 < self.max_attempts and not pool.failed:
            pool.queue.append((work, attempt + 1))
        else:
            self._give_up(pool, work, f"failed {attempt + 1} times; last: {reason}")

    def _give_up(self, pool: Pool, work: Work, reason: str) -> None:
        """Record every sample (or window) that cannot be evaluated as an error."""
        if isinstance(work, AssembleJob):
            self._write(pool, work.dataset, [_error_row(work.sample, reason)], [])
            return
        if isinstance(work, ChunkJob):
            chunks = [{"chunk_index": w.index, "error": reason[:2000]} for w in work.windows]
            self._collect_chunks(pool, work, chunks)
            return
        try:
            samples = list(self.recorder.name_samples(work))
        except Exception as exc:  # a stream that cannot be read: the shard itself is recorded
            log.error("%s: shard %d lost (its samples cannot be named: %s): %s", pool.label, work.shard_id,
                      exc, reason)
            self.recorder.lost(pool, work, reason[:2000])
            return
        rows = [_error_row({"sample_id": s.sample_id, "sample_index": s.index,
                            "language": self._language(s.language), "language_raw": s.language,
                            "reference": s.reference,
                            "metadata": metadata_json(s.metadata)}, reason)
                for s in samples if s.sample_id not in work.skip_ids]
        self._write(pool, work.dataset, rows, [])

    # long files -------------------------------------------------------------------------
    def _plan_long(self, pool: Pool, shard: Shard, long: list[LongSample]) -> None:
        """Queue the windows of long samples, at the front so started files finish first."""
        jobs = []
        for item in long:
            sample, windows = item.sample, list(item.windows)
            key = (pool.label, shard.dataset, sample["sample_id"])
            self.long[key] = _LongSample(sample, windows, shard.dataset)
            if not windows:  # nothing to transcribe (e.g. VAD found no speech)
                self._complete_long(pool, key)
                continue
            n = self.chunks_per_job
            for start in range(0, len(windows), n):
                jobs.append(ChunkJob(shard.dataset, shard.shard_id, sample["sample_index"],
                                     sample["sample_id"], tuple(windows[start : start + n])))
        for job in reversed(jobs):
            pool.queue.appendleft((job, 0))

    def _collect_chunks(self, pool: Pool, job: ChunkJob, chunks: list[dict[str, Any]]) -> None:
        key = (pool.label, job.dataset, job.sample_id)
        state = self.long.get(key)
        if state is None:  # the model failed meanwhile and the sample is already an error row
            return
        state.chunks.extend(chunks)
        if len(state.chunks) >= len(state.windows):
            self._complete_long(pool, key)

    def _complete_long(self, pool: Pool, key: tuple[str, DatasetSpec, str]) -> None:
        """Every window is back: an actor stitches and scores the file (first in the queue)."""
        state = self.long.pop(key)
        if pool.failed:
            self._write(pool, state.dataset, [_error_row(state.sample, pool.failed)], [])
            return
        pool.queue.appendleft((AssembleJob(state.sample, tuple(state.windows), tuple(state.chunks), state.dataset), 0))

    # rows -------------------------------------------------------------------------------
    def _write(self, pool: Pool, dataset: DatasetSpec | None, rows: list[ResultRow], chunks: list[ChunkRow]) -> None:
        if rows or chunks:
            self.recorder.write(pool, dataset, rows, chunks)
            pool.last_row_at = self.clock()


def _error_row(sample: dict[str, Any], reason: str) -> ResultRow:
    """The row of a sample that could not be evaluated: counted, never scored."""
    return ResultRow(sample_id=sample["sample_id"], sample_index=sample.get("sample_index"),
                     language=sample.get("language"), language_raw=sample.get("language_raw"),
                     reference=sample.get("reference"),
                     audio_seconds=sample.get("audio_seconds"), long_form=sample.get("long_form"),
                     metadata=sample.get("metadata"), error=reason[:2000])


def _describe(work: Work) -> str:
    if isinstance(work, ChunkJob):
        return f"windows {work.windows[0].index}-{work.windows[-1].index} of sample {work.sample_id}"
    if isinstance(work, AssembleJob):
        return f"assembly of sample {work.sample['sample_id']}"
    return f"shard {work.shard_id}"
