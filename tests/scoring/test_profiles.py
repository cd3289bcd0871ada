"""Scoring profiles: choosing one, what each counts, and the row and rescore paths that use them."""

from __future__ import annotations

import pytest

from evaluator.errors import ConfigError
from evaluator.results.rescore import rescore_run
from evaluator.results.store import Store
from evaluator.scoring.metrics import NORMALIZER_VERSION, score
from evaluator.scoring.profiles import PROFILE_NAMES, profile
from evaluator.scoring.rows import finalize_row


def test_an_unknown_profile_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="whisper, open-asr-leaderboard, exact"):
        profile("leaderboard")
    assert PROFILE_NAMES == ("whisper", "open-asr-leaderboard", "exact")


def test_a_stored_label_names_its_profile() -> None:
    leaderboard = profile("open-asr-leaderboard")
    assert profile(leaderboard.label) is leaderboard
    assert profile("whisper").version == NORMALIZER_VERSION


def test_whisper_profile_scores_as_before() -> None:
    for ref, hyp, lang in [("Hello, world.", "hello world", "en"), ("Der Zug fährt.", "der zug fahrt", "de"),
                           ("今天天气很好。", "今天天气很好", "zh")]:
        assert profile("whisper").score(ref, hyp, lang) == score(ref, hyp, lang)


def test_exact_counts_case_and_punctuation() -> None:
    exact = profile("exact")
    s = exact.score("Hello, world.", "hello world")
    assert (s.substitutions, s.ref_words, s.normalizer) == (2, 2, f"exact {exact.version}")
    assert exact.score("Hello,  world.", " Hello, world.").errors == 0  # whitespace only is not an error
    assert exact.score("今天天气很好。", "今天天气很好", "zh").char_errors == 1  # by characters, punctuation counts


def test_leaderboard_spells_out_digits_in_the_language() -> None:
    leaderboard = profile("open-asr-leaderboard")
    s = leaderboard.score("Tengo 25 años.", "tengo veinticinco años", "es")
    assert s.errors == 0 and s.reference_norm == "tengo veinticinco años"
    assert leaderboard.normalize("Ça coûte 20 euros.", "fr") == "ça coûte vingt euros"  # diacritics kept
    # English goes the other way: spelled-out numbers become digits
    assert leaderboard.normalize("twenty five dollars", "en") == "$25"


def test_finalize_row_scores_with_the_rows_profile_and_stores_its_label() -> None:
    def row(scoring: str | None) -> dict:
        return {"reference": "The white paper, version 2.", "hypothesis": "the whitepaper version two",
                "language": "en", "error": None, "audio_seconds": 3.0, **({"scoring": scoring} if scoring else {})}

    default, leaderboard = finalize_row(row(None)), finalize_row(row("open-asr-leaderboard"))
    assert default["scoring"] == profile("whisper").label
    assert leaderboard["scoring"] == profile("open-asr-leaderboard").label
    assert leaderboard["normalizer"].startswith("open-asr-english ")
    assert (leaderboard["substitutions"], leaderboard["deletions"], leaderboard["insertions"]) == (0, 0, 0)
    assert default["substitutions"] + default["deletions"] + default["insertions"] == 2
    failed = finalize_row({**row("exact"), "error": "RuntimeError: boom"})
    assert failed["scoring"] == profile("exact").label and "hits" not in failed


def _row(sample_id: str, reference: str, hypothesis: str, language: str = "en") -> dict:
    return {"run_id": "r1", "model": "m", "backend": "b", "dataset": "d", "split": "test", "sample_id": sample_id,
            "language": language, "reference": reference, "hypothesis": hypothesis, "error": None,
            "audio_seconds": 2.0}


def test_rescore_with_a_profile_scores_as_a_run_made_with_it(tmp_path) -> None:
    pairs = [("en1", "The white paper costs $20.", "the whitepaper costs twenty dollars", "en"),
             ("en2", "Colour me impressed, Micheal.", "color me impressed michael", "en"),
             ("es1", "Tengo 25 años.", "Tengo veinticinco años.", "es"),
             ("de1", "Die Haustür ist offen.", "die Haus Tür ist offen", "de")]
    with Store(str(tmp_path / "r.duckdb")) as store:
        store.create_run("r1", None, {}, evaluator_version="0", normalizer=("whisper-by-language", NORMALIZER_VERSION),
                         host={})
        store.insert_results([finalize_row({**_row(i, r, h, lang), "scoring": "whisper"}) for i, r, h, lang in pairs])
        result = rescore_run(store, "r1", "open-asr-leaderboard")
        leaderboard = profile("open-asr-leaderboard")
        assert (result.rows, result.scoring) == (4, leaderboard.label)
        cols = ("scoring", "normalizer", "reference_norm", "hypothesis_norm", "hits", "substitutions", "deletions",
                "insertions", "ref_words", "hyp_words", "char_errors")
        _, stored = store.query(f"SELECT sample_id, {', '.join(cols)} FROM results ORDER BY sample_id")
        direct = {i: finalize_row({**_row(i, r, h, lang), "scoring": "open-asr-leaderboard"})
                  for i, r, h, lang in pairs}
        for sample_id, *values in stored:
            assert tuple(values) == tuple(direct[sample_id][c] for c in cols)
        run = store.get_run("r1")
        assert (run["scoring"], run["normalizer_name"], run["normalizer_version"]) == (
            "open-asr-leaderboard", "open-asr-leaderboard", leaderboard.version)
        _, (wer,) = store.query("SELECT wer FROM leaderboard WHERE run_id = 'r1'")
        assert wer == (pytest.approx(0.0),)  # every pair differs only by the leaderboard's normalization
        back = rescore_run(store, "r1")  # the run's own profile now: the leaderboard's
        assert back.scoring == leaderboard.label and back.changed == 0


def test_a_run_config_names_a_profile_and_resumes_with_the_runs_own(tmp_path) -> None:
    from evaluator.run.execute.recorder import check_resumable, resume_config
    from evaluator.run.plan.config import RunConfig

    tiny = {"dataset": "builtin:sample", "model": "faster-whisper:tiny.en"}
    config = RunConfig.from_mapping({**tiny, "scoring": "exact"})
    assert config.scoring == "exact"
    with pytest.raises(ConfigError, match="choose one of: whisper, open-asr-leaderboard, exact"):
        RunConfig.from_mapping({**tiny, "scoring": "wer"})
    leaderboard = profile("open-asr-leaderboard")
    with Store(str(tmp_path / "r.duckdb")) as store:
        store.create_run("r1", None, config.to_json_dict(), evaluator_version="0",
                         normalizer=(leaderboard.normalizer_set, leaderboard.version), host={},
                         scoring=leaderboard.name)
        check_resumable(store.get_run("r1"), {})  # scored with the current version of its profile
        assert resume_config(store, "r1").scoring == "open-asr-leaderboard"  # the run's, not the config's
        store.update_run("r1", normalizer_version="0+older")
        with pytest.raises(ConfigError, match="cannot be resumed.*rescore"):
            check_resumable(store.get_run("r1"), {})
