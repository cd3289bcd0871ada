"""End to end through a real local Ray cluster, real DuckDB and the real tiny.en weights."""

from __future__ import annotations

import json
import os
import signal
import threading

import duckdb
import jiwer
import pytest

from evaluator.cli import main
from evaluator.data.spec import DatasetSpec
from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig
from evaluator.scoring.metrics import normalize
from tests.conftest import assert_survived, make_audiofolder
from tests.ray_processes import own_ray_workers

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]

TINY = parse_model_spec("faster-whisper:tiny.en")
# int8 transcripts depend on the CPU's instruction set (AVX2 vs AVX-512 VNNI kernels); float32
# agrees across CPUs, so the run whose WER is asserted uses it.
TINY_F32 = parse_model_spec("faster-whisper:tiny.en?compute_type=float32")
HUMAN_SOURCES = ("moonshine-voice", "pysptk-cmu-arctic")


def _config(db, **kwargs) -> RunConfig:
    kwargs.setdefault("models", (TINY,))
    return RunConfig(db=str(db), **kwargs)


@pytest.fixture(scope="module")
def sample_run(ray_cluster, tmp_path_factory):
    """One full run of tiny.en (float32) over the bundled sample set, shared by the checks below."""
    db = tmp_path_factory.mktemp("db") / "sample.duckdb"
    with Store(str(db)) as store:
        summary = run_evaluation(_config(db, models=(TINY_F32,)), store)
    return summary, db


def test_sample_run_stores_one_row_per_sample(sample_run, sample_rows):
    summary, db = sample_run
    assert summary.status == "finished"
    con = duckdb.connect(str(db), read_only=True)
    ids = [r[0] for r in con.execute("SELECT sample_id FROM results WHERE run_id = ?", [summary.run_id]).fetchall()]
    assert sorted(ids) == sorted(r["id"] for r in sample_rows)
    (errors,) = con.execute("SELECT count(*) FROM results WHERE error IS NOT NULL").fetchone()
    assert errors == 0
    status, config, models = con.execute(
        "SELECT status, config->>'$.models[0].effective_options.compute_type', models FROM runs").fetchone()
    assert status == "finished"
    assert config == "float32"  # effective decoding options are recorded
    # Each worker records the compute type CTranslate2 ran and the CPU it ran on.
    workers = json.loads(models)[TINY_F32.label]["workers"]
    assert workers and all(w["compute_type"] == "float32" for w in workers)
    assert all(w["cpu"]["model"] and w["cpu"]["isa"] and w["cpu"]["arch"] for w in workers)


def test_real_speech_is_transcribed_well(sample_run, sample_rows):
    summary, db = sample_run
    human = [r["id"] for r in sample_rows if r["source"] in HUMAN_SOURCES]
    assert len(human) >= 3
    con = duckdb.connect(str(db), read_only=True)
    (wer,) = con.execute(
        "SELECT sum(substitutions + deletions + insertions) / sum(substitutions + deletions + hits) "
        "FROM results WHERE sample_id IN (SELECT unnest(?))", [human]
    ).fetchone()
    assert wer < 0.10, f"tiny.en WER on real human speech is {wer:.1%}"


def test_leaderboard_equals_jiwer_on_stored_rows(sample_run):
    summary, db = sample_run
    con = duckdb.connect(str(db), read_only=True)
    refs, hyps = zip(*con.execute(
        "SELECT reference, hypothesis FROM results WHERE error IS NULL ORDER BY sample_id").fetchall(),
        strict=True)
    expected = jiwer.wer([normalize(r) for r in refs], [normalize(h) for h in hyps])
    (wer, rtfx, n) = con.execute("SELECT wer, rtfx, n FROM leaderboard WHERE run_id = ?",
                                 [summary.run_id]).fetchone()
    assert wer == pytest.approx(expected, abs=1e-12)
    assert n == len(refs)
    assert rtfx > 1


def test_corrupt_and_empty_audio_become_error_rows(ray_cluster, tmp_path, sample_rows, caplog):
    rows = [dict(r) for r in sample_rows if r["source"] == "pytest-audioeval"]
    folder = make_audiofolder(tmp_path / "data", rows)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    (folder / "empty.wav").write_bytes(b"")
    extra = [{**rows[0], "file_name": name, "id": name.split(".")[0]} for name in ("corrupt.wav", "empty.wav")]
    from tests.factories import write_metadata

    write_metadata(folder, rows + extra)
    db = tmp_path / "r.duckdb"
    code = main(["run", "--dataset", str(folder), "--model", "faster-whisper:tiny.en", "--db", str(db)])
    assert code == 0  # some samples failed, the run still finished
    con = duckdb.connect(str(db), read_only=True)
    got = dict(con.execute("SELECT sample_id, error FROM results").fetchall())
    assert set(got) == {r["id"] for r in rows} | {"corrupt", "empty"}
    assert "empty" in got["empty"] and got["corrupt"].startswith("AudioDecodeError")
    assert all(got[r["id"]] is None for r in rows)
    # Error rows are counted, not scored as deletions.
    (errors, n) = con.execute("SELECT errors, n FROM leaderboard").fetchone()
    assert (errors, n) == (2, len(rows) + 2)
    (hyp_null,) = con.execute(
        "SELECT count(*) FROM results WHERE error IS NOT NULL AND hypothesis IS NULL AND deletions IS NULL"
    ).fetchone()
    assert hyp_null == 2
    assert "2 samples failed" in caplog.text


