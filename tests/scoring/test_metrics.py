"""Scoring: normalization, word/char alignment counts and corpus WER."""

from __future__ import annotations

import jiwer
import pytest

from evaluator.scoring.metrics import NORMALIZER_VERSION, Score, corpus_wer, normalize, score

# reference, hypothesis, (hits, substitutions, deletions, insertions, ref_words, hyp_words)
COUNTS = [
    pytest.param("the cat sat", "the cat sat", (3, 0, 0, 0, 3, 3), id="exact"),
    pytest.param("the cat sat", "the dog sat", (2, 1, 0, 0, 3, 3), id="substitution"),
    pytest.param("the cat sat", "the sat", (2, 0, 1, 0, 3, 2), id="deletion"),
    pytest.param("the cat sat", "the cat sat down", (3, 0, 0, 1, 3, 4), id="insertion"),
    pytest.param("a b c d", "a x c", (2, 1, 1, 0, 4, 3), id="sub+del"),
    pytest.param("a b", "x y z w", (0, 2, 0, 2, 2, 4), id="sub+ins"),
    pytest.param("hello world", "", (0, 0, 2, 0, 2, 0), id="empty-hyp-all-deletions"),
    pytest.param("hello world", "   ", (0, 0, 2, 0, 2, 0), id="blank-hyp-all-deletions"),
    pytest.param("", "", (0, 0, 0, 0, 0, 0), id="both-empty"),
    pytest.param("", "hello there", (0, 0, 0, 2, 0, 2), id="empty-ref-insertions"),
    pytest.param("?!", "hello", (0, 0, 0, 1, 0, 1), id="punct-only-ref-is-empty"),
    pytest.param("[noise] (laughs)", "", (0, 0, 0, 0, 0, 0), id="annotation-only-ref-is-empty"),
]


@pytest.mark.parametrize(("reference", "hypothesis", "expected"), COUNTS)
def test_score_counts(reference: str, hypothesis: str, expected: tuple[int, ...]) -> None:
    s = score(reference, hypothesis)
    got = (s.hits, s.substitutions, s.deletions, s.insertions, s.ref_words, s.hyp_words)
    assert got == expected
    assert s.errors == s.substitutions + s.deletions + s.insertions


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected_wer"),
    [
        ("the cat sat", "the cat sat", 0.0),
        ("the cat sat", "the dog sat", 1 / 3),
        ("the cat sat", "the cat sat down", 1 / 3),
        ("hello world", "", 1.0),
        ("a b", "x y z w", 2.0),  # WER is not capped at 1
        ("", "", None),
        ("", "anything at all", None),  # empty reference: kept, but not scored
    ],
)
def test_score_wer(reference: str, hypothesis: str, expected_wer: float | None) -> None:
    wer = score(reference, hypothesis).wer
    if expected_wer is None:
        assert wer is None
    else:
        assert wer == pytest.approx(expected_wer)


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("Hello, World!", "hello world"),
        ("HELLO WORLD", "hello world."),
        ("  hello    world  ", "hello world"),
        ("Well; it's OK.", "well it is ok"),
        ("Mr. Smith", "mister smith"),
        ("colour", "color"),
        ("twenty five", "25"),
        ("twenty-five percent", "25%"),
        ("one thousand", "1,000"),
        ("five dollars", "$5"),
        ("um, hello", "hello"),
        ("[noise] hello (laughs)", "hello"),
    ],
)
def test_normalizer_removes_surface_differences(reference: str, hypothesis: str) -> None:
    s = score(reference, hypothesis)
    assert s.reference_norm == s.hypothesis_norm
    assert (s.errors, s.char_errors, s.wer) == (0, 0, 0.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("Hello, World!", "hello world"),
        ("twenty five", "25"),
        ("it's", "it is"),
        ("a\tb\n c", "a b c"),
        ("one two three", "123"),  # Whisper joins spelled-out digit sequences

    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize("reference", ["Hello world...", "Hello world\u2026"])
def test_trailing_ellipsis_is_punctuation(reference: str) -> None:
    assert score(reference, "hello world").errors == 0


# reference, hypothesis, ref_chars, char_errors (spaces are characters too)
CHARS = [
    pytest.param("abc", "abc", 3, 0, id="exact"),
    pytest.param("abc", "abd", 3, 1, id="substitution"),
    pytest.param("hello world", "hello word", 11, 1, id="deletion"),
    pytest.param("hello world", "hello worlds", 11, 1, id="insertion"),
    pytest.param("Hello, World!", "hello world", 11, 0, id="normalized-away"),
    pytest.param("a b", "", 3, 3, id="empty-hyp"),
    pytest.param("", "", 0, 0, id="both-empty"),
]


@pytest.mark.parametrize(("reference", "hypothesis", "ref_chars", "char_errors"), CHARS)
def test_score_char_counts(reference: str, hypothesis: str, ref_chars: int, char_errors: int) -> None:
    s = score(reference, hypothesis)
    assert (s.ref_chars, s.char_errors) == (ref_chars, char_errors)


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("the cat sat on the mat", "the cat sat on a mat"),
        ("the quick brown fox", "quick brown fox jumps"),
        ("Hello, World! How are you?", "hello word how are you doing"),
        ("I have twenty five apples.", "i have 25 apple"),
        ("red green blue yellow", "red gray blue yellow pink"),
        ("hello world", "completely different words here"),
    ],
)
def test_score_agrees_with_jiwer_on_normalized_text(reference: str, hypothesis: str) -> None:
    s = score(reference, hypothesis)
    assert s.wer == pytest.approx(jiwer.wer(s.reference_norm, s.hypothesis_norm))
    assert s.char_errors / s.ref_chars == pytest.approx(jiwer.cer(s.reference_norm, s.hypothesis_norm))
    assert s.hits + s.substitutions + s.deletions == s.ref_words
    assert s.hits + s.substitutions + s.insertions == s.hyp_words


