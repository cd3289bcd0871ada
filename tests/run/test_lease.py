"""A run's lease: `--resume` of a run a live driver holds is refused at once, naming the holder;
readers never make a live run look interrupted; a dead driver's run is interrupted at once; a
silent driver on another machine is taken over only with --force."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import evaluator
from evaluator.cli import main
from evaluator.errors import RunBusyError
from evaluator.results.lease import LEASE_SECONDS, Lease, lease_state
from evaluator.results.store import Store


def _run(db: str, run_id: str = "r1", name: str = "nightly", heartbeat_minutes_ago: float = 0) -> None:
    with Store(db) as store:
        store.create_run(run_id, name, {"models": [], "datasets": []}, evaluator_version="t", normalizer=("n", "1"),
                         host={})
        store.update_run(run_id, heartbeat_at=datetime.now(UTC).replace(tzinfo=None)
                         - timedelta(minutes=heartbeat_minutes_ago))


def _status(db: str, capsys: pytest.CaptureFixture[str], run_id: str = "r1") -> str:
    capsys.readouterr()
    assert main(["runs", "--db", db, "--format", "csv"]) == 0
    rows = {r["run_id"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    return rows[run_id]["status"]


@pytest.mark.parametrize("ref", ["r1", "nightly"])
def test_resume_of_a_live_run_is_refused_within_a_second_naming_the_holder(tmp_path: Path, caplog, ref: str) -> None:
    db = str(tmp_path / "r.duckdb")
    _run(db)
    with Lease.take(db, "r1", "nightly", command="evaluator run --name nightly"):
        started = time.monotonic()
        code = main(["run", "--resume", ref, "--db", db])
        took = time.monotonic() - started
    assert code == 2
    assert took < 1.0
    message = caplog.records[-1].getMessage()
    assert f"PID {os.getpid()} on {socket.gethostname()}" in message
    assert "evaluator run --name nightly" in message and "is being written by a live driver" in message
    assert "--force" not in message  # a live run is never taken over


def test_force_never_takes_a_live_run(tmp_path: Path, caplog) -> None:
    db = str(tmp_path / "r.duckdb")
    _run(db)
    with Lease.take(db, "r1", "nightly"):
        assert main(["run", "--resume", "r1", "--force", "--db", db]) == 2
    assert "live driver" in caplog.records[-1].getMessage()


def test_a_reader_holding_the_file_never_makes_a_live_run_look_interrupted(tmp_path: Path, capsys) -> None:
    """The driver's heartbeat in the database is 10 minutes old (as when a reader held the file
    that long), but it holds its lease: running. Once it lets go, the stale heartbeat counts."""
    db = str(tmp_path / "r.duckdb")
    _run(db, heartbeat_minutes_ago=10)
    with Lease.take(db, "r1", "nightly"):
        assert _status(db, capsys) == "running"
        assert list(evaluator.open(db).runs()["status"]) == ["running"]  # the Python API says the same
    assert _status(db, capsys) == "interrupted"
    assert list(evaluator.open(db).runs()["status"]) == ["interrupted"]


def _hold_and_die(db: str, started) -> None:  # another process: takes the lease, dies without letting go
    Lease.take(db, "r1", "nightly")
    started.set()
    time.sleep(0.3)
    os._exit(0)


def test_a_dead_drivers_run_is_interrupted_at_once_and_can_be_resumed(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "r.duckdb")
    _run(db)  # heartbeat fresh: the database alone would still say running
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    proc = ctx.Process(target=_hold_and_die, args=(db, started))
    proc.start()
    assert started.wait(60)
    assert lease_state(db, "r1")[0] == "live"
    proc.join(30)
    assert lease_state(db, "r1")[0] == "gone"
    assert _status(db, capsys) == "interrupted"
    Lease.take(db, "r1", "nightly").release()  # taken over without --force


def _foreign(db: str, age: float) -> None:
    folder = Path(f"{os.path.abspath(db)}.leases")
    folder.mkdir(exist_ok=True)
    now = time.time()
    (folder / "r1.json").write_text(json.dumps({
        "run_id": "r1", "name": "nightly", "host": "node-b", "pid": 4242, "user": "ci",
        "command": "evaluator run", "started_at": now - age - 60, "heartbeat_at": now - age}))


def test_a_driver_on_another_machine_holds_its_run_while_it_beats(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "r.duckdb")
    _run(db, heartbeat_minutes_ago=10)
    _foreign(db, age=2)
    assert _status(db, capsys) == "running"
    with pytest.raises(RunBusyError, match="PID 4242 on node-b"):
        Lease.take(db, "r1", force=True)


def test_a_silent_driver_on_another_machine_is_taken_over_only_with_force(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "r.duckdb")
    _run(db)
    _foreign(db, age=LEASE_SECONDS + 5)
    assert _status(db, capsys) == "interrupted"
    with pytest.raises(RunBusyError, match="stopped beating .* resume with --force"):
        Lease.take(db, "r1")
    lease = Lease.take(db, "r1", force=True)
    assert lease_state(db, "r1") == ("live", lease.holder)
    lease.release()
    assert lease_state(db, "r1") == ("free", None)


def test_force_and_retry_errors_need_resume(tmp_path: Path, caplog) -> None:
    assert main(["run", "--force", "--db", str(tmp_path / "r.duckdb")]) == 2
    assert "--force only applies with --resume" in caplog.records[-1].getMessage()
