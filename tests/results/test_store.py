"""The DuckDB results store: migrations, inserts, the leaderboard view, resume helpers and
read-only connections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from evaluator.cli.tables import LEADERBOARD_SQL
from evaluator.results.store import RESULT_COLUMNS, Store, connect_read_only
from evaluator.scoring.metrics import score
from tests.factories import create_run, result_row

RUN = "run-1"
# every migration file, in order: each applied exactly once
_MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "evaluator" / "results" / "migrations"
MIGRATIONS = sorted((int(f.name.split("_")[0]), f.name) for f in _MIGRATIONS_DIR.glob("*.sql"))
MODEL = "faster-whisper:tiny.en"


def result(sample_id: str, reference: str, hypothesis: str | None, *, index: int | None = None,
           run_id: str = RUN, model: str = MODEL, audio: float = 2.0, inference: float = 0.5,
           error: str | None = None, truncated: bool = False, split: str = "test") -> dict[str, Any]:
    """A result row as the driver builds it: scored by finalize_row, NULL counts on error;
    ``truncated`` as given."""
    row = result_row(run_id, model, sample_id, reference, hypothesis, dataset="sample", split=split, index=index,
                     audio_seconds=audio, inference_seconds=None if error else inference, error=error,
                     decode_seconds=0.01, device="cpu", worker="w0")
    return {**row, "truncated": truncated}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "results.duckdb")


@pytest.fixture
def store(db: str):
    with Store(db) as s:
        yield s


def leaderboard(store: Store, run_id: str = RUN) -> list[dict[str, Any]]:
    columns, rows = store.query("SELECT * FROM leaderboard WHERE run_id = ? ORDER BY model, split", [run_id])
    return [dict(zip(columns, r, strict=True)) for r in rows]


# ---------------------------------------------------------------------------------- migrations


def test_migrations_applied_once(db: str) -> None:
    for _ in range(3):
        with Store(db) as s:
            columns, rows = s.query("SELECT version, name FROM schema_migrations")
            assert rows == MIGRATIONS


def test_schema_has_tables_and_view(store: Store) -> None:
    _, rows = store.query("SELECT table_name, table_type FROM information_schema.tables ORDER BY table_name")
    assert dict(rows) == {"leaderboard": "VIEW", "leaderboard_languages": "VIEW", "buckets": "VIEW",
                          "suite_leaderboard": "VIEW",
                          "results": "BASE TABLE", "runs": "BASE TABLE",
                          "chunks": "BASE TABLE", "schema_migrations": "BASE TABLE", "schema_views": "BASE TABLE",
                          "run_models": "BASE TABLE",
                          "lost_shards": "BASE TABLE", "word_errors": "BASE TABLE", "top_confusions": "VIEW",
                          "intervals": "BASE TABLE", "dataset_fingerprints": "BASE TABLE",
                          "sample_fingerprints": "BASE TABLE", "dataset_identity": "VIEW"}
    columns, _ = store.query("SELECT * FROM results LIMIT 0")
    assert sorted(columns) == sorted((*RESULT_COLUMNS, "created_at"))


def test_creates_missing_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "results.duckdb"
    with Store(str(path)) as s:
        assert s.count_results(RUN) == {"rows": 0, "errors": 0}
    assert path.exists()


def test_data_survives_reopen(db: str) -> None:
    with Store(db) as s:
        s.insert_results([result("a", "hello world", "hello world", index=0)])
    with Store(db) as s:
        assert s.count_results(RUN) == {"rows": 1, "errors": 0}


# --------------------------------------------------------------------------------------- runs


def test_run_lifecycle(store: Store) -> None:
    assert store.get_run(RUN) is None
    store.create_run(RUN, "nightly", {"models": [MODEL]}, evaluator_version="0.1.0",
                     normalizer=("whisper-english", "1"), host={"python": "3.12"})
    run = store.get_run(RUN)
    assert (run["name"], run["status"], run["finished_at"]) == ("nightly", "running", None)
    assert json.loads(run["config"]) == {"models": [MODEL]}
    store.finish_run(RUN, "finished", {"rows": 3, "errors": 1})
    run = store.get_run(RUN)
    assert run["status"] == "finished" and run["finished_at"] is not None
    assert json.loads(run["summary"]) == {"rows": 3, "errors": 1}
    store.mark_running(RUN)
    run = store.get_run(RUN)
    assert (run["status"], run["finished_at"]) == ("running", None)
    store.update_run(RUN, models={MODEL: {"device": "cpu"}})
    assert json.loads(store.get_run(RUN)["models"]) == {MODEL: {"device": "cpu"}}


def test_run_id_is_unique(store: Store) -> None:
    create_run(store, RUN)
    with pytest.raises(duckdb.ConstraintException):
        create_run(store, RUN)


# -------------------------------------------------------------------------------- leaderboard

# reference, hypothesis, error
SAMPLES = [
    ("the cat sat on the mat", "the cat sat on a mat", None),  # S=1, 6 words
    ("hello", "goodbye", None),  # S=1, 1 word: per-utterance WER 1.0
    ("good morning everyone", "good morning", None),  # D=1
    ("yes", "yes yes", None),  # I=1
    ("", "background noise", None),  # empty reference: counted, not scored
    ("this audio failed", None, "AudioDecodeError: cannot decode"),
    ("this one too", None, "RuntimeError: boom"),
]


def _expected(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r["error"] is None]
    scored = [r for r in ok if r["ref_words"] > 0]
    errors = sum(r["substitutions"] + r["deletions"] + r["insertions"] for r in scored)
    words = sum(r["substitutions"] + r["deletions"] + r["hits"] for r in scored)
    return {
        "n": len(rows),
        "errors": len(rows) - len(ok),
        "empty_refs": len(ok) - len(scored),
        "wer": errors / words,
        "cer": sum(r["char_errors"] for r in scored) / sum(r["ref_chars"] for r in scored),
        "rtfx": sum(r["audio_seconds"] for r in ok) / sum(r["inference_seconds"] for r in ok),
        "audio_hours": sum(r["audio_seconds"] for r in ok) / 3600,
    }


def test_leaderboard_corpus_metrics(store: Store) -> None:
    rows = [
        result(f"s{i}", ref, hyp, index=i, error=err, audio=1.0 + i, inference=0.25 * (i + 1))
        for i, (ref, hyp, err) in enumerate(SAMPLES)
    ]
    store.insert_results(rows)
    (got,) = leaderboard(store)
    expected = _expected(rows)
    assert got["wer"] == pytest.approx(4 / 11)  # (S+D+I)/(S+D+H) = (2+1+1)/(6+1+3+1)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key
    per_utterance = [score(r, h).wer for r, h, e in SAMPLES if e is None and score(r, h).wer is not None]
    assert got["wer"] != pytest.approx(sum(per_utterance) / len(per_utterance))


@pytest.mark.parametrize(
    ("samples", "wer", "errors", "empty_refs"),
    [
        ([("a b", "a b", None)], 0.0, 0, 0),
        ([("a b", "", None)], 1.0, 0, 0),
        ([("a b", "a b c d", None)], 1.0, 0, 0),
        ([("", "x", None)], None, 0, 1),  # nothing scorable: WER is NULL
        ([("a b", None, "boom")], None, 1, 0),
        ([("a b", None, "boom"), ("a b c d", "a b c", None)], 0.25, 1, 0),
    ],
)
def test_leaderboard_table(store: Store, samples: list[tuple[str, str | None, str | None]],
                           wer: float | None, errors: int, empty_refs: int) -> None:
    store.insert_results([result(f"s{i}", r, h, index=i, error=e) for i, (r, h, e) in enumerate(samples)])
    (got,) = leaderboard(store)
    assert (got["n"], got["errors"], got["empty_refs"]) == (len(samples), errors, empty_refs)
    if wer is None:
        assert got["wer"] is None
    else:
        assert got["wer"] == pytest.approx(wer)


def test_leaderboard_groups_by_model_and_split(store: Store) -> None:
    store.insert_results([
        result("1", "a b", "a b", model="fw:a"),
        result("2", "a b", "a x", model="fw:a"),
        result("1", "a b", "x y", model="fw:b"),
        result("3", "a b", "a b", model="fw:a", split="dev"),
        result("1", "a b", "x y", model="fw:a", run_id="other-run"),
    ])
    got = [(r["model"], r["split"], r["n"], r["wer"]) for r in leaderboard(store)]
    assert got == [("fw:a", "dev", 1, 0.0), ("fw:a", "test", 2, 0.25), ("fw:b", "test", 1, 1.0)]


def test_leaderboard_counts_truncated(store: Store) -> None:
    store.insert_results([result("1", "a", "a", truncated=True), result("2", "a", "a"),
                          result("3", "a", None, error="x", truncated=True)])
    assert leaderboard(store)[0]["truncated"] == 2


def test_leaderboard_and_buckets_count_skipped_rows(store: Store) -> None:
    rows = [result("1", "a b", "a b", audio=900.0), result("2", "a b", "a", audio=900.0)]
    rows[0].update(skipped=False, max_deletion_run=0)
    rows[1].update(skipped=True, max_deletion_run=141, untranscribed_speech_s=58.5)
    store.insert_results(rows)
    (board,) = leaderboard(store)
    assert (board["skipped"], board["max_deletion_run"], board["untranscribed_speech_s"]) == (1, 141, 58.5)
    _, buckets = store.query("SELECT bucket, skipped, max_deletion_run FROM buckets")
    assert buckets == [("5: >10min", 1, 141)]


def test_buckets_keep_unknown_durations_apart_and_time_like_the_leaderboard(store: Store) -> None:
    rows = [result("1", "a b", "a b", audio=900.0, inference=90.0), result("2", "", "uh", audio=900.0, inference=10.0),
            result("3", "a b", "a", audio=None, inference=0.0)]
    store.insert_results(rows)
    _, buckets = store.query("SELECT bucket, n, empty_refs, wer, rtfx FROM buckets ORDER BY bucket")
    assert buckets == [("0: unknown", 1, 0, 0.5, None), ("5: >10min", 2, 1, 0.0, 18.0)]
    (board,) = leaderboard(store)
    assert board["rtfx"] == 18.0  # the empty-reference row counts in both


def test_leaderboard_counts_text_hallucinated_on_empty_references(store: Store) -> None:
    store.insert_results([result("silence", "", "", audio=5.0), result("music", "", "thank you for watching"),
                          result("speech", "a b", "a b"), result("noise", "", None, error="boom")])
    (board,) = leaderboard(store)
    assert (board["empty_refs"], board["empty_ref_hallucinations"], board["empty_ref_hallucinated_words"]) == (2, 1, 4)
    assert board["wer"] == 0.0  # not scored into WER


def test_views_are_recreated_when_the_writer_opens_an_older_file(db: str) -> None:
    with Store(db) as s:
        s.con.execute("CREATE OR REPLACE VIEW leaderboard AS SELECT 1 AS stale")
    with Store(db) as s:
        columns, _ = s.query("SELECT * FROM leaderboard")
    assert "skipped" in columns and "stale" not in columns


def test_chunk_rows_keep_how_each_seam_was_merged(store: Store) -> None:
    chunk = {"run_id": RUN, "model": MODEL, "sample_id": "1", "start_s": 25.0, "end_s": 55.0, "hypothesis": "x",
             "seam": "aligned", "seam_matched": 7, "seam_cut_s": 27.4}
    store.insert_results([result("1", "a", "a")], [{**chunk, "chunk_index": 1},
                                                    {**chunk, "chunk_index": 2, "seam": "midpoint", "seam_matched": 1}])
    _, rows = store.query("SELECT chunk_index, seam, seam_matched, seam_cut_s FROM chunks ORDER BY chunk_index")
    assert rows == [(1, "aligned", 7, 27.4), (2, "midpoint", 1, 27.4)]


def test_report_leaderboard_sql_runs_on_the_view(store: Store) -> None:
    store.insert_results([
        result("1", "a b c d", "a b c d", model="fw:good", audio=60.0, inference=6.0),
        result("1", "a b c d", "a b", model="fw:worse", audio=60.0, inference=2.0),
        result("1", "a b c d", None, model="fw:broken", error="boom"),
    ])
    columns, rows = store.query(LEADERBOARD_SQL, [RUN])
    assert columns == ["model", "dataset", "split", "planned", "scored", "errors", "missing", "partial", "wer_%",
                       "cer_%", "rtfx", "rtfx_e2e", "audio_min", "completion", "truncated", "looping", "skipped"]
    table = [dict(zip(columns, r, strict=True)) for r in rows]
    assert [r["model"] for r in table] == ["fw:good", "fw:worse", "fw:broken"]  # NULL WER last
    assert [r["wer_%"] for r in table] == [0.0, 50.0, None]
    assert [r["rtfx"] for r in table] == [10.0, 30.0, None]
    assert [r["audio_min"] for r in table] == [1.0, 1.0, None]
    assert [r["partial"] for r in table] == [False, False, True]  # an error row: the WER covers less


# ---------------------------------------------------------------------------- accounting


def test_planned_scored_missing_and_partial(store: Store) -> None:
    """A model that stored fewer rows than planned is partial and ranked after complete ones,
    whatever its WER; a model with no rows at all still shows; end-to-end RTFx uses wall time."""
    for model in ("fw:complete", "fw:half", "fw:nothing"):
        store.plan_model(RUN, model, "sample", "test", 4)
    store.insert_results([result(str(i), "a b c d", "a b c x", model="fw:complete", audio=10.0) for i in range(4)])
    store.insert_results([result(str(i), "a b c d", "a b c d", model="fw:half", audio=10.0) for i in range(2)])
    store.finish_model(RUN, "fw:complete", 8.0, "complete", None)
    store.finish_model(RUN, "fw:half", 4.0, "complete", None)
    store.finish_model(RUN, "fw:nothing", 1.0, "failed", "could not load")
    columns, rows = store.query(LEADERBOARD_SQL, [RUN])
    table = {r[0]: dict(zip(columns, r, strict=True)) for r in rows}
    assert [r[0] for r in rows] == ["fw:complete", "fw:half", "fw:nothing"]
    assert {m: (t["planned"], t["scored"], t["missing"], t["partial"]) for m, t in table.items()} == {
        "fw:complete": (4, 4, 0, False), "fw:half": (4, 2, 2, True), "fw:nothing": (4, 0, 4, True)}
    assert table["fw:half"]["wer_%"] == 0.0  # the better WER, on half the samples: still ranked after
    assert table["fw:complete"]["rtfx_e2e"] == 5.0  # 40 s of audio in 8 s of wall time


def test_resumed_session_adds_wall_time(store: Store) -> None:
    store.plan_model(RUN, MODEL, "sample", "test", 2)
    store.finish_model(RUN, MODEL, 3.0, "complete", None)
    store.plan_model(RUN, MODEL, "sample", "test", 2)  # the resume
    store.finish_model(RUN, MODEL, 2.0, "complete", None)
    assert store.query("SELECT wall_seconds, status FROM run_models")[1] == [(5.0, "complete")]


def test_lost_shard_makes_model_partial(store: Store) -> None:
    from evaluator.results.records import LostShard

    store.plan_model(RUN, MODEL, "sample", "test", None)  # a stream: size unknown
    store.insert_results([result("0-0", "a", "a")])
    store.record_lost_shard(LostShard(RUN, MODEL, 3, "stream unreadable", dataset="sample"))
    (row,) = leaderboard(store)
    assert (row["planned"], row["missing"], row["lost_shards"], row["partial"]) == (None, None, 1, True)
    assert store.lost_shard_ids(RUN, MODEL) == {3}
    assert store.forget_lost_shards(RUN) == 1
    assert leaderboard(store)[0]["partial"] is False


# ---------------------------------------------------------------------------- row schema


def test_misspelled_column_is_an_error_not_a_null(store: Store) -> None:
    row = result("a", "x", "x")
    row["hypothesys"] = row.pop("hypothesis")
    with pytest.raises(ValueError, match="hypothesys"):
        store.insert_results([row])
    assert store.count_results(RUN)["rows"] == 0


def test_tables_match_the_records(store: Store) -> None:
    """Every field of a record is a column of its table with the record's SQL type."""
    import dataclasses

    from evaluator.results.store import RECORDS

    for record in RECORDS:
        _, rows = store.query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
                              [record.TABLE])
        types = dict(rows)
        for f in dataclasses.fields(record):
            assert types[f.name] == f.metadata["sql"].split()[0], (record.TABLE, f.name)


