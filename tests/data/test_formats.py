"""Each manifest and file-set format opens as a dataset, reads the same clips and texts as the
bundled audiofolder, and turns bad input into one error row (or one clear error) naming the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from evaluator.data.audio import audio_duration, decode_audio, decode_audio_range
from evaluator.data.linetable import LineTable
from evaluator.data.readers import language_values, read_row, read_shard
from evaluator.data.shards import plan_shards
from evaluator.data.sources import open_dataset, source_kind
from evaluator.data.spec import DatasetSpec
from evaluator.errors import AudioDecodeError, DatasetError
from tests.data import layouts

ROWS = layouts.clips(6)


def read_all(spec: DatasetSpec, shard_size: int = 4) -> list[Any]:
    opened = open_dataset(spec)
    _, shards = plan_shards(opened, spec, shard_size, None)
    return [s for shard in shards for s in read_shard(opened, shard)]


def errors_of(sample: Any) -> str | None:
    """The error decoding a sample raises (what its row would say), or None."""
    try:
        decode_audio(sample.audio)
    except (AudioDecodeError, DatasetError) as exc:
        return str(exc)
    return None


# (name, builder, spec overrides, kind, the sample id of a clip, language known, metadata key). Ids are
# what names the sample in its source: the audio path as the manifest writes it, the clip's file name
# in a Common Voice release, the utterance id, the id column.
LAYOUTS = [
    ("nemo", lambda tmp: layouts.nemo_manifest(tmp / "nemo", ROWS), {}, "nemo", lambda c: f"audio/{c['file_name']}",
     True, "duration"),
    ("kaldi", lambda tmp: layouts.kaldi_dir(tmp / "kaldi", ROWS), {}, "kaldi", lambda c: c["id"], True, "speaker"),
    ("commonvoice", lambda tmp: layouts.common_voice(tmp / "cv", ROWS), {}, "commonvoice", lambda c: c["file_name"],
     True, "client_id"),
    ("csv", lambda tmp: layouts.csv_manifest(tmp / "m.csv", ROWS), {"audio_column": "wav", "text_column": "words"},
     "csv", lambda c: c["path"], False, "speaker"),
    ("tsv", lambda tmp: layouts.csv_manifest(tmp / "m.tsv", ROWS, "path", "sentence"), {}, "tsv",
     lambda c: c["path"], False, "speaker"),
    ("parquet", lambda tmp: layouts.parquet_folder(tmp / "pq", ROWS), {}, "parquet", lambda c: c["id"], True, None),
    ("webdataset", lambda tmp: layouts.webdataset_dir(tmp / "wds", ROWS, per_shard=4), {}, "webdataset",
     lambda c: c["id"], False, "__url__"),
]


@pytest.mark.parametrize(("name", "build", "overrides", "kind", "clip_id", "has_language", "meta"), LAYOUTS,
                         ids=[row[0] for row in LAYOUTS])
def test_each_format_reads_the_clips_and_texts(tmp_path: Path, name: str, build: Any, overrides: dict[str, str],
                                               kind: str, clip_id: Any, has_language: bool, meta: str | None) -> None:
    spec = DatasetSpec(source=str(build(tmp_path)), **overrides)
    assert source_kind(spec, spec.source) == kind
    samples = read_all(spec)
    by_text = {r["transcription"]: r for r in ROWS}
    assert sorted(s.reference for s in samples) == sorted(by_text)
    for sample in samples:
        clip = by_text[sample.reference]
        assert sample.sample_id == clip_id(clip)
        assert sample.language == (clip["language"] if has_language else None)
        if meta:
            assert meta in sample.metadata
        expected, _ = sf.read(clip["path"], dtype="float32")
        np.testing.assert_array_equal(decode_audio(sample.audio), expected)


@pytest.mark.parametrize(("name", "build", "overrides"), [(r[0], r[1], r[2]) for r in LAYOUTS if r[3] != "parquet"],
                         ids=[r[0] for r in LAYOUTS if r[3] != "parquet"])
def test_read_row_and_shards_agree(tmp_path: Path, name: str, build: Any, overrides: dict[str, str]) -> None:
    spec = DatasetSpec(source=str(build(tmp_path)), **overrides)
    opened = open_dataset(spec)
    total, shards = plan_shards(opened, spec, 4, None)
    assert total == len(ROWS) and len(shards) == 2
    streamed = [s for shard in shards for s in read_shard(opened, shard)]
    assert [read_row(opened, k).reference for k in range(len(ROWS))] == [s.reference for s in streamed]
    assert [s.reference for s in read_shard(opened, shards[1], with_audio=False)] == [
        s.reference for s in streamed[4:]]


def test_language_values_stream_a_manifest(tmp_path: Path) -> None:
    rows = [dict(r, language=lang) for r, lang in zip(ROWS, ["en", "de", "en", "fr", "en", "en"], strict=True)]
    opened = open_dataset(DatasetSpec(source=str(layouts.nemo_manifest(tmp_path, rows, copy=False))))
    assert language_values(opened) == (["de", "en", "fr"], True)
    assert language_values(opened, max_samples=2) == (["de", "en"], True)
    opened = open_dataset(DatasetSpec(source=str(layouts.common_voice(tmp_path / "cv", rows))))
    assert language_values(opened) == (["de", "en", "fr"], True)
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio_filepath": "a.wav", "text": "x", "lang": "en"})
                                      + "\nnot json\n")
    assert language_values(open_dataset(DatasetSpec(source=str(tmp_path / "m.jsonl")))) == (["en", None], True)


@pytest.mark.parametrize("every", [1, 2, 3, 7, 1024])
def test_line_table_positions_match_a_full_read(tmp_path: Path, every: int) -> None:
    path = tmp_path / "m.csv"
    lines = ['path,text', 'a.wav,"two\nlines"', '', 'b.wav,plain', 'c.wav,"a ""quoted"" word"', 'd.wav,x',
             'e.wav,"x,y"', 'f.wav,last']
    path.write_text("\n".join(lines) + "\n")
    spec = DatasetSpec(source=str(path))
    whole = open_dataset(spec).data
    table = LineTable(whole.path, whole.parse, whole.columns, whole.column_names, data_offset=10, data_line=2,
                      quoted=True, every=every)
    texts = [r["text"] for r in table.rows()]
    assert texts == ["two\nlines", "plain", 'a "quoted" word', "x", "x,y", "last"]
    assert [r["audio" if "audio" in r else "path"]["where"] for r in table.rows()] == [
        f"m.csv line {n}" for n in (2, 5, 6, 7, 8, 9)]
    for start in range(len(texts) + 1):
        for stop in range(start, len(texts) + 2):
            assert [r["text"] for r in table.rows(start, stop)] == texts[start:stop]


def test_format_prefix_names_a_manifest_with_another_extension(tmp_path: Path) -> None:
    path = layouts.nemo_manifest(tmp_path, ROWS[:2], copy=False)
    renamed = path.rename(tmp_path / "list.txt")
    with pytest.raises(DatasetError, match="nemo:"):
        open_dataset(DatasetSpec(source=str(renamed)))
    spec = DatasetSpec(source=f"nemo:{renamed}").resolved()
    assert spec.format == "nemo" and spec.source == str(renamed)
    assert [s.reference for s in read_all(spec)] == [r["transcription"] for r in ROWS[:2]]


def test_manifests_and_audio_from_an_fsspec_filesystem() -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    lines = []
    for row in ROWS[:3]:
        fs.pipe(f"/corpus/audio/{row['file_name']}", Path(row["path"]).read_bytes())
        lines.append(json.dumps({"audio_filepath": f"audio/{row['file_name']}", "text": row["transcription"]}))
    fs.pipe("/corpus/manifest.jsonl", ("\n".join(lines) + "\n").encode())
    spec = DatasetSpec(source="memory://corpus/manifest.jsonl")
    samples = read_all(spec)
    assert [s.reference for s in samples] == [r["transcription"] for r in ROWS[:3]]
    expected, _ = sf.read(ROWS[2]["path"], dtype="float32")
    np.testing.assert_array_equal(decode_audio(samples[2].audio), expected)
    assert audio_duration(samples[2].audio) == pytest.approx(len(expected) / 16000)
    fs.rm("/corpus/audio/" + ROWS[1]["file_name"])
    assert "not found: memory://corpus/audio/" in errors_of(read_all(spec)[1])
    fs.rm("/corpus", recursive=True)


def test_local_files_through_the_file_protocol(tmp_path: Path) -> None:
    path = layouts.nemo_manifest(tmp_path, ROWS[:2])
    samples = read_all(DatasetSpec(source=f"file://{path}"))
    assert [errors_of(s) for s in samples] == [None, None]


# ------------------------------------------------------------------------------- segments

def _long_clip() -> dict[str, str]:
    return max(ROWS, key=lambda r: sf.info(r["path"]).duration)


def test_nemo_offset_reads_only_the_segment(tmp_path: Path) -> None:
    clip = _long_clip()
    whole, rate = sf.read(clip["path"], dtype="float32")
    lines = [{"audio_filepath": clip["path"], "text": "a", "offset": 2.0, "duration": 3.0},
             {"audio_filepath": clip["path"], "text": "b", "offset": 5.0, "duration": 1.5, "lang": "en"},
             {"audio_filepath": clip["path"], "text": "whole", "duration": 1.0}]  # no offset: the whole file
    path = tmp_path / "segments.json"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    samples = read_all(DatasetSpec(source=str(path)))
    np.testing.assert_array_equal(decode_audio(samples[0].audio), whole[2 * rate : 5 * rate])
    np.testing.assert_array_equal(decode_audio(samples[1].audio), whole[5 * rate : int(6.5 * rate)])
    assert len(decode_audio(samples[2].audio)) == len(whole)
    assert audio_duration(samples[0].audio) == pytest.approx(3.0)
    # a window of a segment counts from the segment's start and stops at its end
    np.testing.assert_array_equal(decode_audio_range(samples[0].audio, 1.0, 2.0), whole[3 * rate : 4 * rate])
    assert len(decode_audio_range(samples[0].audio, 2.5, 10.0)) == rate // 2


def test_kaldi_segments(tmp_path: Path) -> None:
    clip = _long_clip()
    whole, rate = sf.read(clip["path"], dtype="float32")
    folder = tmp_path / "kaldi"
    folder.mkdir()
    (folder / "wav.scp").write_text(f"rec1 {clip['path']}\n")
    (folder / "segments").write_text("u1 rec1 0.00 2.00\nu2 rec1 2.00 4.50\nu3 rec1 40.0 -1\n")
    (folder / "text").write_text("u1 first part\nu2 second part\nu3 to the end\n")
    samples = read_all(DatasetSpec(source=str(folder)))
    assert [s.sample_id for s in samples] == ["u1", "u2", "u3"]
    assert samples[1].metadata == {"recording": "rec1"}
    np.testing.assert_array_equal(decode_audio(samples[1].audio), whole[2 * rate : int(4.5 * rate)])
    np.testing.assert_array_equal(decode_audio(samples[2].audio), whole[40 * rate :])


# ------------------------------------------------------------------------------- bad input

def _nemo(tmp: Path, lines: list[str]) -> Path:
    path = tmp / "manifest.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _line(clip: dict[str, str], **extra: Any) -> str:
    return json.dumps({"audio_filepath": clip["path"], "text": clip["transcription"], **extra})


# (name, lines of a NeMo manifest, {row: error pattern}) -- every other row decodes
BAD_NEMO = [
    ("not-json", lambda: [_line(ROWS[0]), '{"audio_filepath": "x.wav", "text": ', _line(ROWS[1])],
     {1: r"manifest.jsonl line 2 is not JSON .*fix or delete the line"}),
    ("not-an-object", lambda: [_line(ROWS[0]), "[1, 2]"], {1: r"line 2 is not a JSON object"}),
    ("missing-file", lambda: [_line(ROWS[0]), json.dumps({"audio_filepath": "gone.wav", "text": "x"})],
     {1: r"not found: .*gone.wav \(manifest.jsonl line 2\)"}),
    ("no-path", lambda: [_line(ROWS[0]), json.dumps({"text": "x"})], {1: r"line 2 has no 'audio_filepath' path"}),
    ("no-text", lambda: [_line(ROWS[0]), json.dumps({"audio_filepath": ROWS[1]["path"]})],
     {1: r"line 2 has no 'text' field"}),
    ("offset-past-end", lambda: [_line(ROWS[0], offset=1000.0, duration=1.0), _line(ROWS[1])],
     {0: r"starts at 1000.000 s, past the end of its file .*manifest.jsonl line 1.*fix the offset"}),
    ("segment-past-end", lambda: [_line(ROWS[0]), _line(ROWS[1], offset=0.5, duration=100.0)],
     {1: r"ends past the end of its file .*line 2"}),
    ("bad-offset", lambda: [_line(ROWS[0], offset="soon")], {0: r"offset and duration must be numbers"}),
    ("blank-lines", lambda: ["", _line(ROWS[0]), "   ", _line(ROWS[1])], {}),
]


@pytest.mark.parametrize(("name", "lines", "bad"), BAD_NEMO, ids=[b[0] for b in BAD_NEMO])
def test_bad_manifest_lines_are_error_rows(tmp_path: Path, name: str, lines: Any, bad: dict[int, str]) -> None:
    samples = read_all(DatasetSpec(source=str(_nemo(tmp_path, lines()))))
    assert len(samples) == len([line for line in lines() if line.strip()])
    for k, sample in enumerate(samples):
        error = errors_of(sample)
        if k in bad:
            assert error is not None
            assert __import__("re").search(bad[k], error), error
        else:
            assert error is None


def _kaldi(tmp: Path, wav_scp: str, text: str, segments: str | None = None) -> Path:
    folder = tmp / "kaldi"
    folder.mkdir()
    (folder / "wav.scp").write_text(wav_scp)
    (folder / "text").write_text(text)
    if segments is not None:
        (folder / "segments").write_text(segments)
    return folder


BAD_KALDI = [
    ("command-pipe", lambda: (f"a {ROWS[0]['path']}\nb sph2pipe -f wav b.sph |\n", "a hello\nb world\n", None),
     {1: r"wav.scp line 2: recording 'b' is a command .*write a WAV file"}),
    ("no-recording", lambda: (f"a {ROWS[0]['path']}\n", "a hello\nb world\n", None),
     {1: r"text line 2: recording 'b' has no line in wav.scp"}),
    ("no-segment", lambda: (f"r {ROWS[0]['path']}\n", "a hello\nb world\n", "a r 0 1\n"),
     {1: r"text line 2: utterance 'b' has no line in segments"}),
    ("segment-past-end", lambda: (f"r {ROWS[0]['path']}\n", "a hello\nb world\n", "a r 0 1\nb r 900 901\n"),
     {1: r"past the end of its file .*segments line 2, wav.scp line 1"}),
    ("bad-segment", lambda: (f"r {ROWS[0]['path']}\n", "a hello\n", "a r zero 1\n"),
     {0: r"segments line 1 should read <utterance> <recording> <start> <end>"}),
    ("archive", lambda: ("a raw.ark:1234\n", "a hello\n", None), {0: r"Kaldi archive offset"}),
]


@pytest.mark.parametrize(("name", "files", "bad"), BAD_KALDI, ids=[b[0] for b in BAD_KALDI])
def test_bad_kaldi_entries_are_error_rows(tmp_path: Path, name: str, files: Any, bad: dict[int, str]) -> None:
    samples = read_all(DatasetSpec(source=str(_kaldi(tmp_path, *files()))))
    for k, sample in enumerate(samples):
        error = errors_of(sample)
        if k in bad:
            assert error is not None and __import__("re").search(bad[k], error), error
        else:
            assert error is None, error


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# (name, builder, error pattern): inputs where nothing can be evaluated stop the run at open
BAD_OPEN = [
    ("empty-nemo", lambda t: _write(t / "m.jsonl", ""), r"m.jsonl is empty"),
    ("nemo-without-objects", lambda t: _write(t / "m.jsonl", "not json\n[1]\n"), r"holds no JSON object line"),
    ("nemo-first-line-no-text", lambda t: _write(t / "m.jsonl", '{"audio_filepath": "a.wav"}\n'),
     r"m.jsonl line 1 has no 'text' field .*--text-column"),
    ("empty-csv", lambda t: _write(t / "m.csv", ""), r"m.csv is empty"),
    ("tsv-missing-column", lambda t: _write(t / "m.tsv", "path\tspeaker\na.wav\tx\n"),
     r"no reference text column found among path, speaker in m.tsv \(line 1, the header\)"),
    ("tsv-override-missing", lambda t: _write(t / "m.tsv", "path\ttext\na.wav\tx\n"),
     r"text column 'words' is not in m.tsv \(line 1, the header\); columns are: path, text"),
    ("empty-kaldi-text", lambda t: _kaldi(t, "a a.wav\n", ""), r"text is empty"),
    ("cv-without-split-tsv", lambda t: (t / "cv" / "clips").mkdir(parents=True) or _write(
        t / "cv" / "reported.tsv", "sentence_id\treason\n").parent, r"no TSV with 'path' and 'sentence'"),
    ("cv-missing-split", lambda t: layouts.common_voice(t / "cv", ROWS[:1]), r"split 'dev' is not in .*test"),
    ("unknown-file", lambda t: _write(t / "notes.txt", "hello"), r"is a file of no known kind"),
    ("unknown-format", lambda t: "pickle:" + str(_write(t / "m.pkl", "x")), r"is a file|unknown dataset format"),
]


@pytest.mark.parametrize(("name", "build", "pattern"), BAD_OPEN, ids=[b[0] for b in BAD_OPEN])
def test_inputs_that_cannot_be_evaluated_say_why(tmp_path: Path, name: str, build: Any, pattern: str) -> None:
    overrides = {"tsv-override-missing": {"text_column": "words"}, "cv-missing-split": {"split": "dev"}}
    with pytest.raises(DatasetError, match=pattern):
        open_dataset(DatasetSpec(source=str(build(tmp_path)), **overrides.get(name, {})))


def test_tsv_rows_with_missing_fields_are_error_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.tsv", f"path\ttext\tspeaker\n{ROWS[0]['path']}\thello\ts1\n"
                  f"{ROWS[1]['path']}\tworld\n\tempty path\ts3\n")
    samples = read_all(DatasetSpec(source=str(path)))
    assert errors_of(samples[0]) is None
    assert "m.tsv line 3 has 2 fields where the header has 3" in errors_of(samples[1])
    assert "m.tsv line 4 has an empty 'path'" in errors_of(samples[2])


def test_repeated_ids_in_a_manifest_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", "id,path,text\nx,a.wav,one\ny,b.wav,two\nx,c.wav,three\n")
    with pytest.raises(DatasetError, match=r"id 'x' is repeated \(lines 2 and 4\)"):
        open_dataset(DatasetSpec(source=str(path)))
    assert len(open_dataset(DatasetSpec(source=str(path)), check_ids=False).data) == 3


@pytest.mark.parametrize("block", [1, 2, 3, 1024])
@pytest.mark.parametrize("ordered", [True, False])
def test_keyed_file_finds_every_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int,
                                    ordered: bool) -> None:
    from evaluator.data import keyed

    monkeypatch.setattr(keyed, "BLOCK", block)
    keys = [f"utt{k:03d}" for k in range(10)]
    lines = keys if ordered else keys[::-1]
    path = _write(tmp_path / "utt2spk", "".join(f"{k} spk-{k}\n" + ("\n" if k == "utt004" else "") for k in lines))
    table = keyed.KeyedFile(str(path))
    for k in keys:
        value, line = table.get(k)
        assert value == f"spk-{k}"
        assert path.read_text().splitlines()[line - 1].startswith(k)
    assert table.get("utt999") is None and table.get("aaa") is None
    assert not keyed.KeyedFile(str(tmp_path / "absent"))


@pytest.mark.parametrize(("text", "lines"), [("a one\nb two\na three\n", "1 and 3"),
                                            ("a one\nb two\nb three\n", "2 and 3"),
                                            ("b one\na two\nb three\n", "1 and 3")])
def test_repeated_utterance_ids_in_kaldi_text_are_refused(tmp_path: Path, text: str, lines: str) -> None:
    folder = _kaldi(tmp_path, f"a {ROWS[0]['path']}\n", text)
    with pytest.raises(DatasetError, match=rf"id '[ab]' is repeated \(lines {lines}\)"):
        open_dataset(DatasetSpec(source=str(folder)))


@pytest.mark.parametrize(("name", "build", "overrides"), [(r[0], r[1], r[2]) for r in LAYOUTS if r[0] != "nemo"],
                         ids=[r[0] for r in LAYOUTS if r[0] != "nemo"])
def test_every_format_reads_from_an_fsspec_url(tmp_path: Path, name: str, build: Any,
                                               overrides: dict[str, str]) -> None:
    """The layout copied into fsspec's memory filesystem reads the same rows and audio."""
    import fsspec

    fs = fsspec.filesystem("memory")
    local = Path(build(tmp_path))
    target = f"/{name}-{tmp_path.name}"
    if local.is_dir():
        fs.put(str(local), target, recursive=True)
        url = f"memory://{target}"
    else:
        fs.put(str(local), f"{target}/{local.name}")
        url = f"memory://{target}/{local.name}"
    try:
        local_samples = read_all(DatasetSpec(source=str(local), **overrides))
        samples = read_all(DatasetSpec(source=url, **overrides))
        assert [s.reference for s in samples] == [s.reference for s in local_samples]
        assert [s.sample_id for s in samples] == [s.sample_id for s in local_samples]
        for sample, twin in zip(samples, local_samples, strict=True):
            np.testing.assert_array_equal(decode_audio(sample.audio), decode_audio(twin.audio))
    finally:
        fs.rm(target, recursive=True)
