"""Opening datasets (audiofolder, save_to_disk, hub-style columns), planning and reading shards,
and decoding the cells they yield."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pytest
import soundfile as sf

from evaluator.data.audio import SAMPLE_RATE, decode_audio
from evaluator.data.builtin import sample_data_dir
from evaluator.data.columns import Columns, detect_columns
from evaluator.data.opened import OpenedDataset
from evaluator.data.readers import read_shard
from evaluator.data.shards import Shard, plan_shards
from evaluator.data.sources import open_dataset
from evaluator.data.spec import DatasetSpec
from evaluator.errors import AudioDecodeError, DatasetError
from tests.factories import audio_bytes, tone

datasets.disable_progress_bars()

# id, reference, language
ROWS = [("utt-a", "hello world", "en"), ("utt-b", "good morning", "en"), ("utt-c", "bonjour", "fr")]
TEST_ROWS = [("utt-x", "the test split", "en"), ("utt-y", "second test row", "de")]


def write_audiofolder(folder: Path, rows: list[tuple[str, str, str]], fieldnames: tuple[str, ...],
                      *, meta: str = "csv", rate: int = 16000, fmt: str = "WAV") -> Path:
    """Audio files + metadata.csv/.jsonl. ``fieldnames`` picks the columns written besides
    file_name, from: id, transcription (or any text name), language (or any language name)."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i, (sid, text, lang) in enumerate(rows):
        name = f"clip{i}.{fmt.lower()}"
        (folder / name).write_bytes(audio_bytes(tone(rate), rate, fmt))
        values = {"id": sid, "text": text, "lang": lang}
        record = {"file_name": name}
        for field in fieldnames:
            kind = "id" if field in ("id", "utt_id", "sample_id") else "lang" if "lang" in field else "text"
            record[field] = values[kind]
        records.append(record)
    if meta == "csv":
        with open(folder / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["file_name", *fieldnames])
            writer.writeheader()
            writer.writerows(records)
    else:
        with open(folder / "metadata.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in records)
    return folder


def hf_dataset(rows: list[tuple[str, str, str]], columns: dict[str, str], *, rate: int = 16000,
               fmt: str = "WAV", audio_feature: Any = None) -> datasets.Dataset:
    """An in-memory dataset; ``columns`` maps role (audio/text/id/language) -> column name."""
    data: dict[str, list[Any]] = {}
    for i, (sid, text, lang) in enumerate(rows):
        values = {
            "audio": {"bytes": audio_bytes(tone(rate), rate, fmt), "path": f"x{i}.{fmt.lower()}"},
            "text": text, "id": sid, "language": lang,
        }
        for role, name in columns.items():
            data.setdefault(name, []).append(values[role])
    data.setdefault("extra", [len(r[1]) for r in rows])
    ds = datasets.Dataset.from_dict(data)
    if audio_feature is not None:
        ds = ds.cast_column(columns["audio"], audio_feature)
    return ds


def saved(path: Path, data: datasets.Dataset | dict[str, datasets.Dataset]) -> Path:
    if isinstance(data, dict):
        data = datasets.DatasetDict(data)
    data.save_to_disk(str(path))
    return path


def read_all(opened: OpenedDataset, **shard_kwargs: Any) -> list:
    spec = DatasetSpec(source=opened.name)
    return list(read_shard(opened, Shard(spec, 0, start=0, stop=len(opened.data), **shard_kwargs)))


# --------------------------------------------------------------------------------- layouts

STD = {"audio": "audio", "text": "text", "id": "id", "language": "language"}

LAYOUTS: dict[str, Callable[[Path], Path]] = {
    "audiofolder-csv": lambda d: write_audiofolder(d / "af", ROWS, ("transcription",)),
    "audiofolder-csv-id-language": lambda d: write_audiofolder(
        d / "af", ROWS, ("id", "transcription", "language")),
    "audiofolder-jsonl": lambda d: write_audiofolder(
        d / "af", ROWS, ("utt_id", "sentence", "lang"), meta="jsonl"),
    "audiofolder-flac": lambda d: write_audiofolder(
        d / "af", ROWS, ("transcription",), fmt="FLAC", rate=44100),
    "audiofolder-splits": lambda d: (
        write_audiofolder(d / "af" / "train", ROWS, ("id", "transcription")),
        write_audiofolder(d / "af" / "test", TEST_ROWS, ("id", "transcription")),
    )[0].parent,
    "saved-dataset-struct": lambda d: saved(d / "ds", hf_dataset(ROWS, {"audio": "audio", "text": "text"})),
    "saved-dataset-audio-nodecode": lambda d: saved(
        d / "ds", hf_dataset(ROWS, STD, audio_feature=datasets.Audio(decode=False))),
    "saved-dataset-audio-decode": lambda d: saved(
        d / "ds", hf_dataset(ROWS, STD, audio_feature=datasets.Audio(sampling_rate=16000))),
    "saved-datasetdict": lambda d: saved(d / "ds", {
        "train": hf_dataset(ROWS, STD, audio_feature=datasets.Audio()),
        "validation": hf_dataset(ROWS[:1], STD, audio_feature=datasets.Audio()),
        "test": hf_dataset(TEST_ROWS, STD, audio_feature=datasets.Audio()),
    }),
    "hub-common-voice": lambda d: saved(d / "ds", hf_dataset(
        ROWS, {"id": "client_id", "audio": "audio", "text": "sentence", "language": "locale"},
        audio_feature=datasets.Audio(sampling_rate=48000), rate=48000)),
    "hub-voxpopuli": lambda d: saved(d / "ds", hf_dataset(
        ROWS, {"id": "audio_id", "language": "language", "audio": "audio", "text": "normalized_text"},
        audio_feature=datasets.Audio())),
    "hub-feature-named-oddly": lambda d: saved(d / "ds", hf_dataset(
        ROWS, {"audio": "recording", "text": "transcript", "id": "key"}, audio_feature=datasets.Audio())),
}

# layout -> split, Columns, ids, references, languages
EXPECTED: dict[str, tuple[str, Columns, list[str], list[str], list[str | None]]] = {
    # without an id column, an audiofolder's sample is its file (file_name as written)
    "audiofolder-csv": ("train", Columns("audio", "transcription", "file_name", None),
                        ["clip0.wav", "clip1.wav", "clip2.wav"], [r[1] for r in ROWS], [None] * 3),
    "audiofolder-csv-id-language": ("train", Columns("audio", "transcription", "id", "language"),
                                    [r[0] for r in ROWS], [r[1] for r in ROWS], [r[2] for r in ROWS]),
    "audiofolder-jsonl": ("train", Columns("audio", "sentence", "utt_id", "lang"),
                          [r[0] for r in ROWS], [r[1] for r in ROWS], [r[2] for r in ROWS]),
    "audiofolder-flac": ("train", Columns("audio", "transcription", "file_name", None),
                         ["clip0.flac", "clip1.flac", "clip2.flac"], [r[1] for r in ROWS], [None] * 3),
    "audiofolder-splits": ("test", Columns("audio", "transcription", "id", None),
                           [r[0] for r in TEST_ROWS], [r[1] for r in TEST_ROWS], [None] * 2),
    "saved-dataset-struct": ("train", Columns("audio", "text", None, None),
                             ["0", "1", "2"], [r[1] for r in ROWS], [None] * 3),
    "saved-dataset-audio-nodecode": ("train", Columns("audio", "text", "id", "language"),
                                     [r[0] for r in ROWS], [r[1] for r in ROWS], [r[2] for r in ROWS]),
    "saved-dataset-audio-decode": ("train", Columns("audio", "text", "id", "language"),
                                   [r[0] for r in ROWS], [r[1] for r in ROWS], [r[2] for r in ROWS]),
    "saved-datasetdict": ("test", Columns("audio", "text", "id", "language"),
                          [r[0] for r in TEST_ROWS], [r[1] for r in TEST_ROWS], [r[2] for r in TEST_ROWS]),
    # client_id is a speaker, not a sample id: rows are numbered
    "hub-common-voice": ("train", Columns("audio", "sentence", None, "locale"),
                         ["0", "1", "2"], [r[1] for r in ROWS], [r[2] for r in ROWS]),
    "hub-voxpopuli": ("train", Columns("audio", "normalized_text", "audio_id", "language"),
                      [r[0] for r in ROWS], [r[1] for r in ROWS], [r[2] for r in ROWS]),
    "hub-feature-named-oddly": ("train", Columns("recording", "transcript", "key", None),
                                [r[0] for r in ROWS], [r[1] for r in ROWS], [None] * 3),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_open_and_read(tmp_path: Path, layout: str) -> None:
    source = LAYOUTS[layout](tmp_path)
    split, columns, ids, refs, langs = EXPECTED[layout]
    opened = open_dataset(DatasetSpec(source=str(source)))
    got = (opened.split, opened.columns, opened.num_rows, opened.streaming)
    assert got == (split, columns, len(ids), False)
    samples = read_all(opened)
    assert [s.sample_id for s in samples] == ids
    assert [s.index for s in samples] == list(range(len(ids)))
    assert [s.reference for s in samples] == refs
    assert [s.language for s in samples] == langs
    for s in samples:
        audio = decode_audio(s.audio)
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert abs(len(audio) - SAMPLE_RATE // 4) <= 1  # every clip is 0.25 s


def test_audio_feature_is_left_undecoded(tmp_path: Path) -> None:
    opened = open_dataset(DatasetSpec(source=str(LAYOUTS["saved-datasetdict"](tmp_path))))
    assert opened.data.features["audio"] == datasets.Audio(decode=False)
    cell = opened.data[0]["audio"]
    assert set(cell) == {"bytes", "path"} and cell["bytes"][:4] == b"RIFF"


def test_bundled_sample_set_opens() -> None:
    opened = open_dataset(DatasetSpec())
    assert opened.name == "builtin:sample" and opened.num_rows and opened.num_rows > 0
    assert opened.columns == Columns("audio", "transcription", "id", "language")
    first = next(read_shard(opened, Shard(DatasetSpec(), 0, start=0, stop=1)))
    assert first.audio["path"].startswith(sample_data_dir()) and first.audio["where"] == "metadata.csv line 2"


@pytest.mark.parametrize(
    ("layout", "split", "expected_ids"),
    [
        ("audiofolder-splits", "train", [r[0] for r in ROWS]),
        ("audiofolder-splits", "test", [r[0] for r in TEST_ROWS]),
        ("saved-datasetdict", "validation", [ROWS[0][0]]),
        ("audiofolder-csv-id-language", "train", [r[0] for r in ROWS]),
    ],
)
def test_choose_split(tmp_path: Path, layout: str, split: str, expected_ids: list[str]) -> None:
    opened = open_dataset(DatasetSpec(source=str(LAYOUTS[layout](tmp_path)), split=split))
    assert opened.split == split
    assert [s.sample_id for s in read_all(opened)] == expected_ids


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"text_column": "raw_text"}, Columns("audio", "raw_text", "audio_id", "language")),
        ({"id_column": "speaker_id"}, Columns("audio", "normalized_text", "speaker_id", "language")),
        ({"language_column": "accent"}, Columns("audio", "normalized_text", "audio_id", "accent")),
        ({"audio_column": "audio"}, Columns("audio", "normalized_text", "audio_id", "language")),
    ],
)
def test_column_overrides_when_opening(tmp_path: Path, overrides: dict[str, str], expected: Columns) -> None:
    roles = {"audio": "audio", "id": "audio_id", "language": "language", "text": "normalized_text"}
    ds = hf_dataset(ROWS, roles, audio_feature=datasets.Audio())
    ds = ds.add_column("raw_text", [r[1].upper() for r in ROWS])
    ds = ds.add_column("speaker_id", ["s1", "s2", "s3"]).add_column("accent", ["x", "y", "z"])
    opened = open_dataset(DatasetSpec(source=str(saved(tmp_path / "ds", ds)), **overrides))
    assert opened.columns == expected
    first = read_all(opened)[0]
    row = opened.data[0]
    assert (first.sample_id, first.reference, first.language) == (
        str(row[expected.id]), row[expected.text], row[expected.language])


