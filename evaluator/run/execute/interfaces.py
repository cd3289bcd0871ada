"""What the scheduling loop talks to: the :class:`Executor` that runs calls on actors (Ray in
:mod:`evaluator.run.driver`, a fake in the tests), the :class:`Outcome` of a call, and the
:class:`Recorder` that stores finished rows (the driver's DuckDB store)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from evaluator.data.shards import AssembleJob, ChunkJob, Sample, Shard
from evaluator.data.spec import DatasetSpec
from evaluator.data.windows import LongForm
from evaluator.results.records import ChunkRow, ResultRow

__all__ = ["Work", "Outcome", "Pool", "Slot", "Executor", "Recorder"]

# A work item for an actor: a shard of samples, some windows of a long sample, or a long sample's
# windows to stitch and score.
Work = Shard | ChunkJob | AssembleJob


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
    """One actor of a pool: the work it holds and how it started."""

    pool: Pool
    actor: Any
    work: Work | None = None
    attempt: int = 0
    info: dict[str, Any] | None = None
    started: float = 0.0


class Executor(Protocol):
    """Starts actors and runs calls on them; calls complete in any order."""

    def start(self, pool: Pool) -> tuple[Any, Any]:
        """Start an actor for ``pool``; returns (actor, ticket of its ``info`` call, which
        completes when the model has loaded)."""

    def submit(self, actor: Any, kind: str, work: Work) -> Any:
        """Run ``work`` (``kind``: shard, chunks or assemble) on ``actor``; returns a ticket."""

    def wait(self, tickets: Sequence[Any], timeout: float) -> list[tuple[Any, Outcome]]:
        """Tickets that completed (at least one unless ``timeout`` passed), with outcomes."""

    def release(self, actor: Any) -> float | None:
        """Stop an actor; returns its peak memory in MiB if it could say."""

    def abandon(self, actor: Any) -> None:
        """Stop an actor that never started (asks it nothing)."""


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
