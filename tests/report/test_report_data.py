"""The report's data side without a browser: the samples' seams and skipped stretches, audio read
back from the run's dataset (embedded up to the caps, linked past them, a moved dataset said so),
the paired comparison's p-values, several runs in one page and the model x dataset matrix."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from evaluator.cli import main
from evaluator.report import data
from evaluator.report.audio import attach_audio, encode_clip
from evaluator.report.format import p_value
from evaluator.report.html import ReportOptions, build_report
from evaluator.results.compare import compare
from evaluator.results.store import Store, connect_read_only
from tests.factories import create_run
from tests.report.test_html_report import parsed, payload
from tests.report_data import LONG_ID, LONG_SECONDS, MODELS, OLD_RUN, RUN, SAMPLES, _row, make_report_db


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("report-data") / "results.duckdb")
    make_report_db(path)
    return path


@pytest.fixture(scope="module")
def browser_data(db: str) -> dict[str, Any]:
    con = connect_read_only(db)
    found, _ = data.samples(con, RUN, list(MODELS), ReportOptions())
    return found


def _sample(found: dict[str, Any], sample_id: str) -> dict[str, Any]:
    return next(s for s in found["samples"] if s["id"] == sample_id)


def _seconds(src: str) -> float:
    head, _, encoded = src.partition(",")
    assert head == "data:audio/ogg;base64"
    info = sf.info(io.BytesIO(base64.b64decode(encoded)))
    assert info.samplerate == 16_000 and info.channels == 1
    return info.frames / info.samplerate


def test_long_file_has_its_seams_and_skipped_stretch(db: str, browser_data: dict[str, Any]) -> None:
    long = _sample(browser_data, LONG_ID)
    entry = long["r"][MODELS.index("model-a:x")]
    # the windows the seams join start at 25, 50 and 75 s (the fixture's chunks)
    assert entry["seams"] == [[25.0, "aligned", 27.5], [50.0, "midpoint", 52.5], [75.0, "aligned", 77.0]]
    # sentences 10-14 of 40 (six words each once normalized) are missing: a quarter into 95 s
    ((start, words),) = entry["skips"]
    ((longest, ref_words),) = connect_read_only(db).execute(
        "SELECT max_deletion_run, ref_words FROM results WHERE sample_id = ?", [LONG_ID]).fetchall()
    assert (words, ref_words) == (longest, 240) and abs(start - LONG_SECONDS * 60 / 240) < 2.0
    assert entry["flags"] == ["skipped"]
    assert all(r is None or r["seams"] == [] for r in _sample(browser_data, "s-their")["r"])


def test_skips_are_runs_of_deleted_words() -> None:
    ops: list[Any] = ["a b c d", *[["d", "x"]] * 20, ["s", "e", "f"], ["i", "g"], ["d", "y"]]
    # 4 + 20 + 1 + 1 = 26 reference words over 26 s: the run of 20 starts at word 4, at 4 s
    assert data._skips(ops, 26, 26.0, 20, True) == [[4.0, 20]]
    assert data._skips(ops[:11], 14, 14.0, 10, False) == []  # 10 missing words: not a skipped stretch
    assert data._skips(ops[:11], 14, 14.0, 10, True) == [[4.0, 10]]  # unless the row is flagged skipped
    assert data._skips(ops, None, 26.0, 20, True) == []


def test_audio_embedded_from_the_runs_dataset(db: str) -> None:
    con = connect_read_only(db)
    found, _ = data.samples(con, RUN, list(MODELS), ReportOptions())
    summary = attach_audio(con, RUN, found, ReportOptions())
    assert (summary.embedded, summary.linked, summary.missing) == (len(SAMPLES) + 1, 0, 0)
    for s in found["samples"]:
        assert s["audio"]["embedded"] is True
        assert abs(_seconds(s["audio"]["src"]) - s["dur"]) < 0.05, s["id"]  # the sample's own clip
    # about 3.6 kB a second, as the cap assumes
    assert summary.embedded_bytes < 4_500 * sum(s["dur"] for s in found["samples"])


def test_a_long_clip_encodes_whole() -> None:
    """Four minutes in one piece (a single libsndfile write of 3 minutes or more crashed the process)."""
    import numpy as np

    t = np.arange(240 * 16_000) / 16_000
    encoded = encode_clip((0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32))
    info = sf.info(io.BytesIO(encoded))
    assert abs(info.frames / info.samplerate - 240) < 0.05
    assert len(encoded) < 240 * 4_500


def test_clips_past_the_caps_are_linked_files(db: str) -> None:
    con = connect_read_only(db)
    found, _ = data.samples(con, RUN, list(MODELS), ReportOptions())
    options = ReportOptions(audio_clip_mb=0.1, audio_total_mb=0.1)
    summary = attach_audio(con, RUN, found, options)
    by_id = {s["id"]: s["audio"] for s in found["samples"]}
    assert by_id[LONG_ID]["embedded"] is False  # 95 s is about 340 kB: over the clip limit
    assert by_id[LONG_ID]["src"] == (Path(db).parent / "audio" / f"{LONG_ID}.flac").as_uri()
    assert summary.embedded_bytes <= 100_000 and summary.embedded + summary.linked == len(SAMPLES) + 1
    page = build_report(con, RUN, options)
    assert "the page embeds 0.1 MB at most" in page and "linked as files" in page


def test_the_cap_is_shared_by_the_pages_runs(db: str) -> None:
    con = connect_read_only(db)
    found, _ = data.samples(con, RUN, list(MODELS), ReportOptions())
    summary = attach_audio(con, RUN, found, ReportOptions(audio_total_mb=0.1), used_bytes=100_000)
    assert (summary.embedded, summary.linked) == (0, len(SAMPLES) + 1)  # earlier runs used it all up


def test_audio_off_reads_no_dataset(db: str) -> None:
    page = build_report(connect_read_only(db), RUN, ReportOptions(audio_total_mb=0, max_samples=2))
    assert all(s["audio"] == {"note": "audio turned off (--audio-mb 0)"} for s in payload(page)["samples"])
    assert "Audio is turned off (--audio-mb 0)." in page


def test_moved_dataset_is_said_not_failed(db: str, tmp_path: Path) -> None:
    moved = tmp_path / "results.duckdb"
    shutil.copy(db, moved)  # the audio folder stays beside the original
    shutil.copytree(Path(db).parent / "audio", tmp_path / "audio-copy")
    con = connect_read_only(db)
    found, _ = data.samples(con, RUN, list(MODELS), ReportOptions())
    shutil.move(Path(db).parent / "audio", tmp_path / "audio-away")
    try:
        summary = attach_audio(con, RUN, found, ReportOptions())
        page = build_report(con, RUN, ReportOptions(max_samples=1))
    finally:
        shutil.move(tmp_path / "audio-away", Path(db).parent / "audio")
    assert summary.embedded == 0 and summary.missing == len(SAMPLES) + 1
    (reason,) = summary.reasons
    assert "not reachable" in reason and str(Path(db).parent / "audio") in reason
    assert "without audio: dataset" in page and "not reachable" in page
    assert payload(page)["samples"][0]["audio"]["note"] == reason


def test_changed_dataset_is_not_played(db: str, tmp_path: Path) -> None:
    """A row whose id is no longer the stored sample id (the dataset changed) gets no audio."""
    con = connect_read_only(db)
    found, _ = data.samples(con, RUN, list(MODELS), ReportOptions())
    for s in found["samples"]:
        s["id"] = "renamed-" + s["id"]
    summary = attach_audio(con, RUN, found, ReportOptions())
    assert summary.reasons == {"the dataset changed since the run (the row's id differs)": len(SAMPLES) + 1}


def test_page_lists_the_p_values_of_compare(db: str) -> None:
    con = connect_read_only(db)
    page = build_report(con, RUN, ReportOptions(max_samples=0, audio_total_mb=0))
    pairs = compare(con, [RUN], all_pairs=True).to_json_dict()["pairs"]
    assert len(pairs) == 3  # three models: three pairs
    section = page[page.index('id="s-compare"'):page.index('id="s-speed"')]
    for pair in pairs:
        assert f'<span class="p">{p_value(pair["p_value"])}</span>' in section
        assert f"<td>{pair['model']}</td>" in section
    assert "p (bootstrap)" in section and "p (sign test)" in section


def test_several_runs_in_one_page(db: str) -> None:
    page = build_report(connect_read_only(db), [RUN, OLD_RUN], ReportOptions(audio_total_mb=0))
    p = parsed(page)
    assert {"run-1", "run-2", "s-compare-across", "leaderboard", "leaderboard-2", "sample-table",
            "sample-table-2", "chart-speed", "chart-speed-2"} <= p.ids
    second = [json.loads(text) for attrs, text in p.scripts if attrs.get("id") == "sample-data-2"]
    assert [s["id"] for s in second[0]["samples"]] == ["s-old"]
    assert f"run {RUN}" in page and f"run {OLD_RUN}" in page


def test_unknown_run_among_several(db: str) -> None:
    with pytest.raises(ValueError, match="no run 'nope'"):
        build_report(connect_read_only(db), [RUN, "nope"])


def test_matrix_for_a_run_over_several_datasets(db: str, tmp_path: Path) -> None:
    path = str(tmp_path / "suite.duckdb")
    with Store(path) as store:
        create_run(store, "suite", normalizer=("t", "1"))
        rows = [_row("suite", model, k, f"{name}-{k}", "en", 2.0, "the cat sat down", hyp, (name, "test"))
                for name in ("set-a", "set-b") for k in range(3)
                for model, hyp in zip(MODELS[:2], ("the cat sat down", "the cat sat"), strict=True)]
        store.insert_results(rows)
    con = connect_read_only(path)
    board = data.leaderboard(con, "suite", ReportOptions())
    cells = data.matrix(con, "suite", board, ReportOptions())
    for name in ("set-a", "set-b"):  # named with its split, or alone (evaluator.results.suite's cells)
        mine = {c["model"]: c["wer"] for c in cells if c["dataset"] in (name, f"{name}/test")}
        assert mine == {MODELS[0]: 0.0, MODELS[1]: 0.25}
    page = build_report(con, "suite", ReportOptions(audio_total_mb=0))
    assert "chart-matrix" in parsed(page).ids
    one = connect_read_only(db)  # a run over one dataset has no matrix
    assert data.matrix(one, RUN, data.leaderboard(one, RUN, ReportOptions()), ReportOptions()) == []


def test_cli_several_runs_and_audio_flag(db: str, tmp_path: Path) -> None:
    out = tmp_path / "two.html"
    assert main(["report", "--db", db, "--run", RUN, "--run", OLD_RUN, "--audio-mb", "0", "--out", str(out)]) == 0
    text = out.read_text()
    assert 'id="run-2"' in text and "Audio is turned off" in text
    assert main(["report", "--db", db, "--audio-mb", "-1", "--out", str(tmp_path / "bad.html")]) == 2


@pytest.mark.parametrize(("field", "value"), [("audio_total_mb", -1), ("audio_clip_mb", "2"),
                                              ("audio_total_mb", float("nan"))])
def test_audio_options_validated(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"ReportOptions.{field}"):
        ReportOptions(**{field: value})