# ------------------------------------------------------------------------------ detect_columns

AUDIO = datasets.Audio(decode=False)
STR = datasets.Value("string")


def features(audio: str | None, *others: str) -> datasets.Features:
    feats = {name: STR for name in others}
    if audio:
        feats[audio] = AUDIO
    return datasets.Features(feats)


@pytest.mark.parametrize(
    ("names", "feats", "spec", "expected"),
    [
        (["audio", "text"], None, DatasetSpec(), Columns("audio", "text", None, None)),
        (["file", "audio", "text", "speaker_id", "chapter_id", "id"], None, DatasetSpec(),
         Columns("audio", "text", "id", None)),  # librispeech
        (["client_id", "path", "audio", "sentence", "up_votes", "locale"], None, DatasetSpec(),
         Columns("audio", "sentence", None, "locale")),  # common voice
        (["id", "num_samples", "path", "audio", "transcription", "raw_transcription", "language"], None,
         DatasetSpec(), Columns("audio", "transcription", "id", "language")),  # fleurs
        (["audio_id", "language", "audio", "raw_text", "normalized_text"], None, DatasetSpec(),
         Columns("audio", "normalized_text", "audio_id", "language")),  # voxpopuli
        (["segment_id", "speech", "transcript", "lang"], None, DatasetSpec(),
         Columns("speech", "transcript", "segment_id", "lang")),
        (["Audio", "Text", "ID"], None, DatasetSpec(), Columns("Audio", "Text", "ID", None)),  # any case
        (["recording", "text"], features("recording", "text"), DatasetSpec(),
         Columns("recording", "text", None, None)),  # an Audio feature wins
        (["audio", "clip", "text"], features("clip", "audio", "text"), DatasetSpec(),
         Columns("clip", "text", None, None)),
        (["wav", "text", "reference"], None, DatasetSpec(text_column="reference"),
         Columns("wav", "reference", None, None)),
        (["wav", "label", "id", "uid"], None, DatasetSpec(id_column="uid", audio_column="wav"),
         Columns("wav", "label", "uid", None)),
        (["a", "b", "c", "d"], None, DatasetSpec(audio_column="a", text_column="b", id_column="c",
                                                 language_column="d"), Columns("a", "b", "c", "d")),
    ],
)
def test_detect_columns(names: list[str], feats: Any, spec: DatasetSpec, expected: Columns) -> None:
    assert detect_columns(names, feats, spec) == expected


