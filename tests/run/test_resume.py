"""Resuming a run: refused when the stored rows came from another normalizer or other library
versions, so one run never mixes two."""

from __future__ import annotations

import json

import pytest

from evaluator.errors import ConfigError
from evaluator.run.driver import check_resumable
from evaluator.scoring.metrics import NORMALIZER_NAME, NORMALIZER_VERSION

MODEL = "faster-whisper:tiny.en"
NOW = {MODEL: {"faster-whisper": "1.2.1", "ctranslate2": "4.8.5"}}


def run(normalizer: str | None = NORMALIZER_VERSION, versions: dict | None = None) -> dict:
    return {"run_id": "r1", "normalizer_name": NORMALIZER_NAME, "normalizer_version": normalizer,
            "library_versions": None if versions is None else json.dumps(versions)}


@pytest.mark.parametrize(
    "stored",
    [
        run(versions=NOW),
        run(versions=None),  # a driver that died before writing them (older runs)
        run(normalizer=None, versions=NOW),
        run(versions={"openai-whisper:tiny.en": {"openai-whisper": "1"}}),  # a model not in this resume
    ],
)
def test_same_versions_resume(stored: dict) -> None:
    check_resumable(stored, NOW)


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (run(normalizer="1+whisper-normalizer-0.0.9", versions=NOW), f"text normalizer {NORMALIZER_NAME} 1+"),
        (run(versions={MODEL: {"faster-whisper": "1.1.0", "ctranslate2": "4.8.5"}}),
         "faster-whisper 1.1.0, now 1.2.1"),
    ],
)
def test_changed_versions_refuse_to_resume(stored: dict, message: str) -> None:
    with pytest.raises(ConfigError, match="cannot be resumed") as info:
        check_resumable(stored, NOW)
    assert message in str(info.value) and "start a new run" in str(info.value)
