"""The generative PyTorch backends (LFM2.5-Audio, SeamlessM4T v2) on tiny random-weight models.

The models are built offline in the real on-disk layout (tests/tiny_models.py) and loaded
through the libraries' real ``from_pretrained`` paths, on CPU. Their transcripts are garbage
but deterministic. CUDA is booby-trapped while the backends load and run, so a library that
defaults to ``cuda`` fails these tests even on a machine with a GPU.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from evaluator.data.audio import SAMPLE_RATE, decode_audio
from evaluator.data.builtin import sample_data_dir
from evaluator.errors import ConfigError
from evaluator.models.backends.base import Transcription
from tests.tiny_models import offline

pytestmark = pytest.mark.slow  # builds and loads models

BECKETT = os.path.join(sample_data_dir(), "human-beckett.flac")


def _cuda_touched(*args: object, **kwargs: object) -> None:
    raise AssertionError("CUDA was initialised on a CPU run")


@pytest.fixture(scope="module")
def no_cuda():
    """Any CUDA initialisation (a tensor or module on ``cuda``, ``.cuda()``) raises."""
    import torch

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.cuda, "_lazy_init", _cuda_touched)
        yield


@pytest.fixture(autouse=True)
def _no_cuda_in_every_test(no_cuda):
    yield


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    t = np.arange(SAMPLE_RATE, dtype=np.float32) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * np.linspace(0, 1, t.size)).astype(np.float32)
    return {"beckett": decode_audio(BECKETT), "tone": tone}


# --------------------------------------------------------------------------------------------
# LFM2.5-Audio
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lfm_dir(tmp_path_factory):
    from tests.tiny_models import make_tiny_lfm2_audio

    return make_tiny_lfm2_audio(tmp_path_factory.mktemp("lfm") / "tiny-lfm2-audio")


def _lfm(model_dir, options=None):
    from evaluator.models.backends.lfm_audio import LfmAudioBackend

    with offline():
        return LfmAudioBackend(str(model_dir), "cpu", options or {}, 1)


@pytest.fixture(scope="module")
def lfm(lfm_dir, no_cuda):
    return _lfm(lfm_dir)


def test_lfm_transcribes_on_cpu_deterministically(lfm, clips):
    assert lfm.device == "cpu"
    assert lfm.effective_options["dtype"] == "float32"
    assert lfm.batch_size == 1
    for name, audio in clips.items():
        first = lfm.transcribe(audio, "en")
        second = lfm.transcribe(audio, None)  # the language is not used
        assert isinstance(first, Transcription) and isinstance(first.text, str), name
        assert first == second, name
    assert lfm.transcribe(clips["beckett"], "en").text  # the random model does write something


def test_lfm_token_cap_sets_truncated(lfm_dir, clips):
    backend = _lfm(lfm_dir, {"max_new_tokens": 2})
    yielded: list[int] = []
    generate = backend._model.generate_sequential

    def spy(**kwargs):
        for token in generate(**kwargs):
            yielded.append(int(token.item()) if token.numel() == 1 else -1)
            yield token

    backend._model.generate_sequential = spy
    result = backend.transcribe(clips["beckett"], "en")
    # The tiny model really ran into the cap (no end token among what it produced) ...
    assert len(yielded) == 2 and not {7, 130} & set(yielded), yielded
    # ... and the backend says so.
    assert result.truncated is True and result.truncated_reason == "token cap"


class _StepCounter:
    """Counts the steps of the real generate_sequential's latest call (each samples one text
    token or one audio frame) and, from text step ``force_at`` on, biases the text logits so that
    argmax picks ``force_id``."""

    def __init__(self, model, force_at: int | None = None, force_id: int = 128):
        self.model = model
        self.text_steps: list[int] = []
        self.audio_steps = 0
        self.force_at = force_at
        self.force_id = force_id
        self.generators: list = []
        sample_text, sample_audio = model._sample_text_token, model._sample_audio_frame
        generate = model.generate_sequential

        def text_token(logits, **kwargs):
            if self.force_at is not None and len(self.text_steps) >= self.force_at:
                logits = logits.clone()
                logits[self.force_id] = logits.max() + 1e4
            token = sample_text(logits, **kwargs)
            self.text_steps.append(int(token))
            return token

        def audio_frame(embedding, **kwargs):
            self.audio_steps += 1
            return sample_audio(embedding, **kwargs)

        def generate_sequential(**kwargs):
            self.text_steps, self.audio_steps = [], 0
            gen = generate(**kwargs)
            self.generators.append(gen)
            return gen

        # Instance attributes shadow the methods: generate_sequential's own loop calls these.
        model._sample_text_token = text_token
        model._sample_audio_frame = audio_frame
        model.generate_sequential = generate_sequential


def test_lfm_audio_start_stops_generation_and_flags_the_row(lfm_dir, clips):
    """The real model, steered to emit <|audio_start|> after three text tokens: liquid-audio
    would go on generating audio frames to the budget; the backend stops right there."""
    budget = 40
    backend = _lfm(lfm_dir, {"max_new_tokens": budget})
    tokenizer = backend._processor.text
    assert tokenizer.convert_tokens_to_ids("<|audio_start|>") == 128
    assert backend._audio_start_ids == {128}

    # Unsteered, the tiny model's first tokens are ordinary text (no end, no audio_start).
    plain = _StepCounter(backend._model)
    free = backend._model.generate_sequential
    first = [int(t.item()) for t in free(**_lfm_prompt(backend, clips["beckett"]), max_new_tokens=3)]
    assert len(first) == 3 and not {7, 128, 130} & set(first), first
    assert plain.audio_steps == 0

    # Without the backend's stop, the library really goes on with audio frames to the budget.
    steered = _StepCounter(backend._model, force_at=3)
    stream = list(steered.model.generate_sequential(**_lfm_prompt(backend, clips["beckett"]),
                                                    max_new_tokens=budget))
    assert [int(t.item()) for t in stream[:4]] == [*first, 128]
    assert all(t.numel() == 8 for t in stream[4:]) and len(stream) == budget
    assert steered.audio_steps == budget - 4

    # Through the backend: the text before audio_start is kept, the row is flagged, and
    # generation stopped at the audio_start step (no audio frame, the generator closed).
    steered = _StepCounter(backend._model, force_at=3)
    result = backend.transcribe(clips["beckett"], "en")
    assert result.text == tokenizer.decode(first, skip_special_tokens=True).strip()
    assert result.truncated is True
    assert "audio_start" in result.truncated_reason
    assert steered.text_steps == [*first, 128]
    assert steered.audio_steps == 0
    (gen,) = steered.generators
    assert gen.gi_frame is None  # closed: no step can run after the stop


def test_lfm_without_audio_start_is_not_flagged_for_it(lfm_dir, clips):
    backend = _lfm(lfm_dir, {"max_new_tokens": 6})
    counter = _StepCounter(backend._model)
    result = backend.transcribe(clips["beckett"], "en")
    first = counter.text_steps
    assert len(first) == 6 and counter.audio_steps == 0
    assert not {7, 128, 130} & set(first)
    assert result.text and result.truncated is True and result.truncated_reason == "token cap"

    # An end token before the cap: a complete answer, not truncated at all.
    counter.force_at, counter.force_id = 4, 7
    result = backend.transcribe(clips["beckett"], "en")
    assert counter.text_steps == [*first[:4], 7]
    assert result == Transcription(result.text, truncated=False, truncated_reason=None) and result.text


def _lfm_prompt(backend, audio):
    import torch

    chat = backend._chat_state(backend._processor, dtype=torch.float32)
    chat.new_turn("system")
    chat.add_text(backend.effective_options["system_prompt"])
    chat.end_turn()
    chat.new_turn("user")
    chat.add_audio(torch.from_numpy(audio).unsqueeze(0), SAMPLE_RATE)
    chat.end_turn()
    chat.new_turn("assistant")
    return {key: chat[key] for key in chat}


class _FakeLfmModel:
    """Stands in for LFM2AudioModel.generate_sequential with a scripted token stream."""

    def __init__(self, script: list[list[int]]):
        self.script = script
        self.calls: list[dict] = []

    def generate_sequential(self, **kwargs):
        import torch

        self.calls.append(kwargs)
        for step, ids in enumerate(self.script):
            if step >= kwargs["max_new_tokens"]:
                return
            yield torch.tensor(ids)
            if ids == [7]:
                return


def test_lfm_end_token_audio_frames_and_budget(lfm, clips, monkeypatch):
    text = lfm._processor.text
    hello = text.encode("hello", add_special_tokens=False)
    fake = _FakeLfmModel([[i] for i in hello] + [[7]])
    monkeypatch.setattr(lfm, "_model", fake)
    result = lfm.transcribe(clips["beckett"], "en")
    assert result == Transcription("hello", truncated=False)
    call = fake.calls[-1]
    # Greedy, and a budget scaled with the audio: ~10 s x 10 tokens/s.
    assert call["text_temperature"] is None and call["text_top_k"] is None
    assert call["max_new_tokens"] == int(np.ceil(len(clips["beckett"]) / SAMPLE_RATE * 10))
    assert set(call) >= {"text", "audio_in", "audio_in_lens", "audio_out", "modality_flag"}
    assert all(call[k].device.type == "cpu" for k in ("text", "audio_in", "modality_flag"))
    assert lfm.transcribe(clips["tone"], None).text == "hello"

    # <|text_end|> also ends the answer; a stream that runs out at the cap is truncated.
    monkeypatch.setattr(lfm, "_model", _FakeLfmModel([[i] for i in hello] + [[130], [66]]))
    assert lfm.transcribe(clips["tone"], None) == Transcription("hello", truncated=False)
    monkeypatch.setattr(lfm, "_model", _FakeLfmModel([[i] for i in hello] * 100))
    capped = lfm.transcribe(clips["tone"], None)
    assert capped.truncated is True and capped.text.startswith("hello")
    assert capped.truncated_reason == "token cap"

    # <|audio_start|> or an audio frame (8 codebooks): the model began speaking. The text so far
    # is kept, the row flagged, and nothing after it is read.
    audio_frame = [5] * 8
    for script in ([[i] for i in hello[:2]] + [[128], audio_frame] + [[i] for i in hello[2:]] + [[7]],
                   [[i] for i in hello[:2]] + [audio_frame] + [[i] for i in hello[2:]] + [[7]]):
        fake = _FakeLfmModel(script)
        monkeypatch.setattr(lfm, "_model", fake)
        spoken = lfm.transcribe(clips["tone"], None)
        assert spoken == Transcription("he", truncated=True, truncated_reason=spoken.truncated_reason)
        assert "audio_start" in spoken.truncated_reason


def test_lfm_cached_generation_matches_recompute(lfm, clips):
    """liquid-audio 1.3.0 passes ``past_key_values=`` to transformers' Lfm2Model and reads
    ``.past_key_values`` back (deprecated in transformers 5.x, removal announced for 5.40). If the
    cache stopped flowing, generation would silently continue from the last token alone: compare
    the cached greedy stream with a greedy loop that recomputes the whole prefix every step."""
    import torch
    from liquid_audio import ChatState

    chat = ChatState(lfm._processor, dtype=torch.float32)
    chat.new_turn("system")
    chat.add_text("Perform ASR.")
    chat.end_turn()
    chat.new_turn("user")
    chat.add_audio(torch.from_numpy(clips["beckett"]).unsqueeze(0), SAMPLE_RATE)
    chat.end_turn()
    chat.new_turn("assistant")
    model = lfm._model
    steps = 12
    cached = [int(t.item()) for t in model.generate_sequential(**chat, max_new_tokens=steps) if t.numel() == 1]
    recomputed: list[int] = []
    with torch.no_grad():
        embeddings = model._prefill(**{k: chat[k] for k in chat})
        for _ in range(len(cached)):
            hidden = model.lfm(inputs_embeds=embeddings, use_cache=False).last_hidden_state
            token = torch.nn.functional.linear(hidden[0, -1], model.lfm.embed_tokens.weight).argmax()
            recomputed.append(int(token))
            embeddings = torch.cat([embeddings, model.lfm.embed_tokens(token)[None, None]], dim=1)
    assert len(cached) == steps and len(set(cached)) > 1
    assert cached == recomputed


def test_lfm_hub_id_downloads_without_speech_output_weights(lfm_dir, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(lfm_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    from evaluator.models.backends.lfm_audio import LfmAudioBackend

    backend = LfmAudioBackend("LiquidAI/LFM2.5-Audio-1.5B", "cpu", {"revision": "abc123"}, 1)
    assert backend.weights == str(lfm_dir)
    (repo_id, kwargs), = calls
    assert repo_id == "LiquidAI/LFM2.5-Audio-1.5B" and kwargs["revision"] == "abc123"
    assert "audio_detokenizer/*" in kwargs["ignore_patterns"]
    assert backend.library_versions().keys() == {"liquid-audio", "torch", "transformers"}


def test_lfm_short_and_empty_clips(lfm):
    for samples in (10, 0):
        result = lfm.transcribe(np.zeros(samples, dtype=np.float32), None)
        assert isinstance(result.text, str)


def test_lfm_options(lfm_dir):
    from evaluator.models.backends.lfm_audio import LfmAudioBackend

    with pytest.raises(ConfigError, match="unknown option.*beam_size"):
        _lfm(lfm_dir, {"beam_size": 5})
    assert LfmAudioBackend.resolve_options({}, "cuda")["dtype"] == "bfloat16"
    assert LfmAudioBackend.resolve_options({}, "mps")["dtype"] == "float32"
    with pytest.raises(ConfigError, match="dtype"):
        _lfm(lfm_dir, {"dtype": "int8"})
    with pytest.raises(ConfigError, match="revision"):
        _lfm(lfm_dir, {"revision": "main"})


def test_lfm_cuda_without_gpu_is_a_clear_error(lfm_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from evaluator.models.backends.lfm_audio import LfmAudioBackend

    with pytest.raises(ConfigError, match="CUDA"):
        LfmAudioBackend(str(lfm_dir), "cuda", {}, 1)


# --------------------------------------------------------------------------------------------
# SeamlessM4T v2
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seamless_dir(tmp_path_factory):
    from tests.tiny_models import make_tiny_seamless_m4t

    return make_tiny_seamless_m4t(tmp_path_factory.mktemp("seamless") / "tiny-seamless-m4t-v2")


def _seamless(model_dir, options=None):
    from evaluator.models.backends import SeamlessM4TBackend

    with offline():
        return SeamlessM4TBackend(str(model_dir), "cpu", options or {}, 1)


@pytest.fixture(scope="module")
def seamless(seamless_dir, no_cuda):
    return _seamless(seamless_dir, {"batch_size": 3})


def test_seamless_transcribes_on_cpu_deterministically(seamless, clips):
    assert seamless.device == "cpu"
    assert seamless.effective_options["dtype"] == "float32"
    assert seamless.batch_size == 3
    for name, audio in clips.items():
        first = seamless.transcribe(audio, "en")
        assert isinstance(first, Transcription) and isinstance(first.text, str), name
        assert seamless.transcribe(audio, "eng") == first, name  # the same language, spelled two ways
    assert seamless.transcribe(clips["beckett"], "en").text


def test_seamless_batch_matches_one_by_one(seamless, clips):
    """Padding, masks, language groups and length sorting must not change any result."""
    audios = [clips["beckett"], clips["tone"], clips["beckett"][: 2 * SAMPLE_RATE], clips["tone"][:4000],
              clips["beckett"][SAMPLE_RATE : 4 * SAMPLE_RATE]]
    languages = ["en", "fr", "eng", "de", "en_us"]
    batched = seamless.transcribe_batch(audios, languages)
    single = [seamless.transcribe(a, lang) for a, lang in zip(audios, languages, strict=True)]
    assert batched == single
    assert len({r.text for r in single}) > 1  # the random model's output depends on the input


def test_seamless_token_cap_sets_truncated(seamless_dir, clips):
    backend = _seamless(seamless_dir, {"max_new_tokens": 2})
    outputs = []
    generate = backend.adapter.model.generate

    def spy(**kwargs):
        out = generate(**kwargs)
        outputs.append(out)
        return out

    backend.adapter.model.generate = spy
    result = backend.transcribe(clips["beckett"], "en")
    rows = outputs[0].tolist()
    # The tiny model really ran into the cap: two new tokens after </s> __eng__, neither </s> ...
    assert len(rows[0]) == 4 and 3 not in rows[0][2:], rows
    # ... and the backend says so.
    assert result.truncated is True


def test_seamless_end_token_detection(seamless, clips, monkeypatch):
    import torch

    eng = seamless.adapter.model.generation_config.text_decoder_lang_to_code_id["eng"]
    the = seamless.adapter.processor.tokenizer.convert_tokens_to_ids("▁the")
    scripted = torch.tensor([[3, eng, the, 3] + [0] * 30, [3, eng] + [the] * 32])
    calls = []

    def fake_generate(**kwargs):
        calls.append(kwargs)
        return scripted

    monkeypatch.setattr(seamless.adapter.model, "generate", fake_generate)
    ended, capped = seamless.transcribe_batch([clips["tone"], clips["tone"]], ["en", "en"])
    assert ended == Transcription("the", truncated=False)
    assert capped == Transcription(" ".join(["the"] * 32), truncated=True, truncated_reason="token cap")
    call = calls[0]
    assert call["tgt_lang"] == "eng" and call["num_beams"] == 1 and call["do_sample"] is False
    assert call["max_new_tokens"] == 32  # 1 s of audio: the minimum budget
    assert call["input_features"].shape[0] == 2 and call["attention_mask"].shape[0] == 2


def test_seamless_languages(seamless, clips):
    from evaluator.models.families.seamless import seamless_language

    supported = {"eng", "fra", "por", "cmn", "cmn_Hant", "arb"}
    assert seamless_language("en", supported) == "eng"
    assert seamless_language("EN-us", supported) == "eng"
    assert seamless_language("eng", supported) == "eng"
    assert seamless_language("__fra__", supported) == "fra"
    assert seamless_language("pt-BR", supported) == "por"
    assert seamless_language("zh", supported) == "cmn"
    assert seamless_language("zh-TW", supported) == "cmn_Hant"
    assert seamless_language("ar", supported) == "arb"
    with pytest.raises(ValueError, match="'xx'.*eng"):
        seamless_language("xx", supported)

    with pytest.raises(ValueError, match="--language"):
        seamless.transcribe(clips["tone"], None)
    with pytest.raises(ValueError, match="--language"):
        seamless.transcribe_batch([clips["tone"], clips["tone"]], ["en", ""])
    with pytest.raises(ValueError, match="'ja'.*deu, eng, fra, spa"):
        seamless.transcribe(clips["tone"], "ja")  # a real Seamless language, not in the tiny model


def test_seamless_short_clip(seamless):
    assert isinstance(seamless.transcribe(np.zeros(10, dtype=np.float32), "en").text, str)


def test_seamless_options(seamless_dir):
    from evaluator.models.backends import SeamlessM4TBackend

    with pytest.raises(ConfigError, match="unknown option.*beam_size"):
        _seamless(seamless_dir, {"beam_size": 5})
    with pytest.raises(ConfigError, match="batch_size"):
        _seamless(seamless_dir, {"batch_size": 0})
    assert SeamlessM4TBackend.resolve_options({}, "cuda")["dtype"] == "float16"


def test_seamless_cuda_without_gpu_is_a_clear_error(seamless_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from evaluator.models.backends import SeamlessM4TBackend

    with pytest.raises(ConfigError, match="CUDA"):
        SeamlessM4TBackend(str(seamless_dir), "cuda", {}, 1)
