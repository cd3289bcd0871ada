"""`evaluator show` keys samples by (dataset, id): an id found in two datasets of a run is listed,
never merged; --dataset picks one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluator.cli import main
from evaluator.results.store import Store

RUN = "20261207-000000-show"


def _row(dataset: str, sample_id: str, reference: str, hypothesis: str) -> dict[str, object]:
    return {"run_id": RUN, "model": "m:one", "backend": "b", "dataset": dataset, "split": "test",
            "sample_id": sample_id, "sample_index": 0, "reference": reference, "hypothesis": hypothesis,
            "reference_norm": reference, "hypothesis_norm": hypothesis}


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "r.duckdb")
    with Store(path) as store:
        store.create_run(RUN, "two", {}, evaluator_version="test", normalizer=("n", "1"), host={})
        store.insert_results([_row("calls", "clip.wav", "hello there", "hello there"),
                              _row("meetings", "clip.wav", "good morning all", "good morning"),
                              _row("meetings", "other.wav", "bye", "bye")])
    return path


def test_an_id_in_two_datasets_is_listed_not_merged(db: str, caplog: pytest.LogCaptureFixture) -> None:
    assert main(["show", "--db", db, "--sample", "clip.wav"]) == 2
    assert "sample 'clip.wav' is in 2 datasets of run 20261207-000000-show: calls, meetings; choose one with " \
           "--dataset NAME" in caplog.text


def test_dataset_picks_the_sample(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--db", db, "--sample", "clip.wav", "--dataset", "meetings", "--format", "json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert (view["dataset"], view["reference"]) == ("meetings", "good morning all")
    assert [m["deletions"] for m in view["models"]] == [1]
    assert main(["show", "--db", db, "--sample", "other.wav"]) == 0  # in one dataset: no --dataset needed
    assert "(meetings/test)" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--sample", "other.wav", "--dataset", "calls"], "sample 'other.wav' is not in dataset 'calls' of run "
                                                      "20261207-000000-show; it is in meetings"),
    (["--sample", "clip.wav", "--dataset", "nope"], "dataset 'nope' is not in run 20261207-000000-show; its "
                                                    "datasets: calls, meetings"),
])
def test_a_wrong_dataset_names_the_right_ones(db: str, argv: list[str], message: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    assert main(["show", "--db", db, *argv]) == 2
    assert message in caplog.text
