"""``evaluator run --model transformers:DIR`` for CTC and transducer checkpoints, on the bundled
sample data through Ray as a user runs it: no error rows, and each short clip's hypothesis equals
the model card's recipe on the same tiny weights (the 44 s clip goes through the chunked long-form)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig
from tests.tiny_families import built, recipe

pytestmark = pytest.mark.slow

FAMILIES = ("wav2vec2-base", "hubert", "parakeet-ctc", "parakeet-tdt")
SAMPLES = 4


def test_run_on_sample_data(ray_cluster, tmp_path_factory: pytest.TempPathFactory, sample_rows) -> None:
    from evaluator.data.audio import decode_audio
    from evaluator.data.builtin import sample_data_dir

    root = tmp_path_factory.getbasetemp() / "tiny_families"
    models = {name: built(root, name) for name in FAMILIES}
    db = tmp_path_factory.mktemp("families") / "families.duckdb"
    config = RunConfig(models=tuple(parse_model_spec(f"transformers:{path}") for path in models.values()),
                       db=str(db), max_samples=SAMPLES)
    with Store(str(db)) as store:
        summary = run_evaluation(config, store)
    assert summary.status == "finished" and not summary.failed_models
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT model, sample_id, hypothesis, error, audio_seconds FROM results").fetchall()
    assert len(rows) == SAMPLES * len(FAMILIES)
    assert [r for r in rows if r[3] is not None] == []
    by_id = {row["id"]: row for row in sample_rows}
    for name, path in models.items():
        label = parse_model_spec(f"transformers:{path}").label
        mine = {sample: (hyp, seconds) for model, sample, hyp, _, seconds in rows if model == label}
        short = [s for s, (_, seconds) in mine.items() if seconds <= 30]
        assert len(short) == SAMPLES - 1, name  # the 44 s clip is the other one
        for sample in short:
            audio = decode_audio(str(Path(sample_data_dir()) / by_id[sample]["file_name"]))
            assert mine[sample][0] == recipe(path, audio), (name, sample)
        long_hyp = next(hyp for hyp, seconds in mine.values() if seconds > 30)
        assert long_hyp, name
    (entry,) = con.execute("SELECT models FROM runs").fetchone()
    recorded = json.loads(entry)
    for path in models.values():
        model = recorded[parse_model_spec(f"transformers:{path}").label]
        assert model["long_form"]["strategy"] == "chunked"  # no native long-form: the family's default
        assert any("names no language" in w for worker in model["workers"] for w in worker["warnings"])
