"""Real runs (Ray, DuckDB, faster-whisper tiny.en float32) over the new sources: the same clips as a
NeMo manifest, a Kaldi directory and a Parquet folder score the WER of the audiofolder, and the
same clips as ALAC .m4a, PCM .mka, Opus .webm and AAC .mp4 are all scored, the lossless ones with
the WAV's hypothesis."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from evaluator.data.spec import DatasetSpec
from evaluator.models.spec import parse_model_spec
from evaluator.results.store import Store
from evaluator.run.driver import run_evaluation
from evaluator.run.plan.config import RunConfig
from tests.conftest import make_audiofolder
from tests.data import layouts
from tests.factories import write_audiofolder

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]

TINY_F32 = parse_model_spec("faster-whisper:tiny.en?compute_type=float32")
# Short clips (the sample set's first long reading is left out to keep the runs short).
CLIPS = [r for r in layouts.clips() if Path(r["path"]).stat().st_size < 200_000][:6]


def _run(db: Path, source: str) -> tuple[str, dict[str, tuple[str, str | None]], float]:
    """(run id, {reference: (hypothesis, error)}, corpus WER) of one run over a source."""
    with Store(str(db)) as store:
        summary = run_evaluation(RunConfig(db=str(db), models=(TINY_F32,), dataset=DatasetSpec(source=source)),
                                 store)
    assert summary.status == "finished"
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT reference, hypothesis, error, substitutions, deletions, insertions, hits "
                           "FROM results WHERE run_id = ?", [summary.run_id]).fetchall()
    finally:
        con.close()
    scored = [r for r in rows if r[2] is None]
    errors = sum(r[3] + r[4] + r[5] for r in scored)
    wer = errors / max(1, sum(r[3] + r[4] + r[6] for r in scored))
    return summary.run_id, {r[0]: (r[1], r[2]) for r in rows}, wer


def test_manifest_kaldi_and_parquet_give_the_audiofolders_wer(ray_cluster, tmp_path: Path) -> None:
    audiofolder = make_audiofolder(tmp_path / "af", [{k: v for k, v in r.items() if k != "path"} for r in CLIPS])
    sources = {
        "nemo": str(layouts.nemo_manifest(tmp_path / "nemo", CLIPS)),
        "kaldi": str(layouts.kaldi_dir(tmp_path / "kaldi", CLIPS)),
        "parquet": str(layouts.parquet_folder(tmp_path / "pq", CLIPS)),
    }
    _, reference_rows, reference_wer = _run(tmp_path / "af.duckdb", str(audiofolder))
    assert len(reference_rows) == len(CLIPS) and all(error is None for _, error in reference_rows.values())
    for name, source in sources.items():
        _, rows, wer = _run(tmp_path / f"{name}.duckdb", source)
        assert rows == reference_rows, name
        assert wer == pytest.approx(reference_wer, abs=1e-4), name


def test_every_container_is_scored_and_lossless_ones_match_the_wav(ray_cluster, tmp_path: Path) -> None:
    folder = tmp_path / "containers"
    folder.mkdir()
    entries = []
    for clip in CLIPS[:3]:
        stem = clip["id"]
        layouts.wav_copy(clip["path"], folder / f"{stem}.wav")
        entries.append({"file_name": f"{stem}.wav", "transcription": f"{stem} wav"})
        for ext, codec, container, rate, _ in layouts.CONTAINERS:
            layouts.encode(clip["path"], folder / f"{stem}{ext}", codec, container, rate)
            entries.append({"file_name": f"{stem}{ext}", "transcription": f"{stem} {ext[1:]}"})
    write_audiofolder(folder, {}, entries)  # the clips are in place
    _, rows, _ = _run(tmp_path / "containers.duckdb", str(folder))
    assert len(rows) == 15
    assert {ref: error for ref, (_, error) in rows.items() if error} == {}
    for clip in CLIPS[:3]:
        wav = rows[f"{clip['id']} wav"][0]
        assert wav.strip()
        for ext, *_, lossless in layouts.CONTAINERS:
            hypothesis = rows[f"{clip['id']} {ext[1:]}"][0]
            assert hypothesis.strip(), ext
            if lossless:
                assert hypothesis == wav, (clip["id"], ext)
