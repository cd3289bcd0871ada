"""Joining a token-authenticated cluster as docs/cluster.md says: a real `ray start --head` with
token authentication (Ray 2.60: ``RAY_AUTH_MODE=token`` and the token in ``~/.ray/auth_token``),
in a home folder of its own. A local run on the head node, the Python API (even after `import
ray`) and a job join it with the token file alone; without the token the run fails with one line
that names the token (never `ray stop`) and has taken no database lock."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.ray_processes import BIN, LocalHead

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]

REPO = Path(__file__).resolve().parents[2]
EVALUATOR = [sys.executable, "-m", "evaluator.cli"]
MODEL = "faster-whisper:tiny.en"


@pytest.fixture(scope="module")
def token_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHead]:
    """A head with token authentication; its token in ``HOME/.ray/auth_token`` of a home folder
    of its own (so no other test's or user's token is touched)."""
    home = tmp_path_factory.mktemp("home")
    head = LocalHead(num_cpus=2)
    head.env["HOME"] = str(home)
    subprocess.run([BIN / "ray", "get-auth-token", "--generate"], env=head.env, check=True, capture_output=True,
                   timeout=120)
    assert (home / ".ray" / "auth_token").is_file()
    head.start()
    try:
        yield head
    finally:
        head.stop()


def _client_env(head: LocalHead, home: str | None = None) -> dict[str, str]:
    """A user's shell on the head node: the token file in their home, no RAY_AUTH_MODE set."""
    env = {k: v for k, v in head.env.items() if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_ADDRESS")}
    env["PYTHONPATH"] = str(REPO)
    if home is not None:
        env["HOME"] = home
    return env


def test_a_local_run_on_the_head_joins_with_the_token_file(token_head: LocalHead, tmp_path: Path) -> None:
    db = tmp_path / "joined.duckdb"
    run = subprocess.run([*EVALUATOR, "run", "--address", token_head.gcs_address, "--db", str(db), "--name", "team",
                          "--max-samples", "2", "--model", MODEL],
                         env=_client_env(token_head), capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "joined the running Ray cluster" in run.stderr
    assert "starting run " in run.stderr and f"(team); results in {db}" in run.stderr
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*), count(error) FROM results").fetchone() == (2, 0)
    host = json.loads(con.execute("SELECT host FROM runs").fetchone()[0])
    assert host["ray_job_id"] and host["user"] and host["command"].startswith("evaluator run --address")


def test_the_python_api_joins_even_after_ray_was_imported(token_head: LocalHead, tmp_path: Path) -> None:
    script = (
        "import ray, evaluator\n"  # a notebook that imported Ray first
        f"run = evaluator.evaluate({MODEL!r}, db={str(tmp_path / 'api.duckdb')!r}, "
        f"address={token_head.gcs_address!r}, max_samples=1, progress=False)\n"
        "print(run.status, run.rows)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], env=_client_env(token_head), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-2:] == ["finished", "1"]


def test_without_the_token_the_run_fails_naming_it_and_took_no_database_lock(token_head: LocalHead,
                                                                            tmp_path: Path) -> None:
    empty_home = tmp_path / "nobody"
    empty_home.mkdir()
    db = tmp_path / "never.duckdb"
    run = subprocess.run([*EVALUATOR, "run", "--address", token_head.gcs_address, "--db", str(db),
                          "--max-samples", "1", "--model", MODEL],
                         env=_client_env(token_head, str(empty_home)), capture_output=True, text=True, timeout=600)
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if " ERROR evaluator: " in line]
    assert len(errors) == 1, run.stderr[-3000:]
    assert f"cannot join the Ray cluster at {token_head.gcs_address}" in errors[0]
    assert "auth_token" in errors[0] and "ray get-auth-token" in errors[0] and "--address local" in errors[0]
    assert "ray stop" not in run.stderr
    assert not db.exists()  # the database was never opened: no lock held while joining


def test_a_job_prints_its_database_and_records_its_submission(token_head: LocalHead, tmp_path: Path) -> None:
    db = tmp_path / "job.duckdb"
    env = {**token_head.env, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [BIN / "ray", "job", "submit", "--address", token_head.dashboard_url, "--working-dir", str(REPO),
         "--submission-id", "raysubmit_evaltoken1", "--", "python", "jobs/evaluate.py", "--model", MODEL,
         "--max-samples", "1", "--db", str(db)],
        env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"results in {db}" in proc.stdout + proc.stderr
    con = duckdb.connect(str(db), read_only=True)
    host = json.loads(con.execute("SELECT host FROM runs").fetchone()[0])
    assert host["ray_submission_id"] == "raysubmit_evaltoken1"

    relative = subprocess.run(
        [BIN / "ray", "job", "submit", "--address", token_head.dashboard_url, "--working-dir", str(REPO),
         "--", "python", "jobs/evaluate.py", "--model", MODEL, "--max-samples", "1", "--db", "results.duckdb"],
        env=env, capture_output=True, text=True, timeout=600)
    assert relative.returncode != 0
    assert "Ray's temporary copy" in relative.stdout + relative.stderr
