"""Resuming a run: refused when the stored rows came from another normalizer or other library
versions, so one run never mixes two."""

from __future__ import annotations

import json

import pytest

from evaluator.errors import ConfigError
from evaluator.run.driver import check_resumable
from evaluator.scoring.metrics import NORMALIZER_NAME, NORMALIZER_VERSION

MODEL = "faster-whisper:tiny.en"
NOW = {MODEL: {"faster-whisper": "1.2.1", "ctranslate2": "4.8.5"}}


def run(normalizer: str | None = NORMALIZER_VERSION, versions: dict | None = None) -> dict:
    return {"run_id": "r1", "normalizer_name": NORMALIZER_NAME, "normalizer_version": normalizer,
            "library_versions": None if versions is None else json.dumps(versions)}


@pytest.mark.parametrize(
    "stored",
    [
        run(versions=NOW),
        run(versions=None),  # a driver that died before writing them (older runs)
        run(normalizer=None, versions=NOW),
        run(versions={"openai-whisper:tiny.en": {"openai-whisper": "1"}}),  # a model not in this resume
    ],
)
def test_same_versions_resume(stored: dict) -> None:
    check_resumable(stored, NOW)


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (run(normalizer="1+whisper-normalizer-0.0.9", versions=NOW), f"text normalizer {NORMALIZER_NAME} 1+"),
        (run(versions={MODEL: {"faster-whisper": "1.1.0", "ctranslate2": "4.8.5"}}),
         "faster-whisper 1.1.0, now 1.2.1"),
    ],
)
def test_changed_versions_refuse_to_resume(stored: dict, message: str) -> None:
    with pytest.raises(ConfigError, match="cannot be resumed") as info:
        check_resumable(stored, NOW)
    assert message in str(info.value) and "start a new run" in str(info.value)


@pytest.mark.slow
@pytest.mark.usefixtures("tiny_en_available")
def test_resume_of_a_live_run_is_refused_at_once_and_the_live_run_finishes(tmp_path, caplog) -> None:
    """The issue's race: `--resume` while the run's driver writes. Refused within a second,
    naming the driver; the live run finishes with every sample once and no error."""
    import os
    import subprocess
    import sys
    import time

    import duckdb

    from evaluator.cli import main
    from evaluator.results.lease import lease_state

    db = str(tmp_path / "live.duckdb")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    live = subprocess.Popen([sys.executable, "-m", "evaluator.cli", "run", "--db", db, "--name", "live",
                             "--address", "local", "--num-cpus", "2", "--shard-size", "2", "--max-samples", "8",
                             "--model", MODEL], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        folder = f"{db}.leases"
        while not (os.path.isdir(folder) and os.listdir(folder)) and time.monotonic() < deadline:
            assert live.poll() is None, live.stderr.read()[-3000:]
            time.sleep(0.2)
        run_id = os.listdir(folder)[0].removesuffix(".json")
        assert lease_state(db, run_id)[0] == "live"
        for ref in ("live", run_id):
            started = time.monotonic()
            assert main(["run", "--resume", ref, "--db", db]) == 2
            assert time.monotonic() - started < 1.0
            message = caplog.records[-1].getMessage()
            assert f"PID {live.pid} on " in message and "is being written by a live driver" in message
        out, err = live.communicate(timeout=600)
    finally:
        if live.poll() is None:
            live.kill()
    assert live.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "Duplicate key" not in err
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT sample_id), count(error) FROM results").fetchone() == (8, 8, 0)
    assert con.execute("SELECT status FROM runs").fetchone() == ("finished",)
    assert lease_state(db, run_id) == ("free", None)
