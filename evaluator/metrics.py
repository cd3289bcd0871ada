"""Scoring: one versioned text normalizer applied at scoring time to raw stored text, then
word and character alignment with jiwer.

Corpus WER is computed in SQL from the stored counts (see the ``leaderboard`` view), never as
a mean of per-utterance WERs.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from functools import cache

__all__ = [
    "NORMALIZER_NAME",
    "NORMALIZER_VERSION",
    "REPETITION_NGRAM",
    "TRUNCATION_RATIO",
    "Score",
    "normalize",
    "score",
    "corpus_wer",
    "repetition",
]

# Long-form signals. A hypothesis with fewer than TRUNCATION_RATIO x the reference's words (on a
# reference of at least TRUNCATION_MIN_WORDS words) is flagged truncated; repetition is the
# share of repeated word n-grams of this size, beyond the reference's own share.
REPETITION_NGRAM = 5
TRUNCATION_RATIO = 0.5
TRUNCATION_MIN_WORDS = 10

NORMALIZER_NAME = "whisper-english"
# Bump when our use of the normalizer changes; the library's own version is appended.
NORMALIZER_VERSION = f"2+whisper-normalizer-{importlib.metadata.version('whisper-normalizer')}"


_PUNCTUATION_ONLY = re.compile(r"[^\w]+")


@cache
def _normalizer():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalize(text: str) -> str:
    """Whisper's English text normalizer; tokens left with only punctuation (a trailing
    ellipsis becomes ``.``) are dropped and whitespace is collapsed."""
    return " ".join(t for t in _normalizer()(text or "").split() if not _PUNCTUATION_ONLY.fullmatch(t))


@dataclass(frozen=True)
class Score:
    """Alignment counts of one hypothesis against its reference (both normalized).

    ``ref_words == 0`` means the reference is empty after normalization: such rows are kept
    in the database but excluded from WER.
    """

    reference_norm: str
    hypothesis_norm: str
    hits: int
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int
    hyp_words: int
    ref_chars: int
    char_errors: int
    max_insertion_run: int = 0
    repetition: float = 0.0

    @property
    def completion_ratio(self) -> float | None:
        """Hypothesis words / reference words: ~1 when complete, far below 1 when truncated,
        above 1 when the model loops or hallucinates."""
        return None if self.ref_words == 0 else self.hyp_words / self.ref_words

    @property
    def looks_truncated(self) -> bool:
        ratio = self.completion_ratio
        return ratio is not None and self.ref_words >= TRUNCATION_MIN_WORDS and ratio < TRUNCATION_RATIO

    @property
    def wer(self) -> float | None:
        return None if self.ref_words == 0 else self.errors / self.ref_words

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions


def repetition(words: list[str], n: int = REPETITION_NGRAM) -> float:
    """Share of word n-grams that repeat an earlier n-gram (0 for fewer than n words).
    A sentence looped many times scores close to 1; ordinary speech close to 0."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def score(reference: str, hypothesis: str) -> Score:
    """Normalize both texts and align them (words and characters)."""
    import jiwer

    ref = normalize(reference)
    hyp = normalize(hypothesis)
    ref_words = len(ref.split())
    hyp_words = len(hyp.split())
    # Repetition beyond what the reference itself repeats (a chorus is not a loop).
    rep = max(0.0, repetition(hyp.split()) - repetition(ref.split()))
    if ref_words == 0:
        # jiwer rejects empty references; every hypothesis word is an insertion.
        return Score(ref, hyp, 0, 0, 0, hyp_words, 0, hyp_words, 0, len(hyp), hyp_words, rep)
    if hyp_words == 0:
        return Score(ref, hyp, 0, 0, ref_words, 0, ref_words, 0, len(ref), len(ref))
    words = jiwer.process_words(ref, hyp)
    insertion_runs = [c.hyp_end_idx - c.hyp_start_idx for c in words.alignments[0] if c.type == "insert"]
    chars = jiwer.process_characters(ref, hyp)
    char_errors = chars.substitutions + chars.deletions + chars.insertions
    return Score(
        reference_norm=ref,
        hypothesis_norm=hyp,
        hits=words.hits,
        substitutions=words.substitutions,
        deletions=words.deletions,
        insertions=words.insertions,
        ref_words=ref_words,
        hyp_words=hyp_words,
        ref_chars=len(ref),
        char_errors=char_errors,
        max_insertion_run=max(insertion_runs, default=0),
        repetition=rep,
    )


def corpus_wer(scores: list[Score]) -> float | None:
    """(S + D + I) / (S + D + H) over scores with a non-empty reference."""
    counted = [s for s in scores if s.ref_words > 0]
    denominator = sum(s.substitutions + s.deletions + s.hits for s in counted)
    if denominator == 0:
        return None
    return sum(s.errors for s in counted) / denominator
