"""A suite end to end: two float32 models on several local datasets in ONE run (one set of actors,
each model loaded once per actor) give the same per-dataset WERs as separate runs; the average
and pooled rows; resume across the suite; a preset pointed at a local mirror."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from evaluator.cli import main
from evaluator.data.builtin import sample_data_dir
from evaluator.data.spec import DatasetSpec
from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.results.suite import suite_results
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig
from tests.data.suite_mirror import build_mirror
from tests.factories import write_metadata

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]

F32 = parse_model_spec("faster-whisper:tiny.en?compute_type=float32")
F32_BEAM = parse_model_spec("faster-whisper:tiny.en?compute_type=float32&beam_size=2")
NAMES = ("calls", "meet", "books")
EXTRA = {"books": ", long_form: chunked, language: en"}
CHUNKS = {"chunk_seconds": 4.0, "chunk_overlap": 1.0}


@pytest.fixture(scope="module")
def folders(tmp_path_factory, sample_rows):
    """Three audiofolders of two short clips each, without an id column: their sample ids (row
    indexes 0 and 1) repeat across the datasets."""
    root = tmp_path_factory.mktemp("suite")
    clips = [r for r in sample_rows if r["file_name"].startswith("espeak")][:6]
    for k, name in enumerate(NAMES):
        folder = root / "data" / name
        folder.mkdir(parents=True)
        rows = clips[2 * k: 2 * k + 2]
        for row in rows:
            shutil.copy(f"{sample_data_dir()}/{row['file_name']}", folder / row["file_name"])
        write_metadata(folder, [{"file_name": r["file_name"], "transcription": r["transcription"]} for r in rows])
    suite = root / "suite.yaml"
    # books: its own long-form strategy (4 s windows) and language, the others the run's
    suite.write_text("datasets:\n" + "".join(f"  - {{name: {n}, source: data/{n}{EXTRA.get(n, '')}}}\n"
                                             for n in NAMES))
    return root


@pytest.fixture(scope="module")
def suite_run(ray_cluster, folders):
    db = folders / "suite.duckdb"
    code = main(["run", "--suite", str(folders / "suite.yaml"), "--model", F32.label, "--model", F32_BEAM.label,
                 "--db", str(db), "--actors-per-model", "1", "--name", "suite", "--chunk-seconds", "4",
                 "--chunk-overlap", "1"])
    assert code == 0
    return db


def _wers(db, run_filter: str = "") -> dict[tuple[str, str], float]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {(m, d): w for m, d, w in con.execute(
            f"SELECT model, dataset, wer FROM leaderboard {run_filter}").fetchall()}
    finally:
        con.close()


def test_one_run_gives_each_dataset_the_wer_of_its_own_run(suite_run, folders):
    suite = _wers(suite_run)
    assert set(suite) == {(m.label, n) for m in (F32, F32_BEAM) for n in NAMES}
    db = folders / "separate.duckdb"
    with Store(str(db)) as store:
        for name in NAMES:
            extra = {"long_form": "chunked", "language": "en"} if name in EXTRA else {}
            spec = DatasetSpec(str(folders / "data" / name), name=name, **extra)
            config = RunConfig(models=(F32, F32_BEAM), dataset=spec, db=str(db), actors_per_model=1, **CHUNKS)
            summary = run_evaluation(config, store)
            assert summary.status == "finished"
    separate = _wers(db)
    assert separate.keys() == suite.keys()
    for key, wer in suite.items():
        assert wer == pytest.approx(separate[key], abs=1e-4), key  # 0.01 percentage points


def test_models_load_once_per_actor_for_the_whole_suite(suite_run):
    con = duckdb.connect(str(suite_run), read_only=True)
    try:
        (models, rows) = con.execute("SELECT models, (SELECT count(*) FROM results) FROM runs").fetchone()
        strategies = dict(con.execute("SELECT dataset, string_agg(DISTINCT long_form, ',') || ' ' || max(num_chunks) "
                                      "FROM results GROUP BY dataset").fetchall())
    finally:
        con.close()
    for label in (F32.label, F32_BEAM.label):
        info = json.loads(models)[label]
        assert (info["actors"], info["loads"], len(info["workers"])) == (1, 1, 1)
        assert info["datasets"] == list(NAMES)
    assert rows == 12  # 2 models x 3 datasets x 2 clips, ids 0 and 1 in each dataset
    # one dataset in windows, on the same actors that read the others whole
    assert strategies["calls"] == strategies["meet"] == "native 1"
    assert strategies["books"].startswith("chunked ") and int(strategies["books"].split()[1]) > 1


def test_average_and_pooled_rows(suite_run):
    con = duckdb.connect(str(suite_run), read_only=True)
    try:
        models = {m.model: m for m in suite_results(con, con.execute("SELECT run_id FROM runs").fetchone()[0],
                                                    resamples=200)}
        view = {r[0]: r[1:] for r in con.execute("SELECT model, average, pooled_wer FROM suite_leaderboard").fetchall()}
    finally:
        con.close()
    wers = _wers(suite_run)
    for label, m in models.items():
        assert m.average == pytest.approx(sum(wers[(label, n)] for n in NAMES) / 3)
        assert (m.average, m.pooled) == (pytest.approx(view[label][0]), pytest.approx(view[label][1]))
        assert not m.partial and m.rtfx > 0


def test_leaderboard_prints_the_suite_and_its_long_form(suite_run, capsys):
    assert main(["leaderboard", "--db", str(suite_run)]) == 0
    out = capsys.readouterr().out
    assert "average %" in out and "pooled wer %" in out and "calls wer %" in out
    assert main(["leaderboard", "--db", str(suite_run), "--by", "dataset", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + 6 and lines[0].startswith("model,dataset,split")
    assert main(["compare", "--db", str(suite_run)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # tables wrap at the terminal's width
    # per dataset, once over all datasets (pooled rates, resampled within each), and the suite average
    assert "resampled within each" in out and "suite average (mean of the per-dataset figures)" in out
    assert "stratified by dataset" in out


def test_resume_evaluates_only_what_one_dataset_lacks(suite_run, folders):
    db = folders / "resume.duckdb"
    shutil.copy(suite_run, db)
    con = duckdb.connect(str(db))
    run_id = con.execute("SELECT run_id FROM runs").fetchone()[0]
    before = con.execute("SELECT model, dataset, sample_id, hypothesis FROM results ORDER BY ALL").fetchall()
    con.execute("DELETE FROM results WHERE dataset = 'meet' AND model = ?", [F32.label])
    con.execute("UPDATE runs SET status = 'interrupted'")
    con.close()
    assert main(["run", "--resume", run_id, "--db", str(db)]) == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        after = con.execute("SELECT model, dataset, sample_id, hypothesis FROM results ORDER BY ALL").fetchall()
        workers = json.loads(con.execute("SELECT models FROM runs").fetchone()[0])[F32.label]["workers"]
    finally:
        con.close()
    assert after == before
    assert len(workers) == 2  # the first session's actor and the resumed one's


def test_a_preset_runs_on_a_local_mirror(ray_cluster, folders, capsys):
    mirror = build_mirror(folders / "mirror", "open-asr-en-2025", clips=1)
    db = folders / "preset.duckdb"
    assert main(["run", "--suite", "open-asr-en-2025", "--mirror", str(mirror), "--model", F32.label, "--db", str(db),
                 "--format", "csv"]) == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT dataset, split, count(*), count(error) FROM results GROUP BY ALL "
                           "ORDER BY dataset").fetchall()
        name = con.execute("SELECT name FROM runs").fetchone()[0]
    finally:
        con.close()
    assert [r[0] for r in rows] == ["ami", "earnings22", "gigaspeech", "librispeech-clean", "librispeech-other",
                                    "spgispeech", "tedlium", "voxpopuli"]
    assert all(r[2] == 1 and r[3] == 0 for r in rows) and name == "open-asr-en-2025"
    assert dict((r[0], r[1]) for r in rows)["librispeech-other"] == "test.other"
    assert "average_%" in capsys.readouterr().out
