"""The Open ASR Leaderboard's English text normalizer (``EnglishTextNormalizer``): lower case,
bracketed text and fillers removed, contractions and titles expanded, symbols and diacritics
removed, split compounds joined ("wi fi" -> "wifi"), numbers as digits, British spellings and
name variants mapped to one form, spelled-out acronyms joined ("b b c" -> "bbc").

Ported from github.com/huggingface/open_asr_leaderboard, ``normalizer/normalizer.py`` and
``normalizer/english_abbreviations.py`` (its mappings are ``english.json`` beside this module) at
commit d1e99b2 (2026-08-21), which derive from OpenAI Whisper's normalizer. Copyright 2022 The
OpenAI team and The HuggingFace Team; licensed under the Apache License, Version 2.0
(http://www.apache.org/licenses/LICENSE-2.0). Changes: the mappings are read from JSON, type
hints; the logic is unchanged (tests/scoring/test_open_asr_golden.py checks it against the
source's own outputs).
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path

from evaluator.scoring.openasr.numbers import EnglishNumberNormalizer

__all__ = ["EnglishTextNormalizer", "remove_symbols", "remove_symbols_and_diacritics", "english_mappings"]


@cache
def english_mappings() -> dict[str, dict[str, str]]:
    """The source's ``english_spelling_normalizer``, ``english_name_normalizer`` and
    ``english_compound_normalizer`` (as ``spelling``, ``names``, ``compounds``)."""
    return json.loads((Path(__file__).parent / "english.json").read_text(encoding="utf-8"))


# non-ASCII letters that are not separated by "NFKD" normalization
ADDITIONAL_DIACRITICS = {
    "œ": "oe",
    "Œ": "OE",
    "ø": "o",
    "Ø": "O",
    "æ": "ae",
    "Æ": "AE",
    "ß": "ss",
    "ẞ": "SS",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "th",
    "ł": "l",
    "Ł": "L",
}


def remove_symbols_and_diacritics(s: str, keep: str = "") -> str:
    """
    Replace any other markers, symbols, and punctuations with a space, and drop any diacritics (category 'Mn' and some
    manual mappings)
    """

    def replace_character(char):
        if char in keep:
            return char
        elif char in ADDITIONAL_DIACRITICS:
            return ADDITIONAL_DIACRITICS[char]

        elif unicodedata.category(char) == "Mn":
            return ""

        elif unicodedata.category(char)[0] in "MSP":
            return " "

        return char

    return "".join(replace_character(c) for c in unicodedata.normalize("NFKD", s))


def remove_symbols(s: str) -> str:
    """
    Replace any other markers, symbols, punctuations with a space, keeping diacritics
    """
    return "".join(" " if unicodedata.category(c)[0] in "MSP" else c for c in unicodedata.normalize("NFKC", s))


class EnglishSpellingNormalizer:
    """
    Applies British-American spelling mappings as listed in [1].

    [1] https://www.tysto.com/uk-us-spelling-list.html
    """

    def __init__(self, english_spelling_mapping: dict[str, str]) -> None:
        self.mapping = english_spelling_mapping

    def __call__(self, s: str) -> str:
        return " ".join(self.mapping.get(word, word) for word in s.split())


class EnglishAcronymNormalizer:
    """
    Collapse sequences of single-character tokens (letters or digits) into single words.

    This normalizes acronym spacing so that both spaced-out and joined forms match:
        - "b b c" -> "bbc"
        - "5 g" -> "5g"

    Lone single-character words surrounded by multi-character words are left untouched
    (e.g. "a big cat" stays "a big cat").
    """

    def __call__(self, s: str) -> str:
        words = s.split()
        result = []
        i = 0
        while i < len(words):
            if len(words[i]) == 1 and words[i].isalnum():
                # Start of a potential acronym run
                run = [words[i]]
                j = i + 1
                while j < len(words) and len(words[j]) == 1 and words[j].isalnum():
                    run.append(words[j])
                    j += 1
                # Require 3+ tokens if the run contains common words "a" or "i",
                # otherwise 2+ is enough (e.g. "5 g" -> "5g")
                has_common_word = any(c in ("a", "i") for c in run)
                min_run = 3 if has_common_word else 2
                if len(run) >= min_run:
                    result.append("".join(run))
                else:
                    result.extend(run)
                i = j
            else:
                result.append(words[i])
                i += 1
        return " ".join(result)


class EnglishNameNormalizer:
    """
    Collapse common name spelling variants to a single canonical form.

    This is intentionally conservative and token-based so it can be extended
    with project-specific aliases when needed.
    """

    def __init__(self, english_name_mapping: dict[str, str] | None = None) -> None:
        self.mapping = english_mappings()["names"] if english_name_mapping is None else english_name_mapping

    def __call__(self, s: str) -> str:
        return " ".join(self.mapping.get(word, word) for word in s.split())


class EnglishTextNormalizer:
    def __init__(self, english_spelling_mapping: dict[str, str] | None = None) -> None:
        if english_spelling_mapping is None:
            english_spelling_mapping = english_mappings()["spelling"]
        self.ignore_patterns = r"\b(hmm|mm|mhm|mmm|uh|um|ah|aha|ahh|ahm|eh|ehehe|em|hm|huh|hum|mhum|uhm|umm|uhuh)\b"
        self.replacers = {
            # common contractions
            r"\bwon't\b": "will not",
            r"\bcan't\b": "can not",
            r"\blet's\b": "let us",
            r"\bain't\b": "aint",
            r"\by'all\b": "you all",
            r"\bwanna\b": "want to",
            r"\bgotta\b": "got to",
            r"\bgonna\b": "going to",
            r"\bi'ma\b": "i am going to",
            r"\bimma\b": "i am going to",
            r"\bwoulda\b": "would have",
            r"\bcoulda\b": "could have",
            r"\bshoulda\b": "should have",
            r"\bma'am\b": "madam",
            # contractions in titles/prefixes
            r"\bmr\b": "mister ",
            r"\bmrs\b": "missus ",
            r"\bst\b": "saint ",
            r"\bdr\b": "doctor ",
            r"\bprof\b": "professor ",
            r"\bcapt\b": "captain ",
            r"\bgov\b": "governor ",
            r"\bald\b": "alderman ",
            r"\bgen\b": "general ",
            r"\bsen\b": "senator ",
            r"\brep\b": "representative ",
            r"\bpres\b": "president ",
            r"\brev\b": "reverend ",
            r"\bhon\b": "honorable ",
            r"\basst\b": "assistant ",
            r"\bassoc\b": "associate ",
            r"\blt\b": "lieutenant ",
            r"\bcol\b": "colonel ",
            r"\bjr\b": "junior ",
            r"\bsr\b": "senior ",
            r"\besq\b": "esquire ",
            # prefect tenses, ideally it should be any past participles, but it's harder..
            r"'d been\b": " had been",
            r"'s been\b": " has been",
            r"'d gone\b": " had gone",
            r"'s gone\b": " has gone",
            r"'d done\b": " had done",  # "'s done" is ambiguous
            r"'s got\b": " has got",
            # general contractions
            r"n't\b": " not",
            r"'re\b": " are",
            r"\b(it|he|she|what|that|who|here|there|how|when|where|why|this)'s\b": r"\1 is",
            r"'d\b": " would",
            r"'ll\b": " will",
            r"'t\b": " not",
            r"'ve\b": " have",
            r"'m\b": " am",
        }
        self.standardize_numbers = EnglishNumberNormalizer()
        self.standardize_spellings = EnglishSpellingNormalizer(english_spelling_mapping)
        self.standardize_names = EnglishNameNormalizer()
        self.standardize_acronyms = EnglishAcronymNormalizer()
        # Multi-word compound mappings — defined in english_abbreviations.py
        self.compound_words = english_mappings()["compounds"]

    def __call__(self, s: str) -> str:
        s = s.lower()

        s = re.sub(r"[<\[][^>\]]*[>\]]", "", s)  # remove words between brackets
        s = re.sub(r"\(([^)]+?)\)", "", s)  # remove words between parenthesis
        s = re.sub(self.ignore_patterns, "", s)
        s = re.sub(r"\s+'", "'", s)  # standardize when there's a space before an apostrophe

        for pattern, replacement in self.replacers.items():
            s = re.sub(pattern, replacement, s)

        s = re.sub(r"(\d),(\d)", r"\1\2", s)  # remove commas between digits
        s = re.sub(r"\.([^0-9]|$)", r" \1", s)  # remove periods not followed by numbers
        s = remove_symbols_and_diacritics(s, keep=".%$¢€£")  # keep some symbols for numerics

        # Normalize hardcoded compound words (e.g. "wi fi" -> "wifi" after hyphen removal)
        for pattern, replacement in self.compound_words.items():
            s = re.sub(pattern, replacement, s)

        s = self.standardize_numbers(s)
        s = self.standardize_spellings(s)
        s = self.standardize_names(s)
        s = self.standardize_acronyms(s)

        # now remove prefix/suffix symbols that are not preceded/followed by numbers
        s = re.sub(r"[.$¢€£]([^0-9])", r" \1", s)
        s = re.sub(r"([^0-9])%", r"\1 ", s)

        s = re.sub(r"\s+", " ", s)  # replace any successive whitespace characters with a space

        return s
