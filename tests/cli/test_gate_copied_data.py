"""End to end: the same clips copied to another path (another CI checkout) and evaluated there
pair fully with the first run, so `compare --fail-if-worse 100` passes with every sample paired.

With a dataset named in a suite file, its identity is the name: this passes today. Read by its
path (`--dataset PATH`), the dataset's identity is the path until datasets are identified by a
name and a content fingerprint; that test fails until then.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evaluator.cli import main
from evaluator.data.builtin import sample_data_dir
from tests.conftest import write_metadata

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]

MODEL = "faster-whisper:tiny.en?compute_type=float32"


@pytest.fixture(scope="module")
def checkouts(tmp_path_factory: pytest.TempPathFactory, sample_rows: list[dict[str, str]]) -> Path:
    """Three clips in ``build-1/eval``, copied byte for byte to ``build-2/eval``."""
    root = tmp_path_factory.mktemp("checkouts")
    first = root / "build-1" / "eval"
    first.mkdir(parents=True)
    rows = [r for r in sample_rows if r["file_name"].startswith("espeak")][:3]
    for r in rows:
        shutil.copy(f"{sample_data_dir()}/{r['file_name']}", first / r["file_name"])
    write_metadata(first, [{"file_name": r["file_name"], "transcription": r["transcription"]} for r in rows])
    shutil.copytree(first, root / "build-2" / "eval")
    return root


def _gate(db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict], str]:
    code = main(["compare", "--db", str(db), "--run", "accepted", "--run", "candidate", "--fail-if-worse", "100",
                 "--format", "json", "--resamples", "100"])
    out, err = capsys.readouterr()
    return code, json.loads(out)["pairs"], err


def _run(db: Path, name: str, capsys: pytest.CaptureFixture[str], *dataset: str) -> None:
    assert main(["run", *dataset, "--model", MODEL, "--db", str(db), "--name", name, "--actors-per-model", "1"]) == 0
    capsys.readouterr()  # the run's leaderboard


def test_a_named_dataset_copied_elsewhere_pairs_fully(ray_cluster: object, checkouts: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    db = checkouts / "named.duckdb"
    for name, build in (("accepted", "build-1"), ("candidate", "build-2")):
        suite = checkouts / build / "suite.yaml"
        suite.write_text(f"datasets:\n  - {{name: eval, source: {checkouts / build / 'eval'}}}\n")
        _run(db, name, capsys, "--suite", str(suite))
    code, pairs, err = _gate(db, capsys)
    assert code == 0, err
    (pair,) = pairs
    assert pair["dataset"] == "eval" and pair["n"] == pair["baseline_samples"] == pair["shared"] == 3


def test_a_dataset_read_by_path_copied_elsewhere_pairs_fully(ray_cluster: object, checkouts: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    db = checkouts / "paths.duckdb"
    _run(db, "accepted", capsys, "--dataset", str(checkouts / "build-1" / "eval"))
    _run(db, "candidate", capsys, "--dataset", str(checkouts / "build-2" / "eval"))
    code, pairs, err = _gate(db, capsys)
    assert code == 0, err  # fails while a dataset read by path is identified by its path
    (pair,) = pairs
    assert pair["n"] == pair["baseline_samples"] == pair["shared"] == 3
