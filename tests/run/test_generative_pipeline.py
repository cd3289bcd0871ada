"""SeamlessM4T v2 and LFM2.5-Audio through the whole pipeline (Ray actors, DuckDB) on CPU, with
tiny random-weight models built offline in tests/tiny_models.py and loaded by the real code.
The weights are random, so the text is noise: these tests check the plumbing, not accuracy."""

from __future__ import annotations

import json

import duckdb
import pytest

from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig
from tests.tiny_models import make_tiny_lfm2_audio, make_tiny_seamless_m4t

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {
        "seamless-m4t": make_tiny_seamless_m4t(root / "seamless"),
        "lfm2.5-audio": make_tiny_lfm2_audio(root / "lfm"),
    }


def test_generative_backends_write_rows(ray_cluster, tiny_models, tmp_path):
    db = tmp_path / "gen.duckdb"
    models = tuple(parse_model_spec(f"{backend}:{path}") for backend, path in tiny_models.items())
    # The sample set's first clip is 44 s: both backends chunk it (their default long-form strategy).
    config = RunConfig(models=models, db=str(db), max_samples=3)
    with Store(str(db)) as store:
        summary = run_evaluation(config, store)
    assert summary.status == "finished" and not summary.failed_models
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT backend, sample_id, error, device, hypothesis IS NOT NULL, long_form, num_chunks "
                       "FROM results ORDER BY backend, sample_id").fetchall()
    assert len(rows) == 6
    for backend, sample_id, error, device, has_text, long_form, chunks in rows:
        assert error is None, (backend, sample_id, error)
        assert device == "cpu" and has_text and long_form == "chunked"
        assert chunks == (2 if sample_id == "human-two-cities" else 1)
    (config_json,) = con.execute("SELECT config FROM runs").fetchone()
    options = {m["backend"]: m["effective_options"] for m in json.loads(config_json)["models"]}
    assert options["seamless-m4t"]["num_beams"] == 1 and options["lfm2.5-audio"]["dtype"] == "float32"
