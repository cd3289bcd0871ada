"""Chunked long-form end to end (Ray, DuckDB) with a perfect deterministic transcriber: 150 s of
Chinese, Japanese, Thai and English, 30 s windows with 5 s overlap, with and without timestamps.
Every window's transcript is exact, so what is left is the merge: CER <= 0.5% for the space-less
languages, WER 0 for English (the merge used to keep both copies of every overlap in Chinese:
20% CER)."""

from __future__ import annotations

import duckdb
import pytest

from evaluator.data.spec import DatasetSpec
from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig
from tests.factories import write_audiofolder
from tests.perfect_backend import RATE, SECONDS, _script, ramp

pytestmark = pytest.mark.slow

# the language column as FLEURS writes it -> the script's language
LANGUAGES = {"cmn_hans_cn": "zh", "ja_jp": "ja", "th_th": "th", "en_us": "en"}
TIMED = parse_model_spec("tests.perfect_backend.PerfectTranscriber:perfect")
UNTIMED = parse_model_spec("tests.perfect_backend.PerfectTranscriber:perfect?timed=false")


@pytest.fixture(scope="module")
def run_db(ray_cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ramp")
    assert _script("zh").duration == pytest.approx(SECONDS)
    write_audiofolder(folder, {f"{language}.wav": ramp() for language in LANGUAGES.values()},
                      [{"file_name": f"{language}.wav", "transcription": _script(language).text, "language": value}
                       for value, language in LANGUAGES.items()], rate=RATE, subtype="FLOAT")
    db = folder / "r.duckdb"
    config = RunConfig(models=(TIMED, UNTIMED), db=str(db),
                       dataset=DatasetSpec(source=str(folder)), long_form="chunked", chunk_seconds=30.0,
                       chunk_overlap=5.0, device="cpu")
    with Store(str(db)) as store:
        summary = run_evaluation(config, store)
    assert summary.status == "finished"
    return db


@pytest.mark.parametrize("model", [TIMED, UNTIMED], ids=["timed", "untimed"])
def test_a_perfect_chunked_transcriber_scores_near_zero(run_db, model) -> None:
    con = duckdb.connect(str(run_db), read_only=True)
    rows = con.execute("SELECT language, error, ref_words, char_errors / ref_chars, wer_of, num_chunks FROM ("
                       "SELECT *, (substitutions + deletions + insertions) / nullif(ref_words, 0) AS wer_of "
                       "FROM results WHERE model = ?) ORDER BY language", [model.label]).fetchall()
    seams = con.execute("SELECT c.seam, count(*) FROM chunks c JOIN results r USING (run_id, model, sample_id) "
                        "WHERE c.model = ? AND c.seam IS NOT NULL GROUP BY ALL", [model.label]).fetchall()
    con.close()
    by_language = {r[0]: r for r in rows}
    assert set(by_language) == {"en", "ja", "th", "zh"}
    for language in ("zh", "ja", "th"):
        _, error, ref_words, cer, _, chunks = by_language[language]
        assert error is None and ref_words is None and chunks == 6
        assert cer <= 0.005, (language, cer)
    assert by_language["en"][4] == 0.0
    assert dict(seams) == {"aligned": 4 * 5}  # 4 files of 6 windows: every seam aligned
