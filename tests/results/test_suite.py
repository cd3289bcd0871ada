"""Suite results from stored rows: per-dataset figures, the average and pooled rows, the
`suite_leaderboard` view, the paired comparison and the rekey of a database from before suites."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from evaluator.results.records import ChunkRow, ResultRow, create_table_sql
from evaluator.results.store import Store
from evaluator.results.suite import matrix_rows, suite_compare, suite_results, suite_table
from evaluator.scoring.metrics import score
from tests.factories import create_run, result_row

RUN = "run-1"
A, B = "faster-whisper:tiny.en", "faster-whisper:base.en"
# Two datasets whose sample ids repeat (row indexes), of different sizes: the average weighs them
# equally, the pooled figure by words.
DATA = {
    "calls": [("the cat sat", "the cat sat"), ("a dog ran home", "a dog ran"), ("red sky", "red sky")],
    "meet": [("one two three four five six", "one two tree four five six")],
}
HYPS_B = {"calls": ["the cat sat", "a dog ran home", "red sky"], "meet": ["one two three four five six"]}


def _row(model: str, dataset: str, index: int, ref: str, hyp: str) -> dict[str, Any]:
    return result_row(RUN, model, str(index), ref, hyp, dataset=dataset, index=index)


@pytest.fixture
def store(tmp_path):
    with Store(str(tmp_path / "r.duckdb")) as s:
        create_run(s, RUN, "suite", models=[],
                   config={"datasets": [{"name": "calls", "source": "/x"}, {"name": "meet", "source": "/y"}]})
        rows = []
        for model in (A, B):
            for dataset, pairs in DATA.items():
                s.plan_model(RUN, model, dataset, "test", len(pairs))
                for i, (ref, hyp) in enumerate(pairs):
                    rows.append(_row(model, dataset, i, ref, hyp if model == A else HYPS_B[dataset][i]))
        s.insert_results(rows)
        yield s


def _wer(pairs: list[tuple[str, str]]) -> float:
    scores = [score(r, h) for r, h in pairs]
    return sum(x.substitutions + x.deletions + x.insertions for x in scores) / sum(x.ref_words for x in scores)


def test_repeated_sample_ids_of_two_datasets_are_both_stored(store):
    assert store.count_results(RUN)["rows"] == 8
    assert store.done_ids(RUN, A, dataset="meet") == {"0"}


def test_average_is_the_mean_of_dataset_wers_and_pooled_is_one_corpus_wer(store):
    calls, meet = _wer(DATA["calls"]), _wer(DATA["meet"])
    pooled = _wer(DATA["calls"] + DATA["meet"])
    assert calls != meet and pooled != pytest.approx((calls + meet) / 2)
    (a,) = [m for m in suite_results(store.con, RUN, resamples=200) if m.model == A]
    assert [c.dataset for c in a.cells] == ["calls", "meet"]
    assert [c.estimate for c in a.cells] == pytest.approx([calls, meet])
    assert a.average == pytest.approx((calls + meet) / 2) and a.pooled == pytest.approx(pooled)
    assert a.average_low <= a.average <= a.average_high and a.pooled_low <= a.pooled <= a.pooled_high
    assert a.rtfx == pytest.approx(4.0) and (a.scored, a.errors, a.partial) == (4, 0, False)
    view = store.con.execute("SELECT average, pooled_wer, datasets, partial, metric FROM suite_leaderboard "
                             "WHERE model = ?", [A]).fetchone()
    assert view == (pytest.approx(a.average), pytest.approx(pooled), 2, False, "wer")


def test_average_needs_every_dataset(store):
    store.con.execute("DELETE FROM results WHERE model = ? AND dataset = 'meet'", [B])
    (b,) = [m for m in suite_results(store.con, RUN, resamples=50) if m.model == B]
    assert b.average is None and b.partial
    assert store.con.execute("SELECT average, partial FROM suite_leaderboard WHERE model = ?", [B]).fetchone() == (
        None, True)


def test_matrix_rows_for_the_report(store):
    cells = matrix_rows(store.con, RUN, resamples=50)
    assert {(c["model"], c["dataset"]) for c in cells} == {(m, d) for m in (A, B)
                                                             for d in ("calls", "meet", "average", "pooled")}
    assert all({"metric", "estimate", "low", "high"} <= set(c) for c in cells)
    columns, rows = suite_table(suite_results(store.con, RUN, resamples=50), compact=False)
    assert columns[:4] == ["model", "calls_wer_%", "calls_wer_low", "calls_wer_high"] and len(rows) == 2


def test_compare_pairs_models_per_dataset_and_over_the_suite(store):
    deltas = {d.dataset: d for d in suite_compare(store.con, RUN, A, B, resamples=300)}
    assert list(deltas) == ["calls", "meet", "average", "pooled"]
    assert deltas["calls"].delta == pytest.approx(0 - _wer(DATA["calls"]))
    assert deltas["average"].delta == pytest.approx(-(_wer(DATA["calls"]) + _wer(DATA["meet"])) / 2)
    assert deltas["average"].high <= 0 and deltas["meet"].n == 1


def test_a_database_from_before_suites_is_rekeyed(tmp_path):
    path = str(tmp_path / "old.duckdb")
    with Store(path):
        pass
    con = duckdb.connect(path)
    con.execute("DROP TABLE results; DROP TABLE chunks")  # as an older version made them:
    old_results = create_table_sql(ResultRow)
    con.execute(old_results.replace("(run_id, model, dataset, sample_id)", "(run_id, model, sample_id)"))
    old_chunks = "\n".join(line for line in create_table_sql(ChunkRow).splitlines() if "dataset VARCHAR" not in line)
    con.execute(old_chunks.replace("(run_id, model, dataset, sample_id, chunk_index)", "(run_id, model, sample_id, "
                                   "chunk_index)"))
    con.execute("INSERT INTO results (run_id, model, backend, dataset, split, sample_id) VALUES "
                "('r', 'm', 'b', '/data/x', 'test', '7')")
    con.execute("INSERT INTO chunks (run_id, model, sample_id, chunk_index, start_s, end_s) VALUES "
                "('r', 'm', '7', 0, 0, 30)")
    con.close()
    with Store(path) as s:
        keys = dict(s.con.execute("SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                                  "WHERE constraint_type = 'PRIMARY KEY'").fetchall())
        assert keys["results"] == ["run_id", "model", "dataset", "sample_id"]
        assert keys["chunks"] == ["run_id", "model", "dataset", "sample_id", "chunk_index"]
        assert s.query("SELECT dataset, sample_id FROM chunks")[1] == [("/data/x", "7")]
        assert s.done_ids("r", "m", dataset="/data/x") == {"7"}
