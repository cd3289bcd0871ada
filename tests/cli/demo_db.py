"""A results database shaped like `make demo`'s, built without Ray or models: run ``demo`` (the
three tiny.en runtimes and Whisper base on 24 English clips), run ``demo-multilingual`` (Whisper
base in two runtimes and the English-only tiny.en on 11 languages, tiny.en's other languages not
transcribable) and run ``finetune`` (a long local-checkpoint spec). Hypotheses are made by replacing
words at a per-model rate, so base is clearly better than tiny.en."""

from __future__ import annotations

import random
from typing import Any

from evaluator.results.store import Store
from tests.factories import RUNTIME, create_run, result_row

__all__ = ["DEMO_MODELS", "MULTILINGUAL_MODELS", "LONG_SPEC", "make_demo_db"]

# openai-whisper and transformers share one rate, hence the same transcripts (as the real fp32 runtimes do)
DEMO_MODELS = {"faster-whisper:tiny.en": 0.19, "openai-whisper:tiny.en": 0.16, "transformers:tiny.en": 0.16,
               "faster-whisper:base": 0.04}
MULTILINGUAL_MODELS = {"faster-whisper:base?compute_type=float32": 0.2, "openai-whisper:base": 0.21,
                       "faster-whisper:tiny.en": 0.12}
LONG_SPEC = "transformers:/home/me/checkpoints/whisper-small-finetuned-epoch-12?batch_size=8&num_beams=4"

WORDS = ("the quick brown fox jumps over lazy dog while birds sing in tall green trees near a quiet river "
         "and children play with red kites under bright summer sky").split()
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "pl", "ru", "hi", "ja", "zh")
CHARS = "今天天气很好我们去公园散步吧"


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _hypothesis(reference: str, rate: float, rng: random.Random, by_chars: bool) -> str:
    if by_chars:
        return "".join("你" if rng.random() < rate else c for c in reference)
    return " ".join("uh" + w if rng.random() < rate else w for w in reference.split())


def _row(run_id: str, model: str, index: int, language: str, reference: str, hypothesis: str | None,
         error: str | None = None, **extra: Any) -> dict[str, Any]:
    seconds = 2.0 + index % 7
    sample_id = f"espeak-{index:03d}" if language == "en" else f"{language}-{index:03d}"  # as builtin:sample's
    return result_row(run_id, model, sample_id, reference, hypothesis, dataset="builtin:sample", index=index,
                      language=language, audio_seconds=seconds, error=error,
                      inference_seconds=None if error else seconds / (20 + len(model) % 7), **{**RUNTIME, **extra})


def _run(store: Store, run_id: str, models: dict[str, float], languages: tuple[str, ...], per_language: int,
         english_only: tuple[str, ...] = ()) -> None:
    create_run(store, run_id, models=list(models), version="test", normalizer=("test", "1"))
    rows = []
    for model, rate in models.items():
        rng = random.Random(f"{run_id}/{rate}")
        texts = random.Random("builtin:sample")  # one dataset: the same references in every run
        index = 0
        store.plan_model(run_id, model, "builtin:sample", "test", per_language * len(languages))
        for language in languages:
            for _ in range(per_language):
                by_chars = language in ("ja", "zh")
                reference = CHARS[: 6 + index % 8] if by_chars else _text(texts, 8 + index % 9)
                if model in english_only and language != "en":
                    rows.append(_row(run_id, model, index, language, reference, None,
                                     error=f"LanguageError: {model} does not transcribe {language}"))
                else:
                    hyp = _hypothesis(reference, rate, rng, by_chars)
                    if index == 5 and model.endswith("tiny.en"):  # a cut-off transcript: flagged truncated
                        hyp = " ".join(reference.split()[:2])
                    rows.append(_row(run_id, model, index, language, reference, hyp))
                index += 1
        store.finish_model(run_id, model, 10.0, "complete", None)
    store.insert_results(rows)
    store.finish_run(run_id, "finished", {})


def make_demo_db(path: str) -> str:
    """Write the database at ``path`` (runs oldest first: finetune, demo-multilingual, demo)."""
    with Store(path) as store:
        _run(store, "finetune", {LONG_SPEC: 0.1, "faster-whisper:tiny.en": 0.17}, ("en",), 12)
        _run(store, "demo-multilingual", MULTILINGUAL_MODELS, LANGUAGES, 4, english_only=("faster-whisper:tiny.en",))
        _run(store, "demo", DEMO_MODELS, ("en",), 24)
        for i, run_id in enumerate(("finetune", "demo-multilingual", "demo")):
            store.con.execute("UPDATE runs SET started_at = TIMESTAMP '2026-12-01 10:00:00' + INTERVAL (?) MINUTE "
                              "WHERE run_id = ?", [i, run_id])
    return path
