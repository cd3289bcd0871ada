"""The scheduler without Ray: a fake executor runs work in-process, with scripted failures, and
every scenario checks the promise of the run: each planned sample ends as exactly one row (a
result, or an error row that says why), or its shard is recorded as lost."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from evaluator.data.shards import AssembleJob, ChunkJob, Sample, Shard
from evaluator.data.spec import DatasetSpec
from evaluator.data.windows import LongForm, plan_windows
from evaluator.results.records import ChunkRow, ResultRow
from evaluator.run.execute.interfaces import LongSample, ShardResult
from evaluator.run.execute.scheduler import Outcome, Pool, Scheduler
from evaluator.scoring.rows import assemble_long_form, finalize_row

SPEC = DatasetSpec(source="fake")
SHORT = LongForm("native", 30.0, 5.0)
CHUNKED = LongForm("chunked", 30.0, 5.0)


@dataclass
class FakeData:
    """Samples: id -> (reference, seconds). Long ones (> 30 s) are cut into windows."""

    samples: dict[str, tuple[str, float]]

    def shards(self, size: int, skip: frozenset[str] = frozenset()) -> list[Shard]:
        n = len(self.samples)
        return [Shard(SPEC, k, start=a, stop=min(a + size, n), skip_ids=skip) for k, a in enumerate(range(0, n, size))]

    def rows(self, shard: Shard) -> list[tuple[int, str]]:
        ids = list(self.samples)
        return [(i, ids[i]) for i in range(shard.start, shard.stop) if ids[i] not in shard.skip_ids]


@dataclass
class FakeActor:
    number: int
    pool: Pool
    alive: bool = True


@dataclass
class FakeExecutor:
    """Runs each call when ``wait`` collects it. ``fail(actor, kind, work)`` may return an Outcome
    that replaces the real one (a crash, a raise) and may mark the actor dead."""

    data: FakeData
    fail: Callable[[FakeActor, str, Any], Outcome | None] = lambda actor, kind, work: None
    started: list[FakeActor] = field(default_factory=list)
    released: list[FakeActor] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)
    queue: deque = field(default_factory=deque)
    hang: Callable[[FakeActor, str], bool] | None = None  # calls that never complete
    now: list = field(default_factory=lambda: [0.0])
    ahead: ClassVar[int] = 1  # the samples an actor asks to hold (set per test run below)

    def start(self, pool: Pool) -> tuple[Any, Any]:
        actor = FakeActor(len(self.started), pool)
        self.started.append(actor)
        ticket = object()
        self.queue.append((ticket, actor, "info", None))
        return actor, ticket

    def submit(self, actor: FakeActor, kind: str, work: Any) -> Any:
        ticket = object()
        self.queue.append((ticket, actor, kind, work))
        return ticket

    def wait(self, tickets: Sequence[Any], timeout: float) -> list[tuple[Any, Outcome]]:
        if self.hang is not None:
            hung = [q for q in self.queue if self.hang(q[1], q[2])]
            if hung and len(hung) == len(self.queue):
                self.now[0] += timeout  # nothing else can complete: time passes
                return []
            self.queue = deque(q for q in self.queue if q not in hung) + deque(hung)  # hung ones never complete
        ticket, actor, kind, work = self.queue.popleft()
        assert ticket in tickets
        if not actor.alive:  # its other calls, like Ray's, fail once the actor is gone
            return [(ticket, Outcome(failure="died", message="the actor is gone"))]
        self.calls[kind] += 1
        scripted = self.fail(actor, kind, work)
        if scripted is not None:
            if scripted.failure == "died" or kind == "info":
                actor.alive = False
            return [(ticket, scripted)]
        return [(ticket, Outcome(self._run(actor, kind, work)))]

    def release(self, actor: FakeActor) -> float | None:
        assert actor.alive
        actor.alive = False
        self.released.append(actor)
        return 100.0

    def abandon(self, actor: FakeActor) -> None:
        actor.alive = False

    def _run(self, actor: FakeActor, kind: str, work: Any) -> Any:
        if kind == "info":
            return {"worker": f"fake:{actor.number}", "load_seconds": 0.0, "in_flight_samples": self.ahead}
        if kind == "shard":
            rows, long = [], []
            for index, sid in self.data.rows(work):
                reference, seconds = self.data.samples[sid]
                base = {"sample_id": sid, "sample_index": index, "language": "en", "reference": reference,
                        "audio_seconds": seconds, "long_form": actor.pool.long_form.strategy, "num_chunks": 1,
                        "error": None, "worker": f"fake:{actor.number}"}
                if seconds > 30 and actor.pool.long_form.splits:
                    long.append(LongSample(base, tuple(plan_windows(seconds, 30.0, 5.0))))
                else:
                    rows.append(ResultRow(**finalize_row({**base, "hypothesis": reference, "inference_seconds": 0.1})))
            return ShardResult(rows, [], long)
        if kind == "chunks":
            words = self.data.samples[work.sample_id][0].split()
            return [{"chunk_index": w.index, "hypothesis": " ".join(words[w.index :: 100]), "error": None,
                     "inference_seconds": 0.1, "worker": f"fake:{actor.number}"} for w in work.windows]
        row, chunks = assemble_long_form(work.sample, work.windows, work.chunks)
        return ShardResult([ResultRow(**row)], [ChunkRow(**c) for c in chunks])


@dataclass
class FakeRecorder:
    data: FakeData
    nameable: bool = True
    rows: dict[tuple[str, str], ResultRow] = field(default_factory=dict)
    chunks: list[ChunkRow] = field(default_factory=list)
    lost_shards: list[tuple[str, int, str]] = field(default_factory=list)

    def write(self, pool: Pool, dataset: DatasetSpec | None, rows: list[ResultRow], chunks: list[ChunkRow]) -> None:
        assert dataset == SPEC, f"rows recorded under {dataset}, not the work item's dataset"
        for row in rows:
            key = (pool.label, row.sample_id)
            assert key not in self.rows, f"duplicate row {key}"
            self.rows[key] = row
        self.chunks += chunks

    def lost(self, pool: Pool, shard: Shard, reason: str) -> None:
        self.lost_shards.append((pool.label, shard.shard_id, reason))

    def tick(self) -> None:
        pass

    def name_samples(self, shard: Shard) -> list[Sample]:
        if not self.nameable:
            raise OSError("stream unreadable")
        return [Sample(sid, i, None, self.data.samples[sid][0], None) for i, sid in self.data.rows(shard)]


def data(n: int = 10, long: Sequence[str] = ()) -> FakeData:
    samples = {f"s{i}": (f"word{i} other{i} words", 4.0) for i in range(n)}
    for sid in long:
        samples[sid] = (" ".join(f"w{k}" for k in range(200)), 95.0)
    return FakeData(samples)


def run(d: FakeData, *, pools: Sequence[tuple[str, LongForm, int]] = (("m", SHORT, 2),), shard_size: int = 3,
        fail: Callable[..., Outcome | None] = lambda *a: None, nameable: bool = True,
        shards: list[Shard] | None = None) -> tuple[Scheduler, FakeExecutor, FakeRecorder]:
    executor = FakeExecutor(d, fail)
    recorder = FakeRecorder(d, nameable)
    made = [Pool(label, lf, size, iter(shards if shards is not None else d.shards(shard_size)))
            for label, lf, size in pools]
    scheduler = Scheduler(made, executor, recorder, max_attempts=3, chunks_per_job=2, wait_seconds=0)
    scheduler.run()
    return scheduler, executor, recorder


def errors(recorder: FakeRecorder) -> dict[str, str]:
    return {sid: row.error for (_, sid), row in recorder.rows.items() if row.error}


def assert_every_sample_once(d: FakeData, recorder: FakeRecorder, models: Sequence[str] = ("m",)) -> None:
    assert set(recorder.rows) == {(m, sid) for m in models for sid in d.samples}


def assert_actors_released(executor: FakeExecutor) -> None:
    assert not [a for a in executor.started if a.alive], "an actor was left running"


# ---------------------------------------------------------------------------------- scenarios


@pytest.fixture(autouse=True, params=[1, 7], ids=["one-at-a-time", "shards-ahead"])
def ahead(request, monkeypatch) -> int:
    """Every scenario twice: actors that hold one work item, and actors that hold several shards
    at once (as the pipeline asks, so its batches fill across shards)."""
    monkeypatch.setattr(FakeExecutor, "ahead", request.param)
    return request.param


def test_all_goes_well_for_two_models_with_a_long_file() -> None:
    d = data(10, long=["long"])
    scheduler, executor, recorder = run(d, pools=[("a", SHORT, 2), ("b", CHUNKED, 2)])
    assert_every_sample_once(d, recorder, ["a", "b"])
    assert errors(recorder) == {}
    assert recorder.rows[("b", "long")].num_chunks == 4 and recorder.rows[("b", "long")].hypothesis
    assert len(recorder.chunks) == 4 and {c.chunk_index for c in recorder.chunks} == {0, 1, 2, 3}
    assert executor.calls["assemble"] == 1  # stitched and scored by an actor, not the scheduler
    assert_actors_released(executor)
    assert all(p.wall_seconds >= 0 for p in scheduler.pools) and scheduler.first_ready is not None


def test_empty_dataset_starts_no_actor() -> None:
    d = data(0)
    _, executor, recorder = run(d)
    assert executor.started == [] and recorder.rows == {}


def test_actor_death_mid_shard_reruns_it_elsewhere() -> None:
    def fail(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        return Outcome(failure="died", message="killed") if (actor.number, kind) == (0, "shard") else None

    d = data(10)
    scheduler, executor, recorder = run(d, fail=fail)
    assert_every_sample_once(d, recorder)
    assert errors(recorder) == {}
    assert scheduler.pools[0].restarts == 1 and len(executor.started) == 3
    assert_actors_released(executor)


def test_one_actor_failing_to_load_does_not_fail_the_model() -> None:
    """The bug: one actor's load failure (out of memory on one node) marked the whole model failed
    and its remaining samples got no rows."""
    def fail(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        return Outcome(failure="died", message="CUDA out of memory") if (actor.number, kind) == (1, "info") else None

    d = data(12)
    scheduler, executor, recorder = run(d, pools=[("m", SHORT, 3)], fail=fail)
    assert_every_sample_once(d, recorder)
    assert errors(recorder) == {}
    pool = scheduler.pools[0]
    assert pool.failed is None and pool.load_failures == 1
    assert len(executor.started) == 4  # a replacement was started
    assert_actors_released(executor)


def test_a_model_that_cannot_load_anywhere_becomes_error_rows() -> None:
    def fail(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        return Outcome(failure="died", message="ValueError: bad weights") if kind == "info" else None

    d = data(10)
    scheduler, executor, recorder = run(d, pools=[("m", SHORT, 2)], fail=fail)
    assert_every_sample_once(d, recorder)
    assert set(errors(recorder)) == set(d.samples)
    assert all("failed to load" in e and "bad weights" in e for e in errors(recorder).values())
    assert scheduler.pools[0].failed and len(executor.started) == 4  # 2, then a replacement per failure (2 more)
    assert recorder.rows[("m", "s0")].reference == d.samples["s0"][0]  # error rows keep the reference


def test_a_shard_that_keeps_failing_becomes_error_rows_for_its_samples_only() -> None:
    def fail(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        if kind == "shard" and work.shard_id == 1:
            return Outcome(failure="raised", message="RuntimeError: decoder crashed")
        return None

    d = data(9)
    _, executor, recorder = run(d, fail=fail)
    assert_every_sample_once(d, recorder)
    assert set(errors(recorder)) == {"s3", "s4", "s5"}
    assert all("failed 3 times" in e and "decoder crashed" in e for e in errors(recorder).values())
    assert_actors_released(executor)


def test_a_window_that_keeps_failing_makes_the_long_row_an_error_that_names_it() -> None:
    def fail(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        if kind == "chunks" and any(w.index == 2 for w in work.windows):
            return Outcome(failure="raised", message="RuntimeError: window broke")
        return None

    d = data(3, long=["long"])
    _, executor, recorder = run(d, pools=[("m", CHUNKED, 2)], fail=fail)
    assert_every_sample_once(d, recorder)
    assert set(errors(recorder)) == {"long"}
    assert "chunks [2, 3] failed" in errors(recorder)["long"]
    assert {c.chunk_index: bool(c.error) for c in recorder.chunks} == {0: False, 1: False, 2: True, 3: True}
    assert_actors_released(executor)


def test_assembly_that_keeps_failing_is_an_error_row() -> None:
    def fail(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        return Outcome(failure="raised", message="ValueError: stitch") if kind == "assemble" else None

    d = data(2, long=["long"])
    _, executor, recorder = run(d, pools=[("m", CHUNKED, 2)], fail=fail)
    assert_every_sample_once(d, recorder)
    assert errors(recorder) == {"long": "failed 3 times; last: ValueError: stitch"}
    assert executor.calls["assemble"] == 3


def test_model_failing_while_windows_are_out_still_ends_every_sample() -> None:
    """Every actor dies on windows; the restarts run out; the long file and the rest are error rows."""
    def fail(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        return Outcome(failure="died", message="segfault") if kind == "chunks" else None

    d = data(6, long=["long"])
    scheduler, executor, recorder = run(d, pools=[("m", CHUNKED, 2)], shard_size=1, fail=fail)
    assert_every_sample_once(d, recorder)
    assert "long" in errors(recorder)
    assert scheduler.pools[0].failed is None or "kept dying" in scheduler.pools[0].failed
    assert_actors_released(executor)


def test_unreadable_stream_shard_is_recorded_as_lost() -> None:
    def fail(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        return Outcome(failure="raised", message="OSError: stream") if kind == "shard" and work.shard_id == 0 else None

    d = data(6)
    _, executor, recorder = run(d, fail=fail, nameable=False)
    assert recorder.lost_shards == [("m", 0, "failed 3 times; last: OSError: stream")]
    assert set(sid for _, sid in recorder.rows) == {"s3", "s4", "s5"}
    assert_actors_released(executor)


def test_resume_evaluates_only_what_is_not_stored() -> None:
    d = data(9)
    done = frozenset({"s0", "s1", "s4"})
    shards = [s for s in d.shards(3, skip=done)]
    _, executor, recorder = run(d, shards=shards)
    assert set(sid for _, sid in recorder.rows) == set(d.samples) - done


def test_resume_of_a_failing_shard_makes_error_rows_only_for_missing_samples() -> None:
    def fail(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        return Outcome(failure="raised", message="boom") if kind == "shard" else None

    d = data(3)
    _, _, recorder = run(d, shards=d.shards(3, skip=frozenset({"s1"})), fail=fail)
    assert set(errors(recorder)) == {"s0", "s2"}


@pytest.mark.parametrize("attempts", [1, 2, 3])
def test_attempts_are_bounded(attempts: int) -> None:
    def fail(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        return Outcome(failure="raised", message="always") if kind == "shard" else None

    d = data(3)
    executor = FakeExecutor(d, fail)
    recorder = FakeRecorder(d)
    Scheduler([Pool("m", SHORT, 1, iter(d.shards(3)))], executor, recorder, max_attempts=attempts,
              wait_seconds=0).run()
    assert executor.calls["shard"] == attempts
    assert set(errors(recorder)) == set(d.samples)


def test_chunk_jobs_are_split_by_chunks_per_job() -> None:
    d = data(0, long=["long"])
    _, executor, _ = run(d, pools=[("m", CHUNKED, 1)])
    assert executor.calls["chunks"] == 2  # 4 windows, 2 per job


def test_assemble_job_carries_every_window() -> None:
    seen: list[AssembleJob] = []

    def spy(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        if kind == "assemble":
            seen.append(work)
        return None

    d = data(0, long=["long"])
    run(d, pools=[("m", CHUNKED, 3)], fail=spy)
    (job,) = seen
    assert sorted(c["chunk_index"] for c in job.chunks) == [w.index for w in job.windows] == [0, 1, 2, 3]
    assert isinstance(job, AssembleJob) and not isinstance(job, ChunkJob)


def test_retry_errors_after_a_failed_long_file_ends_every_sample_scored() -> None:
    """`--resume --retry-errors`: the first session leaves error rows (a long file whose windows
    failed, a shard that kept raising); their rows and windows are deleted, and the second session,
    told which samples are stored, scores exactly those again."""
    broken = {"on": True}

    def fail(actor: FakeActor, kind: str, work: Any) -> Outcome | None:
        if broken["on"] and (kind == "chunks" or (kind == "shard" and work.shard_id == 0)):
            return Outcome(failure="raised", message="RuntimeError: flaky")
        return None

    d = data(5, long=["long"])
    _, _, first = run(d, pools=[("m", CHUNKED, 2)], shard_size=3, fail=fail)
    failed = set(errors(first))
    assert failed == {"s0", "s1", "s2", "long"}
    stored = frozenset(sid for (_, sid), row in first.rows.items() if not row.error)  # delete_errors
    broken["on"] = False
    _, _, second = run(d, pools=[("m", CHUNKED, 2)], shards=d.shards(3, skip=stored))
    assert set(sid for _, sid in second.rows) == failed
    assert errors(second) == {}
    assert {c.chunk_index for c in second.chunks} == {0, 1, 2, 3}  # the long file's windows, once


def test_an_actor_that_never_starts_counts_as_a_load_failure() -> None:
    """An actor no node can host (its only GPU node was lost) stays pending forever in Ray: past the
    load timeout it is a load failure, so the run ends with every sample accounted for."""
    d = data(4)
    executor = FakeExecutor(d, hang=lambda actor, kind: kind == "info" and actor.number >= 1)
    recorder = FakeRecorder(d)
    scheduler = Scheduler([Pool("m", SHORT, 2, iter(d.shards(1)))], executor, recorder, max_attempts=2,
                          wait_seconds=60, load_timeout=300, clock=lambda: executor.now[0])
    scheduler.run()
    assert_every_sample_once(d, recorder)
    assert errors(recorder) == {}  # actor 0 did the work; the stuck one was given up on
    assert scheduler.pools[0].load_failures == 1 and scheduler.pools[0].failed is None
    assert not [a for a in executor.started if a.alive]


def test_a_model_whose_actors_never_start_ends_as_error_rows() -> None:
    d = data(3)
    executor = FakeExecutor(d, hang=lambda actor, kind: kind == "info")
    recorder = FakeRecorder(d)
    scheduler = Scheduler([Pool("m", SHORT, 1, iter(d.shards(3)))], executor, recorder, max_attempts=2,
                          wait_seconds=60, load_timeout=300, clock=lambda: executor.now[0])
    scheduler.run()
    assert set(errors(recorder)) == set(d.samples)
    assert all("did not start and load within 300 s" in e for e in errors(recorder).values())