def test_database_from_an_older_version_gains_new_columns(db: str) -> None:
    """A file whose results table predates a field (made by the first migration as it was) is
    given the missing columns when opened, and its rows are kept."""
    con = duckdb.connect(db)
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    con.execute("CREATE TABLE results (run_id VARCHAR NOT NULL, model VARCHAR NOT NULL, backend VARCHAR NOT NULL, "
                "dataset VARCHAR NOT NULL, split VARCHAR NOT NULL, sample_id VARCHAR NOT NULL, hypothesis VARCHAR, "
                "created_at TIMESTAMP NOT NULL DEFAULT current_timestamp, PRIMARY KEY (run_id, model, sample_id))")
    con.execute("INSERT INTO results (run_id, model, backend, dataset, split, sample_id, hypothesis) "
                "VALUES ('old', 'm', 'b', 'd', 's', '1', 'kept')")
    con.close()
    with Store(db) as s:
        columns, rows = s.query("SELECT * FROM results")
        assert set(RESULT_COLUMNS) <= set(columns)
        assert dict(zip(columns, rows[0], strict=True))["hypothesis"] == "kept"


# ---------------------------------------------------------------------------- inserts & keys


def test_same_sample_twice_violates_primary_key(store: Store) -> None:
    store.insert_results([result("a", "x", "x", index=0)])
    with pytest.raises(duckdb.ConstraintException):
        store.insert_results([result("a", "x", "y", index=0)])
    assert store.count_results(RUN) == {"rows": 1, "errors": 0}