def _counts_wer(scores: list[Score]) -> float:
    errors = sum(s.substitutions + s.deletions + s.insertions for s in scores if s.ref_words)
    words = sum(s.substitutions + s.deletions + s.hits for s in scores if s.ref_words)
    return errors / words


@pytest.mark.parametrize(
    "pairs",
    [
        [("a b c", "a b c")],
        [("a b c", "a x c"), ("d e", "d")],
        [("hello", "goodbye"), ("the quick brown fox jumps over the lazy dog", "the quick brown fox "
                                                                                "jumps over the lazy dog")],
        [("the cat", "the cat sat"), ("", "noise"), ("dog", "")],
    ],
)
def test_corpus_wer_is_summed_counts(pairs: list[tuple[str, str]]) -> None:
    scores = [score(r, h) for r, h in pairs]
    assert corpus_wer(scores) == pytest.approx(_counts_wer(scores))


def test_corpus_wer_is_not_mean_of_utterance_wers() -> None:
    scores = [
        score("hello", "goodbye"),  # 1 error / 1 word: WER 1.0
        score("the quick brown fox jumps over the lazy dog", "the quick brown fox jumps over the lazy dog"),
    ]
    mean_of_wers = sum(s.wer for s in scores) / len(scores)
    assert mean_of_wers == pytest.approx(0.5)
    assert corpus_wer(scores) == pytest.approx(1 / 10)


def test_corpus_wer_ignores_empty_references() -> None:
    scored = [score("a b c d", "a b x d")]
    with_empty = [*scored, score("", "lots of inserted words"), score("?!", "")]
    assert corpus_wer(with_empty) == pytest.approx(corpus_wer(scored)) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "pairs",
    [[], [("", "")], [("", "some words")], [("[noise]", "hello")]],
)
def test_corpus_wer_without_scorable_rows_is_none(pairs: list[tuple[str, str]]) -> None:
    assert corpus_wer([score(r, h) for r, h in pairs]) is None


def test_normalizer_version_names_library_version() -> None:
    assert "whisper-normalizer-" in NORMALIZER_VERSION
