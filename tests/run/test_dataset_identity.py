"""A run records each dataset by name and content fingerprint, not by path: the same folder in
another checkout gives the same name, ids and fingerprint (every sample pairs), and resuming a
run whose data changed is refused, naming the sample, before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError
from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig
from tests.conftest import make_audiofolder

pytestmark = pytest.mark.slow

MODEL = parse_model_spec("tests.perfect_backend.PerfectTranscriber:perfect?timed=false")


def _config(folder: Path, db: Path) -> RunConfig:
    return RunConfig(models=(MODEL,), datasets=(DatasetSpec(source=str(folder)).resolved(),), language="en",
                     db=str(db), actors_per_model=1)


def _query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def checkouts(tmp_path_factory: pytest.TempPathFactory, sample_rows: list[dict[str, str]]) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("checkouts")
    rows = [{"file_name": r["file_name"], "transcription": r["transcription"]} for r in sample_rows[2:5]]
    first = make_audiofolder(root / "a" / "calls", rows)
    second = root / "b" / "calls"
    shutil.copytree(first, second)
    return first, second


def test_the_same_data_elsewhere_is_the_same_dataset_and_a_changed_one_cannot_resume(
        ray_cluster, checkouts: tuple[Path, Path], sample_rows: list[dict[str, str]]) -> None:
    first, second = checkouts
    db = first.parent.parent / "r.duckdb"
    runs = []
    for folder in (first, second):
        with Store(str(db)) as store:
            runs.append(run_evaluation(_config(folder, db), store).run_id)
    files = sorted(r["file_name"] for r in sample_rows[2:5])
    for run_id in runs:
        assert [r[0] for r in _query(db, f"SELECT DISTINCT sample_id FROM results WHERE run_id = '{run_id}' "
                                         "ORDER BY 1")] == files
    identity = _query(db, "SELECT dataset, fingerprint, kind, ids, samples FROM dataset_identity ORDER BY run_id")
    assert identity[0] == identity[1]
    assert identity[0][0] == "calls" and identity[0][2:] == ("audiofolder", "file_name as the metadata file "
                                                             "writes it", 3)

    # one reference edited in the first checkout, then its run resumed: refused, nothing written
    metadata = first / "metadata.csv"
    changed = sample_rows[3]["file_name"]
    metadata.write_text(metadata.read_text().replace(sample_rows[3]["transcription"], "an edited reference"))
    con = duckdb.connect(str(db))
    con.execute("UPDATE runs SET status = 'interrupted' WHERE run_id = ?", [runs[0]])
    con.close()
    with Store(str(db)) as store, pytest.raises(DatasetError, match=rf"1 changed \({changed}\)"):
        run_evaluation(_config(first, db), store, run_id=runs[0], resume=True)
    assert _query(db, f"SELECT status FROM runs WHERE run_id = '{runs[0]}'") == [("interrupted",)]