@pytest.mark.parametrize(
    "second_batch",
    [
        [result("new", "x", "x"), result("a", "x", "x")],  # clashes with the stored row
        [result("n1", "x", "x"), result("n1", "x", "y")],  # clashes within the batch
    ],
)
def test_failed_batch_inserts_nothing(store: Store, second_batch: list[dict[str, Any]]) -> None:
    store.insert_results([result("a", "x", "x")])
    with pytest.raises(duckdb.ConstraintException):
        store.insert_results(second_batch)
    assert store.done_ids(RUN, MODEL) == {"a"}


@pytest.mark.parametrize(
    "key",
    [
        {"run_id": "run-2"},
        {"model": "faster-whisper:base"},
        {"sample_id": "b"},
    ],
)
def test_primary_key_is_run_model_sample(store: Store, key: dict[str, str]) -> None:
    store.insert_results([result("a", "x", "x")])
    store.insert_results([{**result("a", "x", "x"), **key}])
    assert store.query("SELECT count(*) FROM results")[1] == [(2,)]


def test_insert_empty_batch_is_a_no_op(store: Store) -> None:
    store.insert_results([])
    assert store.count_results(RUN) == {"rows": 0, "errors": 0}


def test_missing_required_column_is_rejected(store: Store) -> None:
    row = result("a", "x", "x")
    del row["backend"]
    with pytest.raises(duckdb.ConstraintException):
        store.insert_results([row])