@pytest.mark.parametrize(
    ("names", "spec", "message"),
    [
        (["audio", "notes"], DatasetSpec(),
         "no reference text column found among audio, notes; pass --text-column"),
        (["clip", "text"], DatasetSpec(), "no audio column found among clip, text; pass --audio-column"),
        ([], DatasetSpec(), "no audio column"),
        (["audio", "text"], DatasetSpec(text_column="txt"), "text column 'txt' is not in the dataset; "
                                                            "columns are: audio, text"),
        (["audio", "text"], DatasetSpec(audio_column="wave"), "audio column 'wave' is not in the dataset"),
        (["audio", "text"], DatasetSpec(id_column="Text"), "id column 'Text' is not in the dataset"),
        (["audio", "text"], DatasetSpec(language_column="lang"), "language column 'lang'"),
    ],
)
def test_detect_columns_errors(names: list[str], spec: DatasetSpec, message: str) -> None:
    with pytest.raises(DatasetError) as info:
        detect_columns(names, None, spec)
    assert message in str(info.value)


# ---------------------------------------------------------------------------------- open errors


def _no_test_split(d: Path) -> Path:
    return saved(d / "ds", {"train": hf_dataset(ROWS, STD), "validation": hf_dataset(ROWS, STD)})


def _empty_dir(d: Path) -> Path:
    (d / "empty").mkdir()
    return d / "empty"


