"""The Python API: `import evaluator` stays cheap; evaluator.open reads a database as DataFrames
holding the CLI's figures; evaluator.evaluate runs the CLI's driver (slow: Ray and tiny.en), and
the example notebook runs end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import evaluator
from evaluator.cli import main
from evaluator.errors import ConfigError
from tests.cli.demo_db import DEMO_MODELS, make_demo_db

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_demo_db(str(tmp_path_factory.mktemp("api") / "demo.duckdb"))


def cli_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    assert main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_import_is_cheap() -> None:
    code = ("import sys, evaluator; heavy = [m for m in ('ray', 'duckdb', 'pandas', 'torch', 'numpy', "
            "'evaluator.api', 'evaluator.run') if m in sys.modules]; print(heavy); "
            "assert callable(evaluator.evaluate) and callable(evaluator.open); print('evaluator.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout.split("\n")
    assert out[0] == "[]"  # nothing heavy at import
    assert out[1] == "True"  # the API loads on first use
    assert "evaluate" in dir(evaluator) and "open" in evaluator.__all__
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        evaluator.nothing  # noqa: B018


def test_leaderboard_is_the_cli_figures(demo_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    frame = evaluator.open(demo_db).leaderboard("demo")
    expected = cli_json(["leaderboard", "--db", demo_db, "--run", "demo"], capsys)
    assert frame.to_dict("records") == expected
    by_language = evaluator.open(demo_db).leaderboard("demo-multilingual", by="language")
    assert set(by_language["language"]) >= {"en", "de", "zh"}


def test_compare_is_the_cli_pairs(demo_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = evaluator.open(demo_db)
    frame = db.compare("demo")
    pairs = cli_json(["compare", "--db", demo_db, "--run", "demo", "--top", "0"], capsys)["pairs"]
    assert len(frame) == len(DEMO_MODELS) - 1
    assert frame[["baseline", "model", "delta", "p_value"]].to_dict("records") == [
        {k: p[k] for k in ("baseline", "model", "delta", "p_value")} for p in pairs]
    assert len(db.compare("demo", all_pairs=True)) == 6
    assert set(db.compare("demo", baseline="faster-whisper:base")["baseline"]) == {"faster-whisper:base"}


def test_runs_results_sql_and_relation(demo_db: str) -> None:
    with evaluator.open(demo_db) as db:
        runs = db.runs()
        assert list(runs["run_id"]) == ["demo", "demo-multilingual", "finetune"]  # newest first
        rows = db.results("demo")
        assert len(rows) == 4 * 24 and set(rows["model"]) == set(DEMO_MODELS)
        assert len(db.results()) == len(rows)  # default: the latest run
        wer = db.sql("SELECT wer FROM leaderboard WHERE run_id = 'demo' AND model = ?", ["faster-whisper:base"])
        counts = rows[rows["model"] == "faster-whisper:base"]
        errors = (counts["substitutions"] + counts["deletions"] + counts["insertions"]).sum()
        assert wer["wer"][0] == pytest.approx(errors / (counts["substitutions"] + counts["deletions"]
                                                        + counts["hits"]).sum())
        relation = db.relation("leaderboard", "demo-multilingual")
        assert relation.aggregate("count(*)").fetchall() == [(3,)]
        assert len(relation.df()) == 3
    assert db._con is None  # closed on leaving the with block


def test_usage_errors(tmp_path: Path, demo_db: str) -> None:
    with pytest.raises(ConfigError, match="no results database"):
        evaluator.open(tmp_path / "missing.duckdb")
    with pytest.raises(ConfigError, match="no run 'nope'.*demo"):
        evaluator.open(demo_db).leaderboard("nope")
    with pytest.raises(ConfigError, match="unknown config key 'max_sample'.*max_samples"):
        evaluator.evaluate(models=["faster-whisper:tiny.en"], db=tmp_path / "x.duckdb", max_sample=3)
    assert not (tmp_path / "x.duckdb").exists()  # refused before the database is created


def test_report(demo_db: str, tmp_path: Path) -> None:
    path = evaluator.open(demo_db).report("demo", tmp_path / "out" / "r.html")
    assert path.exists() and "faster-whisper:base" in path.read_text()


@pytest.mark.slow
def test_example_notebook_runs(tmp_path: Path, tiny_en_available: None) -> None:
    """examples/quickstart.ipynb, executed in a fresh kernel (which starts its own local Ray)."""
    import nbclient
    import nbformat

    notebook = nbformat.read(ROOT / "examples" / "quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(str(o.get("data", {}).get("text/plain", o.get("text", ""))) for o in outputs)
    assert "faster-whisper:tiny.en" in text and "quickstart.html True" in text
    frame = evaluator.open(tmp_path / "quickstart.duckdb").leaderboard()
    assert list(frame["scored"]) == [4]


@pytest.mark.slow
def test_evaluate_matches_the_cli(tmp_path: Path, ray_cluster: object, tiny_en_available: None,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "api.duckdb"
    run = evaluator.evaluate(models=["faster-whisper:tiny.en"], dataset="builtin:sample", db=db, max_samples=3,
                             name="from-python", progress=True)
    assert run.status == "finished" and run.rows == 3 and run.errors == 0
    frame = evaluator.open(db).leaderboard()
    (cli,) = cli_json(["leaderboard", "--db", str(db), "--run", "from-python"], capsys)
    assert frame["wer_%"][0] == cli["wer_%"] and frame["scored"][0] == 3
    assert run.leaderboard().to_dict("records") == [cli]
    hypotheses = run.results()["hypothesis"]
    assert hypotheses.notna().all() and (hypotheses.str.len() > 0).all()
