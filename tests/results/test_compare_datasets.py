"""Comparisons over several datasets and across runs: one pair per model and dataset plus one
overall comparison resampled within datasets, never a model with itself, never repeated; models
of different runs paired by (dataset, sample id) after their references and durations agree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluator.cli import main
from evaluator.errors import ConfigError
from evaluator.results.compare import OVERALL, compare
from evaluator.results.store import Store
from evaluator.scoring.stats import BootstrapOptions, paired_bootstraps, stratified_paired_bootstrap
from tests.results.test_compare import make_db, random_run, row

RESAMPLES = 300
MODELS = {"faster-whisper:base": 0.08, "faster-whisper:tiny.en": 0.2, "openai-whisper:tiny.en": 0.15}


def two_datasets(run_id: str, models: dict[str, float], seed: int = 1) -> list[dict]:
    """``models`` on two datasets, ``calls`` (30 samples) and ``meetings`` (20), whose sample
    ids repeat (s000, s001, ...) as row numbers do."""
    rows = [{**r, "dataset": "calls"} for r in random_run(run_id, models, 30, seed)]
    return rows + [{**r, "dataset": "meetings"} for r in random_run(run_id, models, 20, seed + 1)]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return make_db(tmp_path / "two.duckdb", {"run": two_datasets("run", MODELS)}, models={"run": list(MODELS)},
                   finished=True)


def test_one_pair_per_model_and_dataset_plus_overall(db: Path) -> None:
    with Store(str(db)) as store:
        c = compare(store.con, ["run"], resamples=RESAMPLES, top=2)
    keys = [(p.baseline, p.model, p.dataset, p.metric) for p in c.pairs]
    assert len(keys) == len(set(keys))  # never repeated

    assert all(p.baseline != p.model for p in c.pairs)  # never a model with itself
    first = next(iter(MODELS))
    assert keys == [(first, m, d, "wer") for m in list(MODELS)[1:] for d in ("calls", "meetings", OVERALL)]
    for p in c.pairs:
        if p.dataset == OVERALL:
            assert p.datasets == ("calls", "meetings") and p.regressions == ()
            parts = [q for q in c.pairs if q.model == p.model and q.dataset != OVERALL]
            assert p.n == sum(q.n for q in parts)
            # the pooled rates: errors over words of both datasets' paired samples
            assert p.delta == pytest.approx(p.model_rate - p.baseline_rate)
        else:
            assert p.datasets == (p.dataset,)
            rows = {(r["model"], r["sample_id"]): r for r in two_datasets("run", MODELS) if r["dataset"] == p.dataset}
            scored = [sid for (m, sid), r in rows.items() if m == first and r["error"] is None and r["ref_words"] > 0
                      and rows[(p.model, sid)]["error"] is None]
            assert p.n == len(scored) > 0
            assert p.delta_low <= p.delta <= p.delta_high
    # regressions name samples of their pair's dataset only
    for p in c.pairs:
        assert all(g.reference == f"reference of {g.sample_id}" for g in p.regressions)


def test_each_model_lists_its_datasets_in_one_order_whichever_it_wins(tmp_path: Path) -> None:
    # a wins on calls, b on meetings: the leaderboard ranks them apart, the models table does not
    rows = [{**r, "dataset": "calls"} for r in random_run("run", {"a": 0.05, "b": 0.4}, 30, 1)]
    rows += [{**r, "dataset": "meetings"} for r in random_run("run", {"a": 0.4, "b": 0.05}, 30, 2)]
    db = make_db(tmp_path / "x.duckdb", {"run": rows}, models={"run": ["a", "b"]}, finished=True)
    with Store(str(db)) as store:
        c = compare(store.con, ["run"], resamples=RESAMPLES)
    assert [(m["model"], m["dataset"]) for m in c.models] == [(m, d) for m in "ab" for d in ("calls", "meetings")]


def test_overall_is_the_pooled_rate_of_the_datasets(tmp_path: Path) -> None:
    rows = []
    for i in range(10):  # calls: base 1, model 3 errors in 10 words; meetings: both 2 in 5
        rows += [row("r", "a:base", f"c{i}", errors=1, dataset="calls"), row("r", "b:new", f"c{i}", errors=3,
                                                                               dataset="calls")]
    for i in range(4):
        rows += [row("r", "a:base", f"m{i}", words=5, errors=2, dataset="meetings"),
                 row("r", "b:new", f"m{i}", words=5, errors=2, dataset="meetings")]
    path = make_db(tmp_path / "p.duckdb", {"r": rows})
    with Store(str(path)) as store:
        pairs = {p.dataset: p for p in compare(store.con, resamples=RESAMPLES).pairs}
    assert (pairs["calls"].delta, pairs["meetings"].delta) == (pytest.approx(0.2), 0.0)
    overall = pairs[OVERALL]
    assert overall.baseline_rate == pytest.approx((10 + 8) / 120) and overall.model_rate == pytest.approx(38 / 120)
    # every sample of a dataset alike: a resample within datasets keeps each dataset's size, so
    # the pooled difference never moves (drawn across datasets, it would)
    assert overall.delta_low == overall.delta_high == pytest.approx(20 / 120)


def test_stratified_bootstrap_resamples_within_strata() -> None:
    calls = np.tile([1.0, 10, 3, 10], (50, 1))
    meetings = np.tile([2.0, 5, 2, 5], (8, 1))
    options = BootstrapOptions(resamples=500, seed=3)
    stratified = stratified_paired_bootstrap([calls, meetings], options)
    assert stratified.low == stratified.high == pytest.approx(100 / 540)
    (pooled,) = paired_bootstraps([np.vstack([calls, meetings])], options)  # not stratified: varies
    assert pooled.delta == pytest.approx(stratified.delta) and pooled.high - pooled.low > 0.01
    assert stratified_paired_bootstrap([calls, meetings], options) == stratified  # seeded


def test_cli_json_and_csv_name_the_dataset(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--db", str(db), "--format", "json", "--resamples", "100"]) == 0
    pairs = json.loads(capsys.readouterr().out)["pairs"]
    assert len(pairs) == 2 * 3 and {p["dataset"] for p in pairs} == {"calls", "meetings", OVERALL}
    assert all(p["n"] > 0 and p["baseline"] != p["model"] for p in pairs)
    assert main(["compare", "--db", str(db), "--format", "csv", "--resamples", "100", "--all-pairs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("baseline,model,dataset,metric,n,")
    assert len(lines) == 1 + 3 * 3  # three pairs of three models, each on two datasets and overall
    assert main(["compare", "--db", str(db), "--resamples", "100", "--top", "1"]) == 0
    table = capsys.readouterr().out
    assert table.count("largest regressions: ") <= 4  # per pair and dataset, never overall
    assert "meetings" in table and "calls" in table


def test_a_model_added_later_compares_with_the_first_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = random_run("first", {"faster-whisper:base": 0.1}, 25, seed=4)
    later = [{**r, "run_id": "later", "model": "faster-whisper:small", "backend": "faster-whisper"}
             for r in random_run("later", {"faster-whisper:base": 0.05}, 25, seed=4)]
    path = make_db(tmp_path / "later.duckdb", {"first": first, "later": later}, finished=True)
    with Store(str(path)) as store:
        (pair,) = compare(store.con, ["first", "later"], resamples=RESAMPLES).pairs
    assert (pair.baseline, pair.model, pair.dataset) == ("faster-whisper:base@first", "faster-whisper:small@later",
                                                         "ds")
    assert pair.shared == pair.baseline_samples == 25 and pair.dropped_missing == 0
    assert main(["compare", "--db", str(path), "--run", "first", "--run", "later", "--fail-if-worse", "100",
                 "--allow-errors", "--resamples", "100"]) == 0
    assert "1 model checked" in capsys.readouterr().err
    # one leaderboard of both runs' models, best first
    assert main(["leaderboard", "--db", str(path), "--run", "first", "--run", "later", "--format", "json",
                 "--resamples", "100"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["run"], r["model"]) for r in rows] == [("later", "faster-whisper:small"),
                                                      ("first", "faster-whisper:base")]
    assert rows[0]["wer_%"] < rows[1]["wer_%"]
    assert main(["leaderboard", "--db", str(path), "--run", "first", "--run", "later", "--resamples", "100"]) == 0
    assert "runs first, later" in capsys.readouterr().out


def test_runs_with_other_references_under_the_same_ids_are_refused(tmp_path: Path) -> None:
    first = random_run("first", {"a:x": 0.1}, 10, seed=4)
    later = [{**r, "run_id": "later", "model": "b:y"} for r in first]
    later[3] = {**later[3], "reference": "another text"}
    later[7] = {**later[7], "audio_seconds": 99.0}
    path = make_db(tmp_path / "bad.duckdb", {"first": first, "later": later})
    with Store(str(path)) as store, pytest.raises(ConfigError) as info:
        compare(store.con, ["first", "later"])
    message = str(info.value)
    assert "ds sample s003 (reference differs between runs first, later)" in message
    assert "ds sample s007 (audio duration differs" in message
    assert "s001" not in message


def test_python_api_gives_the_cli_pairs(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import evaluator

    frame = evaluator.open(str(db)).compare(resamples=100)
    assert main(["compare", "--db", str(db), "--format", "json", "--resamples", "100", "--top", "0"]) == 0
    pairs = json.loads(capsys.readouterr().out)["pairs"]
    columns = ["baseline", "model", "dataset", "n", "delta", "p_value"]
    assert frame[columns].to_dict("records") == [{k: p[k] for k in columns} for p in pairs]
    assert len(frame) == 6 and len(evaluator.open(str(db)).compare(resamples=100, all_pairs=True)) == 9
