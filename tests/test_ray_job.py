"""`ray job submit` of jobs/evaluate.py against a head node that the test starts and stops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture()
def head_node():
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("RAY_ADDRESS", None)
    subprocess.run([BIN / "ray", "start", "--head", "--num-cpus", "2", "--disable-usage-stats",
                    "--dashboard-port", "8265"], env=env, check=True, capture_output=True)
    try:
        yield env
    finally:
        subprocess.run([BIN / "ray", "stop", "--force"], env=env, capture_output=True)


def test_ray_job_submit_writes_results(head_node, tmp_path):
    db = tmp_path / "job.duckdb"
    env = {**head_node, "RAY_AUTH_MODE": "token"}  # send the head's token (Ray >= 2.5x)
    proc = subprocess.run(
        [BIN / "ray", "job", "submit", "--address", "http://127.0.0.1:8265", "--working-dir", str(REPO),
         "--", "python", "jobs/evaluate.py", "--config", "jobs/examples/sample.yaml",
         "--max-samples", "3", "--db", str(db)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "succeeded" in proc.stdout + proc.stderr
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT model, count(*), count(error) FROM results GROUP BY model ORDER BY model").fetchall()
    assert rows == [("faster-whisper:base", 3, 0), ("faster-whisper:tiny.en", 3, 0)]
    assert con.execute("SELECT name, status FROM runs").fetchone() == ("sample-job", "finished")
