"""Long-form audio end to end: the 15-minute built-in recording through Ray into DuckDB with
faster-whisper tiny.en under each strategy, compared with the same clips' short-form WER.

WER is compared in float32: int8 transcripts differ between CPUs (instruction sets), float32
ones do not, so these assertions hold on any machine."""

from __future__ import annotations

import duckdb
import pytest

from evaluator.config import DatasetSpec, RunConfig, parse_model_spec
from evaluator.driver import run_evaluation
from evaluator.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]

TINY = parse_model_spec("faster-whisper:tiny.en?compute_type=float32")


def _run(db, **kwargs) -> str:
    with Store(str(db)) as store:
        summary = run_evaluation(RunConfig(models=(TINY,), db=str(db), **kwargs), store)
    assert summary.status == "finished"
    return summary.run_id


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return tmp_path_factory.mktemp("long") / "long.duckdb"


@pytest.fixture(scope="module")
def short_form_wer(ray_cluster, db) -> float:
    """tiny.en's corpus WER on the clips the long recording is made of, one by one."""
    run_id = _run(db, name="short")
    con = duckdb.connect(str(db), read_only=True)
    (wer,) = con.execute("SELECT wer FROM leaderboard WHERE run_id = ?", [run_id]).fetchone()
    con.close()
    return wer


@pytest.mark.parametrize("strategy", ["native", "chunked", "vad"])
def test_fifteen_minutes_are_transcribed_completely(ray_cluster, db, short_form_wer, strategy):
    run_id = _run(db, name=strategy, dataset=DatasetSpec("builtin:long"), max_samples=1, long_form=strategy,
                  actors_per_model=2)
    with duckdb.connect(str(db), read_only=True) as con:  # closed before the next run writes
        (sample, audio, wer, completion, truncated, looping, repetition, error, skipped, deletion_run) = con.execute(
            "SELECT sample_id, audio_seconds, (substitutions + deletions + insertions) / ref_words, "
            "completion_ratio, truncated, looping, repetition, error, skipped, max_deletion_run "
            "FROM results WHERE run_id = ?", [run_id]).fetchone()
        chunks = con.execute("SELECT count(*), count(DISTINCT worker), count(error), max(end_s) FROM chunks "
                             "WHERE run_id = ?", [run_id]).fetchone()
        seams = con.execute("SELECT count(*) FILTER (WHERE seam IS NULL), count(*) FILTER (WHERE seam_cut_s "
                            "BETWEEN start_s AND start_s + 5.001) FROM chunks WHERE run_id = ?", [run_id]).fetchone()
    assert (sample, error) == ("long-15min", None)
    assert audio > 15 * 60
    assert 0.9 < completion < 1.1, f"{strategy}: completion ratio {completion:.2f}"
    assert not truncated and not looping
    assert not skipped and deletion_run < 20, f"{strategy}: {deletion_run} reference words in a row missing"
    assert repetition < 0.05
    assert abs(wer - short_form_wer) < 0.05, f"{strategy}: long-form WER {wer:.1%} vs short-form {short_form_wer:.1%}"
    if strategy == "native":
        assert chunks[0] == 0
    else:
        n, workers, errors, last_end = chunks
        assert n >= 30 and errors == 0
        assert workers == 2, "the windows of one file should be spread over both actors"
        assert last_end > audio - 10
        assert seams[0] == 1  # every window but the first records how it was joined
    if strategy == "chunked":
        assert seams[1] == chunks[0] - 1, "every seam is cut inside its window's 5 s overlap"


def test_token_cap_stops_early_and_is_flagged(ray_cluster, db):
    capped = parse_model_spec("faster-whisper:tiny.en?max_new_tokens=4")
    with Store(str(db)) as store:
        summary = run_evaluation(RunConfig(models=(capped,), db=str(db), max_samples=1), store)  # two_cities, 44 s
    with duckdb.connect(str(db), read_only=True) as con:
        (completion, truncated) = con.execute(
            "SELECT completion_ratio, truncated FROM results WHERE run_id = ?", [summary.run_id]).fetchone()
    assert completion < 0.5 and truncated
