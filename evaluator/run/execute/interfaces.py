"""What the scheduling loop talks to: the :class:`Executor` that runs calls on actors (Ray in
:mod:`evaluator.run.driver`, a fake in the tests), the :class:`Outcome` of a call, and the
:class:`Recorder` that stores finished rows (the driver's DuckDB store); and what crosses the
actor boundary: the kinds of work (:class:`WorkKind`), and what a call hands back
(:class:`ShardResult`, with :class:`LongSample` for a long sample's window plan)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from evaluator.data.shards import AssembleJob, ChunkJob, Sample, Shard
from evaluator.data.spec import DatasetSpec
from evaluator.data.windows import LongForm, Window
from evaluator.results.records import ChunkRow, ResultRow

__all__ = ["MAX_CALLS_PER_ACTOR", "Work", "WorkKind", "kind_of", "LongSample", "ShardResult", "Outcome", "Pool",
           "Slot", "Executor", "Recorder"]

# A work item for an actor: a shard of samples, some windows of a long sample, or a long sample's
# windows to stitch and score.
Work = Shard | ChunkJob | AssembleJob

#: Calls one actor may hold at once (shards handed ahead so its batches fill across shards).
MAX_CALLS_PER_ACTOR = 16


class WorkKind(StrEnum):
    """What a call to an actor does (equal to its plain string)."""

    INFO = "info"  # load the model and say what was loaded
    SHARD = "shard"  # transcribe and score a shard's samples
    CHUNKS = "chunks"  # transcribe some windows of one long sample
    ASSEMBLE = "assemble"  # stitch a long sample's windows and score it


def kind_of(work: Work) -> WorkKind:
    """The kind of call that runs ``work``."""
    if isinstance(work, ChunkJob):
        return WorkKind.CHUNKS
    if isinstance(work, AssembleJob):
        return WorkKind.ASSEMBLE
    return WorkKind.SHARD


@dataclass(frozen=True)
class LongSample:
    """A long sample of a shard, planned into windows that the scheduler spreads over actors.

    Attributes:
        sample: the row's fields known before transcription (id, reference, duration, ...).
        windows: the file's window plan.
    """

    sample: dict[str, Any]
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class ShardResult:
    """What a shard (or an assembly) hands back to the driver.

    Attributes:
        rows: finished rows (scored, or with ``error`` set).
        chunks: the windows of the long samples finished here.
        long: long samples still to transcribe window by window (``Worker.run_chunks``).
    """

    rows: list[ResultRow] = field(default_factory=list)
    chunks: list[ChunkRow] = field(default_factory=list)
    long: list[LongSample] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What came back for one call to an actor.

    Attributes:
        value: the call's return value (when ``failure`` is None).
        failure: ``None``, ``"raised"`` (the call raised; the actor lives) or ``"died"`` (the
            actor is gone). A failed ``info`` call is a load failure.
        message: the error's most useful line.
    """

    value: Any = None
    failure: str | None = None
    message: str = ""


@dataclass
class Pool:
    """One model's actors and its queue of work, with attempt counts.

    Attributes:
        label: the model spec's label.
        long_form: how the model's actors handle long audio.
        size: actors to start.
        fresh: shards not yet handed out, made on demand.
        spec / plan: what the executor needs to start an actor (model spec, device plan).
    """

    label: str
    long_form: LongForm
    size: int
    fresh: Iterator[Shard]
    spec: Any = None
    plan: Any = None
    queue: deque[tuple[Work, int]] = field(default_factory=deque)  # retries and windows: first
    lookahead: Shard | None = None
    actors: list[Slot] = field(default_factory=list)
    idle: list[Slot] = field(default_factory=list)  # loaded actors waiting for windows
    in_flight: int = 0  # shards and chunk jobs out: they may bring more work
    workers: list[dict[str, Any]] = field(default_factory=list)
    restarts: int = 0
    load_failures: int = 0
    failed: str | None = None
    started_at: float | None = None
    last_row_at: float | None = None

    def has_work(self) -> bool:
        if self.queue:
            return True
        if self.lookahead is None:
            self.lookahead = next(self.fresh, None)
        return self.lookahead is not None

    def take(self) -> tuple[Work, int]:
        """The next work item and how many attempts it has had."""
        if self.queue:
            return self.queue.popleft()
        if not self.has_work():
            raise IndexError("no work left")
        work, self.lookahead = self.lookahead, None
        assert work is not None
        return work, 0

    @property
    def wall_seconds(self) -> float:
        """End to end: first actor start to last row (0 if nothing ran)."""
        if self.started_at is None or self.last_row_at is None:
            return 0.0
        return max(0.0, self.last_row_at - self.started_at)


@dataclass(eq=False)
class Slot:
    """One actor of a pool: the work it holds (by ticket, with attempt counts) and how it started.

    ``ahead``: samples the actor asks to hold at once (its ``info``'s ``in_flight_samples``), so
    its reader decodes the next shard while the device transcribes; at least one work item.
    """

    pool: Pool
    actor: Any
    held: dict[Any, tuple[Work, int]] = field(default_factory=dict)
    info: dict[str, Any] | None = None
    started: float = 0.0
    ahead: int = 1

    def held_samples(self) -> int:
        """Samples (or windows) in the work this actor holds; a stream's shard counts as full."""
        total = 0
        for work, _ in self.held.values():
            if isinstance(work, ChunkJob):
                total += len(work.windows)
            elif isinstance(work, AssembleJob):
                total += 1
            else:
                total += self.ahead if work.size is None else work.size
        return total

    def wants_more(self) -> bool:
        """Whether another work item may go to this actor now."""
        if not self.held:
            return True
        return len(self.held) < MAX_CALLS_PER_ACTOR and self.held_samples() < self.ahead


class Executor(Protocol):
    """Starts actors and runs calls on them; calls complete in any order."""

    def start(self, pool: Pool) -> tuple[Any, Any]:
        """Start an actor for ``pool``; returns (actor, ticket of its ``info`` call, which
        completes when the model has loaded)."""

    def submit(self, actor: Any, kind: WorkKind, work: Work) -> Any:
        """Run ``work`` (``kind``: shard, chunks or assemble) on ``actor``; returns a ticket.
        An actor may hold up to :data:`MAX_CALLS_PER_ACTOR` calls at once."""

    def wait(self, tickets: Sequence[Any], timeout: float) -> list[tuple[Any, Outcome]]:
        """Tickets that completed (at least one unless ``timeout`` passed), with outcomes."""

    def release(self, actor: Any) -> float | None:
        """Stop an actor; returns its peak memory in MiB if it could say."""

    def abandon(self, actor: Any) -> None:
        """Stop an actor at once, asking it nothing (one that never started, or the run's end)."""


class Recorder(Protocol):
    """Where finished rows go (the driver: DuckDB)."""

    def write(self, pool: Pool, dataset: DatasetSpec | None, rows: list[ResultRow], chunks: list[ChunkRow]) -> None:
        """Store a batch of rows (with their windows) of one dataset (the work item's; ``None``
        from an assembly job made without one) in one transaction."""

    def lost(self, pool: Pool, shard: Shard, reason: str) -> None:
        """Record a shard whose samples could not be named."""

    def name_samples(self, shard: Shard) -> Sequence[Sample]:
        """The samples of a shard, without audio (for error rows); may raise."""

    def tick(self) -> None:
        """Called after each wait for results, even when nothing came (flushes, heartbeats)."""
