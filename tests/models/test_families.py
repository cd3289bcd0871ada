"""The transformers backend's dispatch on config.json, on the driver (no model loaded, no transformers import)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from evaluator.errors import ConfigError
from evaluator.models.backends import get_backend
from evaluator.models.families import FAMILIES, families_table, family_for, read_config
from evaluator.models.families.backend import FamilyBackend, TransformersBackend, plan_batches
from evaluator.models.families.whisper import TransformersWhisperBackend
from evaluator.models.files import weight_files
from evaluator.run.plan.placement import estimate_memory


def checkpoint(tmp_path: Path, name: str, config: dict, params: int = 0) -> Path:
    """A folder holding ``config.json`` (and a safetensors header of ``params`` float32 values)."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    if params:
        header = json.dumps({"w": {"dtype": "F32", "shape": [params], "data_offsets": [0, 4 * params]}}).encode()
        (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(4 * params))
    return folder


@pytest.mark.parametrize(("config", "family", "kind"), [
    ({"model_type": "wav2vec2", "architectures": ["Wav2Vec2ForCTC"]}, "ctc", "ctc"),
    ({"model_type": "hubert", "architectures": ["HubertForCTC"]}, "ctc", "ctc"),
    ({"model_type": "wavlm"}, "ctc", "ctc"),
    ({"model_type": "parakeet_ctc", "architectures": ["ParakeetForCTC"]}, "ctc", "ctc"),
    ({"model_type": "lasr_ctc"}, "ctc", "ctc"),
    ({"model_type": "parakeet_tdt", "architectures": ["ParakeetForTDT"]}, "parakeet-transducer", "transducer"),
    ({"model_type": "parakeet_rnnt"}, "parakeet-transducer", "transducer"),
    ({"model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"]}, "whisper", "seq2seq"),
])
def test_config_picks_the_family(tmp_path: Path, config: dict, family: str, kind: str) -> None:
    folder = checkpoint(tmp_path, "m", config)
    picked = family_for(read_config(str(folder))[0], str(folder))
    assert (picked.name, picked.kind) == (family, kind)
    cls = get_backend("transformers").for_model(str(folder), {})
    assert not issubclass(TransformersBackend, TransformersWhisperBackend)  # a dispatcher, no family's backend
    if family == "whisper":
        assert cls is TransformersWhisperBackend  # Whisper runs in its own backend
    else:
        assert issubclass(cls, FamilyBackend)
        assert cls.family is picked and cls.long_form_default == "chunked" and cls.window_seconds == 30.0
        assert cls.check_model(str(folder), {}).kind == "path"


def test_bundled_whisper_stays_on_the_whisper_backend() -> None:
    assert get_backend("transformers").for_model("tiny.en", {}) is TransformersWhisperBackend
    assert TransformersBackend.supported_languages("tiny.en") == frozenset({"en"})
    assert TransformersBackend.supported_languages("openai/whisper-small") is not None  # not downloaded: Whisper's


@pytest.mark.parametrize("config", [
    {"model_type": "bert", "architectures": ["BertForMaskedLM"]},  # text only
    {"model_type": "vit", "architectures": ["ViTForImageClassification"]},  # image
    {"model_type": "llama", "architectures": ["LlamaForCausalLM"]},
    {"model_type": "wav2vec2", "architectures": ["Wav2Vec2ForPreTraining"]},  # no CTC head: not fine-tuned for ASR
])
def test_an_architecture_no_family_runs_is_refused_on_the_driver(tmp_path: Path, config: dict) -> None:
    folder = str(checkpoint(tmp_path, "m", config))
    for call in (lambda: TransformersBackend.check_model(folder, {}),  # the CLI's check before Ray starts
                 lambda: TransformersBackend.for_model(folder, {})):  # the driver's plan, before any actor
        with pytest.raises(ConfigError) as err:
            call()
        message = str(err.value)
        assert config["architectures"][0] in message and "not a speech recognition architecture" in message
        assert "Supported families:" in message
        assert all(f.name in message for f in FAMILIES) and "wav2vec2" in message and "parakeet_tdt" in message


