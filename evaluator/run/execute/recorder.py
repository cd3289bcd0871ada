"""The driver's side of the store: its recorder (rows from the scheduler into DuckDB, in batches),
the progress it reports, and what a run reads back from earlier sessions (resume checks, the
shards still to do, measured memory peaks).

The driver is the only DuckDB writer; everything here runs in the driver process.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from evaluator.data.opened import OpenedDataset
from evaluator.data.readers import read_shard
from evaluator.data.shards import Sample, Shard
from evaluator.data.spec import DatasetSpec
from evaluator.errors import ConfigError
from evaluator.results.records import ChunkRow, LostShard, ResultRow
from evaluator.results.store import Store
from evaluator.run.execute.interfaces import Pool
from evaluator.run.plan.config import RunConfig, run_config_from_json
from evaluator.run.plan.placement import measured_peaks
from evaluator.scoring.profiles import profile

__all__ = ["Progress", "RunDataset", "StoreRecorder", "check_resumable", "fresh_shards", "measured_history",
           "resume_config"]


@dataclass(frozen=True)
class RunDataset:
    """One dataset of a run, as the driver opened and planned it.

    Attributes:
        spec: the spec its shards carry (columns settled by the driver).
        name: the name its rows carry (``results.dataset``).
        opened: the opened dataset (for naming the samples of a shard that failed).
        total: samples planned (``None``: a stream of unknown length).
        shards: its shards, made on demand.
    """

    spec: DatasetSpec
    name: str
    opened: OpenedDataset
    total: int | None
    shards: Sequence[Shard]


@dataclass
class Progress:
    """Passed to the progress callback after each shard: (model, sample) pairs done so far."""

    done: int
    total: int | None
    errors: int
    audio_seconds: float


def check_resumable(run: dict[str, Any], versions: dict[str, dict[str, str | None]]) -> None:
    """Refuse to resume a run whose stored rows were scored with another version of its scoring
    profile or produced with other library versions than this driver has: one run would mix two
    of them.

    ``run`` is the ``runs`` row; ``versions`` the current library versions per model label.
    """
    problems = []
    scoring = profile(run.get("scoring") or "whisper")
    if run.get("normalizer_version") not in (None, scoring.version):
        problems.append(f"text normalizer {run.get('normalizer_name')} {run['normalizer_version']}, "
                        f"now {scoring.normalizer_set} {scoring.version}")
    before = json.loads(run.get("library_versions") or "{}")
    for label, now in versions.items():
        then = before.get(label)
        changed = {lib: (then.get(lib), v) for lib, v in now.items() if then is not None and then.get(lib) != v}
        problems += [f"{label}: {lib} {a}, now {b}" for lib, (a, b) in sorted(changed.items())]
    if problems:
        rescore = (f" (a normalizer change alone: `evaluator rescore --run {run.get('run_id')}` scores the stored "
                   "rows again with the current one, then the run resumes)") if problems[0].startswith("text") else ""
        raise ConfigError(
            f"run {run.get('run_id')} cannot be resumed: its rows were made with " + "; ".join(problems)
            + ". Resuming would mix both in one run: start a new run (without --resume), or reinstall "
            "the versions the run used" + rescore + "."
        )


def resume_config(store: Store, run_id: str) -> RunConfig:
    run = store.get_run(run_id)
    if run is None:
        (ids, rows) = store.query("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 5")
        recent = ", ".join(r[0] for r in rows) or "none"
        raise ConfigError(f"no run {run_id!r} in {store.path}; recent runs: {recent}")

    # the run's scoring profile now (a rescore may have changed it since the run started)
    return dataclasses.replace(run_config_from_json(json.loads(run["config"])), scoring=run.get("scoring") or "whisper")


def measured_history(store: Any) -> dict[tuple[str, str], float]:
    """Peak memory per (model label, device kind) from the runs in ``store`` (a :class:`Store` or a
    read-only connection), for :func:`plan_run`."""
    sql = "SELECT models FROM runs WHERE models IS NOT NULL ORDER BY started_at DESC LIMIT 200"
    rows = store.query(sql)[1] if isinstance(store, Store) else store.execute(sql).fetchall()
    return measured_peaks(row[0] for row in rows)


def fresh_shards(shards: Sequence[Shard], store: Store, run_id: str, model: str,
                 dataset: str | None = None) -> Iterator[Shard]:
    """Shards of a resumed run (of one ``dataset``, by name), each told which of its samples are
    already stored (looked up when the shard is about to be handed out, so nothing grows with
    the dataset)."""
    all_done: frozenset[str] | None = None
    for shard in shards:
        if shard.size is not None:
            skip = store.done_ids(run_id, model, shard.start, shard.stop, dataset=dataset)
            if len(skip) >= shard.size:
                continue
        else:  # streaming: no row ranges, so the model's stored ids
            all_done = store.done_ids(run_id, model, dataset=dataset) if all_done is None else all_done
            skip = all_done
        yield dataclasses.replace(shard, skip_ids=skip) if skip else shard


class StoreRecorder:
    """The scheduler's recorder: rows into the store (the one writer), progress to the caller.

    Rows are buffered and written in one transaction per second (or per ``FLUSH_ROWS``); between
    writes the store lets go of the file, so readers can query it during the run. A row not yet
    written when the driver dies is simply evaluated again by ``--resume``.
    """

    FLUSH_ROWS = 2000
    FLUSH_SECONDS = 1.0
    HEARTBEAT_SECONDS = 15.0

    def __init__(self, store: Store, run_id: str, datasets: Sequence[RunDataset], progress: Progress,
                 on_progress: Callable[[Progress], None] | None):
        self.store = store
        self.run_id = run_id
        self.datasets = {d.spec: d for d in datasets}
        self.only = datasets[0] if len(datasets) == 1 else None
        self.progress = progress
        self.on_progress = on_progress
        self.rows: list[ResultRow] = []
        self.chunks: list[ChunkRow] = []
        self.flushed = self.beat = time.monotonic()

    def _dataset(self, spec: DatasetSpec | None) -> RunDataset:
        found = self.datasets.get(spec) if spec is not None else self.only  # type: ignore[arg-type]
        if found is None:
            raise KeyError(f"rows of a dataset this run does not have: {spec}")
        return found

    def write(self, pool: Pool, dataset: DatasetSpec | None, rows: list[ResultRow], chunks: list[ChunkRow]) -> None:
        d = self._dataset(dataset)
        for row in rows:
            row.run_id, row.model, row.backend = self.run_id, pool.label, pool.spec.backend
            row.dataset, row.split = d.name, d.opened.split
        for chunk in chunks:
            chunk.run_id, chunk.model, chunk.dataset = self.run_id, pool.label, d.name
        self.rows += rows
        self.chunks += chunks
        p = self.progress
        p.done += len(rows)
        p.errors += sum(1 for r in rows if r.error)
        p.audio_seconds += sum(r.audio_seconds or 0.0 for r in rows)
        if self.on_progress and rows:
            self.on_progress(p)
        if len(self.rows) >= self.FLUSH_ROWS:
            self.flush()

    def tick(self) -> None:
        now = time.monotonic()
        if self.rows or self.chunks:
            if now - self.flushed >= self.FLUSH_SECONDS:
                self.flush()
        elif now - self.beat >= self.HEARTBEAT_SECONDS:
            self.store.heartbeat(self.run_id)
            self.store.release()
            self.beat = now

    def flush(self) -> None:
        """Write the buffered rows in one transaction, beat, and let go of the file."""
        if self.rows or self.chunks:
            self.store.insert_results(self.rows, self.chunks)
            self.rows, self.chunks = [], []
        self.store.heartbeat(self.run_id)
        self.store.release()
        self.flushed = self.beat = time.monotonic()

    def lost(self, pool: Pool, shard: Shard, reason: str) -> None:
        name = self._dataset(shard.dataset).name
        self.store.record_lost_shard(LostShard(self.run_id, pool.label, shard.shard_id, reason, dataset=name))

    def name_samples(self, shard: Shard) -> list[Sample]:
        return list(read_shard(self._dataset(shard.dataset).opened, shard, with_audio=False))
