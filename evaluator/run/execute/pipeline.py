"""An actor's pipeline: reading and decoding run ahead on other threads while one device thread
transcribes, and the device's batches fill across the shards the actor holds.

Every shard call of an actor (:meth:`Pipeline.run`, one Ray call thread each) hands its samples
to the pipeline and waits for them:

- a reader thread takes the shards in the order they came and reads their samples (the read
  itself is the shard's sample iterator); each sample is prepared (decoded to 16 kHz, or planned
  into windows) on ``decode_threads`` decoder threads;
- decoded items wait in a bounded look-ahead: at most ``batch_size x (group_batches +
  ahead_batches)`` items are decoded and not yet transcribed, so memory stays flat whatever the
  dataset;
- the device thread takes the waiting items in whole batches, up to ``group_batches`` of them
  (from one or several shards), sorts them by duration when the backend batches, and
  transcribes ``batch_size`` at a time. It starts as soon as a full batch is ready (while it
  works, the next group fills); it takes a partial batch only once nothing more has been read
  for a moment (``linger``);
- a shard call returns once each of its items is transcribed (items that need no device, error
  rows and long samples' plans, are done when prepared).

A read that fails fails its shard call (the scheduler retries the shard); a sample that fails to
decode is an error row of its own (the prepare step says so). :class:`PipelineStats` records when
each decode and each batch ran, and on which thread, for the benchmarks and tests.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Pipeline", "PipelineStats", "Span"]


@dataclass(frozen=True)
class Span:
    """Something that ran: from ``start`` to ``end`` (the pipeline's clock), on ``thread``;
    ``size``: clips in a batch (1 for a decode)."""

    start: float
    end: float
    thread: int
    size: int = 1


@dataclass
class PipelineStats:
    """When each decode and each device batch ran."""

    decodes: list[Span] = field(default_factory=list)
    batches: list[Span] = field(default_factory=list)

    def device_seconds(self) -> float:
        return sum(b.end - b.start for b in self.batches)

    def batch_sizes(self) -> list[int]:
        return [b.size for b in self.batches]

    def decodes_during_batches(self) -> int:
        """Decodes that ran, on another thread, while the device was transcribing a batch."""
        return sum(1 for d in self.decodes for b in self.batches
                   if d.thread != b.thread and d.start < b.end and b.start < d.end)


@dataclass(eq=False)
class _Job:
    """One shard call's items: filled in order as they are prepared."""

    samples: Iterable[Any]
    prepare: Callable[[Any], Any]
    run_batch: Callable[[list[Any]], None]
    seq: int = 0  # arrival order among the pipeline's jobs
    items: list[Any] = field(default_factory=list)
    pending: int = 0  # items read and not yet done (decoding, waiting or on the device)
    read: bool = False
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Pipeline:
    """Decode ahead and fill batches across shards (see the module's docstring).

    Args:
        batch_size: clips per device batch (the backend's ``batch_size``).
        needs_device: whether a prepared item goes to the device (else it is done).
        seconds: a prepared item's duration (for sorting by length).
        decode_threads: threads that prepare samples.
        group_batches: batches the device takes at once and sorts by length (the look-ahead).
        ahead_batches: further batches decoded while the device works.
        linger: seconds the device waits for more clips before a partial group, once nothing is
            being read (the scheduler's next shard may be on its way).
        clock: for :class:`PipelineStats`.
    """

    def __init__(self, batch_size: int, needs_device: Callable[[Any], bool], seconds: Callable[[Any], float], *,
                 decode_threads: int = 1, group_batches: int = 2, ahead_batches: int = 2, linger: float = 0.1,
                 clock: Callable[[], float] = time.perf_counter):
        self.batch_size = max(1, batch_size)
        self.needs_device = needs_device
        self.seconds = seconds
        self.group = self.batch_size * max(1, group_batches)
        self.capacity = self.group + self.batch_size * max(1, ahead_batches)
        self.decode_threads = max(1, decode_threads)
        self.linger = linger
        self.clock = clock
        self.stats = PipelineStats()
        self._cond = threading.Condition()
        self._room = threading.Semaphore(self.capacity)  # decoded (or decoding) and not yet transcribed
        self._jobs: deque[_Job] = deque()  # waiting to be read
        self._reading = 0  # jobs being read
        self._decoding = 0  # samples handed to decoders, not yet back
        self._ready: list[tuple[_Job, int]] = []
        self._threads: list[threading.Thread] = []
        self._decoders: ThreadPoolExecutor | None = None
        self._closed = False
        self._seq = 0

    @property
    def in_flight_samples(self) -> int:
        """Samples an actor should hold at once so the reader never waits for the next shard:
        the look-ahead, plus a batch."""
        return self.capacity + self.batch_size

    def _start(self) -> None:
        if self._threads:
            return
        self._decoders = ThreadPoolExecutor(self.decode_threads, thread_name_prefix="decode")
        for name, target in (("reader", self._read_loop), ("device", self._device_loop)):
            thread = threading.Thread(target=target, name=f"pipeline-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def run(self, samples: Iterable[Any], prepare: Callable[[Any], Any], run_batch: Callable[[list[Any]], None]
            ) -> list[Any]:
        """Prepare every sample and transcribe those that need the device with ``run_batch``
        (called on the device thread, with items of one ``run_batch`` only); returns the items in
        the samples' order once all are done.

        Raises:
            Exception: whatever reading the samples raised (their shard is retried).
        """
        with self._cond:
            if self._closed:
                raise RuntimeError("the pipeline is closed")
            self._seq += 1
            job = _Job(samples, prepare, run_batch, self._seq)
            self._start()
            self._jobs.append(job)
            self._cond.notify_all()
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.items

    def close(self) -> None:
        """Stop the threads once the work they hold is done."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._decoders is not None:
            self._decoders.shutdown(wait=False)

    # reader ------------------------------------------------------------------------------
    def _read_loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if not self._jobs:
                    return
                job = self._jobs.popleft()
                self._reading += 1
            try:
                for sample in job.samples:
                    self._room.acquire()  # bounded: waits while the device is behind
                    with self._cond:
                        index = len(job.items)
                        job.items.append(None)
                        job.pending += 1
                        self._decoding += 1
                    assert self._decoders is not None
                    self._decoders.submit(self._decode, job, index, sample)
            except BaseException as exc:  # a read that fails fails the shard's call
                job.error = exc
            finally:
                with self._cond:
                    self._reading -= 1
                    job.read = True
                    self._finish_if_done(job)
                    self._cond.notify_all()

    def _decode(self, job: _Job, index: int, sample: Any) -> None:
        started = self.clock()
        try:
            item = job.prepare(sample)
            error = None
        except BaseException as exc:  # prepare makes error rows; anything else fails the shard
            item, error = None, exc
        ended = self.clock()
        with self._cond:
            self.stats.decodes.append(Span(started, ended, threading.get_ident()))
            self._decoding -= 1
            job.items[index] = item
            if error is not None or not self.needs_device(item):
                job.error = job.error or error
                self._done(job, 1)
            else:  # in read order, whichever decoder finished first
                bisect.insort(self._ready, (job, index), key=lambda e: (e[0].seq, e[1]))
            self._cond.notify_all()

    # device ------------------------------------------------------------------------------
    def _starved(self) -> bool:
        """Nothing more will be ready soon: no shard being read or waiting, no decode out."""
        return not self._jobs and not self._reading and not self._decoding

    def _device_loop(self) -> None:
        while True:
            with self._cond:
                if not self._wait_for_group():
                    return
                whole = len(self._ready) // self.batch_size * self.batch_size  # full batches only, unless starved
                n = min(self.group, whole or len(self._ready))
                taken, self._ready = self._ready[:n], self._ready[n:]
            for job_batch in self._batches(taken):
                self._run(job_batch)

    def _wait_for_group(self) -> bool:
        """Wait (holding the condition) until a full batch is ready, or some items are and
        nothing more has come for ``linger`` seconds (the next shard's call may be on its way);
        False once the pipeline is closed and empty."""
        deadline: float | None = None
        while len(self._ready) < self.batch_size:
            if self._ready and self._starved():
                now = time.monotonic()
                deadline = now + self.linger if deadline is None else deadline
                if now >= deadline:
                    return True
                self._cond.wait(deadline - now)
                continue
            deadline = None
            if self._closed and not self._ready and self._starved():
                return False
            self._cond.wait()
        return True

    def _batches(self, taken: list[tuple[_Job, int]]) -> list[list[tuple[_Job, int]]]:
        """The group cut into batches: per ``run_batch`` (one dataset's stages), by duration
        when batches hold more than one clip."""
        by_stage: dict[Callable[[list[Any]], None], list[tuple[_Job, int]]] = {}
        for entry in taken:  # bound methods of one stage compare equal
            by_stage.setdefault(entry[0].run_batch, []).append(entry)
        batches = []
        for entries in by_stage.values():
            if self.batch_size > 1:
                entries.sort(key=lambda e: self.seconds(e[0].items[e[1]]))
            batches += [entries[s : s + self.batch_size] for s in range(0, len(entries), self.batch_size)]
        return batches

    def _run(self, batch: list[tuple[_Job, int]]) -> None:
        started = self.clock()
        error: BaseException | None = None
        try:
            batch[0][0].run_batch([job.items[i] for job, i in batch])
        except BaseException as exc:  # run_batch makes error rows; anything else fails the shards
            error = exc
        ended = self.clock()
        with self._cond:
            self.stats.batches.append(Span(started, ended, threading.get_ident(), len(batch)))
            for job, _ in batch:
                job.error = job.error or error
                self._done(job, 1)
            self._cond.notify_all()

    def _done(self, job: _Job, n: int) -> None:
        """``n`` items of ``job`` are finished (holding the condition)."""
        job.pending -= n
        for _ in range(n):
            self._room.release()
        self._finish_if_done(job)

    @staticmethod
    def _finish_if_done(job: _Job) -> None:
        if job.read and job.pending == 0:
            job.done.set()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
