"""Scoring: a text normalizer chosen by language, applied at scoring time to raw stored text,
then word and character alignment with jiwer.

Normalizers (one version for the set, ``NORMALIZER_VERSION``; each row stores its normalizer's
name and that version in ``results.normalizer``):

- ``whisper-english``: English (and rows with no language): Whisper's English normalizer
  (spelling, numbers, fillers such as "um" removed, diacritics removed).
- ``whisper-basic``: every other language: Whisper's basic normalizer (lower case, bracketed
  text and punctuation removed, diacritics and combining marks such as Devanagari vowel signs
  kept).
- ``whisper-basic-chars``: languages written without spaces (Chinese, Japanese, Thai, Lao,
  Khmer, Burmese): the basic normalizer, then whitespace removed; scored by characters (CER),
  no word counts (WER is not reported for them).

Corpus WER is computed in SQL from the stored counts (see the ``leaderboard`` view), never as
a mean of per-utterance WERs.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

__all__ = [
    "NORMALIZER_NAME",
    "NORMALIZER_VERSION",
    "Normalizer",
    "normalizer_for",
    "REPETITION_NGRAM",
    "TRUNCATION_RATIO",
    "Score",
    "normalize",
    "score",
    "corpus_wer",
    "repetition",
    "max_repeats",
]

# Long-form signals. A hypothesis with fewer than TRUNCATION_RATIO x the reference's words (on a
# reference of at least TRUNCATION_MIN_WORDS words) is flagged truncated; repetition is the
# share of repeated word n-grams of this size, beyond the reference's own share.
REPETITION_NGRAM = 5
TRUNCATION_RATIO = 0.5
TRUNCATION_MIN_WORDS = 10
# A hypothesis loops when a stretch of up to LOOP_MAX_PERIOD words repeats back to back
# (covering at least LOOP_MIN_SPAN words) LOOP_MIN_REPEATS times more than the reference repeats
# anything, when it is 1.5x the reference's length, or when 50+ words in a row are insertions.
LOOP_MAX_PERIOD = 40
LOOP_MIN_SPAN = 10
LOOP_MIN_REPEATS = 3
LOOP_RATIO = 1.5
LOOP_INSERTION_RUN = 50

# The run-level name of the normalizer set (stored in ``runs``; checked on ``--resume``).
NORMALIZER_NAME = "whisper-by-language"
# Bump when our use of any normalizer changes; the library's own version is appended.
NORMALIZER_VERSION = f"3+whisper-normalizer-{importlib.metadata.version('whisper-normalizer')}"


_PUNCTUATION_ONLY = re.compile(r"[^\w]+")


@cache
def _english():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


@cache
def _basic():
    from whisper_normalizer.basic import BasicTextNormalizer

    return BasicTextNormalizer(remove_diacritics=False, preserve_marks=True)


@dataclass(frozen=True)
class Normalizer:
    """A text normalizer.

    Attributes:
        name: ``whisper-english``, ``whisper-basic`` or ``whisper-basic-chars`` (Whisper's), or
            another profile's normalizer (:mod:`evaluator.scoring.profiles`).
        by_chars: the language is written without spaces: scored by characters only.
        version: stored with the name per row.
        apply: the text function of a normalizer other than Whisper's; its output is split on
            whitespace only (Whisper's drop tokens left with only punctuation too).
    """

    name: str
    by_chars: bool = False
    version: str = NORMALIZER_VERSION
    apply: Callable[[str], str] | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        """Name and version, as stored per row."""
        return f"{self.name} {self.version}"

    def __call__(self, text: str) -> str:
        if self.apply is not None:
            tokens = self.apply(text or "").split()
        else:
            raw = _english()(text or "") if self.name == "whisper-english" else _basic()(text or "")
            tokens = [t for t in raw.split() if not _PUNCTUATION_ONLY.fullmatch(t)]
        return "".join(tokens) if self.by_chars else " ".join(tokens)


ENGLISH = Normalizer("whisper-english")
BASIC = Normalizer("whisper-basic")
BASIC_CHARS = Normalizer("whisper-basic-chars", by_chars=True)


def normalizer_for(language: str | None) -> Normalizer:
    """The normalizer of a canonical language code (:mod:`evaluator.scoring.languages`); ``None`` (no
    language given or detected) is scored as English."""
    from evaluator.scoring.languages import SPACELESS

    if language is None or language == "en":
        return ENGLISH
    return BASIC_CHARS if language in SPACELESS else BASIC


def normalize(text: str, language: str | None = "en") -> str:
    """Normalize ``text`` with its language's normalizer; tokens left with only punctuation (a
    trailing ellipsis becomes ``.``) are dropped and whitespace is collapsed (removed, for a
    language written without spaces)."""
    return normalizer_for(language)(text)


@dataclass(frozen=True)
class Score:
    """Alignment counts of one hypothesis against its reference (both normalized).

    ``ref_words == 0`` means the reference is empty after normalization: such rows are kept
    in the database but excluded from WER. ``max_deletion_run`` is the longest run of
    consecutive reference words the hypothesis left out (a skipped stretch); it lies after the
    first ``deletion_run_at`` hypothesis words.

    With ``by_chars`` (a language written without spaces) the "word" counts count characters
    and are not stored as words: only CER is reported.
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
    max_deletion_run: int = 0
    deletion_run_at: int = 0
    repetition: float = 0.0
    max_repeats: int = 1
    ref_max_repeats: int = 1
    normalizer: str = ENGLISH.label
    by_chars: bool = False

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
    def looks_looping(self) -> bool:
        """A hallucination loop: a stretch repeated back to back, far too much text, or a long
        run of inserted words."""
        ratio = self.completion_ratio
        return (
            self.max_repeats >= self.ref_max_repeats + LOOP_MIN_REPEATS
            or (ratio is not None and self.ref_words >= TRUNCATION_MIN_WORDS and ratio > LOOP_RATIO)
            or self.max_insertion_run >= LOOP_INSERTION_RUN
        )

    @property
    def wer(self) -> float | None:
        return None if self.ref_words == 0 or self.by_chars else self.errors / self.ref_words

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


def max_repeats(words: list[str], max_period: int = LOOP_MAX_PERIOD, min_span: int = LOOP_MIN_SPAN) -> int:
    """The most times any stretch of 1 to ``max_period`` words occurs back to back, counting
    only repetitions that cover at least ``min_span`` words ("net" said 12 times is 12; a
    12-word sentence said five times in a row is 5; "night night night" is below the span: 1)."""
    best = 1
    for period in range(1, min(max_period, len(words) // 2) + 1):
        run = 0  # positions so far that equal the word one period earlier
        for i in range(period, len(words)):
            run = run + 1 if words[i] == words[i - period] else 0
            repeats = 1 + run // period
            if repeats > best and repeats * period >= min_span:
                best = repeats
    return best


def score(reference: str, hypothesis: str, language: str | None = "en", *, normalizer: Normalizer | None = None,
          pair: Callable[[str, str], tuple[str, str]] | None = None, merge_compounds: bool = False) -> Score:
    """Normalize both texts with the normalizer of ``language`` (a canonical code, see
    :func:`normalizer_for`) and align them (words and characters; characters only for a
    language written without spaces).

    A scoring profile (:mod:`evaluator.scoring.profiles`) passes its own ``normalizer``; ``pair``
    rewrites the two normalized texts together (the leaderboard's compound alignment);
    ``merge_compounds`` counts the word errors with ``kaldialign`` (adjacent words that spell a
    word of the other side are a match: "white paper" = "whitepaper"), hits being the reference
    words neither substituted nor deleted.
    """
    norm = normalizer or normalizer_for(language)
    ref_text, hyp_text = norm(reference), norm(hypothesis)
    if pair is not None and not norm.by_chars:
        ref_text, hyp_text = pair(ref_text, hyp_text)
    if merge_compounds and not norm.by_chars:
        return _merged(_align(ref_text, hyp_text, norm))
    if norm.by_chars:  # align characters as the tokens: the "word" counts count characters
        s = _align(" ".join(ref_text), " ".join(hyp_text), norm)
        return dataclasses.replace(s, reference_norm=ref_text, hypothesis_norm=hyp_text, ref_chars=len(ref_text),
                                   char_errors=s.errors if s.ref_words else len(hyp_text))
    return _align(ref_text, hyp_text, norm)


def _merged(s: Score) -> Score:
    """``s`` with its word counts from kaldialign's compound-merging edit distance."""
    import kaldialign

    counts = kaldialign.edit_distance(s.reference_norm.split(), s.hypothesis_norm.split(), merge_compounds=True)
    return dataclasses.replace(s, substitutions=counts["sub"], deletions=counts["del"], insertions=counts["ins"],
                               hits=s.ref_words - counts["sub"] - counts["del"])


def _align(ref: str, hyp: str, norm: Normalizer) -> Score:
    import jiwer

    labels = {"normalizer": norm.label, "by_chars": norm.by_chars}
    ref_words = len(ref.split())
    hyp_words = len(hyp.split())
    # Repetition beyond what the reference itself repeats (a chorus is not a loop).
    rep = max(0.0, repetition(hyp.split()) - repetition(ref.split()))
    loops = {"max_repeats": max_repeats(hyp.split()), "ref_max_repeats": max_repeats(ref.split())}
    if ref_words == 0:
        # jiwer rejects empty references; every hypothesis word is an insertion.
        return Score(ref, hyp, 0, 0, 0, hyp_words, 0, hyp_words, 0, len(hyp), hyp_words, repetition=rep, **loops,
                     **labels)
    if hyp_words == 0:
        return Score(ref, hyp, 0, 0, ref_words, 0, ref_words, 0, len(ref), len(ref),
                     max_deletion_run=ref_words, **loops, **labels)
    words = jiwer.process_words(ref, hyp)
    insertion_runs = [c.hyp_end_idx - c.hyp_start_idx for c in words.alignments[0] if c.type == "insert"]
    deletion_runs = [(c.ref_end_idx - c.ref_start_idx, c.hyp_start_idx)
                     for c in words.alignments[0] if c.type == "delete"]
    longest_deletion = max(deletion_runs, default=(0, 0), key=lambda r: r[0])
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
        max_deletion_run=longest_deletion[0],
        deletion_run_at=longest_deletion[1],
        repetition=rep,
        **loops,
        **labels,
    )


def corpus_wer(scores: list[Score]) -> float | None:
    """(S + D + I) / (S + D + H) over scores with a non-empty reference (scores by characters,
    of languages written without spaces, are left out)."""
    counted = [s for s in scores if s.ref_words > 0 and not s.by_chars]
    denominator = sum(s.substitutions + s.deletions + s.hits for s in counted)
    if denominator == 0:
        return None
    return sum(s.errors for s in counted) / denominator
