"""The Open ASR Leaderboard's scoring of languages other than English: its multilingual
normalizer (lower case, bracketed text removed, symbols and punctuation removed, diacritics
kept), digits spelled out in the language by ``num2words``, and the alignment of split and
joined compounds between a reference and its hypothesis before counting.

Ported from github.com/huggingface/open_asr_leaderboard at commit d1e99b2 (2026-08-21):
``normalizer/normalizer.py`` (``BasicMultilingualTextNormalizer``), ``normalizer/data_utils.py``
(``MultilingualNormalizer``, used there as ``MultilingualNormalizer(remove_diacritics=False)``)
and ``normalizer/eval_utils.py`` (``normalize_compound_pairs``). Copyright 2022 The OpenAI team
and The HuggingFace Team; licensed under the Apache License, Version 2.0
(http://www.apache.org/licenses/LICENSE-2.0). Changes: type hints, one class for the two; the
logic is unchanged (tests/scoring/test_open_asr_golden.py checks it against the source's own
outputs).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from evaluator.scoring.openasr.english import remove_symbols, remove_symbols_and_diacritics

__all__ = ["MultilingualNormalizer", "normalize_compound_pairs"]


class MultilingualNormalizer:
    """``BasicMultilingualTextNormalizer`` with digits spelled out when called with ``lang``."""

    def __init__(self, remove_diacritics: bool = True) -> None:
        self.clean = remove_symbols_and_diacritics if remove_diacritics else remove_symbols

    def basic(self, s: str) -> str:
        """The source's ``BasicMultilingualTextNormalizer.__call__``."""
        s = s.lower()
        s = re.sub(r"[<\[][^>\]]*[>\]]", "", s)  # remove words between brackets
        s = re.sub(r"\(([^)]+?)\)", "", s)  # remove words between parenthesis
        s = self.clean(s).lower()

        # Remove punctuations and extra spaces
        s = re.sub(r"[^\w\s]", "", s)
        s = re.sub(r"\s+", " ", s).strip()

        return s

    def _normalize_numbers(self, text: str, lang: str) -> str:
        import num2words

        # Join space-separated thousand groups (e.g. "10 000" -> "10000")
        text = re.sub(r"(\d)\s+(\d{3})\b", r"\1\2", text)

        # Convert remaining digit sequences to words
        def _replace(m: re.Match) -> str:
            try:
                return num2words.num2words(int(m.group()), lang=lang)
            except Exception:  # a language num2words lacks: the digits stay, as in the source
                return m.group()

        return re.sub(r"\d+", _replace, text)

    def __call__(self, s: str, lang: str | None = None) -> str:
        s = self.basic(s)
        if lang is not None:
            s = self._normalize_numbers(s, lang)
        return s


def normalize_compound_pairs(refs: list[str], preds: list[str]) -> tuple[list[str], list[str]]:
    """Align compound word boundaries between ref/pred pairs.

    When a mismatch region has identical characters ignoring whitespace,
    normalize both sides to the joined form.
    """
    new_refs, new_preds = [], []
    for ref_text, pred_text in zip(refs, preds, strict=False):
        ref_words = ref_text.split()
        pred_words = pred_text.split()

        sm = SequenceMatcher(None, ref_words, pred_words)
        new_rw: list[str] = []
        new_pw: list[str] = []

        for tag, i1, i2, j1, j2 in sm.get_opcodes():
            if tag == "equal":
                new_rw.extend(ref_words[i1:i2])
                new_pw.extend(pred_words[j1:j2])
            else:
                rc = "".join(ref_words[i1:i2])
                pc = "".join(pred_words[j1:j2])
                if rc == pc:
                    new_rw.append(rc)
                    new_pw.append(pc)
                else:
                    new_rw.extend(ref_words[i1:i2])
                    new_pw.extend(pred_words[j1:j2])

        new_refs.append(" ".join(new_rw))
        new_preds.append(" ".join(new_pw))
    return new_refs, new_preds
