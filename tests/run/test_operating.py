"""Operating runs: `evaluator runs`, a driver killed mid-run (its run shown as interrupted, its
local cluster's leftovers stopped by the next run), joining a running `ray start` cluster."""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from evaluator.cli import main
from evaluator.results.store import Store
from tests.factories import create_run, result_row
from tests.ray_processes import kill_trees

EVALUATOR = [sys.executable, "-m", "evaluator.cli"]


def _start_run(store: Store, run_id: str, heartbeat: datetime, status: str = "running") -> None:
    create_run(store, run_id, "nightly", models=[])
    store.update_run(run_id, heartbeat_at=heartbeat, status=status)
    store.plan_model(run_id, "fw:tiny", "sample", "test", 4)
    store.insert_results([result_row(run_id, "fw:tiny", str(i), "a", "a", dataset="sample", language=None,
                                     audio_seconds=None, inference_seconds=None, scored=False) for i in range(3)])


def test_runs_shows_a_silent_run_as_interrupted_with_its_resume_command(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "r.duckdb")
    now = datetime.now(UTC).replace(tzinfo=None)
    with Store(db) as store:
        _start_run(store, "dead", now - timedelta(minutes=10))
        _start_run(store, "alive", now)
    assert main(["runs", "--db", db, "--format", "csv"]) == 0
    table = {r["run_id"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert (table["dead"]["status"], table["dead"]["rows"], table["dead"]["planned"], table["dead"]["done_%"]) == (
        "interrupted", "3", "4", "75.0")
    assert table["alive"]["status"] == "running"
    assert main(["runs", "--db", db]) == 0
    out = capsys.readouterr().out
    assert f"dead is interrupted; finish it with: evaluator run --resume dead --db {db}" in out
    assert "alive is" not in out


def test_runs_on_an_empty_database_says_so(tmp_path: Path, caplog) -> None:
    db = str(tmp_path / "e.duckdb")
    Store(db).close()
    assert main(["runs", "--db", db]) == 2
    assert "holds no runs yet" in caplog.text


# ------------------------------------------------------------------------------- real clusters


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_tree_matching(text: str) -> None:
    """Stop the processes whose command line names ``text`` (this test's Ray temp dir), with
    their children: never another cluster's processes."""
    kill_trees([proc for proc in psutil.process_iter(["cmdline"])
                if any(text in part for part in proc.info["cmdline"] or ())])


@pytest.mark.slow
def test_run_joins_a_running_ray_start_cluster_without_address(tmp_path: Path) -> None:
    """The README's cluster recipe (`ray start --head`), then a plain `evaluator run` on the same
    machine: it joins that cluster (and says so) instead of failing on `resources`."""
    temp = tempfile.mkdtemp(prefix="rj", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_TMPDIR"] = temp
    head = subprocess.run([str(Path(sys.executable).parent / "ray"), "start", "--head", "--num-cpus", "2",
                           "--port", str(_free_port()), "--include-dashboard=false", "--disable-usage-stats"],
                          env=env, capture_output=True, text=True, timeout=120)
    try:
        assert head.returncode == 0, head.stderr[-2000:]
        run = subprocess.run([*EVALUATOR, "run", "--db", str(tmp_path / "j.duckdb"), "--max-samples", "4",
                              "--model", "faster-whisper:tiny.en?compute_type=float32"],
                             env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "joined the running Ray cluster" in run.stderr
        assert "resources must not be provided" not in run.stderr
    finally:
        _kill_tree_matching(temp)


@pytest.mark.slow
def test_killed_driver_run_is_interrupted_then_resumed_and_its_leftovers_stopped(tmp_path: Path) -> None:
    db = str(tmp_path / "k.duckdb")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="rk", dir="/tmp")  # no `ray start` cluster to join here
    run = subprocess.Popen([*EVALUATOR, "run", "--db", db, "--name", "killed", "--shard-size", "2", "--num-cpus", "2",
                            "--model", "faster-whisper:tiny.en?compute_type=float32"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # wait until some rows are stored
            time.sleep(1)
            if os.path.exists(db):
                q = subprocess.run([*EVALUATOR, "sql", "--db", db, "--format", "csv",
                                    "SELECT count(*) FROM results"], capture_output=True, text=True, env=env)
                if q.returncode == 0 and int(q.stdout.split()[-1]) >= 4:
                    break
        os.kill(run.pid, signal.SIGKILL)
        run.wait(30)
    finally:
        if run.poll() is None:
            run.kill()
    time.sleep(3)
    from evaluator.run.plan.cluster import orphaned_ray_processes

    left = [p.pid for p in orphaned_ray_processes()]
    assert left, "a killed driver's local cluster left nothing behind (Ray changed?)"

    runs = subprocess.run([*EVALUATOR, "runs", "--db", db, "--stale-after", "1", "--format", "csv"],
                          capture_output=True, text=True, env=env)
    assert runs.returncode == 0 and ",interrupted," in runs.stdout
    run_id = runs.stdout.splitlines()[1].split(",")[0]

    resumed = subprocess.run([*EVALUATOR, "run", "--db", db, "--resume", run_id, "--num-cpus", "2"],
                             capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "stopped" in resumed.stderr and "left behind" in resumed.stderr
    assert not set(left) & {p.pid for p in psutil.process_iter() if p.is_running()}

    final = subprocess.run([*EVALUATOR, "sql", "--db", db, "--format", "csv",
                            "SELECT count(*), count(DISTINCT sample_id) FROM results"],
                           capture_output=True, text=True, env=env)
    assert final.stdout.split()[-1] == "24,24"  # every sample once
    runs = subprocess.run([*EVALUATOR, "runs", "--db", db, "--format", "csv"], capture_output=True, text=True, env=env)
    assert ",finished,24,24,100.0," in runs.stdout


@pytest.mark.slow
@pytest.mark.usefixtures("tiny_en_available")
def test_streaming_run_whose_actors_keep_dying_accounts_for_every_sample(ray_cluster, tmp_path: Path,
                                                                         sample_rows) -> None:
    """The actors of a streaming run are killed until shards give up: their samples still end as
    error rows that say why (a stream that can be read names them), none is lost or doubled, and
    the leaderboard calls the model partial."""
    import ray

    from evaluator.cli.tables import LEADERBOARD_SQL
    from evaluator.data.spec import DatasetSpec
    from evaluator.models.spec import parse_model_spec
    from evaluator.run.driver import run_evaluation
    from evaluator.run.plan.config import RunConfig
    from tests.factories import save_sample_set

    db = str(tmp_path / "dying.duckdb")
    config = RunConfig(db=db, models=(parse_model_spec("faster-whisper:tiny.en?compute_type=float32"),),
                       dataset=DatasetSpec(source=str(save_sample_set(tmp_path / "saved")), streaming=True),
                       actors_per_model=1, max_shard_attempts=1)
    killed: list[int] = []

    raylet = psutil.Process(ray._private.worker.global_worker.node.all_processes["raylet"][0].process.pid)

    def kill_our_actor(progress) -> None:  # the Worker actors of this test's own cluster only
        if progress.done < 3 or len(killed) >= 2:
            return
        for proc in raylet.children():
            if proc.pid in killed:  # a killed actor stays a zombie until the raylet reaps it
                continue
            try:
                title = (proc.cmdline() or [""])[0]
            except psutil.Error:  # gone, or a zombie, since the listing
                continue
            if title.startswith("ray::Worker"):
                proc.kill()
                killed.append(proc.pid)
                return

    with Store(db) as store:
        summary = run_evaluation(config, store, on_progress=kill_our_actor)
        _, rows = store.query("SELECT sample_id, error FROM results")
        columns, board = store.query(LEADERBOARD_SQL, [summary.run_id])
    assert killed
    assert sorted(sid for sid, _ in rows) == sorted(r["id"] for r in sample_rows)  # each sample once
    errors = [e for _, e in rows if e]
    assert errors and all("actor died" in e or "kept dying" in e or "failed to load" in e for e in errors)
    assert dict(zip(columns, board[0], strict=True))["partial"] is True