# ------------------------------------------------------------------------- resume helpers


@pytest.fixture
def filled(store: Store) -> Store:
    store.insert_results([
        result("s0", "a", "a", index=0),
        result("s1", "a", "b", index=1),
        result("s2", "a", None, index=2, error="boom"),
        result("s3", "a", "a", index=3),
        result("s4", "a", None, index=4, error="bad audio"),
        result("s0", "a", "a", index=0, model="other"),
        result("s9", "a", None, index=9, error="boom", run_id="run-2"),
    ])
    return store


@pytest.mark.parametrize(
    ("model", "start", "stop", "expected"),
    [
        (MODEL, None, None, {"s0", "s1", "s2", "s3", "s4"}),
        (MODEL, 0, 2, {"s0", "s1"}),
        (MODEL, 2, 4, {"s2", "s3"}),
        (MODEL, 4, 100, {"s4"}),
        (MODEL, 5, 10, set()),
        (MODEL, 3, 3, set()),
        (MODEL, 2, None, {"s0", "s1", "s2", "s3", "s4"}),  # a half-open range is ignored
        ("other", None, None, {"s0"}),
        ("nobody", None, None, set()),
    ],
)
def test_done_ids(filled: Store, model: str, start: int | None, stop: int | None, expected: set[str]) -> None:
    got = filled.done_ids(RUN, model, start, stop)
    assert isinstance(got, frozenset)
    assert got == expected


