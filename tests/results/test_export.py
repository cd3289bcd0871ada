"""Export manifests (what the Open ASR Leaderboard and NeMo read) and reading predictions made
elsewhere back (table-driven over the formats, with empty and broken inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluator.data.predictions import read_predictions
from evaluator.errors import ConfigError, DatasetError
from evaluator.results.export import export_run, manifest_name
from evaluator.results.store import Store
from evaluator.scoring.rows import finalize_row


def _row(model: str, sample_id: str, reference: str, hypothesis: str | None, error: str | None = None,
         metadata: dict | None = None) -> dict:
    return finalize_row({
        "run_id": "r1", "model": model, "backend": model.split(":")[0], "dataset": "calls", "split": "test",
        "sample_id": sample_id, "sample_index": int(sample_id[-5]), "language": "en", "audio_seconds": 2.0,
        "reference": reference, "hypothesis": hypothesis, "inference_seconds": None if error else 0.5,
        "error": error, "long_form": "native", "num_chunks": 1,
        "metadata": json.dumps(metadata) if metadata else None})


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    folder = tmp_path / "calls"
    folder.mkdir()
    for name in ("a1.wav", "b2.wav", "c3.wav"):
        (folder / name).write_bytes(b"RIFF")
    path = tmp_path / "r.duckdb"
    with Store(str(path)) as store:
        store.create_run("r1", "first", {"datasets": [{"source": str(folder), "name": "calls"}]},
                         evaluator_version="test", normalizer=("whisper", "1"), host={})
        store.insert_results([
            _row("faster-whisper:tiny.en", "a1.wav", "Hello there.", "hello there"),
            _row("faster-whisper:tiny.en", "b2.wav", "One two three", "one two tree",
                 metadata={"parent_id": "s1", "chunk_index": 0}),
            _row("faster-whisper:tiny.en", "c3.wav", "Good bye", None, error="RuntimeError: boom"),
            _row("openai-whisper:tiny.en", "a1.wav", "Hello there.", "hello"),
        ])
    return path


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_leaderboard_manifests_one_per_model_and_dataset(db: Path, tmp_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    result = export_run(con, "r1", "open-asr-leaderboard", tmp_path / "out")
    names = sorted(f.path.name for f in result.files)
    assert names == ["MODEL_faster-whisper-tiny.en_DATASET_calls_test.jsonl",
                     "MODEL_openai-whisper-tiny.en_DATASET_calls_test.jsonl"]
    fw = next(f for f in result.files if f.model == "faster-whisper:tiny.en")
    assert (fw.rows, fw.errors) == (2, 1)  # the error row has no prediction: left out, counted
    lines = _jsonl(fw.path)
    assert [set(line) for line in lines][0] == {"audio_filepath", "duration", "time", "text", "pred_text"}
    assert lines[0]["audio_filepath"] == str(tmp_path / "calls" / "a1.wav")  # the file, resolved
    assert (lines[0]["text"], lines[0]["pred_text"], lines[0]["time"]) == ("Hello there.", "hello there", 0.5)
    assert (lines[1]["parent_id"], lines[1]["chunk_index"]) == ("s1", 0)  # a chunked set's join keys


def test_nemo_and_csv_shapes(db: Path, tmp_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    nemo = export_run(con, "r1", "nemo", tmp_path / "nemo", ["openai-whisper:tiny.en"])
    (line,) = _jsonl(nemo.files[0].path)
    assert set(line) == {"audio_filepath", "duration", "text", "pred_text"}
    table = export_run(con, "r1", "csv", tmp_path / "csv", ["openai-whisper:tiny.en"])
    assert table.files[0].path.read_text().splitlines()[0] == "id,reference,hypothesis,seconds,audio_seconds"


def test_export_refuses_unknown_format_and_run(db: Path, tmp_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    with pytest.raises(ConfigError, match="valid: open-asr-leaderboard, nemo, csv"):
        export_run(con, "r1", "kaldi", tmp_path)
    with pytest.raises(ConfigError, match="no run"):
        export_run(con, "nope", "csv", tmp_path)


def test_exported_manifest_reads_back_as_predictions(db: Path, tmp_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    fw = next(f for f in export_run(con, "r1", "open-asr-leaderboard", tmp_path).files
              if f.model == "faster-whisper:tiny.en")
    found = read_predictions(str(fw.path))
    assert found.get("a1.wav").text == "hello there" and found.get("a1.wav").seconds == 0.5
    assert found.get("c3.wav") is None  # the error row was not exported
    assert found.unmatched(["a1.wav"]) == [str(tmp_path / "calls" / "b2.wav")]


FORMATS = [
    ("p.jsonl", '{"audio_filepath": "/d/clips/x.wav", "pred_text": "hi", "time": 0.25}\n', "clips/x.wav", "hi", 0.25),
    ("p.json", '{"audio_filepath": "x.wav", "pred_text": ""}\n', "x.wav", "", None),
    ("p.csv", "id,hypothesis,seconds\nx.wav,hello world,1.5\n", "x.wav", "hello world", 1.5),
    ("p.tsv", "file_name\tpred_text\nsub/x.wav\thello\n", "sub/x.wav", "hello", None),
    ("text", "x hello kaldi world\n\n", "x.wav", "hello kaldi world", None),  # matched by stem
]


@pytest.mark.parametrize(("name", "content", "sample_id", "text", "seconds"), FORMATS, ids=[f[0] for f in FORMATS])
def test_prediction_formats(tmp_path: Path, name: str, content: str, sample_id: str, text: str,
                            seconds: float | None) -> None:
    path = tmp_path / name
    path.write_text(content)
    found = read_predictions(str(path)).get(sample_id)
    assert found is not None and (found.text, found.seconds) == (text, seconds)


BROKEN = [
    ("empty.csv", "", "holds no predictions"),
    ("nohyp.csv", "id,other\nx,1\n", "prediction column"),
    ("dup.tsv", "id\thypothesis\nx\ta\nx\tb\n", "has a prediction already"),
    ("bad.jsonl", '{"audio_filepath": "x"}\n', "needs 'audio_filepath'"),
    ("notjson.jsonl", "{oops\n", "is not JSON"),
    ("secs.csv", "id,hypothesis,seconds\nx,a,fast\n", "not a number"),
]


@pytest.mark.parametrize(("name", "content", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_prediction_files_name_the_line(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        read_predictions(str(path))


def test_ambiguous_file_names_never_match(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,hypothesis\na/x.wav,one\nb/x.wav,two\n")
    found = read_predictions(str(path))
    assert found.get("x.wav") is None  # two keys named x.wav: no guess
    assert found.get("b/x.wav").text == "two"


def test_manifest_name_is_what_the_leaderboard_parses() -> None:
    name = manifest_name("open-asr-leaderboard", "transformers:openai/whisper-tiny", "builtin:sample", "test")
    assert name == "MODEL_transformers-openai-whisper-tiny_DATASET_builtin-sample_test.jsonl"
