"""The scheduler's executor on Ray: each slot is one ``Worker`` actor (:mod:`evaluator.run.execute.actor`);
calls are Ray tasks on it, and a Ray failure becomes an :class:`~evaluator.run.execute.interfaces.Outcome`
whose message is the error's most useful line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from evaluator.data.spec import DatasetSpec
from evaluator.run.execute.interfaces import MAX_CALLS_PER_ACTOR, Outcome, Pool, Work, WorkKind
from evaluator.scoring.languages import LanguagePlan

__all__ = ["RayExecutor", "first_error_line"]


class RayExecutor:
    """The scheduler's executor on Ray: one ``Worker`` actor per slot."""

    def __init__(self, languages: LanguagePlan, scoring: str = "whisper", datasets: Sequence[DatasetSpec] = ()):
        self.languages = languages
        self.scoring = scoring
        self.datasets = tuple(datasets)  # opened by each actor while its model loads

    def start(self, pool: Pool) -> tuple[Any, Any]:
        import ray

        from evaluator.run.execute.actor import Worker

        # Threaded: its calls wait on the actor's one pipeline (one device thread runs the model),
        # plus room for info and peak_memory_mb.
        actor_cls = ray.remote(Worker).options(max_restarts=0, max_concurrency=MAX_CALLS_PER_ACTOR + 2,
                                               **pool.plan.ray_options)
        actor = actor_cls.remote(pool.spec, pool.plan.device, pool.plan.cpu_threads, self.languages, pool.long_form,
                                 self.scoring, self.datasets)
        return actor, actor.info.remote()

    def submit(self, actor: Any, kind: WorkKind, work: Work) -> Any:
        method = {WorkKind.SHARD: actor.run_shard, WorkKind.CHUNKS: actor.run_chunks,
                  WorkKind.ASSEMBLE: actor.assemble}[kind]
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
                done.append((ref, Outcome(failure="died", message=first_error_line(exc))))
            except ray.exceptions.RayTaskError as exc:
                done.append((ref, Outcome(failure="raised", message=first_error_line(exc))))
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


_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning)\b.*")


def first_error_line(exc: Exception) -> str:
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
