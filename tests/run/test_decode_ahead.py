"""The actor's pipeline: decoding runs on other threads while the device transcribes, batches fill
across the shards an actor holds, memory stays bounded, and failures stay with their sample or
shard. Checked by structure (batch sizes, which thread ran what, what overlapped), not timings."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from evaluator.data.shards import Shard, plan_shards
from evaluator.data.sources import open_dataset, resolved_spec
from evaluator.data.spec import DatasetSpec
from evaluator.data.windows import LongForm
from evaluator.models.spec import parse_model_spec
from evaluator.results.records import ChunkRow, ResultRow
from evaluator.run.execute.interfaces import Pool, Slot
from evaluator.run.execute.local import LocalExecutor
from evaluator.run.execute.pipeline import Pipeline
from evaluator.run.execute.scheduler import Scheduler
from evaluator.run.plan.devices import DevicePlan
from evaluator.scoring.languages import LanguagePlan

STAND_IN = "tests.standin_backend.StandInBackend"


@dataclass
class Clip:
    job: int
    index: int
    seconds: float
    decoded_on: int = 0
    error: bool = False


@dataclass
class Device:
    """A stand-in device: records each batch and how many items are decoded and not yet done."""

    seconds: float = 0.03
    batches: list[list[Clip]] = field(default_factory=list)
    live: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def decoded(self) -> None:
        with self.lock:
            self.live += 1
            self.peak = max(self.peak, self.live)

    def run(self, batch: list[Clip]) -> None:
        self.batches.append(batch)
        time.sleep(self.seconds)
        with self.lock:
            self.live -= len(batch)


def _prepare(device: Device, fail: set[tuple[int, int]] = frozenset()):  # type: ignore[assignment]
    def prepare(sample: tuple[int, int]) -> Clip:
        job, index = sample
        time.sleep(0.002)  # decoding
        clip = Clip(job, index, seconds=float((index * 7) % 11), decoded_on=threading.get_ident(),
                    error=(job, index) in fail)
        if not clip.error:
            device.decoded()
        return clip
    return prepare


def _pipeline(batch_size: int) -> Pipeline:
    # a generous linger: the test's call threads may start late on a loaded machine
    return Pipeline(batch_size, needs_device=lambda c: not c.error, seconds=lambda c: c.seconds, decode_threads=2,
                    linger=0.5)


def _run_jobs(pipeline: Pipeline, device: Device, jobs: dict[int, Any], fail=frozenset()) -> dict[int, Any]:
    prepare = _prepare(device, set(fail))
    with ThreadPoolExecutor(len(jobs)) as calls:  # one call thread per shard, as a threaded actor has
        futures = {j: calls.submit(pipeline.run, samples, prepare, device.run) for j, samples in jobs.items()}
        out = {}
        for j, future in futures.items():
            try:
                out[j] = future.result(timeout=60)
            except Exception as exc:  # noqa: BLE001 - the test looks at what each call raised
                out[j] = exc
    return out


def test_batches_fill_across_shards_while_decoding_runs_ahead_on_other_threads() -> None:
    device = Device()
    with _pipeline(8) as pipeline:
        out = _run_jobs(pipeline, device, {j: [(j, i) for i in range(10)] for j in range(4)})  # shards of 10
        stats = pipeline.stats
    assert [len(b) for b in device.batches] == [8] * 5  # 40 clips in full batches, not 10 + ... per shard
    assert any(len({c.job for c in b}) > 1 for b in device.batches)  # a batch holds clips of two shards
    for j, items in out.items():  # each call gets its own items back, in the shard's order
        assert [(c.job, c.index) for c in items] == [(j, i) for i in range(10)]
    device_threads = {b.thread for b in stats.batches}
    decode_threads = {d.thread for d in stats.decodes}
    assert len(device_threads) == 1 and not device_threads & decode_threads
    assert stats.decodes_during_batches() > 0  # the next clips were decoded while the device ran
    assert device.peak <= pipeline.capacity  # memory stays bounded by the look-ahead
    for batch in device.batches:  # each batch sorted by duration within the look-ahead
        assert [c.seconds for c in batch] == sorted(c.seconds for c in batch)


def test_decoded_items_never_exceed_the_look_ahead() -> None:
    device = Device(seconds=0.01)
    with _pipeline(4) as pipeline:
        _run_jobs(pipeline, device, {0: [(0, i) for i in range(100)]})
    assert pipeline.capacity == 16 and 0 < device.peak <= 16
    assert sum(len(b) for b in device.batches) == 100


def test_a_failed_read_fails_its_shard_only_and_errors_skip_the_device() -> None:
    def broken():
        yield (1, 0)
        yield (1, 1)
        raise OSError("disk gone")

    device = Device(seconds=0.001)
    with _pipeline(4) as pipeline:
        out = _run_jobs(pipeline, device, {0: [(0, i) for i in range(6)], 1: broken()}, fail={(0, 2)})
    assert isinstance(out[1], OSError) and "disk gone" in str(out[1])
    assert [c.index for c in out[0]] == list(range(6)) and out[0][2].error
    sent = [(c.job, c.index) for b in device.batches for c in b]
    assert (0, 2) not in sent and sorted(sent).count((0, 0)) == 1


def test_one_clip_at_a_time_is_decoded_ahead_too() -> None:
    device = Device(seconds=0.02)
    with _pipeline(1) as pipeline:
        out = _run_jobs(pipeline, device, {0: [(0, i) for i in range(8)]})
    assert [len(b) for b in device.batches] == [1] * 8
    assert sorted(c.index for b in device.batches for c in b) == list(range(8))
    assert [c.index for c in out[0]] == list(range(8))  # rows in the shard's order
    assert pipeline.stats.decodes_during_batches() > 0


# ---------------------------------------------------------------- the scheduler, workers, real clips

@dataclass
class Rows:
    rows: list[ResultRow] = field(default_factory=list)
    shards: list[int] = field(default_factory=list)

    def write(self, pool: Pool, dataset: DatasetSpec | None, rows: list[ResultRow], chunks: list[ChunkRow]) -> None:
        self.rows += rows

    def lost(self, pool: Pool, shard: Shard, reason: str) -> None:
        raise AssertionError(f"shard {shard.shard_id} lost: {reason}")

    def name_samples(self, shard: Shard) -> list[Any]:
        raise AssertionError("no shard should fail")

    def tick(self) -> None:
        pass


def test_an_actor_fills_its_batches_across_small_shards_of_real_clips() -> None:
    """24 bundled clips in shards of 4, a backend batching 8: the actor holds several shards and
    its device gets three full batches; every clip ends as one scored row."""
    spec = parse_model_spec(f"{STAND_IN}:none?batch_size=8&seconds_per_clip=0.002")
    opened = open_dataset(DatasetSpec("builtin:sample"))
    settled = resolved_spec(opened, DatasetSpec("builtin:sample"))
    total, shards = plan_shards(opened, settled, 4, None)
    pool = Pool(spec.label, LongForm("native", 60.0, 5.0), 1, iter(shards), spec=spec,
                plan=DevicePlan("cpu", {"num_cpus": 1}, 1))
    executor = LocalExecutor(LanguagePlan("en"))
    recorder = Rows()
    Scheduler([pool], executor, recorder, wait_seconds=0.05).run()
    (worker,) = executor.workers
    assert sorted(r.sample_id for r in recorder.rows) == sorted(s.sample_id for s in opened_samples(opened))
    assert all(r.error is None and r.hypothesis == "stand in" for r in recorder.rows)
    sizes = [n for n, _ in worker.backend.calls]
    assert sum(sizes) == total == 24 and max(sizes) == 8  # a batch of 8 holds clips of two shards of 4
    assert pool.workers[0]["in_flight_samples"] >= 8 and not pool.actors  # released at the end


def opened_samples(opened: Any) -> list[Any]:
    from evaluator.data.readers import read_shard

    settled = resolved_spec(opened, DatasetSpec("builtin:sample"))
    return list(read_shard(opened, Shard(settled, 0, start=0, stop=opened.num_rows), with_audio=False))


def test_a_slot_holds_shards_up_to_the_samples_its_actor_asks_for() -> None:
    pool = Pool("m", LongForm("native", 30.0, 5.0), 1, iter(()))
    slot = Slot(pool, None, ahead=10)
    assert slot.wants_more()
    for k in range(3):
        slot.held[k] = (Shard(DatasetSpec("x"), k, start=4 * k, stop=4 * k + 4), 0)
    assert not slot.wants_more()  # 12 samples held >= 10 asked
    del slot.held[2]
    assert slot.wants_more()


@pytest.mark.parametrize("batch_size", [1, 8])
def test_rows_keep_their_fields_through_the_pipeline(batch_size: int) -> None:
    spec = parse_model_spec(f"{STAND_IN}:none?batch_size={batch_size}&seconds_per_clip=0")
    from evaluator.run.execute.actor import Worker

    opened = open_dataset(DatasetSpec("builtin:sample"))
    settled = resolved_spec(opened, DatasetSpec("builtin:sample"))
    worker = Worker(spec, "cpu", 1, "en", LongForm("native", 60.0, 5.0))  # no VAD pass
    try:
        result = worker.run_shard(Shard(settled, 0, start=0, stop=6))
    finally:
        worker.close()
    assert [r.sample_index for r in result.rows] == list(range(6)) and result.long == [] and result.chunks == []
    assert all(r.audio_seconds and r.audio_seconds > 0.5 and r.decode_seconds is not None for r in result.rows)
    assert all(r.inference_seconds is not None and r.ref_words for r in result.rows)
