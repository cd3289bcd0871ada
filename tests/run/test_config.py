"""Model specs, RunConfig validation and round trips, backend options and device planning."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from evaluator.data.spec import DatasetSpec
from evaluator.errors import ConfigError
from evaluator.models.backends import backend_names, get_backend
from evaluator.models.backends.faster_whisper import FasterWhisperBackend
from evaluator.models.spec import ModelSpec, parse_model_spec
from evaluator.run.plan.config import RunConfig, run_config_from_json
from evaluator.run.plan.devices import MPS_RESOURCE, plan_device

FW = "faster-whisper"

# ---------------------------------------------------------------------------------------- specs


@pytest.mark.parametrize(
    ("spec", "backend", "model", "options"),
    [
        ("faster-whisper:tiny.en", FW, "tiny.en", ()),
        ("  faster-whisper:base  ", FW, "base", ()),
        ("faster-whisper:/models/ct2-small", FW, "/models/ct2-small", ()),
        ("faster-whisper:Systran/faster-whisper-tiny", FW, "Systran/faster-whisper-tiny", ()),
        ("faster-whisper:C:/models/x", FW, "C:/models/x", ()),
        (
            "faster-whisper:tiny.en?beam_size=5&compute_type=int8&vad_filter=true",
            FW, "tiny.en", (("beam_size", 5), ("compute_type", "int8"), ("vad_filter", True)),
        ),
        (
            "faster-whisper:base?temperature=0.2&condition_on_previous_text=False&max_new_tokens=none",
            FW, "base",
            (("condition_on_previous_text", False), ("max_new_tokens", None), ("temperature", 0.2)),
        ),
        ("faster-whisper:base?initial_prompt=", FW, "base", (("initial_prompt", ""),)),
        ("faster-whisper:base?", FW, "base", ()),
    ],
)
def test_parse_model_spec(spec: str, backend: str, model: str, options: tuple) -> None:
    parsed = parse_model_spec(spec)
    assert (parsed.backend, parsed.model, parsed.options) == (backend, model, options)
    assert parse_model_spec(parsed.label) == parsed


def test_option_types_are_coerced() -> None:
    spec = parse_model_spec("faster-whisper:tiny.en?beam_size=5&patience=1.5&vad_filter=TRUE&x=abc")
    opts = spec.options_dict()
    assert opts == {"beam_size": 5, "patience": 1.5, "vad_filter": True, "x": "abc"}
    assert [type(v) for v in opts.values()] == [int, float, bool, str]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tiny.en", "must look like BACKEND:MODEL"),
        ("", "must look like BACKEND:MODEL"),
        (":tiny.en", "must look like BACKEND:MODEL"),
        ("faster-whisper:", "must look like BACKEND:MODEL"),
        ("faster-whisper:?beam_size=5", "names no model"),
        ("whisperx:large-v3", "unknown backend 'whisperx'"),
        ("Faster-Whisper:tiny", "unknown backend"),
        ("faster-whisper:tiny?=5", "empty option name"),
    ],
)
def test_parse_model_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_model_spec(spec)
    if "BACKEND" in message or "unknown backend" in message:
        assert "faster-whisper" in str(info.value)  # lists the valid backends


def test_label_is_normalised_spec() -> None:
    spec = parse_model_spec("faster-whisper:tiny.en?vad_filter=true&beam_size=5")
    assert spec.label == "faster-whisper:tiny.en?beam_size=5&vad_filter=True"
    assert parse_model_spec("faster-whisper:tiny.en").label == "faster-whisper:tiny.en"


def test_label_round_trips_values_with_reserved_characters() -> None:
    spec = parse_model_spec("faster-whisper:base?initial_prompt=Q%26A%3D50%25")
    assert spec.options_dict() == {"initial_prompt": "Q&A=50%"}
    assert parse_model_spec(spec.label) == spec


# ------------------------------------------------------------------------------------ RunConfig

TINY = parse_model_spec("faster-whisper:tiny.en")
BASE = parse_model_spec("faster-whisper:base")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"models": ()}, "no model given"),
        ({"models": (TINY, TINY)}, "listed twice"),
        ({"models": (TINY, parse_model_spec("faster-whisper:tiny.en"))}, "listed twice"),
        ({"device": "gpu"}, "valid: auto, cpu, cuda, cuda:N, mps"),
        ({"device": "mps:0"}, "unknown device"),
        ({"device": "cpu:1"}, "unknown device"),
        ({"device": ""}, "unknown device"),
        ({"max_samples": 0}, "max_samples must be at least 1"),
        ({"max_samples": -3}, "max_samples"),
        ({"actors_per_model": 0}, "actors_per_model"),
        ({"cpus_per_actor": 0}, "cpus_per_actor"),
        ({"shard_size": 0}, "shard_size"),
        ({"max_shard_attempts": 0}, "max_shard_attempts"),
    ],
)
def test_run_config_validation(kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"models": (TINY,), **kwargs}
    with pytest.raises(ConfigError, match=message):
        RunConfig(**kwargs)


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:3", "mps"])
def test_run_config_valid_devices(device: str) -> None:
    assert RunConfig(models=(TINY,), device=device).device == device


@pytest.mark.parametrize("device", ["cuda:", "cuda:x", "cuda:0:1"])
def test_run_config_rejects_malformed_cuda_index(device: str) -> None:
    with pytest.raises(ConfigError, match="unknown device"):
        RunConfig(models=(TINY,), device=device)


def test_run_config_two_models_with_different_options_are_distinct() -> None:
    beam = parse_model_spec("faster-whisper:tiny.en?beam_size=5")
    assert len(RunConfig(models=(TINY, beam, BASE)).models) == 3


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (
            {"model": "faster-whisper:tiny.en", "max-samples": 5},
            {"models": (TINY,), "max_samples": 5},
        ),
        (
            {"model": ["faster-whisper:tiny.en", "faster-whisper:base"], "device": "cpu"},
            {"models": (TINY, BASE), "device": "cpu"},
        ),
        (
            {"models": ["faster-whisper:base"], "shard_size": 8, "cpus-per-actor": 2, "name": "nightly"},
            {"models": (BASE,), "shard_size": 8, "cpus_per_actor": 2, "name": "nightly"},
        ),
        (
            {"model": "faster-whisper:base", "dataset": "openslr/librispeech_asr", "split": "test.clean",
             "text-column": "text", "streaming": True, "config": "clean"},
            {"models": (BASE,), "dataset": DatasetSpec(source="openslr/librispeech_asr", split="test.clean",
                                                      text_column="text", streaming=True, config="clean")},
        ),
    ],
)
def test_from_mapping(mapping: dict[str, Any], expected: dict[str, Any]) -> None:
    cfg = RunConfig.from_mapping(mapping)
    for key, value in expected.items():
        assert getattr(cfg, key) == value


def test_from_mapping_makes_local_dataset_path_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    cfg = RunConfig.from_mapping({"model": "faster-whisper:base", "dataset": "data"})
    assert cfg.dataset.source == os.path.join(str(tmp_path), "data")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"model": "faster-whisper:base", "max_sample": 3}, "unknown config key 'max_sample'"),
        ({"model": "faster-whisper:base", "gpu": True}, "valid keys: .*max_samples"),
        ({"model": "faster-whisper:base", "source": 1, "bogus": 1}, "unknown config key 'bogus'"),
        ({}, "no model given"),
        ({"model": []}, "no model given"),
        ({"model": "tiny.en"}, "BACKEND:MODEL"),
        ({"model": "faster-whisper:base", "max-samples": 0}, "max_samples"),
    ],
)
def test_from_mapping_errors(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_mapping(mapping)


def test_unknown_key_error_lists_valid_keys() -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig.from_mapping({"model": "faster-whisper:base", "colour": "blue"})
    for key in ("dataset", "split", "models", "max_samples", "device", "text_column", "shard_size"):
        assert key in str(info.value)


@pytest.mark.parametrize(
    "cfg",
    [
        RunConfig(models=(TINY,)),
        RunConfig(
            models=(
                parse_model_spec("faster-whisper:tiny.en?beam_size=5&vad_filter=true&temperature=0.0"),
                BASE,
            ),
            dataset=DatasetSpec(source="some/hub-id", config="en", split="test", audio_column="a",
                                text_column="t", id_column="i", language_column="l"),
            db="/tmp/r.duckdb", name="x", device="cuda:1", language="en", max_samples=10,
            actors_per_model=2, cpus_per_actor=0.5, shard_size=2, max_shard_attempts=5, address="auto",
        ),
    ],
)
def test_json_round_trip(cfg: RunConfig) -> None:
    import json

    data = json.loads(json.dumps(cfg.to_json_dict()))  # what the runs table stores
    assert run_config_from_json(data) == cfg


def test_to_json_dict_lists_models_with_spec_and_options() -> None:
    cfg = RunConfig(models=(parse_model_spec("faster-whisper:base?beam_size=5"),))
    assert cfg.to_json_dict()["models"] == [
        {"spec": "faster-whisper:base?beam_size=5", "backend": FW, "model": "base",
         "options": {"beam_size": 5}}
    ]


# ------------------------------------------------------------------------------ backend options


def test_registry() -> None:
    assert "faster-whisper" in backend_names()
    assert get_backend("faster-whisper") is FasterWhisperBackend
    with pytest.raises(KeyError, match="valid backends: .*faster-whisper"):
        get_backend("nope")


@pytest.mark.parametrize(
    ("options", "device", "expected"),
    [
        ({}, "cpu", {"compute_type": "int8", "beam_size": 1}),
        ({}, "cuda", {"compute_type": "float16", "beam_size": 1}),
        ({}, "cuda:1", {"compute_type": "float16"}),
        ({"compute_type": "float32"}, "cuda", {"compute_type": "float32"}),
        ({"beam_size": 5, "vad_filter": True}, "cpu",
         {"beam_size": 5, "vad_filter": True, "compute_type": "int8"}),
    ],
)
def test_faster_whisper_resolve_options(
    options: dict[str, Any], device: str, expected: dict[str, Any]
) -> None:
    resolved = FasterWhisperBackend.resolve_options(options, device)
    assert set(resolved) == set(FasterWhisperBackend.options)
    for key, value in expected.items():
        assert resolved[key] == value


def test_resolve_options_does_not_mutate_defaults() -> None:
    FasterWhisperBackend.resolve_options({"beam_size": 7}, "cuda")
    assert FasterWhisperBackend.options["beam_size"] == 1
    assert FasterWhisperBackend.options["compute_type"] is None


@pytest.mark.parametrize("options", [{"beam": 5}, {"beam": 5, "lang": "en"}, {"device": "cpu"}])
def test_unknown_backend_option(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        FasterWhisperBackend.resolve_options(options, "cpu")
    message = str(info.value)
    for name in options:
        assert name in message
    assert "valid: " in message and "beam_size" in message and "compute_type" in message


def test_spec_options_feed_resolve_options() -> None:
    spec = parse_model_spec("faster-whisper:tiny.en?beam_size=5&compute_type=int8&vad_filter=true")
    resolved = FasterWhisperBackend.resolve_options(spec.options_dict(), "cuda")
    assert (resolved["beam_size"], resolved["compute_type"], resolved["vad_filter"]) == (5, "int8", True)


# ------------------------------------------------------------------------------------- devices

CUDA_CPU = ("cuda", "cpu")
ALL = ("cuda", "mps", "cpu")
CPU_ONLY = {"CPU": 8.0}
WITH_GPU = {"CPU": 8.0, "GPU": 2.0}
WITH_MPS = {"CPU": 8.0, MPS_RESOURCE: 1.0}
# MPS actors get the fallback variable in their environment before their process imports torch.
MPS_OPTIONS = {"num_cpus": 1, "resources": {MPS_RESOURCE: 1},
               "runtime_env": {"env_vars": {"PYTORCH_ENABLE_MPS_FALLBACK": "1"}}}


@pytest.mark.parametrize(
    ("requested", "devices", "cluster", "device", "ray_options", "warns"),
    [
        ("auto", CUDA_CPU, CPU_ONLY, "cpu", {"num_cpus": 2.0}, False),
        ("auto", CUDA_CPU, WITH_GPU, "cuda", {"num_gpus": 1, "num_cpus": 1}, False),
        ("auto", CUDA_CPU, {"CPU": 8.0, "GPU": 0.5}, "cpu", {"num_cpus": 2.0}, False),
        ("auto", CUDA_CPU, WITH_MPS, "cpu", {"num_cpus": 2.0}, False),
        ("auto", ALL, WITH_MPS, "mps", MPS_OPTIONS, False),
        ("auto", ALL, {**WITH_MPS, "GPU": 1.0}, "cuda", {"num_gpus": 1, "num_cpus": 1}, False),
        ("auto", ("cpu",), WITH_GPU, "cpu", {"num_cpus": 2.0}, False),
        ("cpu", CUDA_CPU, WITH_GPU, "cpu", {"num_cpus": 2.0}, False),
        ("cuda", CUDA_CPU, WITH_GPU, "cuda", {"num_gpus": 1, "num_cpus": 1}, False),
        ("cuda:1", CUDA_CPU, WITH_GPU, "cuda", {"num_gpus": 1, "num_cpus": 1}, False),
        ("mps", ALL, WITH_MPS, "mps", MPS_OPTIONS, False),
        ("mps", CUDA_CPU, WITH_MPS, "cpu", {"num_cpus": 2.0}, True),
        ("mps", CUDA_CPU, CPU_ONLY, "cpu", {"num_cpus": 2.0}, True),
        ("cuda", ("mps", "cpu"), CPU_ONLY, "cpu", {"num_cpus": 2.0}, True),
    ],
)
def test_plan_device(requested: str, devices: tuple[str, ...], cluster: dict[str, float], device: str,
                     ray_options: dict[str, Any], warns: bool) -> None:
    plan = plan_device(requested, FW, devices, cluster, cpus_per_actor=2.0)
    assert plan.device == device
    assert plan.ray_options == ray_options
    assert (plan.warning is not None) == warns
    if warns:
        assert requested in plan.warning and "cpu" in plan.warning


@pytest.mark.parametrize(
    ("requested", "devices", "cluster", "message"),
    [
        ("cuda", CUDA_CPU, CPU_ONLY, "no GPU"),
        ("cuda:0", CUDA_CPU, {}, "no GPU"),
        ("cuda", CUDA_CPU, {"CPU": 4.0, "GPU": 0.5}, "no GPU"),
        ("mps", ALL, CPU_ONLY, "no MPS"),
    ],
)
def test_plan_device_unavailable(requested: str, devices: tuple[str, ...], cluster: dict[str, float],
                                 message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_device(requested, FW, devices, cluster, cpus_per_actor=1.0)


@pytest.mark.parametrize(("cpus", "threads"), [(0.5, 1), (1.0, 1), (2.0, 2), (3.7, 3)])
def test_cpu_threads_follow_cpus_per_actor(cpus: float, threads: int) -> None:
    plan = plan_device("cpu", FW, CUDA_CPU, CPU_ONLY, cpus_per_actor=cpus)
    assert (plan.cpu_threads, plan.ray_options) == (threads, {"num_cpus": cpus})


def test_model_spec_is_hashable_and_frozen() -> None:
    spec = ModelSpec(FW, "tiny.en")
    assert {spec: 1}[ModelSpec(FW, "tiny.en")] == 1
    with pytest.raises(AttributeError):
        spec.model = "base"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("device", "cluster", "share", "expected"),
    [
        ("cuda", {"GPU": 1.0, "CPU": 8.0}, 0.5, {"num_gpus": 0.5, "num_cpus": 1}),
        ("mps", {"mps": 1.0, "CPU": 8.0}, 0.25, {**MPS_OPTIONS, "resources": {"mps": 0.25}}),
    ],
)
def test_plan_device_gpu_fractions(device: str, cluster: dict[str, float], share: float,
                                   expected: dict[str, Any]) -> None:
    plan = plan_device(device, "x", ("cuda", "mps", "cpu"), cluster, 1.0, share)
    assert plan.ray_options == expected


def test_gpus_per_actor_must_be_a_share() -> None:
    with pytest.raises(ConfigError, match="gpus_per_actor"):
        RunConfig(models=(TINY,), gpus_per_actor=2)


class _NotABackend:
    pass


@pytest.mark.parametrize(("spec", "error"), [
    ("tests.run.test_actor.Worker:x", "not a subclass of evaluator.models.backends.Backend"),
    ("tests.no_such_module.Backend:x", "cannot import Backend from tests.no_such_module"),
    ("tests.run.test_config.Missing:x", "cannot import Missing from tests.run.test_config"),
    ("tests.run.test_config._NotABackend:x", "not a subclass"),
])
def test_backend_by_import_path_errors(spec: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_model_spec(spec)


def test_backend_by_import_path() -> None:
    """A backend outside the package is named by its import path (one file, no registry edit)."""
    spec = parse_model_spec("evaluator.models.backends.faster_whisper.FasterWhisperBackend:tiny.en?beam_size=2")
    assert (spec.backend, spec.model, spec.options_dict()) == (
        "evaluator.models.backends.faster_whisper.FasterWhisperBackend", "tiny.en", {"beam_size": 2})
    assert get_backend(spec.backend) is FasterWhisperBackend