def test_delete_errors(filled: Store) -> None:
    assert filled.count_results(RUN) == {"rows": 6, "errors": 2}
    assert filled.delete_errors(RUN) == 2
    assert filled.done_ids(RUN, MODEL) == {"s0", "s1", "s3"}
    assert filled.count_results(RUN) == {"rows": 4, "errors": 0}
    assert filled.delete_errors(RUN) == 0
    assert filled.count_results("run-2") == {"rows": 1, "errors": 1}  # other runs untouched


def test_deleted_error_can_be_inserted_again(filled: Store) -> None:
    filled.delete_errors(RUN)
    filled.insert_results([result("s2", "a", "a", index=2)])
    assert "s2" in filled.done_ids(RUN, MODEL)


def test_a_failed_long_file_can_be_retried_with_its_windows(store: Store) -> None:
    """--retry-errors on a long file whose window failed: its chunk rows go with its error row,
    so the re-assembled file and its windows can be written again."""
    def window(i: int, error: str | None = None) -> dict[str, Any]:
        return {"run_id": RUN, "model": MODEL, "dataset": "sample", "sample_id": "long", "chunk_index": i,
                "start_s": 25.0 * i,
                "end_s": 25.0 * i + 30, "hypothesis": None if error else "a", "error": error}

    kept = [window(0)]
    kept[0]["sample_id"] = "other"
    store.insert_results([result("long", "a b", None, error="chunks [1] failed: boom"), result("other", "a", "a")],
                         [window(0), window(1, "boom"), *kept])
    assert store.delete_errors(RUN) == 1
    store.insert_results([result("long", "a b", "a b")], [window(0), window(1)])
    _, rows = store.query("SELECT sample_id, count(*), count(error) FROM chunks GROUP BY 1 ORDER BY 1")
    assert rows == [("long", 2, 0), ("other", 1, 0)]


