"""Leaderboards with intervals, breakdowns, paired comparisons and the stored intervals, on
databases built with Store.insert_results; and the CLI's JSON."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from evaluator.cli import main
from evaluator.errors import ConfigError
from evaluator.results.compare import compare
from evaluator.results.leaderboard import group_choices, leaderboard_with_intervals
from evaluator.results.store import Store
from evaluator.scoring.stats import BootstrapOptions, ratio_interval
from tests.factories import create_run, result_row

RESAMPLES = 300


def row(run_id: str, model: str, sample_id: str, *, words: int = 10, errors: int = 1, error: str | None = None,
        audio_seconds: float | None = 4.0, language: str | None = "en", metadata: dict | None = None,
        hypothesis: str | None = None) -> dict[str, Any]:
    """A result row: ``errors`` substitutions out of ``words`` reference words."""
    counts: dict[str, Any] = {}
    if error is None:
        subs = min(errors, words)
        counts = {"hits": words - subs, "substitutions": subs, "deletions": 0, "insertions": errors - subs,
                  "ref_words": words, "hyp_words": words + errors - subs, "ref_chars": words * 5,
                  "char_errors": errors * 2, "truncated": False, "looping": False, "skipped": False}
    return result_row(run_id, model, sample_id, f"reference of {sample_id}", hypothesis or f"{model} says {sample_id}",
                      language=language, audio_seconds=audio_seconds, inference_seconds=None if error else 1.0,
                      error=error, metadata=json.dumps(metadata) if metadata else None, scored=False, **counts)


def make_db(path: Path, runs: dict[str, list[dict[str, Any]]], models: dict[str, list[str]] | None = None) -> Path:
    """A database of ``runs``; ``models``: per run, its models in the order the run was given them."""
    with Store(str(path)) as store:
        for i, (run_id, rows) in enumerate(runs.items()):
            create_run(store, run_id, models=(models or {}).get(run_id, []))
            store.con.execute("UPDATE runs SET started_at = started_at + INTERVAL (?) SECOND WHERE run_id = ?",
                              [i, run_id])
            store.insert_results(rows)
    return path


def random_run(run_id: str, models: dict[str, float], n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    speakers = ["ann", "bob", "cy"]
    for i in range(n):
        words = rng.randint(0, 30) if i % 17 else 0  # some empty references
        seconds = rng.choice([None, 3.0, 12.0, 45.0])
        meta = {"speaker": speakers[i % 3], "gender": "f" if i % 2 else "m", "age": 20 + i % 5}
        for model, rate in models.items():
            error = "decode failed" if (i + len(model)) % 23 == 0 else None
            errors = sum(rng.random() < rate for _ in range(words)) + (words == 0 and rng.random() < 0.3)
            rows.append(row(run_id, model, f"s{i:03d}", words=words, errors=errors, error=error,
                            audio_seconds=seconds, language="en" if i % 4 else "fr", metadata=meta))
    return rows


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return make_db(tmp_path / "r.duckdb", {
        "run1": random_run("run1", {"a:good": 0.08, "b:bad": 0.2, "c:mid": 0.12}, 120, seed=1),
    })


def records(columns: list[str], rows: list[tuple]) -> list[dict[str, Any]]:
    return [dict(zip(columns, r, strict=True)) for r in rows]


def test_point_estimates_equal_the_leaderboard_view(db: Path) -> None:
    with Store(str(db)) as store:
        got = records(*leaderboard_with_intervals(store.con, "run1", resamples=RESAMPLES))
        cols, rows = store.query("SELECT model, n, errors, empty_refs, wer, cer, rtfx FROM leaderboard "
                                 "WHERE run_id = 'run1' ORDER BY wer")
    view = records(cols, rows)
    assert [(g["model"], g["n"], g["errors"], g["empty_refs"], g["wer"], g["cer"], g["rtfx"]) for g in got] == \
        [tuple(v.values()) for v in view]
    for g in got:
        assert g["wer_low"] < g["wer"] < g["wer_high"] and g["cer_low"] < g["cer"] < g["cer_high"]


def test_interval_is_the_bootstrap_of_the_scored_rows(db: Path) -> None:
    with Store(str(db)) as store:
        got = records(*leaderboard_with_intervals(store.con, "run1", resamples=RESAMPLES, seed=3))
        _, scored = store.query(
            "SELECT substitutions + deletions + insertions, substitutions + deletions + hits FROM results "
            "WHERE run_id = 'run1' AND model = 'b:bad' AND error IS NULL AND ref_words > 0 ORDER BY sample_id")
    want = ratio_interval([e for e, _ in scored], [w for _, w in scored], BootstrapOptions(RESAMPLES, 3))
    bad = next(g for g in got if g["model"] == "b:bad")
    assert (bad["scored"], bad["wer_low"], bad["wer_high"]) == (len(scored), want.low, want.high)


@pytest.mark.parametrize("by, expected_groups", [
    ("gender", {"f", "m"}),
    ("speaker", {"ann", "bob", "cy"}),
    ("age", {"20", "21", "22", "23", "24"}),
    ("language", {"en", "fr"}),
    ("bucket", {"0: unknown", "1: <10s", "2: 10-30s", "3: 30s-2min"}),
])
def test_grouped_rows_add_up(db: Path, by: str, expected_groups: set[str]) -> None:
    with Store(str(db)) as store:
        grouped = records(*leaderboard_with_intervals(store.con, "run1", by=by, resamples=RESAMPLES))
        overall = records(*leaderboard_with_intervals(store.con, "run1", resamples=RESAMPLES))
        if by == "bucket":  # the same WER per bucket as the buckets view
            cols, rows = store.query("SELECT model, bucket, wer FROM buckets WHERE run_id = 'run1'")
            view = {(m, b): w for m, b, w in rows}
            assert {(g["model"], g["group"]): g["wer"] for g in grouped} == pytest.approx(view)
    assert {g["group"] for g in grouped} == expected_groups
    for total in overall:
        parts = [g for g in grouped if g["model"] == total["model"]]
        assert sum(p["n"] for p in parts) == total["n"]
        assert sum(p["scored"] for p in parts) == total["scored"]
        assert sum(p["errors"] for p in parts) == total["errors"]
        for p in parts:
            assert p["wer_low"] <= p["wer"] <= p["wer_high"]


def test_group_choices_and_unknown_group(db: Path) -> None:
    with Store(str(db)) as store:
        assert group_choices(store.con, "run1") == ["language", "bucket", "age", "gender", "speaker"]
        with pytest.raises(ConfigError, match="choose one of: language, bucket, age, gender, speaker"):
            leaderboard_with_intervals(store.con, "run1", by="accent")
        with pytest.raises(ConfigError, match="runs with results: run1"):
            leaderboard_with_intervals(store.con, "nope")


def test_run_without_scored_rows(tmp_path: Path) -> None:
    rows = [row("r", "m:x", f"s{i}", error="boom") for i in range(3)] + [row("r", "m:x", "e", words=0, errors=0)]
    path = make_db(tmp_path / "e.duckdb", {"r": rows})
    with Store(str(path)) as store:
        (got,) = records(*leaderboard_with_intervals(store.con, "r", resamples=RESAMPLES))
        assert (got["n"], got["errors"], got["empty_refs"], got["scored"]) == (4, 3, 1, 0)
        assert (got["wer"], got["wer_low"], got["wer_high"]) == (None, None, None)
        c = compare(store.con, ["r"], resamples=RESAMPLES)
    assert c.pairs == [] and [m["label"] for m in c.models] == ["m:x"]


def test_a_model_compared_with_itself_across_runs(tmp_path: Path) -> None:
    first = random_run("before", {"m:x": 0.1}, 60, seed=5)
    second = [{**r, "run_id": "after"} for r in first]
    path = make_db(tmp_path / "s.duckdb", {"before": first, "after": second})
    with Store(str(path)) as store:
        c = compare(store.con, ["before", "after"], resamples=RESAMPLES)
    (pair,) = c.pairs
    assert (pair.baseline, pair.model) == ("m:x@before", "m:x@after")
    assert (pair.delta, pair.delta_low, pair.delta_high, pair.p_value, pair.wilcoxon_p) == (0.0, 0.0, 0.0, 1.0, 1.0)
    assert pair.worse == pair.better == 0 and pair.regressions == ()
    assert pair.n == sum(1 for r in first if r["error"] is None and r["ref_words"] > 0)


def test_dropped_samples_are_counted_by_reason(tmp_path: Path) -> None:
    base = [row("r", "a:base", f"s{i}", errors=1) for i in range(10)]
    model = [row("r", "b:new", f"s{i}", errors=2) for i in range(2, 10)]  # s0, s1 missing
    model[0] = row("r", "b:new", "s2", error="oom")                        # error on one side
    base[3] = row("r", "a:base", "s3", error="oom")                        # error on the other
    base[4] = row("r", "a:base", "s4", words=0, errors=0)                  # empty reference
    model[2] = row("r", "b:new", "s4", words=0, errors=1)
    model.append(row("r", "b:new", "s10"))                                 # missing on the baseline
    path = make_db(tmp_path / "d.duckdb", {"r": base + model})
    with Store(str(path)) as store:
        (pair,) = compare(store.con, ["r"], baseline="a:base", resamples=RESAMPLES).pairs
    assert (pair.dropped_missing, pair.dropped_error, pair.dropped_empty_reference) == (3, 2, 1)
    assert pair.n == 11 - 3 - 2 - 1
    assert (pair.baseline_rate, pair.model_rate) == (pytest.approx(0.1), pytest.approx(0.2))
    assert pair.delta == pytest.approx(0.1) and pair.worse == pair.n and pair.better == 0


def test_regressions_are_the_largest_increases_with_their_texts(tmp_path: Path) -> None:
    increases = {"s0": 0, "s1": 4, "s2": 1, "s3": 7, "s4": -2, "s5": 4}
    rows = []
    for sid, inc in increases.items():
        rows.append(row("r", "a:base", sid, errors=3, hypothesis=f"base text {sid}"))
        rows.append(row("r", "b:new", sid, errors=3 + inc, hypothesis=f"new text {sid}"))
    path = make_db(tmp_path / "g.duckdb", {"r": rows})
    with Store(str(path)) as store:
        (pair,) = compare(store.con, baseline="a:base", resamples=RESAMPLES, top=3).pairs
    assert [(g.sample_id, g.baseline_errors, g.model_errors) for g in pair.regressions] == \
        [("s3", 3, 10), ("s1", 3, 7), ("s5", 3, 7)]
    top = pair.regressions[0]
    assert (top.reference, top.baseline_hypothesis, top.model_hypothesis) == \
        ("reference of s3", "base text s3", "new text s3")
    assert (pair.better, pair.worse, pair.same) == (1, 4, 1)


def test_pairs_and_baselines(tmp_path: Path) -> None:
    runs = {"run1": random_run("run1", {"a:good": 0.08, "b:bad": 0.2, "c:mid": 0.12}, 120, seed=1)}
    db = make_db(tmp_path / "o.duckdb", runs, models={"run1": ["c:mid", "b:bad", "a:good"]})
    with Store(str(db)) as store:
        default = compare(store.con, resamples=RESAMPLES, top=0)
        against = compare(store.con, ["run1"], baseline="c:mid", resamples=RESAMPLES, top=0)
        with pytest.raises(ConfigError, match="choose one of: a:good, b:bad, c:mid"):
            compare(store.con, ["run1"], baseline="z:none")
    # without --baseline, the model the run lists first is the baseline (not the best, not by name)
    assert [m["label"] for m in default.models] == ["c:mid", "b:bad", "a:good"]
    assert [(p.baseline, p.model) for p in default.pairs] == [("c:mid", "b:bad"), ("c:mid", "a:good"),
                                                                ("b:bad", "a:good")]
    for p in default.pairs:
        assert p.metric == "wer"
        assert p.delta == pytest.approx(p.model_rate - p.baseline_rate)
        assert p.delta_low <= p.delta <= p.delta_high
    assert [(p.baseline, p.model) for p in against.pairs] == [("c:mid", "b:bad"), ("c:mid", "a:good")]
    bad = next(p for p in against.pairs if p.model == "b:bad")
    assert bad.delta > 0 and bad.p_value < 0.05


def test_two_runs_of_two_models(tmp_path: Path) -> None:
    runs = {"r1": random_run("r1", {"a:x": 0.1, "b:y": 0.2}, 40, seed=1),
            "r2": random_run("r2", {"a:x": 0.1, "b:y": 0.2}, 40, seed=2)}
    path = make_db(tmp_path / "t.duckdb", runs)
    with Store(str(path)) as store:
        c = compare(store.con, ["r1", "r2"], resamples=RESAMPLES, top=0)
        by_run = compare(store.con, ["r1", "r2"], baseline="r2", resamples=RESAMPLES, top=0)
    assert [m["label"] for m in c.models] == ["a:x@r1", "b:y@r1", "a:x@r2", "b:y@r2"]
    assert {(p.baseline, p.model) for p in c.pairs} == {
        ("a:x@r1", "b:y@r1"), ("a:x@r2", "b:y@r2"), ("a:x@r1", "a:x@r2"), ("b:y@r1", "b:y@r2")}
    assert {(p.baseline, p.model) for p in by_run.pairs} == {
        ("a:x@r2", "b:y@r2"), ("a:x@r2", "a:x@r1"), ("b:y@r2", "b:y@r1")}


def test_save_intervals_stores_overall_and_group_rows(db: Path) -> None:
    with Store(str(db)) as store:
        written = store.save_intervals("run1", resamples=RESAMPLES, seed=4)
        assert store.save_intervals("run1", resamples=RESAMPLES, seed=4) == written  # replaced, not added
        _, rows = store.query("SELECT i.model, i.estimate, l.wer, i.low, i.high, i.n, i.resamples, i.seed "
                              "FROM intervals i JOIN leaderboard l USING (run_id, model, dataset, split) "
                              "WHERE i.metric = 'wer' AND i.group_by IS NULL")
        _, groups = store.query("SELECT group_by, count(DISTINCT group_value) FROM intervals "
                                "WHERE group_by IS NOT NULL GROUP BY ALL ORDER BY 1")
        (total,) = store.query("SELECT count(*) FROM intervals")[1][0]
    assert len(rows) == 3 and total == written
    for _, estimate, wer, low, high, _, resamples, seed in rows:
        assert estimate == wer and low < wer < high and (resamples, seed) == (RESAMPLES, 4)
    assert groups == [("age", 5), ("bucket", 4), ("gender", 2), ("language", 2), ("speaker", 3)]


def test_cli_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--db", str(db), "--format", "json", "--resamples", "200", "--top", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"wer", "wer_low", "wer_high"} <= set(out["models"][0])
    assert {"baseline", "model", "delta", "delta_low", "delta_high", "p_value", "n", "wilcoxon_p",
            "dropped_missing", "regressions"} <= set(out["pairs"][0])
    assert (out["resamples"], out["seed"], out["run_ids"]) == (200, 0, ["run1"])

    assert main(["leaderboard", "--db", str(db), "--format", "json", "--by", "gender", "--resamples", "200"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 6 and {r["gender"] for r in rows} == {"f", "m"}
    assert all(r["wer_low"] <= r["wer_%"] <= r["wer_high"] for r in rows)

    assert main(["leaderboard", "--db", str(db), "--by", "accent"]) == 2
    assert main(["compare", "--db", str(db), "--baseline", "nope"]) == 2
    assert main(["compare", "--db", str(db), "--format", "markdown", "--resamples", "100"]) == 0
    text = capsys.readouterr().out
    assert "| baseline | model |" in text and "largest regressions" in text
