"""Encoder-decoder and speech-LLM families of the ``transformers`` backend, on tiny random-weight
checkpoints built from the real transformers classes (:mod:`tests.tiny_families_gen`).

For every family: the transcripts a run writes (the actor's ``Worker`` on bundled sample clips,
batched as a run batches, and one clip at a time with ``batch_size=1``) equal the upstream
recipe's on the same weights and audio, one clip at a time (``pipeline("automatic-speech-recognition")``
where it runs the family, the model card's ``processor -> generate(max_new_tokens=N, num_beams=1)
-> decode the new tokens`` otherwise). Speech-LLM prompts are the model cards' and never hold the
clock.
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
    "seamless-m4t": "seamless_m4t",
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
    from tests.tiny_models import make_tiny_seamless_m4t, offline

    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in built:
            target = tmp_path_factory.mktemp(family) / family
            with offline():
                built[family] = (make_tiny_seamless_m4t(target) if family == "seamless-m4t"
                                 else make_tiny(FAMILIES[family], target))
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


def _worker(path: Path, options: str = "") -> Any:
    from evaluator.data.windows import LongForm
    from evaluator.models.spec import parse_model_spec
    from evaluator.run.execute.actor import Worker

    spec = parse_model_spec(f"transformers:{path}?max_new_tokens={N}{options}")
    return Worker(spec, "cpu", 1, "en", LongForm("chunked", 30.0, 5.0))


def _worker_rows(path: Path, shard: Any, options: str = "") -> dict[str, Any]:
    return {row.sample_id: row for row in _worker(path, options).run_shard(shard).rows}


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


# The granite-speech-3.3 model card's example (huggingface.co/ibm-granite/granite-speech-3.3-2b).
GRANITE_CARD_SYSTEM = ("Knowledge Cutoff Date: April 2024.\nToday's Date: April 9, 2025.\nYou are Granite, "
                       "developed by IBM. You are a helpful AI assistant")


def _granite(processor: Any, audio: np.ndarray,
             instruction: str = "can you transcribe the speech into a written format?") -> Any:
    chat = [{"role": "system", "content": GRANITE_CARD_SYSTEM}, {"role": "user", "content": f"<|audio|>{instruction}"}]
    prompt = processor.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return processor(prompt, [audio], return_tensors="pt")


def _seamless(path: Path, audios: list[np.ndarray]) -> list[str]:
    """The SeamlessM4T v2 card: processor(audios=...) -> generate(tgt_lang=...) -> decode after the
    decoder prompt (the start token and the language token)."""
    import torch
    from transformers import AutoProcessor, SeamlessM4Tv2ForSpeechToText

    processor = AutoProcessor.from_pretrained(path)
    model = SeamlessM4Tv2ForSpeechToText.from_pretrained(path).eval()
    texts = []
    for audio in audios:
        inputs = processor(audio=audio, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        with torch.inference_mode():
            new = model.generate(**inputs, tgt_lang="eng", **GENERATE)[:, 2:]
        texts.append(processor.batch_decode(new, skip_special_tokens=True)[0].strip())
    return texts


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
    "seamless-m4t": _seamless,
    "voxtral": lambda path, audios: _generate(
        "VoxtralForConditionalGeneration", path, audios,
        lambda p, a: p.apply_transcription_request(audio=a, model_id=str(path), language="en", format="wav",
                                                   sampling_rate=SAMPLE_RATE)),
}


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_run_transcripts_equal_the_upstream_recipe_batched_and_alone(family, tiny_gen, sample_shard, clips) -> None:
    from evaluator.models.backends import get_backend

    path = tiny_gen(family)
    backend = get_backend("transformers").for_model(str(path), {})
    assert backend.family.name == family  # dispatched on config.json, not on the folder's name

    upstream = UPSTREAM[family](path, list(clips.values()))
    for options in ("", "&batch_size=1"):
        rows = _worker_rows(path, sample_shard, options)
        assert sorted(rows) == sorted(clips) and all(r.error is None for r in rows.values())
        assert [rows[sample_id].hypothesis for sample_id in clips] == upstream, options or "batched"
    # Random weights, but real transcripts: nearly all non-empty, and they differ between clips.
    assert sum(bool(text) for text in upstream) >= len(upstream) - 1
    assert len(set(upstream)) > 1


def test_the_prompt_is_the_cards_recorded_and_free_of_the_clock(tiny_gen, monkeypatch) -> None:
    """Granite's chat template writes today's date when the conversation has no system message:
    the card's system message is pinned, the prompt in effect is recorded with the run, and it
    is the same whatever the clock says."""
    import datetime

    import transformers.utils.chat_template_utils as templates

    from evaluator.errors import ConfigError
    from evaluator.models.backends import get_backend

    path = str(tiny_gen("granite-speech"))
    info = _worker(tiny_gen("granite-speech")).info()
    prompt = info["details"]["prompt"]
    assert GRANITE_CARD_SYSTEM in prompt and "can you transcribe the speech into a written format?" in prompt
    assert prompt.count("<|audio|>") == 1 and info["details"]["family"] == "granite-speech"

    class Tomorrow(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime(2031, 2, 3)

    monkeypatch.setattr(templates, "datetime", Tomorrow)
    cls = get_backend("transformers").for_model(path, {})
    assert cls(path, "cpu", {"max_new_tokens": N}, 1).details["prompt"] == prompt
    # Without a system message this template writes the clock's date; such a prompt is refused.
    monkeypatch.setattr(templates, "datetime", datetime.datetime)
    with pytest.raises(ConfigError, match="today's date.*system_prompt"):
        cls(path, "cpu", {"max_new_tokens": N, "system_prompt": None}, 1)


@pytest.mark.parametrize("family", ["qwen2-audio", "qwen3-asr", "glmasr", "audioflamingo3", "canary"])
def test_every_prompted_family_records_its_prompt(family, tiny_gen) -> None:
    details = _worker(tiny_gen(family)).info()["details"]
    assert details["family"] == family and details["prompt"]
    assert details["attention"] in ("sdpa", "eager", "flash_attention_2")  # the kernel in use, recorded
    if family in ("qwen3-asr", "canary"):
        assert details["prompt_language"] == "en"


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