def _no_file_name(d: Path) -> Path:
    (d / "af").mkdir()
    (d / "af" / "metadata.csv").write_text("path,transcription\na.wav,hi\n")
    return d / "af"


def _header_only(d: Path) -> Path:
    (d / "af").mkdir()
    (d / "af" / "metadata.csv").write_text("file_name,transcription\n")
    return d / "af"


def _a_file(d: Path) -> Path:
    (d / "clip.wav").write_bytes(audio_bytes(tone(16000), 16000))
    return d / "clip.wav"


@pytest.mark.parametrize(
    ("make", "spec_kwargs", "messages"),
    [
        (LAYOUTS["audiofolder-splits"], {"split": "validation"},
         ["split 'validation' not in", "available splits: test, train"]),
        (LAYOUTS["audiofolder-csv"], {"split": "test"}, ["available splits: train"]),
        (LAYOUTS["saved-datasetdict"], {"split": "dev"}, ["available splits: train, validation, test"]),
        (_no_test_split, {}, ["several splits (train, validation)", "--split"]),
        (lambda d: write_audiofolder(d / "af", ROWS, ("notes",)), {},
         ["no reference text column", "among file_name, notes in metadata.csv"]),
        (LAYOUTS["audiofolder-csv"], {"text_column": "sentence"},
         ["text column 'sentence' is not in metadata.csv", "columns are: file_name, transcription"]),
        (_empty_dir, {}, ["holds no dataset layout evaluator knows", "metadata.csv", "wav.scp + text"]),
        (_no_file_name, {}, ["needs a file_name column"]),
        (_header_only, {}, ["lists no files"]),
        (_a_file, {}, ["is a file"]),
    ],
    ids=["unknown-split", "split-of-flat-folder", "unknown-split-saved", "several-splits-no-test",
         "no-text-column", "text-override-missing", "empty-folder", "no-file-name", "header-only",
         "a-file"],
)
def test_open_errors(tmp_path: Path, make: Callable[[Path], Path], spec_kwargs: dict[str, Any],
                     messages: list[str]) -> None:
    source = make(tmp_path)
    with pytest.raises(DatasetError) as info:
        open_dataset(DatasetSpec(source=str(source), **spec_kwargs))
    for message in messages:
        assert message in str(info.value)


def test_metadata_csv_with_byte_order_mark(tmp_path: Path) -> None:
    folder = write_audiofolder(tmp_path / "af", ROWS, ("transcription",))
    path = folder / "metadata.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    opened = open_dataset(DatasetSpec(source=str(folder)))
    assert [s.reference for s in read_all(opened)] == [r[1] for r in ROWS]


