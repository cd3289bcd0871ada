"""Scoring profiles: how a transcript is normalized and its word errors counted, chosen per run
(``evaluator run --scoring NAME``), stored in ``runs`` and, with its version, in every row
(``results.scoring``), and applied again to a finished run by ``evaluator rescore --scoring NAME``.

- ``whisper`` (the default): Whisper's English normalizer for English, its basic normalizer
  (diacritics kept) for other languages, word errors counted by jiwer
  (:mod:`evaluator.scoring.metrics`).
- ``open-asr-leaderboard``: as the Open ASR Leaderboard scores (github.com/huggingface/
  open_asr_leaderboard, ``normalizer/`` at commit d1e99b2): English through its own
  ``EnglishTextNormalizer`` (:mod:`evaluator.scoring.openasr.english`); other languages through
  its multilingual normalizer with diacritics kept and digits spelled out by ``num2words`` in the
  language, then its compound-boundary alignment of each reference with its hypothesis; word
  errors counted by ``kaldialign`` with ``merge_compounds=True`` ("white paper" against
  "whitepaper" is no error). Corpus WER is the sum of errors over the sum of reference words,
  which is what ``kaldialign.batch_error_rate`` computes.
- ``exact``: the raw texts split on whitespace, case and punctuation kept: for products that
  show the text as written.

Languages written without spaces are scored by characters (CER) under every profile.
Use :func:`profile` to get one; :meth:`ScoringProfile.normalize` and :meth:`ScoringProfile.score`
are what other code (exports, predictions made elsewhere) calls.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from evaluator.errors import ConfigError
from evaluator.scoring.languages import SPACELESS, language_group
from evaluator.scoring.metrics import NORMALIZER_NAME, NORMALIZER_VERSION, Normalizer, Score, normalizer_for
from evaluator.scoring.metrics import score as _score

__all__ = ["DEFAULT_PROFILE", "PROFILE_NAMES", "ScoringProfile", "profile"]

DEFAULT_PROFILE = "whisper"
PROFILE_NAMES = ("whisper", "open-asr-leaderboard", "exact")
# Bump when a profile's rules change (the libraries' versions are appended where they matter).
_OPEN_ASR_VERSION = "1+d1e99b2"
_EXACT_VERSION = "1"
_OPEN_ASR_NEEDS = ("kaldialign", "num2words")


@dataclass(frozen=True)
class ScoringProfile:
    """One way of scoring.

    Attributes:
        name: ``whisper``, ``open-asr-leaderboard`` or ``exact``.
        version: changes whenever the profile would score a text differently.
        normalizer_set: the name ``runs.normalizer_name`` records.
        description: one line for tables and docs.
        merge_compounds: word errors counted by kaldialign with compound merging.
        compound_pairs: other languages than English: the leaderboard's compound-boundary
            alignment of each normalized pair before counting.
    """

    name: str
    version: str
    normalizer_set: str
    description: str
    merge_compounds: bool = False
    compound_pairs: bool = False

    @property
    def label(self) -> str:
        """Name and version, as ``results.scoring`` stores them."""
        return f"{self.name} {self.version}"

    def normalizer_for(self, language: str | None) -> Normalizer:
        """The normalizer of a canonical language code (``None``: scored as English)."""
        return _normalizer(self.name, self.version, language)

    def normalize(self, text: str, language: str | None = "en") -> str:
        """``text`` as this profile compares it (before any pairwise compound alignment)."""
        return self.normalizer_for(language)(text)

    def score(self, reference: str, hypothesis: str, language: str | None = "en") -> Score:
        """Normalize and align one pair, counting word errors this profile's way."""
        english = language is None or language_group(language) == "en"
        pair = _compound_pair if self.compound_pairs and not english else None
        return _score(reference, hypothesis, language, normalizer=self.normalizer_for(language), pair=pair,
                      merge_compounds=self.merge_compounds)

    def corpus_wer(self, pairs: Iterable[tuple[str, str]], language: str | None = "en") -> float | None:
        """Corpus WER of (reference, hypothesis) pairs: errors summed over reference words summed,
        pairs whose reference normalizes to nothing left out (``None``: no reference words)."""
        scores = [self.score(r, h, language) for r, h in pairs]
        counted = [s for s in scores if s.ref_words > 0 and not s.by_chars]
        words = sum(s.ref_words for s in counted)
        return sum(s.errors for s in counted) / words if words else None


def _compound_pair(reference: str, hypothesis: str) -> tuple[str, str]:
    from evaluator.scoring.openasr.multilingual import normalize_compound_pairs

    (ref,), (hyp,) = normalize_compound_pairs([reference], [hypothesis])
    return ref, hyp


@cache
def _english_oal() -> Any:
    from evaluator.scoring.openasr.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


@cache
def _multilingual_oal() -> Any:
    from evaluator.scoring.openasr.multilingual import MultilingualNormalizer

    return MultilingualNormalizer(remove_diacritics=False)


def _identity(text: str) -> str:
    return text


@cache
def _normalizer(name: str, version: str, language: str | None) -> Normalizer:
    spaceless = language is not None and (language in SPACELESS or language_group(language) in SPACELESS)
    if name == "whisper":
        return normalizer_for(language)
    if name == "exact":
        return Normalizer("exact-chars" if spaceless else "exact", by_chars=spaceless, version=version,
                          apply=_identity)
    if language is None or language_group(language) == "en":
        return Normalizer("open-asr-english", version=version, apply=lambda text: _english_oal()(text))
    lang = language_group(language)
    return Normalizer("open-asr-multilingual-chars" if spaceless else "open-asr-multilingual", by_chars=spaceless,
                      version=version, apply=lambda text: _multilingual_oal()(text, lang=lang))


def _versions(names: Iterable[str]) -> str:
    return "+".join(f"{n}-{importlib.metadata.version(n)}" for n in names)


def profile(name: str | None = DEFAULT_PROFILE) -> ScoringProfile:
    """The scoring profile called ``name``; a stored label ``NAME VERSION`` (``results.scoring``)
    is accepted too, and ``None`` (a row or run stored before profiles) is ``whisper``.

    Raises:
        ConfigError: no such profile (the message lists them), or the libraries it needs are not
            installed (the message names the install command).
    """
    return _profile((name or DEFAULT_PROFILE).split()[0])


@cache
def _profile(name: str) -> ScoringProfile:
    if name == "whisper":
        return ScoringProfile("whisper", NORMALIZER_VERSION, NORMALIZER_NAME,
                              "Whisper's normalizers (English; basic for other languages), jiwer counts")
    if name == "exact":
        return ScoringProfile("exact", _EXACT_VERSION, "exact",
                              "raw text split on whitespace: case and punctuation count")
    if name == "open-asr-leaderboard":
        missing = [n for n in _OPEN_ASR_NEEDS if importlib.util.find_spec(n) is None]
        if missing:
            raise ConfigError(f"scoring profile open-asr-leaderboard needs {' and '.join(missing)}: "
                              "pip install 'evaluator[open-asr]'")
        version = f"{_OPEN_ASR_VERSION}+{_versions(_OPEN_ASR_NEEDS)}"
        return ScoringProfile("open-asr-leaderboard", version, "open-asr-leaderboard",
                              "the Open ASR Leaderboard's normalizers and kaldialign counts (compounds merged)",
                              merge_compounds=True, compound_pairs=True)
    raise ConfigError(f"unknown scoring profile {name!r}; choose one of: {', '.join(PROFILE_NAMES)}")
