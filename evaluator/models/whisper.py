"""What every Whisper runtime shares: the languages a Whisper model writes and Whisper's codes."""

from __future__ import annotations

import json
import os

from evaluator.scoring.languages import Language

__all__ = ["WHISPER_V3_NAMES", "WhisperLanguages", "whisper_model_languages"]

# Whisper names whose vocabulary is large-v3's (51866 tokens, with Cantonese): faster-whisper's
# names and the hub ids of the OpenAI checkpoints.
WHISPER_V3_NAMES = frozenset({
    "large-v3", "large-v3-turbo", "turbo", "distil-large-v3", "distil-large-v3.5",
    "openai/whisper-large-v3", "openai/whisper-large-v3-turbo", "distil-whisper/distil-large-v3",
    "distil-whisper/distil-large-v3.5", "systran/faster-whisper-large-v3",
    "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
})


def whisper_model_languages(model: str) -> frozenset[str]:
    """Canonical codes a Whisper model writes: English only for ``*.en`` models (``tiny.en``,
    ``openai/whisper-base.en``) and local folders with the English-only vocabulary (51864
    tokens), else Whisper's languages, with Cantonese (``yue``) only for the large-v3 vocabulary
    (51866 tokens: a local folder's, or a name in :data:`WHISPER_V3_NAMES`)."""
    from evaluator.scoring.languages import whisper_languages

    name = model.rstrip("/\\").lower()
    size = _vocabulary_size(model)
    if name.endswith(".en") or size == 51864:
        return frozenset({"en"})
    return whisper_languages(cantonese=size == 51866 or (size is None and name in WHISPER_V3_NAMES))


def _vocabulary_size(model: str) -> int | None:
    """Tokens in a local Whisper folder's vocabulary (CTranslate2 ``vocabulary.txt`` or transformers
    ``config.json``); None for a hub id or a folder without either."""
    if not os.path.isdir(model):
        return None
    vocabulary = os.path.join(model, "vocabulary.txt")  # CTranslate2
    if os.path.isfile(vocabulary):
        with open(vocabulary, encoding="utf-8") as fh:
            return sum(1 for _ in fh)
    config = os.path.join(model, "config.json")  # transformers
    if os.path.isfile(config):
        with open(config, encoding="utf-8") as fh:
            return json.load(fh).get("vocab_size")
    return None


class WhisperLanguages:
    """Mixin for the Whisper runtimes: the languages a Whisper model writes and Whisper's codes."""

    @classmethod
    def supported_languages(cls, model: str) -> frozenset[str] | None:
        return whisper_model_languages(model)

    @classmethod
    def language_code(cls, language: Language) -> str | None:
        from evaluator.scoring.languages import whisper_code

        return whisper_code(language)