def test_missing_audio_file_fails_at_decode_not_open(tmp_path: Path) -> None:
    folder = write_audiofolder(tmp_path / "af", ROWS, ("transcription",))
    (folder / "clip1.wav").unlink()
    opened = open_dataset(DatasetSpec(source=str(folder)))
    samples = read_all(opened)
    decode_audio(samples[0].audio)
    with pytest.raises(AudioDecodeError, match="not found: .*clip1.wav"):
        decode_audio(samples[1].audio)


# ------------------------------------------------------------------------------- plan & read


def opened_with_rows(n: int) -> OpenedDataset:
    data = datasets.Dataset.from_dict(
        {"audio": [f"{i}.wav" for i in range(n)], "text": [str(i) for i in range(n)]})
    return OpenedDataset(data=data, columns=Columns("audio", "text", None, None), split="test",
                         name="mem", streaming=False)


@pytest.mark.parametrize(
    ("rows", "shard_size", "max_samples", "total", "ranges", "tail"),
    [
        (10, 4, None, 10, [(0, 4), (4, 8), (8, 10)], 0),
        # the last `tail` samples one shard each (models that transcribe one clip at a time)
        (10, 4, None, 10, [(0, 4), (4, 7), (7, 8), (8, 9), (9, 10)], 3),
        (10, 4, None, 10, [(i, i + 1) for i in range(10)], 16),
        (10, 4, 6, 6, [(0, 4), (4, 5), (5, 6)], 2),
        (0, 4, None, 0, [], 5),
        (8, 4, None, 8, [(0, 4), (4, 8)], 0),
        (10, 1, None, 10, [(i, i + 1) for i in range(10)], 0),
        (10, 100, None, 10, [(0, 10)], 0),
        (1, 4, None, 1, [(0, 1)], 0),
        (0, 4, None, 0, [], 0),
        (10, 4, 5, 5, [(0, 4), (4, 5)], 0),
        (10, 4, 4, 4, [(0, 4)], 0),
        (10, 4, 1, 1, [(0, 1)], 0),
        (3, 4, 100, 3, [(0, 3)], 0),
    ],
)
def test_plan_shards(rows: int, shard_size: int, max_samples: int | None, total: int,
                     ranges: list[tuple[int, int]], tail: int) -> None:
    spec = DatasetSpec(source="mem")
    n, shards = plan_shards(opened_with_rows(rows), spec, shard_size, max_samples, tail)
    assert n == total
    assert [(s.start, s.stop) for s in shards] == ranges
    assert [s.shard_id for s in shards] == list(range(len(shards)))
    assert all(s.dataset == spec and s.file_shard is None and s.size == s.stop - s.start for s in shards)
    covered = [i for s in shards for i in range(s.start, s.stop)]
    assert covered == list(range(total))  # every row once, in order


@pytest.mark.parametrize(("rows", "shard_size"), [(7, 3), (12, 5), (5, 5), (9, 2)])
def test_reading_every_shard_yields_every_row_once(rows: int, shard_size: int) -> None:
    opened = opened_with_rows(rows)
    _, shards = plan_shards(opened, DatasetSpec(), shard_size, None)
    ids = [s.sample_id for shard in shards for s in read_shard(opened, shard)]
    assert ids == [str(i) for i in range(rows)]


@pytest.mark.parametrize(
    ("layout", "start", "stop", "skip", "expected_ids"),
    [
        ("audiofolder-csv", 0, 3, set(), ["clip0.wav", "clip1.wav", "clip2.wav"]),
        ("audiofolder-csv", 1, 3, set(), ["clip1.wav", "clip2.wav"]),
        ("audiofolder-csv", 0, 3, {"clip1.wav"}, ["clip0.wav", "clip2.wav"]),
        ("audiofolder-csv", 0, 3, {"clip0.wav", "clip1.wav", "clip2.wav"}, []),
        ("audiofolder-csv", 0, 3, {"1"}, ["clip0.wav", "clip1.wav", "clip2.wav"]),  # files, not indexes
        ("audiofolder-csv", 2, 2, set(), []),
        ("audiofolder-csv-id-language", 0, 3, {"utt-b"}, ["utt-a", "utt-c"]),
        ("audiofolder-csv-id-language", 0, 3, {"1"}, ["utt-a", "utt-b", "utt-c"]),  # ids, not indexes
        ("saved-dataset-audio-decode", 1, 3, {"utt-c", "not-there"}, ["utt-b"]),
    ],
)
def test_read_shard_ids_and_skip(tmp_path: Path, layout: str, start: int, stop: int, skip: set[str],
                                 expected_ids: list[str]) -> None:
    opened = open_dataset(DatasetSpec(source=str(LAYOUTS[layout](tmp_path))))
    shard = Shard(DatasetSpec(), 0, start=start, stop=stop, skip_ids=frozenset(skip))
    samples = list(read_shard(opened, shard))
    assert [s.sample_id for s in samples] == expected_ids
    all_ids = [s.sample_id for s in read_all(opened)]
    assert [s.index for s in samples] == [all_ids.index(i) for i in expected_ids]


