"""Rankings that say what they cover: a model's samples in languages it does not transcribe are
"not transcribable", not errors; models are ranked on the samples every ranked model scored (and
the note says how many); a model that does not transcribe some languages, or a partial one, is
listed after them, not ranked; the CLI, the Python API and the report rank alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import evaluator
from evaluator.cli import main
from evaluator.data.shards import Sample
from evaluator.data.windows import LongForm
from evaluator.report import data as report_data
from evaluator.report.options import ReportOptions
from evaluator.results.ranking import leaderboard_table, ranked_leaderboard, scope_of
from evaluator.results.store import Store, connect_read_only
from evaluator.run.execute.stages import Prepare
from evaluator.scoring.languages import LanguagePlan
from evaluator.scoring.rows import finalize_row
from tests.cli.demo_db import make_demo_db

RUN = "r"
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet".split()  # 10 words a sample
LANGS = ["en"] * 6 + ["es"] * 5  # 11 samples
# Substituted words per sample, by model: A is worse than B on every sample.
WRONG = {"a": [2, 2, 1, 3, 2, 2, 1, 2, 3, 2, 2], "b": [1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0],
         "c": [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0], "d": [0] * 11}
FAILED_B = {2, 5, 9}  # samples whose rows failed for b (a crash, not a language)
STORED_D = 5  # d was interrupted after 5 of its 11 samples


def _not_transcribable_error(model: str, language: str) -> str:
    """The error the actor stores for a sample in a language the model does not transcribe."""
    prepare = Prepare(model, LanguagePlan(), frozenset({"en"}), LongForm("native", 30.0, 0.0), {})
    return prepare.row(Sample(f"s{0}", 0, None, "x", language))["error"]


def _row(model: str, i: int, error: str | None = None) -> dict:
    hyp = " ".join(["zulu"] * WRONG[model][i] + WORDS[WRONG[model][i]:])
    return finalize_row({"run_id": RUN, "model": model, "backend": "test", "dataset": "set", "split": "test",
                         "sample_id": f"s{i:02d}", "sample_index": i, "language": LANGS[i], "audio_seconds": 3.0,
                         "reference": " ".join(WORDS), "hypothesis": None if error else hyp, "error": error,
                         "inference_seconds": None if error else 0.1, "decode_seconds": 0.01, "device": "cpu",
                         "worker": "w", "long_form": "native", "num_chunks": 1})


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("ranking") / "r.duckdb")
    rows = []
    with Store(path) as store:
        store.create_run(RUN, RUN, {"models": [{"spec": m} for m in "abcd"]}, evaluator_version="test",
                         normalizer=("test", "1"), host={})
        for model in "abcd":
            store.plan_model(RUN, model, "set", "test", len(LANGS))
        for i in range(len(LANGS)):
            rows.append(_row("a", i))
            rows.append(_row("b", i, "RuntimeError: the model crashed" if i in FAILED_B else None))
            rows.append(_row("c", i, _not_transcribable_error("c", LANGS[i]) if LANGS[i] != "en" else None))
            if i < STORED_D:
                rows.append(_row("d", i))
        store.insert_results(rows)
        for model in "abcd":
            store.finish_model(RUN, model, 1.0, "complete", None)
        store.finish_run(RUN, "finished", {})
    return path


def _wer(model: str, samples: list[int]) -> float:
    """Corpus WER by construction: substituted words over reference words."""
    return sum(WRONG[model][i] for i in samples) / (len(WORDS) * len(samples))


def test_the_actors_language_error_is_what_the_queries_call_not_transcribable() -> None:
    error = _not_transcribable_error("faster-whisper:tiny.en", "es")
    assert error.startswith("LanguageError: faster-whisper:tiny.en does not transcribe")


def test_models_rank_on_the_samples_every_ranked_model_scored(db: str) -> None:
    con = connect_read_only(db)
    ranking = ranked_leaderboard(con, RUN, resamples=200)
    rows = {r[0]: dict(zip(ranking.columns, r, strict=True)) for r in ranking.rows}
    common = [i for i in range(len(LANGS)) if i not in FAILED_B]
    assert [r[0] for r in ranking.rows] == ["b", "a", "d", "c"]  # ranked best first, then the others (best first)
    assert rows["a"]["ranked"] and rows["b"]["ranked"] and not rows["c"]["ranked"] and not rows["d"]["ranked"]
    assert rows["a"]["wer"] == pytest.approx(_wer("a", common))  # not over all 11 of a's samples
    assert rows["b"]["wer"] == pytest.approx(_wer("b", common))
    assert rows["a"]["ranked_on"] == rows["b"]["ranked_on"] == 8
    assert rows["a"]["scored"] == 11 and rows["b"]["scored"] == 8 and rows["b"]["errors"] == 3  # own rows
    # c: English only, its Spanish samples are not transcribable, not errors; figures over its own rows
    assert (rows["c"]["errors"], rows["c"]["not_transcribable"], rows["c"]["scored"]) == (0, 5, 6)
    assert rows["c"]["wer"] == pytest.approx(_wer("c", list(range(6))))
    assert rows["d"]["wer"] == pytest.approx(_wer("d", list(range(STORED_D))))
    assert ranking.scope.note() == (
        "ranked on 8 of 11 samples (those every ranked model scored); not ranked: c (transcribes en only: 6 of "
        "11 samples, 5 not transcribable), d (partial: 5 of 11 samples stored)")


def test_the_leaderboard_view_keeps_not_transcribable_rows_out_of_errors(db: str) -> None:
    con = connect_read_only(db)
    got = dict(con.execute("SELECT model, (errors, not_transcribable, partial) FROM leaderboard "
                           "WHERE run_id = ?", [RUN]).fetchall())
    assert got["c"] == (0, 5, True) and got["b"] == (3, 0, True) and got["a"] == (0, 0, False)
    langs = dict(con.execute("SELECT language, (errors, not_transcribable) FROM leaderboard_languages "
                             "WHERE run_id = ? AND model = 'c'", [RUN]).fetchall())
    assert langs == {"en": (0, 0), "es": (0, 5)}
    runs = evaluator.open(db).runs()
    assert runs["errors"].tolist() == [3]  # b's crashes; c's Spanish samples are no errors


def test_english_only_models_alone_rank_on_english(tmp_path: Path) -> None:
    """When no model transcribes every language, all are ranked together on what they all scored."""
    path = str(tmp_path / "en.duckdb")
    with Store(path) as store:
        store.create_run(RUN, RUN, {}, evaluator_version="test", normalizer=("test", "1"), host={})
        store.plan_model(RUN, "c", "set", "test", len(LANGS))
        store.insert_results([_row("c", i, _not_transcribable_error("c", LANGS[i]) if LANGS[i] != "en" else None)
                              for i in range(len(LANGS))])
        store.finish_run(RUN, "finished", {})
    scope = scope_of(connect_read_only(path), RUN)
    assert scope.ranked == (("c", "set", "test"),) and scope.apart == {}
    assert scope.note() == "ranked on 6 of 11 samples (those every ranked model scored)"


def test_cli_api_and_report_rank_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The multilingual demo: Whisper base in two runtimes on 44 clips in 11 languages, English-only
    tiny.en with 40 of them not transcribable. tiny.en's WER over its 4 English clips is the lowest,
    yet it is not ranked above models scored on all 44."""
    db = make_demo_db(str(tmp_path / "demo.duckdb"))
    run = "demo-multilingual"
    assert main(["leaderboard", "--db", db, "--run", run, "--format", "json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    api = evaluator.open(db).leaderboard(run)
    report, note = report_data.ranked(connect_read_only(db), run, ReportOptions(resamples=200))
    order = [r["model"] for r in cli]
    assert order[-1] == "faster-whisper:tiny.en" and not cli[-1]["ranked"]
    assert api["model"].tolist() == order == [r["model"] for r in report]
    tiny = cli[-1]
    assert (tiny["errors"], tiny["not_transcribable"], tiny["scored"]) == (0, 40, 4)
    assert note == api.attrs["ranking"] == leaderboard_table(connect_read_only(db), run).note()
    assert note.startswith("ranked by WER on all 44 samples; not ranked: faster-whisper:tiny.en (transcribes en only")

    assert main(["leaderboard", "--db", db, "--run", run]) == 0
    table = capsys.readouterr().out
    assert "ranked by WER on all 44 samples" in " ".join(table.split())  # the title may wrap
    line = next(x for x in table.splitlines() if x.startswith("faster-whisper:tiny.en"))
    assert "40 not transcribable" in line and "not ranked" in line and "error" not in line


def test_a_runs_error_count_leaves_out_not_transcribable_rows(db: str, tmp_path: Path) -> None:
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(Path(db).read_bytes())
    with Store(str(copy)) as store:
        assert store.count_results(RUN) == {"rows": 4 * len(LANGS) - (len(LANGS) - STORED_D), "errors": 3}


def test_grouped_rows_rank_within_each_group(tmp_path: Path) -> None:
    db = make_demo_db(str(tmp_path / "demo.duckdb"))
    ranking = leaderboard_table(connect_read_only(db), "demo-multilingual", by="language", resamples=50)
    rows = [dict(zip(ranking.columns, r, strict=True)) for r in ranking.rows]
    languages = [r["language"] for r in rows]
    assert languages == sorted(languages, key=languages.index)  # each language's rows together
    en = [(r["model"], r["ranked"]) for r in rows if r["language"] == "en"]
    assert en[-1] == ("faster-whisper:tiny.en", False) and all(ranked for _, ranked in en[:-1])
    es = [r for r in rows if r["language"] == "es" and r["model"] == "faster-whisper:tiny.en"]
    assert [(r["scored"], r["errors"], r["not_transcribable"]) for r in es] == [(0, 0, 4)]
