"""Session scoring: chunks of a session joined in chunk order and scored against the session's
reference, as the Open ASR Leaderboard's merge_chunked_manifest does (normalizer/eval_utils.py)."""

from __future__ import annotations

import json

import pytest

from evaluator.results.sessions import session_summaries
from evaluator.results.store import Store
from evaluator.scoring.profiles import profile
from evaluator.scoring.rows import finalize_row
from evaluator.scoring.sessions import Chunk, chunk_of, join_sessions

CALL = "Good morning. Revenue grew 15% to $2 billion. Thank you."


def test_chunks_join_in_index_order_skipping_empty_ones() -> None:
    chunks = [Chunk("b", 0, "other call", "other call", 1.0, 0.1),
              Chunk("a", 2, CALL, " thank you ", 2.0, 0.2), Chunk("a", 0, CALL, "good morning", 2.0, 0.2),
              Chunk("a", 1, CALL, "revenue grew fifteen percent to two billion dollars", 2.0, 0.2),
              Chunk("a", 3, CALL, "   ", 1.0, 0.1)]
    a, b = join_sessions(chunks)
    assert (a.session, b.session) == ("a", "b")
    assert a.hypothesis == "good morning revenue grew fifteen percent to two billion dollars thank you"
    assert (a.reference, a.chunks, a.gaps, a.audio_seconds) == (CALL, 4, (), 7.0)
    assert join_sessions([Chunk("c", 0, "x", "x"), Chunk("c", 2, "x", "y")])[0].gaps == (1,)
    assert join_sessions([Chunk("c", 0, "x", "x", 1.0, None)])[0].inference_seconds is None
    assert chunk_of({"parent_id": "a", "chunk_index": "3", "speaker": "s"}) == ("a", 3)
    assert chunk_of({"speaker": "s"}) is None


def test_a_run_of_chunks_is_scored_per_session_and_keeps_its_chunk_rows(tmp_path) -> None:
    hypotheses = ["Good morning.", "Revenue grew 15 percent to two billion dollars.", "", "Thank you."]
    with Store(str(tmp_path / "r.duckdb")) as store:
        store.create_run("r1", None, {}, evaluator_version="0", normalizer=("open-asr-leaderboard", "x"), host={},
                         scoring="open-asr-leaderboard")
        rows = [finalize_row({
            "run_id": "r1", "model": "m", "backend": "b", "dataset": "earnings", "split": "test",
            "sample_id": f"call-{i}", "language": "en", "reference": CALL, "hypothesis": h, "error": None,
            "audio_seconds": 10.0, "inference_seconds": 1.0, "scoring": "open-asr-leaderboard",
            "metadata": json.dumps({"parent_id": "call", "chunk_index": i})}) for i, h in enumerate(hypotheses)]
        store.insert_results(rows)
        (summary,) = session_summaries(store.con, "r1")
        joined = " ".join(h for h in hypotheses if h)
        expected = profile("open-asr-leaderboard").score(CALL, joined)
        assert expected.errors == 0  # "15 percent" and "$2 billion" normalize alike upstream
        assert (summary.sessions, summary.chunks, summary.wer, summary.rtfx) == (1, 4, 0.0, pytest.approx(10.0))
        assert summary.scoring == profile("open-asr-leaderboard").label
        (whisper,) = session_summaries(store.con, "r1", "whisper")
        assert whisper.wer == profile("whisper").score(CALL, joined).wer
        _, chunks = store.query("SELECT count(*), sum(ref_words) FROM results WHERE run_id = 'r1'")
        assert chunks[0][0] == 4  # every chunk row is still there (each scored alone against the whole call)
        _, none = store.query("SELECT count(*) FROM results WHERE metadata IS NULL")
        assert none == [(0,)]


def test_the_leaderboard_prints_the_session_table(tmp_path, capsys) -> None:
    from evaluator.cli import main

    db = str(tmp_path / "r.duckdb")
    with Store(db) as store:
        store.create_run("r1", "chunked", {}, evaluator_version="0", normalizer=("x", "y"), host={}, scoring="exact")
        store.insert_results([finalize_row({
            "run_id": "r1", "model": "m", "backend": "b", "dataset": "calls", "split": "test", "sample_id": f"c{i}",
            "language": "en", "reference": "Hello there. Bye.", "hypothesis": h, "error": None, "audio_seconds": 1.0,
            "inference_seconds": 0.5, "scoring": "exact", "metadata": json.dumps({"parent_id": "p", "chunk_index": i})})
            for i, h in enumerate(["Hello there.", "bye."])])
    assert main(["leaderboard", "--db", db, "--run", "r1"]) == 0
    out = capsys.readouterr().out
    assert "scoring: exact" in out and "sessions: chunks joined per parent_id" in out
    assert "33.33" in out  # exact: "bye." against "Bye." is 1 error in 3 words