@pytest.mark.parametrize("layout", ["audiofolder-csv-id-language", "saved-datasetdict"])
def test_read_shard_without_audio(tmp_path: Path, layout: str) -> None:
    opened = open_dataset(DatasetSpec(source=str(LAYOUTS[layout](tmp_path))))
    with_audio = read_all(opened)
    shard = Shard(DatasetSpec(), 0, start=0, stop=len(opened.data))
    without = list(read_shard(opened, shard, with_audio=False))
    assert all(s.audio is None for s in without)
    assert all(s.audio is not None for s in with_audio)
    strip = [(s.sample_id, s.index, s.reference, s.language) for s in without]
    assert strip == [(s.sample_id, s.index, s.reference, s.language) for s in with_audio]
    assert opened.columns.audio in opened.data.column_names  # the opened dataset is not changed


def test_none_text_reads_as_empty_reference(tmp_path: Path) -> None:
    ds = datasets.Dataset.from_dict({"audio": ["a.wav", "b.wav"], "text": ["hi", None], "id": [7, 8]})
    opened = open_dataset(DatasetSpec(source=str(saved(tmp_path / "ds", ds))))
    samples = read_all(opened)
    assert [(s.sample_id, s.reference) for s in samples] == [("7", "hi"), ("8", "")]


# ------------------------------------------------------------------------- decoding read cells

RATES = [8000, 16000, 22050, 44100, 48000]


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("fmt", ["WAV", "FLAC"])
@pytest.mark.parametrize("storage", ["audiofolder", "save_to_disk"])
def test_read_cells_decode_to_16k_mono(tmp_path: Path, rate: int, fmt: str, storage: str) -> None:
    rows = ROWS[:1]
    if storage == "audiofolder":
        source = write_audiofolder(tmp_path / "af", rows, ("transcription",), rate=rate, fmt=fmt)
    else:
        ds = hf_dataset(rows, STD, rate=rate, fmt=fmt, audio_feature=datasets.Audio())
        source = saved(tmp_path / "ds", ds)
    (sample,) = read_all(open_dataset(DatasetSpec(source=str(source))))
    audio = decode_audio(sample.audio)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - SAMPLE_RATE // 4) <= 1
    assert np.max(np.abs(audio)) == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("fmt", ["WAV", "FLAC"])
def test_stereo_is_mean_of_channels(tmp_path: Path, rate: int, fmt: str) -> None:
    left = tone(rate, amplitude=0.8)
    right = np.zeros_like(left)
    mono_mean = (left + right) / 2
    ds = datasets.Dataset.from_dict({
        "audio": [
            {"bytes": audio_bytes(np.stack([left, right], axis=1), rate, fmt), "path": "stereo"},
            {"bytes": audio_bytes(mono_mean, rate, fmt), "path": "mean"},
        ],
        "text": ["stereo", "mono"],
    }).cast_column("audio", datasets.Audio())
    stereo, reference = read_all(open_dataset(DatasetSpec(source=str(saved(tmp_path / "ds", ds)))))
    assert sf.info(io.BytesIO(stereo.audio["bytes"])).channels == 2
    got = decode_audio(stereo.audio)
    want = decode_audio(reference.audio)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-3)
    assert np.max(np.abs(got)) == pytest.approx(0.4, abs=0.03)


def test_repeated_id_values_fall_back_to_the_file_names(tmp_path: Path) -> None:
    folder = write_audiofolder(tmp_path / "af", ROWS, ("transcription",))
    lines = (folder / "metadata.csv").read_text().splitlines()
    rows = [lines[0] + ",id"] + [line + ",same" for line in lines[1:]]
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    opened = open_dataset(DatasetSpec(source=str(folder)))
    assert opened.columns.id == "file_name"
    assert [s.sample_id for s in read_all(opened)] == [f"clip{i}.wav" for i in range(len(ROWS))]
    with pytest.raises(DatasetError, match=r"metadata.csv: sample id 'same' is repeated \(lines 2 and 3\)"):
        open_dataset(DatasetSpec(source=str(folder), id_column="id"))


