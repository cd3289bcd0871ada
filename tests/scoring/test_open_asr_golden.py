"""The ``open-asr-leaderboard`` profile against the leaderboard's own code: golden pairs made by
running github.com/huggingface/open_asr_leaderboard's ``normalizer/`` (the commit is in the data
file) with scripts/open_asr_golden.py, and corpus WER against kaldialign's ``batch_error_rate``."""

from __future__ import annotations

import json
from pathlib import Path

import kaldialign
import pytest

from evaluator.scoring.openasr import SOURCE_COMMIT
from evaluator.scoring.openasr.english import EnglishTextNormalizer
from evaluator.scoring.openasr.multilingual import MultilingualNormalizer, normalize_compound_pairs
from evaluator.scoring.profiles import profile

GOLDEN = json.loads((Path(__file__).parent / "data" / "open_asr_golden.json").read_text(encoding="utf-8"))
LEADERBOARD = profile("open-asr-leaderboard")


def test_the_golden_pairs_come_from_the_ported_commit() -> None:
    assert GOLDEN["commit"] == SOURCE_COMMIT
    assert SOURCE_COMMIT in LEADERBOARD.version
    assert len(GOLDEN["english"]) + len(GOLDEN["multilingual"]) + len(GOLDEN["compound_pairs"]) >= 300
    assert {x["language"] for x in GOLDEN["multilingual"]} == {"es", "fr", "de", "it", "pt"}


def test_english_normalizer_reproduces_every_pair() -> None:
    normalize = EnglishTextNormalizer()
    wrong = [(x["input"], normalize(x["input"]), x["expected"]) for x in GOLDEN["english"]
             if normalize(x["input"]) != x["expected"]]
    assert wrong == []
    # the leaderboard's rework of April 2026 (not whisper-normalizer's output)
    assert normalize("1, 2, 3, 4, 5, 6, 7, 8, 9, 10.") == "one 23456789 10"


def test_multilingual_normalizer_reproduces_every_pair() -> None:
    normalize = MultilingualNormalizer(remove_diacritics=False)
    wrong = [(x["language"], x["input"], normalize(x["input"], lang=x["language"]), x["expected"])
             for x in GOLDEN["multilingual"] if normalize(x["input"], lang=x["language"]) != x["expected"]]
    assert wrong == []


def test_compound_pairs_reproduce_every_pair() -> None:
    for x in GOLDEN["compound_pairs"]:
        (ref,), (hyp,) = normalize_compound_pairs([x["reference"]], [x["hypothesis"]])
        assert [ref, hyp] == x["expected"], x


def test_profile_normalize_is_the_leaderboards_per_language() -> None:
    english = {x["input"]: x["expected"] for x in GOLDEN["english"]}
    for text in ("$20 million", "the b b c", "colour", "um, I think so", "Micheal and Stephen"):
        assert LEADERBOARD.normalize(text, "en") == " ".join(english[text].split())
        assert LEADERBOARD.normalize(text, None) == " ".join(english[text].split())  # no language: English
    spanish = [x for x in GOLDEN["multilingual"] if x["language"] == "es"]
    for x in spanish:
        assert LEADERBOARD.normalize(x["input"], "es") == " ".join(x["expected"].split())


@pytest.mark.parametrize("name", sorted(GOLDEN["score_results"]))
def test_corpus_wer_equals_the_leaderboards_score_results(name: str) -> None:
    """The same (reference, transcript) pairs scored by the leaderboard's score_results (from a
    manifest) and by the profile: WER to 0.01 point, and the same error counts."""
    scored = GOLDEN["score_results"][name]
    language = scored["language"]
    scores = [LEADERBOARD.score(x["reference"], x["hypothesis"], language) for x in scored["items"]]
    errors = {"ins": sum(s.insertions for s in scores), "del": sum(s.deletions for s in scores),
              "sub": sum(s.substitutions for s in scores)}
    assert errors == {k: scored["expected"][k] for k in ("ins", "del", "sub")}
    pairs = [(x["reference"], x["hypothesis"]) for x in scored["items"]]
    assert round(100 * LEADERBOARD.corpus_wer(pairs, language), 2) == scored["expected"]["wer"]


SETS = [
    [("the white paper is out", "the whitepaper is out"), ("a whitepaper", "a white paper"),
     ("ice cream and cake", "icecream and a cake")],
    [("it was the best of times", "it was the best of time"), ("hello world", ""), ("Mr. Smith", "mister smith")],
    [("one two three", "one two three"), ("north east wind", "northeast wind blows"),
     ("data base admin", "database admin")],
]


@pytest.mark.parametrize("pairs", SETS)
def test_per_row_counts_sum_to_kaldialigns_batch_error_rate(pairs: list[tuple[str, str]]) -> None:
    scores = [LEADERBOARD.score(r, h, "en") for r, h in pairs]
    batch = kaldialign.batch_error_rate([s.reference_norm.split() for s in scores],
                                        [s.hypothesis_norm.split() for s in scores], merge_compounds=True)
    assert sum(s.errors for s in scores) == batch["total"]
    assert sum(s.ref_words for s in scores) == batch["ref_len"]
    # the views' denominator (S + D + H) is the reference length, compounds merged or not
    assert all(s.substitutions + s.deletions + s.hits == s.ref_words for s in scores)
    expected = batch["total"] / batch["ref_len"]
    assert LEADERBOARD.corpus_wer(pairs, "en") == pytest.approx(expected)


def test_split_compounds_are_no_error_only_under_the_leaderboard_profile() -> None:
    assert LEADERBOARD.score("the white paper", "the whitepaper").errors == 0
    assert profile("whisper").score("the white paper", "the whitepaper").errors == 2
    german = LEADERBOARD.score("die Haustür ist offen", "die Haus Tür ist offen", "de")
    assert german.errors == 0 and german.ref_words == 4


def test_a_reference_empty_after_normalization_is_left_out_as_the_leaderboard_leaves_it_out() -> None:
    """The leaderboard drops such samples before inference (``prepare_data`` keeps rows whose
    normalized text is not empty); the profile's corpus WER leaves them out the same way."""
    assert LEADERBOARD.corpus_wer([("hello world", "hello world"), ("[noise]", "noise here")]) == 0.0
    assert LEADERBOARD.score("[noise]", "noise here").ref_words == 0