def test_all_samples_failing_exits_non_zero(ray_cluster, tmp_path, sample_rows):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.wav").write_bytes(b"junk")
    from tests.factories import write_metadata

    write_metadata(folder, [{"file_name": "a.wav", "transcription": "hello"}])
    assert main(["run", "--dataset", str(folder), "--model", "faster-whisper:tiny.en",
                 "--db", str(tmp_path / "r.duckdb")]) == 1


def test_killed_actor_loses_and_duplicates_nothing(ray_cluster, bystander, tmp_path, sample_rows):
    """Kill one of this run's actors mid-run (by its own pid, found among the processes of the
    test's cluster) while another Ray cluster runs on the machine: the run loses and duplicates
    nothing, and the other cluster's processes, its ``ray::Worker`` included, are untouched."""
    db = tmp_path / "kill.duckdb"
    config = _config(db, shard_size=1, actors_per_model=2)
    killed: list[int] = []

    def kill_one_worker() -> None:
        workers = own_ray_workers("ray::Worker")
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])

    progress_seen = threading.Event()

    def on_progress(p) -> None:
        if p.done >= 2 and not progress_seen.is_set():
            progress_seen.set()
            threading.Thread(target=kill_one_worker, daemon=True).start()

    with Store(str(db)) as store:
        summary = run_evaluation(config, store, on_progress=on_progress)
        models = store.get_run(summary.run_id)["models"]
    assert killed, "no worker was killed"
    assert not set(killed) & bystander
    assert_survived(bystander)
    assert summary.status == "finished"
    con = duckdb.connect(str(db), read_only=True)
    (n, distinct, errors) = con.execute(
        "SELECT count(*), count(DISTINCT sample_id), count(*) FILTER (WHERE error IS NOT NULL) FROM results"
    ).fetchone()
    assert n == distinct == len(sample_rows)
    assert errors == 0
    assert '"restarts": 1' in models


def test_interrupted_run_resumes_without_redoing_work(ray_cluster, tmp_path, sample_rows):
    db = tmp_path / "resume.duckdb"
    config = _config(db, shard_size=2, actors_per_model=1)

    def stop_after_first_shards(p) -> None:
        if p.done >= 4:
            raise KeyboardInterrupt

    with Store(str(db)) as store:
        with pytest.raises(KeyboardInterrupt):
            run_evaluation(config, store, on_progress=stop_after_first_shards)
        run_id, status = store.query("SELECT run_id, status FROM runs")[1][0]
        assert status == "interrupted"
        before = dict(store.query("SELECT sample_id, created_at FROM results")[1])
        assert 4 <= len(before) < len(sample_rows)

    code = main(["run", "--resume", run_id, "--db", str(db)])
    assert code == 0
    con = duckdb.connect(str(db), read_only=True)
    after = dict(con.execute("SELECT sample_id, created_at FROM results").fetchall())
    assert sorted(after) == sorted(r["id"] for r in sample_rows)
    assert all(after[k] == v for k, v in before.items())  # earlier rows were not redone
    assert con.execute("SELECT status FROM runs").fetchone()[0] == "finished"


def test_missing_dataset_column_is_a_usage_error(ray_cluster, tmp_path, sample_rows):
    folder = make_audiofolder(tmp_path / "d", [dict(r) for r in sample_rows[:2]])
    code = main(["run", "--dataset", str(folder), "--text-column", "nope",
                 "--model", "faster-whisper:tiny.en", "--db", str(tmp_path / "r.duckdb")])
    assert code == 2


def test_dataset_spec_is_hashable_for_actor_cache():
    assert hash(DatasetSpec(source="x")) == hash(DatasetSpec(source="x"))


def test_streaming_reads_every_sample_once(ray_cluster, tmp_path, sample_rows):
    """A dataset read as a stream (file shards, no random access): long files are chunked inside
    the actor that reads them."""
    from tests.factories import save_sample_set

    saved = save_sample_set(tmp_path / "saved")
    db = tmp_path / "stream.duckdb"
    config = _config(db, dataset=DatasetSpec(source=str(saved), streaming=True), long_form="chunked")
    with Store(str(db)) as store:
        summary = run_evaluation(config, store)
    assert summary.status == "finished"
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT sample_id, sample_index, num_chunks, error FROM results").fetchall()
    assert sorted(r[0] for r in rows) == sorted(r["id"] for r in sample_rows)
    assert all(index is None and error is None for _, index, _, error in rows)
    chunked = {sid: n for sid, _, n, _ in rows if n > 1}
    assert chunked == {"human-two-cities": 2}
    assert con.execute("SELECT count(*) FROM chunks WHERE sample_id = 'human-two-cities'").fetchone() == (2,)