def test_a_file_listed_twice_in_an_audiofolder_is_refused(tmp_path: Path) -> None:
    folder = write_audiofolder(tmp_path / "af", ROWS, ("transcription",))
    lines = (folder / "metadata.csv").read_text().splitlines()
    (folder / "metadata.csv").write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(DatasetError, match=r"metadata.csv: sample id 'clip0.wav' is repeated \(lines 2 and 5\)"):
        open_dataset(DatasetSpec(source=str(folder)))


def test_local_dataset_can_be_streamed(tmp_path: Path) -> None:
    source = LAYOUTS["saved-dataset-audio-nodecode"](tmp_path)
    spec = DatasetSpec(source=str(source), streaming=True)
    opened = open_dataset(spec)
    total, shards = plan_shards(opened, spec, 4, None)
    assert opened.streaming and total is None and len(shards) == min(8, len(ROWS))
    ids = [s.sample_id for shard in shards for s in read_shard(opened, shard)]
    assert sorted(ids) == sorted(EXPECTED["saved-dataset-audio-nodecode"][2])


def test_an_audiofolder_is_read_by_position_even_when_streaming_is_asked_for(tmp_path: Path) -> None:
    source = LAYOUTS["audiofolder-csv-id-language"](tmp_path)
    spec = DatasetSpec(source=str(source), streaming=True)
    opened = open_dataset(spec)
    total, shards = plan_shards(opened, spec, 4, None)
    assert not opened.streaming and total == len(ROWS)
    ids = [s.sample_id for shard in shards for s in read_shard(opened, shard)]
    assert ids == EXPECTED["audiofolder-csv-id-language"][2]


def test_actors_open_the_columns_the_driver_settled_on(tmp_path: Path) -> None:
    from evaluator.data.columns import ROW_INDEX
    from evaluator.data.sources import resolved_spec

    folder = write_audiofolder(tmp_path / "af", ROWS, ("transcription",))
    lines = (folder / "metadata.csv").read_text().splitlines()
    (folder / "metadata.csv").write_text("\n".join([lines[0] + ",id"] + [ln + ",same" for ln in lines[1:]]) + "\n")
    driver = open_dataset(DatasetSpec(source=str(folder)))
    spec = resolved_spec(driver, DatasetSpec(source=str(folder)))
    assert spec.id_column == "file_name" and spec.text_column == "transcription"
    actor = open_dataset(spec, check_ids=False)
    assert actor.columns == driver.columns
    assert [s.sample_id for s in read_all(actor)] == [f"clip{i}.wav" for i in range(len(ROWS))]
    hub = saved(tmp_path / "ds", hf_dataset(ROWS, {"audio": "audio", "text": "text"}))
    no_ids = DatasetSpec(source=str(hub))
    assert resolved_spec(open_dataset(no_ids), no_ids).id_column == ROW_INDEX


# language values, max_samples, streaming -> (distinct values, complete)
LANGUAGE_VALUES = [
    (["German", "fr_fr", "German", None], None, False, (["German", "fr_fr", None], True)),
    (["German", "fr_fr", "spa"], 2, False, (["German", "fr_fr"], True)),  # only the rows a run reads
    (["German", "", "spa"], None, True, (["German", "spa", None], False)),  # a stream: first rows only
    ([], None, False, ([], True)),
    (None, None, False, ([None], True)),  # no language column
]


@pytest.mark.parametrize(("values", "max_samples", "streaming", "expected"), LANGUAGE_VALUES)
def test_language_values(values, max_samples, streaming, expected) -> None:
    from evaluator.data.opened import OpenedDataset
    from evaluator.data.readers import language_values

    column = values if values is not None else ["?"]
    data = datasets.Dataset.from_dict({"text": ["x"] * len(column), "language": column},
                                      features=datasets.Features({"text": datasets.Value("string"),
                                                                  "language": datasets.Value("string")}))
    if streaming:
        data = data.to_iterable_dataset()
    columns = Columns("audio", "text", None, None if values is None else "language")
    got, complete = language_values(OpenedDataset(data, columns, "train", "d", streaming), max_samples)
    assert (set(got), len(got), complete) == (set(expected[0]), len(expected[0]), expected[1])
# --------------------------------------------------------------------------- stable ids, metadata

def _read_ids_and_refs(source: Path, streaming: bool, max_samples: int | None = None) -> list[tuple[str, str]]:
    spec = DatasetSpec(source=str(source), streaming=streaming)
    opened = open_dataset(spec)
    _, shards = plan_shards(opened, spec, 3, max_samples)
    return sorted((s.sample_id, s.reference) for shard in shards for s in read_shard(opened, shard))


