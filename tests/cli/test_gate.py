"""The CI gate fails closed: `compare --fail-if-worse` exits non-zero, naming why, when the runs
share no samples, when the candidate covers too little of the baseline, when its run is not
finished and when it has error rows (unless --allow-errors); it passes a complete candidate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evaluator.cli import main
from evaluator.results.gate import EXIT_UNJUDGED, EXIT_WORSE
from evaluator.results.store import Store
from tests.results.test_compare import make_db, row


def samples(run_id: str, model: str, n: int, *, dataset: str = "/data/eval", errors: int = 1,
            failed: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    return [row(run_id, model, f"clip_{i:02d}.wav", errors=errors, dataset=dataset,
                error="decode failed" if i in failed else None) for i in range(n)]


def gate(db: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["compare", "--db", str(db), "--run", "A", "--run", "B", "--fail-if-worse", "100",
                 "--resamples", "100", "--top", "0", *extra])
    return code, capsys.readouterr().err


def test_runs_that_share_no_sample_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the same clips read from two checkouts: today's dataset identity is the path
    db = make_db(tmp_path / "g.duckdb", {"A": samples("A", "m:base", 25, dataset="/ci/build-1/eval"),
                                         "B": samples("B", "m:new", 25, dataset="/ci/build-2/eval")}, finished=True)
    code, err = gate(db, capsys)
    assert code == EXIT_UNJUDGED
    assert "m:new@B and m:base@A have no paired samples on /ci/build-1/eval" in err
    assert "share no sample" in err and "OK:" not in err


def test_a_candidate_that_scored_10_of_25_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = make_db(tmp_path / "g.duckdb", {"A": samples("A", "m:base", 25), "B": samples("B", "m:new", 10)},
                 finished=True)
    code, err = gate(db, capsys)
    assert code == EXIT_UNJUDGED
    assert "m:new@B covers 10 of m:base@A's 25 samples on /data/eval (40%), below --min-coverage 100%" in err
    assert gate(db, capsys, "--min-coverage", "40")[0] == 0
    assert gate(db, capsys, "--min-coverage", "0")[0] == 2  # a usage error


def test_an_unfinished_candidate_run_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = make_db(tmp_path / "g.duckdb", {"A": samples("A", "m:base", 25), "B": samples("B", "m:new", 25)},
                 finished=True)
    with Store(str(db)) as store:
        store.update_run("B", status="running", finished_at=None)
    code, err = gate(db, capsys)
    assert code == EXIT_UNJUDGED and "run B is running, not finished" in err
    with Store(str(db)) as store:  # its driver is gone: the heartbeat stopped
        store.con.execute("UPDATE runs SET heartbeat_at = heartbeat_at - INTERVAL 1 HOUR WHERE run_id = 'B'")
    assert "run B is interrupted, not finished" in gate(db, capsys)[1]


def test_error_rows_fail_unless_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = make_db(tmp_path / "g.duckdb", {"A": samples("A", "m:base", 25),
                                         "B": samples("B", "m:new", 25, failed=(3, 4))}, finished=True)
    code, err = gate(db, capsys)
    assert code == EXIT_UNJUDGED and "m:new@B has 2 error rows on /data/eval" in err and "--allow-errors" in err
    code, err = gate(db, capsys, "--allow-errors")
    assert code == 0 and "on 23 paired samples" in err


def test_a_complete_candidate_passes_and_a_worse_one_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = make_db(tmp_path / "g.duckdb", {"A": samples("A", "m:base", 25), "B": samples("B", "m:new", 25, errors=3)},
                 finished=True)
    code, err = gate(db, capsys)
    assert code == 0 and "OK: no model is worse than m:base@A beyond the gate (1 model checked on 25 paired" in err
    code = main(["compare", "--db", str(db), "--run", "A", "--run", "B", "--fail-if-worse", "10",
                 "--resamples", "100"])
    err = capsys.readouterr().err
    assert code == EXIT_WORSE
    assert "FAIL: m:new@B is worse than m:base@A by 20.00 WER points" in err and "cannot judge" not in err


def test_one_model_alone_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = make_db(tmp_path / "g.duckdb", {"A": samples("A", "m:base", 5)}, finished=True)
    code = main(["compare", "--db", str(db), "--fail-if-worse", "1", "--resamples", "100"])
    assert code == EXIT_UNJUDGED and "nothing was compared" in capsys.readouterr().err


def test_samples_the_candidate_cannot_transcribe_are_no_error_rows(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # an English-only candidate on a set with two Spanish clips: those rows say "not transcribable"
    english_only = samples("B", "m:new", 25)
    for r in english_only[:2]:
        r.update(error="LanguageError: m:new does not transcribe Spanish (es); it transcribes: en",
                 hypothesis=None, substitutions=None, deletions=None, insertions=None, hits=None)
    db = make_db(tmp_path / "g.duckdb", {"A": samples("A", "m:base", 25), "B": english_only}, finished=True)
    code, err = gate(db, capsys)
    assert code == 0 and "error rows" not in err and "on 23 paired samples" in err
