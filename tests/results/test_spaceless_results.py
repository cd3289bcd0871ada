"""Leaderboard, comparison, intervals and views on runs of languages written without spaces:
Chinese and Japanese rows are ranked and compared by CER, never dropped as empty, and kept out
of WER intervals; a mixed run is reported per metric."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluator.cli import main
from evaluator.results.compare import compare
from evaluator.results.leaderboard import interval_records, leaderboard_with_intervals, ranking_note
from evaluator.results.store import Store
from evaluator.scoring.stats import BootstrapOptions, ratio_interval
from tests.factories import create_run, result_row, write_run
from tests.perfect_speech import script

RESAMPLES = 300


def corrupt(text: str, every: int) -> str:
    """Every ``every``-th character of ``text`` substituted (English: every ``every``-th word)."""
    if " " in text:
        return " ".join("wrong" if i % every == 0 else w for i, w in enumerate(text.split()))
    return "".join("错" if i % every == 0 else c for i, c in enumerate(text))


def scored(run_id: str, model: str, sample_id: str, language: str, reference: str, hypothesis: str,
           seconds: float = 8.0) -> dict[str, Any]:
    return result_row(run_id, model, sample_id, reference, hypothesis, language=language, audio_seconds=seconds,
                      inference_seconds=1.0)


def samples(languages: dict[str, int]) -> list[tuple[str, str, str]]:
    """(sample id, language, reference) for ``count`` clips per language."""
    out = []
    for language, count in languages.items():
        for i in range(count):
            text = script(language.split("-")[0], 8.0, seed=i).text
            out.append((f"{language}{i:02d}", language, text))
    return out


def make_db(path: Path, clips: list[tuple[str, str, str]], models: dict[str, int]) -> Path:
    """One run ``r`` whose models (listed in this order) corrupt every k-th unit."""
    rows = [scored("r", model, sid, lang, ref, corrupt(ref, every))
            for model, every in models.items() for sid, lang, ref in clips]
    write_run(path, "r", rows, models=list(models))
    return path


@pytest.fixture(scope="module")
def cjk_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clips = samples({"zh": 10, "zh-Hant": 4, "ja": 10})
    # listed worse first, and alphabetically first: ranking must not follow either order
    return make_db(tmp_path_factory.mktemp("cjk") / "r.duckdb", clips, {"a:worse": 5, "b:better": 40})


@pytest.fixture(scope="module")
def mixed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clips = samples({"en": 12, "zh": 8})
    return make_db(tmp_path_factory.mktemp("mixed") / "r.duckdb", clips, {"a:x": 6, "b:y": 12})


def records(columns: list[str], rows: list[tuple]) -> list[dict[str, Any]]:
    return [dict(zip(columns, r, strict=True)) for r in rows]


def test_a_cjk_run_ranks_by_cer_best_first(cjk_db: Path) -> None:
    with Store(str(cjk_db)) as store:
        columns, rows = leaderboard_with_intervals(store.con, "r", resamples=RESAMPLES)
    board = records(columns, rows)
    assert [r["model"] for r in board] == ["b:better", "a:worse"]
    assert {r["metric"] for r in board} == {"cer"} and ranking_note(columns, rows) == "ranked by CER"
    assert all(r["wer"] is None and r["wer_n"] == 0 and r["cer_n"] == r["n"] == 24 for r in board)
    assert board[0]["cer"] < 0.06 and board[1]["cer"] > 0.15


def test_a_cjk_run_compares_every_sample_by_cer(cjk_db: Path) -> None:
    with Store(str(cjk_db)) as store:
        c = compare(store.con, resamples=RESAMPLES, top=1)
    (pair,) = c.pairs
    assert (pair.baseline, pair.model, pair.metric) == ("a:worse", "b:better", "cer")  # the run's first model
    assert (pair.n, pair.dropped_empty_reference, pair.dropped_missing, pair.dropped_error) == (24, 0, 0, 0)
    assert pair.delta < 0 and pair.delta_high < 0 and pair.p_value < 0.05 and pair.better == 24
    assert pair.baseline_rate == pytest.approx(c.models[0]["cer"]) and pair.model_rate == pytest.approx(
        c.models[1]["cer"])


def test_cli_on_a_cjk_run(cjk_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--db", str(cjk_db), "--format", "json", "--resamples", "200"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(p["metric"], p["n"], p["dropped_empty_reference"]) for p in out["pairs"]] == [("cer", 24, 0)]
    assert "interval excludes zero exactly when p < 1 - confidence" in out["p_value_method"]
    assert main(["leaderboard", "--db", str(cjk_db), "--format", "json", "--resamples", "200"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["ranked_by"]) for r in rows] == [("b:better", "cer"), ("a:worse", "cer")]
    assert main(["leaderboard", "--db", str(cjk_db), "--resamples", "100"]) == 0
    assert "ranked by CER on all " in capsys.readouterr().out


def test_per_language_tables_group_chinese_scripts(cjk_db: Path) -> None:
    with Store(str(cjk_db)) as store:
        columns, rows = leaderboard_with_intervals(store.con, "r", by="language", resamples=RESAMPLES)
        _, view = store.query("SELECT language, forms, metric, n FROM leaderboard_languages WHERE model = 'b:better' "
                              "ORDER BY language")
    board = records(columns, rows)
    assert {(r["group"], r["n"]) for r in board} == {("zh", 14), ("ja", 10)}
    assert {r["metric"] for r in board} == {"cer"}
    assert view == [("ja", "ja", "cer", 10), ("zh", "zh, zh-Hant", "cer", 14)]


def test_a_mixed_run_is_compared_per_metric(mixed_db: Path) -> None:
    with Store(str(mixed_db)) as store:
        c = compare(store.con, resamples=RESAMPLES, top=0)
        columns, rows = leaderboard_with_intervals(store.con, "r", resamples=RESAMPLES, seed=3)
        arrays = store.con.execute("SELECT model, substitutions + deletions + insertions AS e, "
                                   "substitutions + deletions + hits AS w FROM results WHERE language = 'en' "
                                   "ORDER BY model, sample_id").fetchall()
        stored = interval_records(store.con, "r", resamples=RESAMPLES)
    assert [(p.metric, p.n, p.dropped_empty_reference) for p in c.pairs] == [("wer", 12, 0), ("cer", 8, 0)]
    board = records(columns, rows)
    assert {r["metric"] for r in board} == {"wer"} and ranking_note(columns, rows) == "ranked by WER"
    for r in board:  # the WER interval resamples the English rows only
        mine = np.array([(e, w) for m, e, w in arrays if m == r["model"]], dtype=float)
        alone = ratio_interval(mine[:, 0], mine[:, 1], BootstrapOptions(resamples=RESAMPLES, seed=3))
        assert (r["wer"], r["wer_low"], r["wer_high"]) == pytest.approx((alone.estimate, alone.low, alone.high))
        assert (r["wer_n"], r["cer_n"]) == (12, 20)
    overall = {(s["model"], s["metric"]): s["n"] for s in stored if s["group_by"] is None}
    assert overall == {("a:x", "wer"): 12, ("a:x", "cer"): 20, ("b:y", "wer"): 12, ("b:y", "cer"): 20}


def test_buckets_count_empty_references_like_the_leaderboard(tmp_path: Path) -> None:
    rows = [scored("r", "m:x", "zh0", "zh", "我们今天去北京。", "我们今天去北京。"),
            scored("r", "m:x", "zh1", "zh", "。", "嗯"),  # empty after normalization
            scored("r", "m:x", "en0", "en", "the cat sat", "the cat sat down"),
            scored("r", "m:x", "en1", "en", "...", "")]
    with Store(str(tmp_path / "b.duckdb")) as store:
        store.insert_results(rows)
        _, buckets = store.query("SELECT empty_refs, wer, cer FROM buckets")
        _, board = store.query("SELECT empty_refs FROM leaderboard")
    ((empty, wer, cer),) = buckets
    assert empty == board[0][0] == 2
    assert wer == pytest.approx(1 / 3) and cer == pytest.approx(5 / (7 + 11))  # " down" over both scored refs


def test_rescore_keeps_the_unit_of_the_skip_flag(tmp_path: Path) -> None:
    """An old row stored with the raw form zh-TW and scored as English: rescoring stores zh-Hant,
    scores it by characters, and 30 missing characters (about 7 s of speech) are not a skip."""
    from evaluator.results.rescore import rescore_run

    reference = script("zh", 40.0, seed=9).text
    old = {"run_id": "r", "model": "m:x", "backend": "m", "dataset": "ds", "split": "test", "sample_id": "s0",
           "language": "zh-TW", "reference": reference, "hypothesis": reference[:50] + reference[80:],
           "audio_seconds": 40.0, "error": None, "ref_words": 1, "skipped": True}
    with Store(str(tmp_path / "o.duckdb")) as store:
        create_run(store, "r", normalizer=("whisper-english", "old"))
        store.insert_results([old])
        rescore_run(store, "r")
        _, rows = store.query("SELECT language, ref_words, max_deletion_run, skipped FROM results")
    ((language, ref_words, run, skipped),) = rows
    assert (language, ref_words, skipped) == ("zh-Hant", None, False) and 25 <= run <= 30


def test_dropped_chinese_samples_are_counted_in_the_cer_comparison(tmp_path: Path) -> None:
    clips = samples({"zh": 5, "en": 3})
    rows = [scored("r", m, sid, lang, ref, corrupt(ref, every)) for m, every in (("a:x", 4), ("b:y", 8))
            for sid, lang, ref in clips]
    rows = [r for r in rows if not (r["model"] == "b:y" and r["sample_id"] == "zh00")]  # missing on one side
    failed = next(r for r in rows if r["model"] == "a:x" and r["sample_id"] == "zh01")
    failed.update(error="oom", ref_words=None, ref_chars=None, char_errors=None)
    rows.append(scored("r", "a:x", "zh99", "zh", "。", "嗯"))  # empty after normalization on both
    rows.append(scored("r", "b:y", "zh99", "zh", "。", ""))
    with Store(str(tmp_path / "d.duckdb")) as store:
        create_run(store, "r", models=["a:x", "b:y"])
        store.insert_results(rows)
        c = compare(store.con, resamples=RESAMPLES, top=0)
    wer, cer = c.pairs
    assert (wer.metric, wer.n, wer.dropped_missing, wer.dropped_error, wer.dropped_empty_reference) == \
        ("wer", 3, 0, 0, 0)
    assert (cer.metric, cer.n, cer.dropped_missing, cer.dropped_error, cer.dropped_empty_reference) == \
        ("cer", 3, 1, 1, 1)
