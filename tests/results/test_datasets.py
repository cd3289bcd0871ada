"""Datasets are identified by name and content fingerprint, stored per run: the same folder in
another checkout has the same fingerprint; a resume refuses data that changed, naming the samples;
databases from before fingerprints still list their datasets."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from evaluator.data.fingerprint import fingerprint
from evaluator.data.sources import open_dataset
from evaluator.data.spec import DatasetSpec, default_name
from evaluator.errors import DatasetError
from evaluator.results.datasets import DatasetRead, dataset_identity, record_datasets
from evaluator.results.store import Store
from tests.data import layouts

ROWS = layouts.clips(4)


def audiofolder(folder: Path, rows: list[dict[str, str]] = ROWS) -> Path:
    """The clips copied into an audiofolder with file_name and transcription only (no id column)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file_name", "transcription"])
        for row in rows:
            shutil.copy(row["path"], folder / row["file_name"])
            writer.writerow([row["file_name"], row["transcription"]])
    return folder


def read(folder: Path, name: str | None = None) -> DatasetRead:
    spec = DatasetSpec(source=str(folder))
    opened = open_dataset(spec)
    return DatasetRead(name or default_name(str(folder)), spec, opened, opened.num_rows)


def edit_metadata(folder: Path, changes: dict[str, str], extra: dict[str, str] | None = None) -> None:
    path = folder / "metadata.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["transcription"] = changes.get(row["file_name"], row["transcription"])
    if extra:
        shutil.copy(extra["path"], folder / extra["file_name"])
        rows.append({"file_name": extra["file_name"], "transcription": extra["transcription"]})
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["file_name", "transcription"])
        writer.writeheader()
        writer.writerows(rows)


def test_the_same_data_in_another_checkout_has_the_same_identity(tmp_path: Path) -> None:
    first = audiofolder(tmp_path / "checkout-a" / "calls")
    second = tmp_path / "checkout-b" / "calls"
    shutil.copytree(first, second)  # another path, new modification times
    with Store(str(tmp_path / "r.duckdb")) as store:
        record_datasets(store, "run-a", [read(first)])
        record_datasets(store, "run-b", [read(second)])
        a, b = dataset_identity(store.con, "run-a")[0], dataset_identity(store.con, "run-b")[0]
    assert a["dataset"] == b["dataset"] == "calls"
    assert a["fingerprint"] == b["fingerprint"] and len(a["fingerprint"]) == 64
    assert a["source"] == str(first) and b["source"] == str(second)
    assert (a["kind"], a["ids"], a["samples"], a["audio"]) == ("audiofolder", "file_name as the metadata file writes "
                                                                "it", len(ROWS), "sizes")


def test_a_changed_reference_added_clip_or_resized_audio_changes_the_fingerprint(tmp_path: Path) -> None:
    folder = audiofolder(tmp_path / "calls")
    before = fingerprint(read(folder).opened)
    edit_metadata(folder, {ROWS[1]["file_name"]: "something else"})
    after = fingerprint(read(folder).opened)
    assert after.value != before.value
    assert [k for k in before.digests if before.digests[k] != after.digests[k]] == [ROWS[1]["file_name"]]
    edit_metadata(folder, {ROWS[1]["file_name"]: ROWS[1]["transcription"]})
    assert fingerprint(read(folder).opened).value == before.value  # put back: the same again
    with open(folder / ROWS[2]["file_name"], "ab") as fh:
        fh.write(b"\0" * 16)
    resized = fingerprint(read(folder).opened)
    assert [k for k in before.digests if before.digests[k] != resized.digests[k]] == [ROWS[2]["file_name"]]


def test_a_fingerprint_made_ahead_is_recorded_only_where_it_covers_the_samples_read(tmp_path: Path) -> None:
    """The driver fingerprints datasets while Ray starts; what it made is what the run records,
    unless it covers other samples or was made another way (then the run makes its own)."""
    folder = audiofolder(tmp_path / "calls")
    d = read(folder)
    ahead = fingerprint(d.opened)
    edit_metadata(folder, {ROWS[1]["file_name"]: "changed after the fingerprint was made"})
    now = fingerprint(read(folder).opened)
    assert now.value != ahead.value
    first_two = DatasetRead(d.name, d.spec, read(folder).opened, 2)
    with Store(str(tmp_path / "r.duckdb")) as store:
        (made,) = record_datasets(store, "run-a", [read(folder)], known={(d.spec, False): ahead})
        assert made is ahead and dataset_identity(store.con, "run-a")[0]["fingerprint"] == ahead.value
        (other,) = record_datasets(store, "run-b", [read(folder)], verify_audio=True, known={(d.spec, False): ahead})
        assert other.audio == "contents" and other.value not in (ahead.value, now.value)
        (fewer,) = record_datasets(store, "run-c", [first_two], known={(d.spec, False): ahead})
        assert fewer.samples == 2 and fewer.value == fingerprint(first_two.opened, 2).value