# -------------------------------------------------------------------------------- read-only


def test_read_only_connection_queries_but_cannot_write(db: str) -> None:
    with Store(db) as s:
        s.insert_results([result("a", "hello world", "hello word", index=0)])
    con = connect_read_only(db)
    try:
        assert con.execute("SELECT wer FROM leaderboard").fetchall() == [(0.5,)]
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(MIGRATIONS),)
        for sql in (
            "INSERT INTO results (run_id, model, backend, dataset, split, sample_id) "
            "VALUES ('r', 'm', 'b', 'd', 's', 'x')",
            "DELETE FROM results",
            "CREATE TABLE t (x INTEGER)",
        ):
            with pytest.raises(duckdb.Error, match="read-only"):
                con.execute(sql)
    finally:
        con.close()
    with Store(db) as s:
        assert s.count_results(RUN) == {"rows": 1, "errors": 0}


def test_read_only_connection_to_missing_file_fails(tmp_path: Path) -> None:
    path = tmp_path / "nope.duckdb"
    with pytest.raises(duckdb.Error):
        connect_read_only(str(path))
    assert not path.exists()


def test_a_file_from_an_older_version_is_brought_up_to_date_for_readers(tmp_path: Path) -> None:
    """Read-only commands (leaderboard, report) on a database an older version wrote: its views
    and macros are this version's before the first query."""
    db = str(tmp_path / "old.duckdb")
    Store(db).close()
    con = duckdb.connect(db)
    con.execute("DROP MACRO language_metric")  # as before the macro existed
    con.execute("DROP TABLE schema_views")
    con.close()
    ro = connect_read_only(db)
    try:
        assert ro.execute("SELECT language_metric('zh'), language_metric('en')").fetchone() == ("cer", "wer")
    finally:
        ro.close()