def test_remote_code_is_refused_unless_asked(tmp_path: Path) -> None:
    folder = str(checkpoint(tmp_path, "m", {"model_type": "my_asr", "architectures": ["MyASR"],
                                            "auto_map": {"AutoModel": "modeling_my.MyASR"}}))
    with pytest.raises(ConfigError, match=r"auto_map.*\?trust_remote_code=true"):
        TransformersBackend.for_model(folder, {})
    with pytest.raises(ConfigError, match="not a speech recognition architecture"):  # asked, still no family
        TransformersBackend.for_model(folder, {"trust_remote_code": True})


def test_folder_without_config_and_uncached_hub_id_fail_in_one_line(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="has no config.json, so it is not a transformers checkpoint"):
        TransformersBackend.for_model(str(tmp_path / "empty"), {})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ConfigError) as err:
        read_config("facebook/wav2vec2-base-960h")
    assert "hf download facebook/wav2vec2-base-960h" in str(err.value) and "\n" not in str(err.value)


def test_family_options_are_checked(tmp_path: Path) -> None:
    cls = TransformersBackend.for_model(str(checkpoint(tmp_path, "m", {"model_type": "wav2vec2"})), {})
    with pytest.raises(ConfigError, match="valid: batch_size, dtype, revision, trust_remote_code"):
        cls.resolve_options({"num_beams": 2}, "cpu")
    assert cls.resolve_options({}, "cpu")["dtype"] == "float32"
    assert cls.resolve_options({}, "cuda")["dtype"] == "float16"
    assert cls.resolve_options({"dtype": "bfloat16"}, "cuda")["dtype"] == "bfloat16"
    with pytest.raises(ConfigError, match="for accelerators"):
        cls.resolve_options({"dtype": "bfloat16"}, "cpu")
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        cls.resolve_options({"batch_size": 0}, "cpu")


def test_memory_is_planned_from_the_parameter_count(tmp_path: Path) -> None:
    folder = str(checkpoint(tmp_path, "m", {"model_type": "hubert"}, params=1_000_000))
    cls = TransformersBackend.for_model(folder, {})
    estimate = estimate_memory(weight_files(cls.check_model(folder, {})), "float16", cls.default_memory_mb,
                               overhead_mb=cls.runtime_memory_mb)
    assert "1 M parameters" in estimate.source and estimate.mb == pytest.approx(2_000_000 / 2**20 + 1300)


def test_batches_sorted_by_length_and_unpadded_where_padding_changes_answers() -> None:
    lengths = [30, 10, 20, 10, 30, 10]
    assert plan_batches(lengths, None, 2, pads_safely=True) == [[1, 3], [5, 2], [0, 4]]
    assert plan_batches(lengths, None, 2, pads_safely=False) == [[1, 3], [5], [2], [0, 4]]
    assert plan_batches(lengths, ["en", "fr", "en", "en", "fr", "en"], 8, True) == [[1, 4], [3, 5, 2, 0]]


def test_models_table_lists_each_family_with_its_architectures() -> None:
    rows = {row[0]: row for row in families_table()}
    assert rows["ctc"][1] == "ctc" and "Wav2Vec2ForCTC" in rows["ctc"][2] and "ParakeetForCTC" in rows["ctc"][2]
    assert "facebook/wav2vec2-base-960h" in rows["ctc"][3] and "nvidia/parakeet-ctc-1.1b" in rows["ctc"][3]
    assert rows["parakeet-transducer"][2] == "ParakeetForTDT, ParakeetForRNNT"
    assert "nvidia/parakeet-tdt-0.6b-v3" in rows["parakeet-transducer"][3]
    assert rows["whisper"][1] == "seq2seq"
