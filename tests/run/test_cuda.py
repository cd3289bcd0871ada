"""CUDA checks: run only where an NVIDIA GPU is visible (skipped elsewhere)."""

from __future__ import annotations

import duckdb
import pytest

from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig
from tests.hardware import CUDA

pytestmark = CUDA


@pytest.fixture(scope="module")
def gpu_cluster():
    import ray

    ray.init(address="local", num_cpus=4, num_gpus=1, include_dashboard=False, configure_logging=False,
             log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.parametrize("model", ["faster-whisper:tiny.en", "transformers:tiny.en"])
def test_runs_on_cuda(gpu_cluster, tmp_path, model):
    db = tmp_path / "cuda.duckdb"
    with Store(str(db)) as store:
        summary = run_evaluation(RunConfig(models=(parse_model_spec(model),), db=str(db), device="cuda"), store)
    assert summary.status == "finished" and summary.errors == 0
    con = duckdb.connect(str(db), read_only=True)
    assert {d for (d,) in con.execute("SELECT device FROM results").fetchall()} == {"cuda"}
    (wer,) = con.execute("SELECT wer FROM leaderboard").fetchone()
    assert wer < 0.2
