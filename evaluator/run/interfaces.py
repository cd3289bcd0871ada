"""What the scheduling loop talks to: the :class:`Executor` that runs calls on actors (Ray in
:mod:`evaluator.run.driver`, a fake in the tests), the :class:`Outcome` of a call, and the
:class:`Recorder` that stores finished rows (the driver's DuckDB store)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from evaluator.data.shards import AssembleJob, ChunkJob, Sample, Shard
from evaluator.data.spec import DatasetSpec
from evaluator.results.records import ChunkRow, ResultRow

if TYPE_CHECKING:
    from evaluator.run.scheduler import Pool

__all__ = ["Work", "Outcome", "Executor", "Recorder"]

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