@pytest.mark.parametrize("n_rows, max_samples", [(1, None), (3, None), (11, None), (20, None), (11, 5)])
def test_row_index_ids_are_the_same_map_style_and_streaming(tmp_path: Path, n_rows: int,
                                                            max_samples: int | None) -> None:
    rows = [(f"u{i}", f"sentence number {i}", "en") for i in range(n_rows)]
    source = saved(tmp_path / "ds", hf_dataset(rows, {"audio": "audio", "text": "text"},
                                               audio_feature=datasets.Audio(decode=False)))
    mapped = _read_ids_and_refs(source, streaming=False, max_samples=max_samples)
    streamed = _read_ids_and_refs(source, streaming=True, max_samples=max_samples)
    assert streamed == mapped
    assert len(mapped) == (max_samples or n_rows)
    # the id is the row index: row i holds sentence i
    assert all(ref == f"sentence number {sid}" for sid, ref in mapped)


def test_metadata_columns_are_kept_per_sample(tmp_path: Path) -> None:
    folder = write_audiofolder(tmp_path / "af", ROWS, ("id", "transcription"))
    lines = (folder / "metadata.csv").read_text().splitlines()
    extra = [("spk1", "f"), ("spk2", "m"), ("spk1", "f")]
    (folder / "metadata.csv").write_text("\n".join(
        [lines[0] + ",speaker,gender"] + [f"{ln},{s},{g}" for ln, (s, g) in zip(lines[1:], extra, strict=True)]
    ) + "\n")
    for streaming in (False, True):
        spec = DatasetSpec(source=str(folder), streaming=streaming)
        opened = open_dataset(spec)
        _, shards = plan_shards(opened, spec, 2, None)
        got = sorted((s.sample_id, s.metadata) for shard in shards for s in read_shard(opened, shard))
        want = [(sid, {"file_name": f"clip{i}.wav", "speaker": spk, "gender": g})
                for i, ((sid, _, _), (spk, g)) in enumerate(zip(ROWS, extra, strict=True))]
        assert got == want, streaming


@pytest.mark.parametrize("row, expected", [
    ({}, {}),
    ({"audio": b"x", "text": "t", "id": "i", "language": "en"}, {}),
    ({"speaker": "s1", "age": 31, "score": 0.5, "native": True}, {"speaker": "s1", "age": 31, "score": 0.5,
                                                                  "native": True}),
    ({"nan": float("nan"), "none": None, "list": [1, 2], "dict": {"a": 1}, "raw": b"ab"}, {}),
    ({"np_int": np.int64(7), "np_float": np.float32(0.25)}, {"np_int": 7, "np_float": 0.25}),
    ({"long": "x" * 1000}, {"long": "x" * 256}),
])
def test_row_metadata(row: dict[str, Any], expected: dict[str, Any]) -> None:
    from evaluator.data.columns import row_metadata

    assert row_metadata(row, Columns("audio", "text", "id", "language")) == expected


def test_row_metadata_json_is_capped() -> None:
    from evaluator.data.columns import METADATA_MAX_BYTES, metadata_json, row_metadata

    row = {f"column_{i:03d}": "v" * 200 for i in range(100)}
    got = row_metadata(row, Columns("audio", "text", None, None))
    text = metadata_json(got)
    assert text is not None and len(text.encode()) <= METADATA_MAX_BYTES
    assert list(got) == list(row)[: len(got)] and 10 < len(got) < 100  # first columns kept, in order
    assert json.loads(text) == got
    assert metadata_json({}) is None


@pytest.mark.parametrize("streaming", [False, True])
def test_class_label_languages_are_read_as_their_names(streaming: bool) -> None:
    from evaluator.data.opened import OpenedDataset
    from evaluator.data.readers import language_values

    features = datasets.Features({"audio": datasets.Value("string"), "text": datasets.Value("string"),
                                  "id": datasets.Value("string"),
                                  "language": datasets.ClassLabel(names=["en", "German", "fr_fr"])})
    data = datasets.Dataset.from_dict({"audio": ["1.wav", "2.wav", "3.wav"], "text": ["a", "b", "c"],
                                       "id": ["x", "y", "z"], "language": [1, 2, 1]}, features=features)
    if streaming:
        data = data.to_iterable_dataset()
    opened = OpenedDataset(data, Columns("audio", "text", "id", "language"), "train", "d", streaming)
    values, _ = language_values(opened)
    assert sorted(values) == ["German", "fr_fr"]
    _, shards = plan_shards(opened, DatasetSpec(source="d", streaming=streaming, id_column="id"), 8, None)
    assert sorted(s.language for shard in shards for s in read_shard(opened, shard, with_audio=False)) == [
        "German", "German", "fr_fr"]
