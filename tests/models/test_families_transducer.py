"""Parakeet TDT and RNN-T through the actor: the transcript equals the model card's recipe and
transformers' ASR pipeline on the same tiny weights, batched or one at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.models.test_families_ctc import clips, run_worker, tiny_root  # noqa: F401 (fixtures)
from tests.tiny_families import TRANSDUCER_BUILDERS, built, recipe

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", sorted(TRANSDUCER_BUILDERS))
def test_transducer_matches_recipe_and_pipeline(name: str, tiny_root: Path, clips) -> None:  # noqa: F811
    from transformers import pipeline

    folder, audios = clips
    model = built(tiny_root, name)
    batched = run_worker(model, folder, batch_size=4)
    alone = run_worker(model, folder, batch_size=1)
    expected = [recipe(model, audio) for audio in audios]
    asr = pipeline("automatic-speech-recognition", model=str(model), device="cpu")
    assert [asr(audio.copy())["text"].strip() for audio in audios] == expected
    assert [batched[str(i)].error for i in range(len(audios))] == [None] * len(audios)
    assert [batched[str(i)].hypothesis for i in range(len(audios))] == expected
    assert [alone[str(i)].hypothesis for i in range(len(audios))] == expected
    assert sum(bool(text) for text in expected) >= len(audios) - 1
