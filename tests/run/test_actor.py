"""The worker a Ray actor wraps, called directly (no Ray): what it hands back for odd inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluator.data.columns import ROW_INDEX
from evaluator.data.shards import Shard
from evaluator.data.spec import DatasetSpec
from evaluator.data.windows import LongForm
from evaluator.models.spec import parse_model_spec
from evaluator.results.records import ResultRow
from evaluator.run.execute.actor import Worker
from tests.factories import write_audiofolder

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tiny_en_available")]


def test_silent_and_tiny_clips_are_scored_with_a_warning(tmp_path: Path, sample_rows) -> None:
    from evaluator.data.builtin import sample_data_dir

    speech = sample_rows[0]
    folder = write_audiofolder(tmp_path / "odd", {
        "silence.wav": np.zeros(16000 * 2, np.float32),
        "blip.wav": np.full(480, 0.2, np.float32),  # 30 ms
    }, [{"file_name": "silence.wav", "transcription": ""}, {"file_name": "blip.wav", "transcription": ""},
        {"file_name": speech["file_name"], "transcription": speech["transcription"]}])
    (folder / speech["file_name"]).write_bytes((Path(sample_data_dir()) / speech["file_name"]).read_bytes())
    spec = DatasetSpec(source=str(folder), id_column=ROW_INDEX, audio_column="audio", text_column="transcription")
    worker = Worker(parse_model_spec("faster-whisper:tiny.en?compute_type=float32"), "cpu", 1, "en",
                    LongForm("native", 30.0, 5.0))
    out = worker.run_shard(Shard(spec, 0, start=0, stop=3))
    rows = {r.sample_id: r for r in out.rows}
    assert all(isinstance(r, ResultRow) for r in rows.values())
    assert "all zeros" in rows["0"].warning and rows["0"].error is None and rows["0"].ref_words == 0
    assert "under 0.1 s" in rows["1"].warning and rows["1"].error is None
    assert rows["2"].warning is None and rows["2"].ref_words > 0


def test_datasets_open_while_the_model_loads_and_one_that_cannot_fails_only_its_shards(tmp_path: Path,
                                                                                       sample_rows) -> None:
    from evaluator.data.builtin import sample_data_dir

    speech = sample_rows[0]
    folder = write_audiofolder(tmp_path / "ok", {}, [{"file_name": speech["file_name"],
                                                      "transcription": speech["transcription"]}])
    (folder / speech["file_name"]).write_bytes((Path(sample_data_dir()) / speech["file_name"]).read_bytes())
    good = DatasetSpec(source=str(folder), id_column=ROW_INDEX, audio_column="audio", text_column="transcription")
    gone = DatasetSpec(source=str(tmp_path / "deleted"), id_column=ROW_INDEX, audio_column="audio",
                       text_column="transcription")
    worker = Worker(parse_model_spec("faster-whisper:tiny.en?compute_type=float32"), "cpu", 1, "en",
                    LongForm("native", 30.0, 5.0), datasets=[good, gone])
    assert worker.info()["allocator"].startswith(("glibc", "system default"))
    (row,) = worker.run_shard(Shard(good, 0, start=0, stop=1)).rows
    assert row.error is None and row.ref_words > 0 and row.hypothesis
    with pytest.raises(Exception, match="deleted"):
        worker.run_shard(Shard(gone, 0, start=0, stop=1))
