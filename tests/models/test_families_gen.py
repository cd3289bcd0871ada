"""Encoder-decoder and speech-LLM families of the ``transformers`` backend, on tiny random-weight
checkpoints built from the real transformers classes (:mod:`tests.tiny_families_gen`).

For every family: the transcripts a run writes (the actor's ``Worker`` on bundled sample clips,
batched as a run batches) equal the upstream recipe's on the same weights and audio, one clip at a
time (``pipeline("automatic-speech-recognition")`` where it runs the family, the model card's
``processor -> generate(max_new_tokens=N, num_beams=1) -> decode the new tokens`` otherwise), and
the backend gives the same answers with ``batch_size=1`` as batched.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluator.data.audio import SAMPLE_RATE, decode_audio
from evaluator.data.builtin import sample_data_dir

pytestmark = pytest.mark.slow

N = 8  # max_new_tokens: random weights rarely stop, so every transcript is N tokens long
# (family name in `evaluator models`, builder key in tests.tiny_families_gen)
FAMILIES = {
    "moonshine": "moonshine", "speech2text": "speech_to_text", "canary": "canary", "cohere-asr": "cohere_asr",
    "kyutai-stt": "kyutai_speech_to_text", "granite-speech": "granite_speech", "qwen2-audio": "qwen2_audio",
    "qwen3-asr": "qwen3_asr", "glmasr": "glmasr", "audioflamingo3": "audioflamingo3",
}
# Voxtral's processor needs mistral-common (evaluator[voxtral]), which the dev environment does not
# install, and a missing dependency must fail, not skip (tests/test_lanes.py). With mistral-common
# installed and "mistral_common" in tests/conftest.py REQUIRED_MODULES, add it here:
#     FAMILIES["voxtral"] = "voxtral"
# (both tests pass with mistral-common 1.13.1 on the path).
# Rows 1..6 of builtin:sample: 1.1-10 s clips of different lengths (row 0 is 44 s: a long-form file).
ROWS = (1, 7)


@pytest.fixture(scope="session")
def tiny_gen(tmp_path_factory) -> Callable[[str], Path]:
    """family name -> its tiny checkpoint folder, each built once per session."""
    from tests.tiny_families_gen import make_tiny
    from tests.tiny_models import offline

    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in built:
            with offline():
                built[family] = make_tiny(FAMILIES[family], tmp_path_factory.mktemp(family) / family)
        return built[family]

    return get


@pytest.fixture(scope="module")
def sample_shard() -> Any:
    from evaluator.data.shards import plan_shards
    from evaluator.data.sources import open_dataset, resolved_spec
    from evaluator.data.spec import DatasetSpec

    spec = DatasetSpec(source=sample_data_dir())
    opened = open_dataset(spec)
    _, shards = plan_shards(opened, resolved_spec(opened, spec), 32, None)
    return dataclasses.replace(shards[0], start=ROWS[0], stop=ROWS[1])


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    """The same sample clips, decoded as the actor decodes them (16 kHz mono float32)."""
    with open(Path(sample_data_dir()) / "metadata.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[ROWS[0]:ROWS[1]]
    return {row["id"]: decode_audio(str(Path(sample_data_dir()) / row["file_name"])) for row in rows}


def _worker_rows(path: Path, shard: Any, options: str = "") -> dict[str, Any]:
    from evaluator.data.windows import LongForm
    from evaluator.models.spec import parse_model_spec
    from evaluator.run.execute.actor import Worker

    spec = parse_model_spec(f"transformers:{path}?max_new_tokens={N}{options}")
    out = Worker(spec, "cpu", 1, "en", LongForm("chunked", 30.0, 5.0)).run_shard(shard)
    return {row.sample_id: row for row in out.rows}


# ---------------------------------------------------------------------------------------------
# The upstream recipes, one clip at a time
# ---------------------------------------------------------------------------------------------

GENERATE = {"max_new_tokens": N, "num_beams": 1, "do_sample": False}


def _pipeline(path: Path, audios: list[np.ndarray]) -> list[str]:
    from transformers import pipeline

    asr = pipeline("automatic-speech-recognition", model=str(path), device="cpu")
    return [asr(audio.copy(), generate_kwargs=dict(GENERATE))["text"].strip() for audio in audios]


def _generate(model_class: str, path: Path, audios: list[np.ndarray], prepare: Callable[[Any, np.ndarray], Any],
              decode: Callable[[Any, Any], str] | None = None, prompt_key: str = "input_ids") -> list[str]:
    """processor -> model.generate -> decode the tokens after the prompt (special tokens skipped)."""
    import torch
    import transformers

    processor = transformers.AutoProcessor.from_pretrained(path)
    model = getattr(transformers, model_class).from_pretrained(path).eval()
    texts = []
    for audio in audios:
        inputs = prepare(processor, audio)
        start = inputs[prompt_key].shape[1] if prompt_key in inputs else 1
        with torch.inference_mode():
            new = model.generate(**inputs, **GENERATE)[:, start:]
        texts.append(decode(processor, new) if decode else processor.batch_decode(new, skip_special_tokens=True)[0])
    return [t.strip() for t in texts]


def _kyutai(processor: Any, audio: np.ndarray) -> Any:
    import soxr

    rate = processor.feature_extractor.sampling_rate
    return processor(audio=[soxr.resample(audio, SAMPLE_RATE, rate).astype(np.float32)], sampling_rate=rate,
                     return_tensors="pt")


def _granite(processor: Any, audio: np.ndarray,
             instruction: str = "can you transcribe the speech into a written format?") -> Any:
    chat = [{"role": "user", "content": f"<|audio|>{instruction}"}]
    prompt = processor.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return processor(prompt, [audio], return_tensors="pt")


def _qwen2_audio(processor: Any, audio: np.ndarray) -> Any:
    chat = [{"role": "user", "content": [{"type": "audio", "audio_url": "sample.flac"},
                                         {"type": "text", "text": "Transcribe the speech into text."}]}]
    text = processor.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    return processor(text=text, audio=[audio], return_tensors="pt", padding=True)


UPSTREAM: dict[str, Callable[[Path, list[np.ndarray]], list[str]]] = {
    "moonshine": _pipeline,
    "speech2text": _pipeline,
    "canary": lambda path, audios: _generate(
        "CanaryForConditionalGeneration", path, audios,
        lambda p, a: p.apply_transcription_request(audio=a, source_language="en"), prompt_key="decoder_input_ids"),
    "cohere-asr": lambda path, audios: _generate(
        "CohereAsrForConditionalGeneration", path, audios,
        lambda p, a: p(a, language="en", sampling_rate=SAMPLE_RATE, return_tensors="pt"),
        prompt_key="decoder_input_ids"),
    "kyutai-stt": lambda path, audios: _generate("KyutaiSpeechToTextForConditionalGeneration", path, audios, _kyutai),
    "granite-speech": lambda path, audios: _generate("GraniteSpeechForConditionalGeneration", path, audios, _granite),
    "qwen2-audio": lambda path, audios: _generate("Qwen2AudioForConditionalGeneration", path, audios, _qwen2_audio),
    "qwen3-asr": lambda path, audios: _generate(
        "Qwen3ASRForConditionalGeneration", path, audios,
        lambda p, a: p.apply_transcription_request(audio=a, language="en"),
        decode=lambda p, new: p.decode(new, return_format="transcription_only")[0]),
    "glmasr": lambda path, audios: _generate(
        "GlmAsrForConditionalGeneration", path, audios, lambda p, a: p.apply_transcription_request(audio=a)),
    "audioflamingo3": lambda path, audios: _generate(
        "AudioFlamingo3ForConditionalGeneration", path, audios, lambda p, a: p.apply_transcription_request(audio=a)),
    "voxtral": lambda path, audios: _generate(
        "VoxtralForConditionalGeneration", path, audios,
        lambda p, a: p.apply_transcription_request(audio=a, model_id=str(path), language="en", format="wav",
                                                   sampling_rate=SAMPLE_RATE)),
}


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_run_transcripts_equal_the_upstream_recipe(family, tiny_gen, sample_shard, clips) -> None:
    from evaluator.models.backends import get_backend

    path = tiny_gen(family)
    backend = get_backend("transformers").for_model(str(path), {})
    assert backend.family.name == family  # dispatched on config.json, not on the folder's name

    rows = _worker_rows(path, sample_shard)
    assert sorted(rows) == sorted(clips) and all(r.error is None for r in rows.values())
    ours = [rows[sample_id].hypothesis for sample_id in clips]
    upstream = UPSTREAM[family](path, list(clips.values()))
    assert ours == upstream
    # Random weights, but real transcripts: nearly all non-empty, and they differ between clips.
    assert sum(bool(text) for text in ours) >= len(ours) - 1
    assert len(set(ours)) > 1


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_batched_equals_one_at_a_time(family, tiny_gen, clips) -> None:
    from evaluator.models.backends import get_backend

    path = str(tiny_gen(family))
    audios, languages = list(clips.values()), ["en"] * len(clips)
    texts = {}
    for batch_size in (8, 1):
        options = {"max_new_tokens": N, "batch_size": batch_size}
        cls = get_backend("transformers").for_model(path, options)
        backend = cls(path, "cpu", cls.resolve_options(options, "cpu"), 1)
        texts[batch_size] = [t.text for t in backend.transcribe_batch(audios, languages)]
    assert texts[8] == texts[1]
    assert sum(bool(text) for text in texts[1]) >= len(audios) - 1


def test_the_prompt_option_is_the_instruction(tiny_gen, sample_shard, clips) -> None:
    """``?prompt=`` replaces a chat-template family's ASR instruction, ``{language}`` becoming the
    sample's language name; the run's transcripts equal the recipe given that instruction."""
    path = tiny_gen("granite-speech")
    rows = _worker_rows(path, sample_shard, "&prompt=Write down the {language} words.")
    ours = [rows[sample_id].hypothesis for sample_id in clips]
    upstream = _generate("GraniteSpeechForConditionalGeneration", path, list(clips.values()),
                         lambda p, a: _granite(p, a, "Write down the English words."))
    assert ours == upstream
    assert ours != UPSTREAM["granite-speech"](path, list(clips.values()))  # the default instruction differs


def test_a_family_that_needs_the_language_refuses_a_sample_without_one(tiny_gen, clips) -> None:
    from evaluator.models.backends import get_backend
    from evaluator.scoring.languages import resolve

    path = str(tiny_gen("canary"))
    cls = get_backend("transformers").for_model(path, {})
    assert cls.needs_language and cls.language_code(resolve("de")) == "de" and cls.language_code(resolve("ja")) is None
    assert "fr" in cls.supported_languages(path) and "ja" not in cls.supported_languages(path)
    backend = cls(path, "cpu", cls.resolve_options({"max_new_tokens": N}, "cpu"), 1)
    with pytest.raises(ValueError, match="--language"):
        backend.transcribe_batch([next(iter(clips.values()))], [None])
