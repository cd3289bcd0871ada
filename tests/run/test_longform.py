"""Long-form audio end to end: the 15-minute built-in recording through Ray into DuckDB with
faster-whisper tiny.en under each strategy, compared with the same clips' short-form WER.

WER is compared in float32: int8 transcripts differ between CPUs (instruction sets), float32
ones do not, so these assertions hold on any machine."""

from __future__ import annotations

import json

import duckdb
import pytest

from evaluator.data.spec import DatasetSpec
from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]

TINY = parse_model_spec("faster-whisper:tiny.en?compute_type=float32")
# faster-whisper's own long-form decoding without conditioning on the previous window's text
# (with it, tiny.en falls into a loop on this file in float32: see the last tests)
TINY_PLAIN = parse_model_spec("faster-whisper:tiny.en?compute_type=float32&condition_on_previous_text=false")


def _run(db, model=TINY, **kwargs) -> str:
    with Store(str(db)) as store:
        summary = run_evaluation(RunConfig(models=(model,), db=str(db), **kwargs), store)
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
    run_id = _run(db, TINY_PLAIN if strategy == "native" else TINY, name=strategy, dataset=DatasetSpec("builtin:long"),
                  max_samples=1, long_form=strategy, actors_per_model=2)
    with duckdb.connect(str(db), read_only=True) as con:  # closed before the next run writes
        (sample, audio, wer, completion, truncated, looping, repetition, error, skipped, deletion_run) = con.execute(
            "SELECT sample_id, audio_seconds, (substitutions + deletions + insertions) / ref_words, "
            "completion_ratio, truncated, looping, repetition, error, skipped, max_deletion_run "
            "FROM results WHERE run_id = ?", [run_id]).fetchone()
        chunks = con.execute("SELECT count(*), count(DISTINCT worker), count(error), max(end_s) FROM chunks "
                             "WHERE run_id = ?", [run_id]).fetchone()
        # a seam is cut inside the overlap of its window with the one before (timed words may lie
        # up to a second outside it)
        seams = con.execute("SELECT count(*) FILTER (WHERE seam IS NULL), count(*) FILTER (WHERE seam_cut_s "
                            "BETWEEN start_s - 1 AND previous_end + 1) FROM (SELECT *, lag(end_s) OVER "
                            "(ORDER BY chunk_index) AS previous_end FROM chunks WHERE run_id = ?)", [run_id]).fetchone()
    assert (sample, error) == ("long-15min", None)
    assert audio > 15 * 60
    assert 0.9 < completion < 1.1, f"{strategy}: completion ratio {completion:.2f}"
    assert not truncated and not looping
    assert not skipped and deletion_run < 20, f"{strategy}: {deletion_run} reference words in a row missing"
    assert repetition < 0.05
    # Long-form may score better than the clips one by one (context helps, and the recording
    # weights the clips differently), never clearly worse.
    assert wer < short_form_wer + 0.03, f"{strategy}: long-form WER {wer:.1%} vs short-form {short_form_wer:.1%}"
    if strategy == "native":
        assert chunks[0] == 0
    else:
        n, workers, errors, last_end = chunks
        assert n >= 30 and errors == 0
        assert workers == 2, "the windows of one file should be spread over both actors"
        assert last_end > audio - 10
        assert seams[0] == 1  # every window but the first records how it was joined
    if strategy == "chunked":
        assert seams[1] == chunks[0] - 1, "every seam is cut inside its windows' overlap"


def test_repeated_sentences_across_seams_lose_nothing(ray_cluster, db):
    """builtin:repeats says sentences again 4-18 s apart, right across window seams: chunked must
    not merge at a far repeat (no run of missing words, no skipped flag) and must score as well
    as cutting at silences (vad), within a point and a half."""
    repeats = DatasetSpec("builtin:repeats")
    scores = {}
    for strategy in ("chunked", "vad"):
        run_id = _run(db, name=f"repeats-{strategy}", dataset=repeats, max_samples=1, long_form=strategy,
                      actors_per_model=2)
        with duckdb.connect(str(db), read_only=True) as con:
            scores[strategy] = con.execute(
                "SELECT (substitutions + deletions + insertions) / ref_words, max_deletion_run, skipped, "
                "completion_ratio, error FROM results WHERE run_id = ?", [run_id]).fetchone()
            seams = con.execute("SELECT seam, count(*) FROM chunks WHERE run_id = ? AND seam IS NOT NULL "
                                "GROUP BY seam", [run_id]).fetchall()
        wer, deletion_run, skipped, completion, error = scores[strategy]
        assert error is None
        assert deletion_run < 20 and not skipped, f"{strategy}: {deletion_run} reference words in a row missing"
        assert 0.95 < completion < 1.05
        if strategy == "chunked":
            assert dict(seams).get("aligned", 0) >= 0.8 * sum(n for _, n in seams), seams
    assert scores["chunked"][0] <= scores["vad"][0] + 0.015, f"chunked {scores['chunked'][0]:.2%} vs vad " \
        f"{scores['vad'][0]:.2%}"


def test_native_defaults_are_recorded_and_their_failures_flagged(ray_cluster, db):
    """faster-whisper's native decoding with its default (conditioning on the previous text):
    whatever it does to the file, runs.config says how it decoded, and a transcript that is not
    complete is flagged (looping, skipped or truncated), never passed as an ordinary score."""
    run_id = _run(db, name="native-default", dataset=DatasetSpec("builtin:long"), max_samples=1, long_form="native")
    with duckdb.connect(str(db), read_only=True) as con:
        (config,) = con.execute("SELECT config FROM runs WHERE run_id = ?", [run_id]).fetchone()
        completion, deletion_run, looping, skipped, truncated = con.execute(
            "SELECT completion_ratio, max_deletion_run, looping, skipped, truncated FROM results WHERE run_id = ?",
            [run_id]).fetchone()
    (model,) = json.loads(config)["models"]
    assert model["long_form"]["strategy"] == "native"
    assert "condition_on_previous_text=true" in model["long_form"]["native"]
    assert model["effective_options"]["condition_on_previous_text"] is True
    if not 0.9 < completion < 1.1 or deletion_run >= 20:
        assert looping or skipped or truncated, (completion, deletion_run)


def test_token_cap_stops_early_and_is_flagged(ray_cluster, db):
    capped = parse_model_spec("faster-whisper:tiny.en?max_new_tokens=4")
    with Store(str(db)) as store:
        summary = run_evaluation(RunConfig(models=(capped,), db=str(db), max_samples=1), store)  # two_cities, 44 s
    with duckdb.connect(str(db), read_only=True) as con:
        (completion, truncated) = con.execute(
            "SELECT completion_ratio, truncated FROM results WHERE run_id = ?", [summary.run_id]).fetchone()
    assert completion < 0.5 and truncated
