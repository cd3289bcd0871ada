"""A run made with a scoring profile, end to end: every row carries the profile, the run records
it, the leaderboard says which it used, and `evaluator rescore --scoring` turns a whisper run into
the same numbers as a run made with that profile."""

from __future__ import annotations

import duckdb
import kaldialign
import pytest

from evaluator.cli import main
from evaluator.scoring.profiles import profile

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]

# float32: int8 transcripts differ between CPUs
F32 = "faster-whisper:tiny.en?compute_type=float32"
COUNTS = ("reference_norm", "hypothesis_norm", "hits", "substitutions", "deletions", "insertions", "ref_words",
          "hyp_words", "char_errors", "normalizer", "scoring")


def _rows(db: str, run: str) -> dict[str, tuple]:
    con = duckdb.connect(db, read_only=True)
    try:
        return {r[0]: r[1:] for r in con.execute(
            f"SELECT sample_id, {', '.join('r.' + c for c in COUNTS)} FROM results r JOIN runs USING (run_id) "
            "WHERE runs.name = ?",
            [run]).fetchall()}
    finally:
        con.close()


def test_rescore_gives_the_numbers_of_a_run_made_with_the_profile(ray_cluster, tmp_path, capsys) -> None:
    db = str(tmp_path / "r.duckdb")
    common = ["--dataset", "builtin:sample", "--max-samples", "6", "--model", F32, "--db", db,
              "--actors-per-model", "1"]
    assert main(["run", *common, "--scoring", "open-asr-leaderboard", "--name", "oal"]) == 0
    assert main(["run", *common, "--name", "plain"]) == 0
    leaderboard = profile("open-asr-leaderboard")
    made = _rows(db, "oal")
    assert {r[-1] for r in made.values()} == {leaderboard.label}
    assert {r[-1] for r in _rows(db, "plain").values()} == {profile("whisper").label}
    capsys.readouterr()
    assert main(["leaderboard", "--db", db, "--run", "oal"]) == 0
    assert "scoring: open-asr-leaderboard" in capsys.readouterr().out

    assert main(["rescore", "--db", db, "--run", "plain", "--scoring", "open-asr-leaderboard"]) == 0
    assert _rows(db, "plain") == made
    con = duckdb.connect(db, read_only=True)
    try:
        wers = dict(con.execute("SELECT r.name, l.wer FROM leaderboard l JOIN runs r USING (run_id)").fetchall())
        scoring = dict(con.execute("SELECT name, scoring FROM runs").fetchall())
        refs, hyps = zip(*con.execute("SELECT reference_norm, hypothesis_norm FROM results r JOIN runs USING (run_id) "
                                      "WHERE runs.name = 'oal' AND ref_words > 0").fetchall(), strict=True)
    finally:
        con.close()
    assert scoring == {"oal": "open-asr-leaderboard", "plain": "open-asr-leaderboard"}
    assert wers["plain"] == pytest.approx(wers["oal"])
    # the view's corpus WER is kaldialign's over the leaderboard-normalized texts
    batch = kaldialign.batch_error_rate([r.split() for r in refs], [h.split() for h in hyps], merge_compounds=True)
    assert wers["oal"] == pytest.approx(batch["err_rate"])
