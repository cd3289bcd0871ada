"""The lanes the tests stay in (tests/conftest.py, tests/ray_processes.py): the fast tier starts
no Ray and loads no model, markers are strict, a missing dependency fails instead of skipping,
and a test finds the Ray processes it may kill by ownership, not by name."""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tests.conftest as conftest
from evaluator.models.backends import BACKENDS, get_backend
from tests.ray_processes import Proc, alive, descendants, own_ray_workers, process_table

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def test_fast_tier_cannot_start_ray() -> None:
    import ray

    try:
        with pytest.raises(pytest.fail.Exception, match="not marked slow started Ray"):
            ray.init(address="local", num_cpus=1, include_dashboard=False)
    finally:
        if ray.is_initialized():
            ray.shutdown()


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_fast_tier_cannot_load_a_model(name: str) -> None:
    with pytest.raises(pytest.fail.Exception, match=rf"loaded a model \({re.escape(name)}\)"):
        get_backend(name)("tiny.en", "cpu", {}, 1)


def test_model_libraries_are_the_backends_own() -> None:
    modules = {m for cls in BACKENDS.values() for m in cls.modules}
    assert set(conftest.MODEL_LIBRARIES) <= modules
    assert {"faster_whisper", "ctranslate2", "whisper", "transformers", "liquid_audio"} <= set(conftest.MODEL_LIBRARIES)


def _importorskips(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "importorskip"]


def test_no_test_skips_on_a_missing_dependency() -> None:
    found = [hit for path in sorted(TESTS.rglob("*.py")) for hit in _importorskips(path)]
    assert found == [], "a missing dependency must fail, not skip (tests/conftest.py checks them)"


HARDWARE = re.compile(r"GPU|MPS|CUDA|nvidia|Linux")


def _skips(path: Path) -> list[tuple[str, str]]:
    """(place, reason) of every ``pytest.skip(...)`` and ``pytest.mark.skipif(..., reason=...)``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("skip", "skipif"):
            texts = [a for a in [*node.args, *(k.value for k in node.keywords if k.arg in ("reason", "msg"))]
                     if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            found.append((f"{path.relative_to(TESTS)}:{node.lineno}", " ".join(t.value for t in texts)))
    return found


def test_tests_skip_only_for_missing_hardware() -> None:
    """A skip names the hardware it needs (an NVIDIA GPU, an Apple MPS device, the Linux CUDA
    libraries); anything else a test needs is installed, or the test fails saying how."""
    skips = [hit for path in sorted(TESTS.rglob("*.py")) for hit in _skips(path)]
    assert skips, "no skip found: the scan is broken"
    assert [place for place, reason in skips if not HARDWARE.search(reason)] == []


@pytest.mark.parametrize(("required", "missing"), [
    ([], []),
    (["numpy"], []),
    (["numpy", "evaluator_test_no_such_module"], ["evaluator_test_no_such_module"]),
])
def test_missing_modules(required: list[str], missing: list[str]) -> None:
    assert conftest.missing_modules(required) == missing


def test_missing_dependency_stops_the_session(monkeypatch) -> None:
    monkeypatch.setattr(conftest, "REQUIRED_MODULES", ["numpy", "evaluator_test_no_such_module"])
    with pytest.raises(pytest.UsageError, match=r"evaluator_test_no_such_module: pip install .*'\.\[all,dev\]'"):
        conftest.pytest_sessionstart(None)


def test_every_dependency_of_the_suite_is_installed() -> None:
    assert conftest.missing_modules(conftest.REQUIRED_MODULES) == []


def test_unknown_marker_is_an_error(tmp_path: Path) -> None:
    test = tmp_path / "test_typo.py"
    test.write_text("import pytest\n\n@pytest.mark.sloww\ndef test_x():\n    pass\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-c", str(REPO / "pyproject.toml"), "--rootdir", str(REPO), str(test)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert "'sloww' not found in `markers`" in proc.stdout + proc.stderr


@pytest.mark.parametrize(("roots", "table", "expected"), [
    (set(), {}, set()),
    ({1}, {}, set()),
    ({1}, {1: Proc(0, "S", "a")}, {1}),
    ({1}, {1: Proc(0, "S", "a"), 2: Proc(1, "S", "b"), 3: Proc(2, "S", "c"), 4: Proc(9, "S", "d")}, {1, 2, 3}),
    ({2, 4}, {1: Proc(0, "S", "a"), 2: Proc(1, "S", "b"), 3: Proc(2, "S", "c"), 4: Proc(9, "S", "d")}, {2, 3, 4}),
])
def test_descendants(roots: set[int], table: dict[int, Proc], expected: set[int]) -> None:
    assert descendants(roots, table) == expected


def test_own_ray_workers_are_descendants_not_namesakes() -> None:
    """A process titled like a Ray worker that is not ours (an orphan, as another cluster's
    workers are) is never picked; our own child is."""
    title = "exec -a 'ray::Worker' sleep 60"
    child = subprocess.Popen(["bash", "-c", title])
    orphan = int(subprocess.run(["bash", "-c", f"({title}) >/dev/null 2>&1 & echo $!"],
                                capture_output=True, text=True, check=True).stdout)
    try:
        for _ in range(100):  # until both run under the title
            table = process_table()
            if all(pid in table and table[pid].args.startswith("ray::Worker") for pid in (child.pid, orphan)):
                break
            time.sleep(0.05)
        workers = own_ray_workers()
        assert child.pid in workers
        assert orphan not in workers
        assert orphan in alive({orphan})
    finally:
        child.kill()
        child.wait()
        os.kill(orphan, signal.SIGKILL)


def test_process_table_keeps_whole_command_lines(monkeypatch) -> None:
    """A narrow terminal (``COLUMNS``) must not cut the arguments a head's processes are found by."""
    monkeypatch.setenv("COLUMNS", "80")
    marker = "x" * 300
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    try:
        assert process_table()[child.pid].args.endswith(marker)
    finally:
        child.kill()
        child.wait()
