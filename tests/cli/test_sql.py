"""`evaluator sql` and `evaluator.open().sql` stay in the results database: reading or writing
files, ATTACH and extensions are refused with one line each; SELECTs over the results and views
work; --allow-files (allow_files=True) lifts it for the user's own queries."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

import evaluator
from evaluator.cli import main
from evaluator.errors import ConfigError
from tests.cli.demo_db import make_demo_db


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_demo_db(str(tmp_path_factory.mktemp("sql") / "demo.duckdb"))


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "auth_token.csv"
    path.write_text("token\nsecret-value-123\n")
    return path


def sql(argv: list[str], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> tuple[int, str, str]:
    caplog.clear()
    code = main(["sql", *argv])
    out = capsys.readouterr().out
    return code, out, "\n".join(r.getMessage() for r in caplog.records if r.levelname == "ERROR")


def test_selects_over_results_and_views_work(db: str, capsys: pytest.CaptureFixture[str],
                                             caplog: pytest.LogCaptureFixture) -> None:
    code, out, _ = sql(["--db", db, "--format", "json", "SELECT model, scored FROM leaderboard WHERE run_id = 'demo' "
                        "ORDER BY model"], capsys, caplog)
    assert code == 0 and len(json.loads(out)) == 4 and all(r["scored"] == 24 for r in json.loads(out))
    code, out, _ = sql(["--db", db, "--format", "csv", "SELECT count(*) AS n FROM results r JOIN runs USING (run_id) "
                        "WHERE runs.name = 'demo'"], capsys, caplog)
    assert code == 0 and out.split() == ["n", str(4 * 24)]


@pytest.mark.parametrize("query", [
    "SELECT * FROM read_csv_auto('{secret}')",
    "SELECT content FROM read_text('{secret}')",
    "COPY (SELECT * FROM results) TO '{out}'",
    "ATTACH '{other}' AS other",
    "LOAD httpfs",
    "SET enable_external_access = true",
])
def test_file_access_attach_and_extensions_are_refused_in_one_line(
        db: str, query: str, secret: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    other = tmp_path / "team.duckdb"
    duckdb.connect(str(other)).execute("CREATE TABLE results AS SELECT 1 AS x").close()
    out_file = tmp_path / "x.csv"
    code, out, err = sql(["--db", db, query.format(secret=secret, out=out_file, other=other)], capsys, caplog)
    assert code == 2 and out == ""
    assert "\n" not in err and err.startswith("query refused:")
    assert "--format csv > FILE" in err and "--allow-files" in err
    assert "secret-value" not in err and not out_file.exists()


def test_allow_files_reads_the_users_own_files(db: str, secret: Path, capsys: pytest.CaptureFixture[str],
                                               caplog: pytest.LogCaptureFixture) -> None:
    code, out, _ = sql(["--db", db, "--allow-files", "--format", "csv", f"SELECT token FROM read_csv_auto('{secret}')"],
                       capsys, caplog)
    assert code == 0 and out.split() == ["token", "secret-value-123"]


def test_the_database_stays_read_only(db: str, capsys: pytest.CaptureFixture[str],
                                      caplog: pytest.LogCaptureFixture) -> None:
    code, _, err = sql(["--db", db, "DELETE FROM results"], capsys, caplog)
    assert code == 2 and err.startswith("query refused:") and "read-only" in err
    assert evaluator.open(db).sql("SELECT count(*) AS n FROM results")["n"][0] > 0


def test_views_are_brought_up_to_date_before_the_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A file whose views are an older version's: the views are re-created (a write) before the
    sandbox locks the connection, so the query over a view works."""
    db = make_demo_db(str(tmp_path / "old.duckdb"))
    con = duckdb.connect(db)
    con.execute("DROP VIEW suite_leaderboard")
    con.execute("UPDATE schema_views SET sha256 = 'an older version'")
    con.close()
    code, out, _ = sql(["--db", db, "--format", "csv", "SELECT count(*) AS n FROM suite_leaderboard"], capsys, caplog)
    assert code == 0 and out.split()[0] == "n"


def test_the_python_api_is_sandboxed_alike(db: str, secret: Path) -> None:
    with evaluator.open(db) as handle:
        assert len(handle.sql("SELECT * FROM leaderboard WHERE run_id = ?", ["demo"])) == 4
        with pytest.raises(ConfigError, match=r"^query refused: .*allow_files=True") as refused:
            handle.sql(f"SELECT * FROM read_text('{secret}')")
        assert "\n" not in str(refused.value)
        assert handle.sql(f"SELECT token FROM read_csv_auto('{secret}')", allow_files=True)["token"][0] == \
            "secret-value-123"
        relation = handle.relation("results", "demo")
        with pytest.raises(duckdb.PermissionException):
            relation.query("r", f"SELECT * FROM read_text('{secret}')").fetchall()