def test_verify_audio_sees_a_clip_changed_at_the_same_size(tmp_path: Path) -> None:
    folder = audiofolder(tmp_path / "calls")
    sizes, contents = fingerprint(read(folder).opened), fingerprint(read(folder).opened, verify_audio=True)
    clip = folder / ROWS[0]["file_name"]
    data = bytearray(clip.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte different
    clip.write_bytes(bytes(data))
    assert fingerprint(read(folder).opened).value == sizes.value
    again = fingerprint(read(folder).opened, verify_audio=True)
    assert again.audio == "contents"
    assert [k for k in contents.digests if contents.digests[k] != again.digests[k]] == [ROWS[0]["file_name"]]


def test_resume_refuses_a_dataset_that_changed_naming_the_samples(tmp_path: Path) -> None:
    folder = audiofolder(tmp_path / "calls", ROWS[:3])
    with Store(str(tmp_path / "r.duckdb")) as store:
        record_datasets(store, "run", [read(folder)])
        record_datasets(store, "run", [read(folder)], resume=True)  # unchanged: accepted
        edit_metadata(folder, {ROWS[0]["file_name"]: "changed", ROWS[2]["file_name"]: "changed too"}, extra=ROWS[3])
        with pytest.raises(DatasetError) as info:
            record_datasets(store, "run", [read(folder)], resume=True)
        stored = dataset_identity(store.con, "run")[0]["samples"]
    message = str(info.value)
    assert f"2 changed ({', '.join(sorted([ROWS[0]['file_name'], ROWS[2]['file_name']]))})" in message
    assert f"1 added ({ROWS[3]['file_name']})" in message
    assert "dataset calls changed since run run read it" in message and "start a new run" in message
    assert stored == 3  # what the run read is kept


def test_a_database_from_before_fingerprints_lists_its_datasets(tmp_path: Path) -> None:
    db = str(tmp_path / "old.duckdb")
    with Store(db) as store:
        store.insert_results([{"run_id": "old", "model": "m", "backend": "b", "dataset": "/home/me/data/calls/",
                               "split": "train", "sample_id": "0"}])
    con = duckdb.connect(db)  # as a version before migration 008 left it
    con.execute("DROP VIEW dataset_identity")
    con.execute("DROP TABLE dataset_fingerprints")
    con.execute("DROP TABLE sample_fingerprints")
    con.execute("DELETE FROM schema_migrations WHERE version = 8")
    con.execute("DELETE FROM schema_views")
    con.close()
    with Store(db) as store:
        (row,) = dataset_identity(store.con, "old")
    assert row["dataset"] == "/home/me/data/calls/" and row["name_key"] == "calls"
    assert row["fingerprint"] is None and "row index" in row["ids"]


def test_resume_of_a_run_recorded_before_fingerprints_refuses_ids_and_names_that_changed(tmp_path: Path) -> None:
    folder = audiofolder(tmp_path / "calls", ROWS[:2])
    with Store(str(tmp_path / "r.duckdb")) as store:
        # rows as an older version stored them: row-index ids, or the absolute path as the name
        store.insert_results([{"run_id": "old", "model": "m", "backend": "b", "dataset": "calls", "split": "train",
                               "sample_id": "0"}])
        with pytest.raises(DatasetError, match=r"stored 1 sample ids of dataset calls that are not its ids now \(0\)"):
            record_datasets(store, "old", [read(folder)], resume=True)
        store.insert_results([{"run_id": "path", "model": "m", "backend": "b", "dataset": str(folder),
                               "split": "train", "sample_id": ROWS[0]["file_name"]}])
        with pytest.raises(DatasetError, match=rf"under the dataset name {folder}, which this version names calls"):
            record_datasets(store, "path", [read(folder)], resume=True)
        store.insert_results([{"run_id": "fine", "model": "m", "backend": "b", "dataset": "calls",
                               "split": "train", "sample_id": ROWS[1]["file_name"]}])
        record_datasets(store, "fine", [read(folder)], resume=True)  # its ids are the files: accepted


@pytest.mark.parametrize("build", [
    lambda root: layouts.nemo_manifest(root / "set", ROWS),  # relative audio paths
    lambda root: layouts.common_voice(root / "set", ROWS),
    lambda root: layouts.parquet_folder(root / "set", ROWS),  # audio bytes inside the rows
    lambda root: layouts.webdataset_dir(root / "set", ROWS, per_shard=2),
], ids=["nemo", "commonvoice", "parquet", "webdataset"])
def test_every_kind_copied_elsewhere_keeps_its_fingerprint(tmp_path: Path, build) -> None:
    built = Path(build(tmp_path / "a"))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    copy = tmp_path / "b" / built.relative_to(tmp_path / "a")
    here, there = fingerprint(read(built).opened), fingerprint(read(copy).opened)
    assert here.value == there.value and here.samples == len(ROWS) and here.audio == "sizes"
