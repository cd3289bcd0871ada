"""`ray job submit` of jobs/evaluate.py against a head node that the test starts and stops: on free
ports with its own temp dir, stopped by its own pids (never `ray stop`, which stops every Ray
process on the machine), while another Ray cluster runs beside it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.conftest import assert_survived
from tests.ray_processes import BIN, LocalHead, alive

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def head_node():
    head = LocalHead(num_cpus=2).start()
    try:
        yield head
    finally:
        head.stop()


def test_ray_job_submit_writes_results(bystander, head_node, tmp_path):
    db = tmp_path / "job.duckdb"
    proc = subprocess.run(
        [BIN / "ray", "job", "submit", "--address", head_node.dashboard_url, "--working-dir", str(REPO),
         "--", "python", "jobs/evaluate.py", "--config", "jobs/examples/sample.yaml",
         "--max-samples", "3", "--db", str(db)],
        env=head_node.env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "succeeded" in proc.stdout + proc.stderr
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT model, count(*), count(error) FROM results GROUP BY model ORDER BY model").fetchall()
    assert rows == [("faster-whisper:base", 3, 0), ("faster-whisper:tiny.en", 3, 0)]
    assert con.execute("SELECT name, status FROM runs").fetchone() == ("sample-job", "finished")

    # Stopping the test's head stops all of it and nothing else.
    pids = head_node.pids()
    assert pids and not pids & bystander
    head_node.stop()
    assert not alive(pids), "the head the test started is still running"
    assert_survived(bystander)


def test_a_suite_runs_as_one_job(head_node, tmp_path, sample_rows):
    """`--suite` through `ray job submit`: the suite file is read by the job's driver, its relative
    paths resolved there; both datasets land in one run."""
    from tests.conftest import make_audiofolder

    clips = [r for r in sample_rows if r["file_name"].startswith("espeak")]
    for name, rows in (("one", clips[:2]), ("two", clips[2:3])):
        make_audiofolder(tmp_path / "data" / name, [{"file_name": r["file_name"], "transcription": r["transcription"]}
                                                    for r in rows])
    (tmp_path / "suite.yaml").write_text("datasets:\n  - {name: one, source: data/one}\n"
                                         "  - {name: two, source: data/two}\n")
    db = tmp_path / "job.duckdb"
    proc = subprocess.run(
        [BIN / "ray", "job", "submit", "--address", head_node.dashboard_url, "--working-dir", str(REPO),
         "--", "python", "jobs/evaluate.py", "--suite", str(tmp_path / "suite.yaml"),
         "--model", "faster-whisper:tiny.en", "--db", str(db)],
        env=head_node.env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT dataset, count(*), count(error) FROM results GROUP BY ALL ORDER BY 1").fetchall()
    assert rows == [("one", 2, 0), ("two", 1, 0)]
    assert con.execute("SELECT count(*), any_value(status) FROM runs").fetchone() == (1, "finished")
