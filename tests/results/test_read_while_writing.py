"""Reading the results while a run writes them: readers never fail, never see rows disappear."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from evaluator.errors import DatabaseBusyError
from evaluator.results.store import Store, connect_read_only

BATCHES = 40
PER_BATCH = 25


def _writer(path: str, started: multiprocessing.Event) -> None:  # runs in another process, like the driver
    with Store(path) as store:
        store.release()
        started.set()
        for b in range(BATCHES):
            rows = [{"run_id": "r", "model": "m", "backend": "b", "dataset": "d", "split": "s",
                     "sample_id": f"{b}-{i}", "reference": "x", "hypothesis": "x"} for i in range(PER_BATCH)]
            store.insert_results(rows)
            store.release()
            time.sleep(0.02)


def test_reader_polling_during_writes_never_fails_and_never_goes_back(tmp_path: Path) -> None:
    path = str(tmp_path / "live.duckdb")
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    writer = ctx.Process(target=_writer, args=(path, started))
    writer.start()
    assert started.wait(60)
    seen = []
    while writer.is_alive() or not seen or seen[-1] < BATCHES * PER_BATCH:
        con = connect_read_only(path)
        try:
            seen.append(con.execute("SELECT count(*) FROM results").fetchone()[0])
        finally:
            con.close()
        if not writer.is_alive() and seen[-1] < BATCHES * PER_BATCH:
            break
    writer.join(30)
    assert writer.exitcode == 0  # the writer waited for the readers too
    assert seen == sorted(seen), "the row count went down"
    assert seen[-1] == BATCHES * PER_BATCH
    assert len(set(seen)) > 2, f"the reader saw no progress in between: {sorted(set(seen))}"


def test_reader_gives_up_with_one_clear_line_when_the_file_stays_locked(tmp_path: Path) -> None:
    path = str(tmp_path / "held.duckdb")
    Store(path).close()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({path!r}); "
                               "print('held', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DatabaseBusyError, match="query a copy") as info:
            connect_read_only(path, wait=0.5)
        assert f"locked by a writer (PID {holder.pid}: python" in str(info.value)
    finally:
        holder.kill()
        holder.wait()


def test_a_writer_waiting_names_the_reader_that_holds_the_file(tmp_path: Path, caplog) -> None:
    """The wait message names the holder as it is: here a reader (a read-only connection), with
    its PID and command."""
    path = str(tmp_path / "read.duckdb")
    Store(path).close()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({path!r}, "
                               "read_only=True); print('held', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DatabaseBusyError) as info:
            Store(path, wait=0.5)
        assert f"locked by a reader (PID {holder.pid}: python" in str(info.value)
    finally:
        holder.kill()
        holder.wait()


def test_missing_file_is_not_a_lock_error(tmp_path: Path) -> None:
    with pytest.raises(duckdb.IOException):
        connect_read_only(str(tmp_path / "nope.duckdb"), wait=0.5)


@pytest.mark.slow
def test_evaluator_sql_during_a_real_run(tmp_path: Path) -> None:
    """`evaluator sql` polled while `evaluator run` writes: every query answers, counts only grow."""
    db = str(tmp_path / "run.duckdb")
    evaluator = [sys.executable, "-m", "evaluator.cli"]
    env = {**os.environ, "RAY_ADDRESS": ""}
    run = subprocess.Popen([*evaluator, "run", "--db", db, "--model", "faster-whisper:tiny.en", "--shard-size", "2",
                            "--num-cpus", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    counts, failures = [], []
    try:
        while run.poll() is None:
            if not os.path.exists(db):
                time.sleep(0.2)
                continue
            q = subprocess.run([*evaluator, "sql", "--db", db, "--format", "csv",
                                "SELECT count(*) AS n FROM results"], capture_output=True, text=True, env=env)
            if q.returncode != 0:
                failures.append(q.stderr.strip().splitlines()[-1:])
            else:
                counts.append(int(q.stdout.split()[-1]))
        _, err = run.communicate(timeout=600)
    finally:
        run.kill()
    assert run.returncode == 0, err[-2000:]
    assert failures == []
    assert counts == sorted(counts) and len(counts) >= 3
    assert any(0 < c < 24 for c in counts), f"no query saw the run half way: {counts}"
