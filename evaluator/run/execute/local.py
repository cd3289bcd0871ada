"""An executor that runs actors as objects in this process, their calls on threads: the
scheduler, the workers and their pipelines without Ray (benchmarks and tests measure the
pipeline without Ray's start-up and transport)."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

from evaluator.run.execute.interfaces import MAX_CALLS_PER_ACTOR, Outcome, Pool, Work, WorkKind
from evaluator.scoring.languages import LanguagePlan

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """The scheduler's executor in one process: each actor a ``Worker`` (or what ``make`` builds)
    with its own call threads. ``workers`` lists every actor started."""

    def __init__(self, languages: LanguagePlan, make: Callable[[Pool], Any] | None = None):
        self.languages = languages
        self.make = make
        self.workers: list[Any] = []

    def _build(self, pool: Pool) -> Any:
        if self.make is not None:
            return self.make(pool)
        from evaluator.run.execute.actor import Worker

        return Worker(pool.spec, pool.plan.device, pool.plan.cpu_threads, self.languages, pool.long_form)

    def start(self, pool: Pool) -> tuple[Any, Any]:
        actor = _Handle(ThreadPoolExecutor(MAX_CALLS_PER_ACTOR + 2, thread_name_prefix="actor-call"))
        return actor, actor.calls.submit(self._load, actor, pool)

    def _load(self, actor: _Handle, pool: Pool) -> dict[str, Any]:
        actor.worker = self._build(pool)
        self.workers.append(actor.worker)
        return actor.worker.info()

    def submit(self, actor: Any, kind: WorkKind, work: Work) -> Any:
        worker = actor.worker
        method = {WorkKind.SHARD: worker.run_shard, WorkKind.CHUNKS: worker.run_chunks,
                  WorkKind.ASSEMBLE: worker.assemble}[kind]
        return actor.calls.submit(method, work)

    def wait(self, tickets: Sequence[Any], timeout: float) -> list[tuple[Any, Outcome]]:
        done, _ = wait_futures(list(tickets), timeout=timeout, return_when=FIRST_COMPLETED)
        out = []
        for future in done:
            exc = future.exception()
            if exc is None:
                out.append((future, Outcome(future.result())))
            else:
                line = traceback.format_exception_only(type(exc), exc)[-1].strip()
                out.append((future, Outcome(failure="raised", message=line)))
        return out

    def release(self, actor: Any) -> float | None:
        peak = actor.worker.peak_memory_mb() if actor.worker is not None else None
        self.abandon(actor)
        return peak

    def abandon(self, actor: Any) -> None:
        if actor.worker is not None:
            actor.worker.close()
        actor.calls.shutdown(wait=False)


class _Handle:
    """An actor of the local executor: its call threads and its worker once loaded."""

    def __init__(self, calls: ThreadPoolExecutor):
        self.calls = calls
        self.worker: Any = None
