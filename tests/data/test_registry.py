"""The data-source registry: every format is one module that declares its sources; detection,
dispatch, messages and the --dataset help come from the declarations; datasets are named by
NAME=SOURCE or the last part of their path; a folder holding one manifest is that manifest."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
from pathlib import Path

import pytest

from evaluator.data import registry
from evaluator.data.readers import read_shard
from evaluator.data.registry import Source, all_sources, dataset_help, source_names
from evaluator.data.shards import plan_shards
from evaluator.data.sources import open_dataset, source_kind
from evaluator.data.spec import DatasetSpec, default_name
from evaluator.errors import ConfigError, DatasetError
from tests.data import layouts

ROWS = layouts.clips(3)


def test_every_format_module_declares_its_sources() -> None:
    import evaluator.data.formats as formats

    declared = []
    for info in pkgutil.iter_modules(formats.__path__):
        module = importlib.import_module(f"evaluator.data.formats.{info.name}")
        assert module.SOURCES, f"{info.name} declares no SOURCES"
        declared += [s.name for s in module.SOURCES]
    assert sorted(declared) == sorted(source_names())
    assert len(set(declared)) == len(declared)
    # the kinds the docs name
    assert set(declared) == {"hub", "saved", "audiofolder", "nemo", "kaldi", "commonvoice", "csv", "tsv", "parquet",
                             "arrow", "webdataset"}
    help_text = dataset_help()
    for source in all_sources():
        assert f"{source.name}:" in help_text and source.summary in help_text


def test_an_unknown_format_names_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "m.pkl"
    path.write_text("x")
    with pytest.raises(DatasetError, match="unknown dataset format 'pickle'.*formats are .*nemo.*webdataset"):
        open_dataset(DatasetSpec(source=str(path), format="pickle"))
    with pytest.raises(DatasetError, match="unknown dataset format 'pickle'"):
        open_dataset(DatasetSpec(source=f"pickle:{path}"))


def test_a_new_source_is_detected_and_loaded_from_its_declaration(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A source declared beside the others is detected by its extension and dispatched to."""
    from evaluator.data.formats.nemo import load_nemo

    real = all_sources()
    extra = Source("nemo-lines", "NeMo lines (.lines)", load_nemo, extensions=(".lines",), manifest=True)
    monkeypatch.setattr(registry, "all_sources", lambda: (*real, extra))
    manifest = layouts.nemo_manifest(tmp_path / "n", ROWS, copy=False).rename(tmp_path / "n" / "list.lines")
    spec = DatasetSpec(source=str(manifest))
    assert source_kind(spec, spec.source) == "nemo-lines"
    opened = open_dataset(spec)
    assert opened.kind == "nemo-lines" and len(opened.data) == len(ROWS)
    assert "nemo-lines:" in dataset_help()


def test_a_folder_holding_one_manifest_is_read_as_it(tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    layouts.nemo_manifest(folder, ROWS)
    opened = open_dataset(DatasetSpec(source=str(folder)))
    assert opened.kind == "nemo"
    _, shards = plan_shards(opened, DatasetSpec(source=str(folder)), 10, None)
    samples = list(read_shard(opened, shards[0]))
    assert [s.sample_id for s in samples] == [f"audio/{r['file_name']}" for r in ROWS]
    assert [s.reference for s in samples] == [r["transcription"] for r in ROWS]
    # two manifests: which one is meant is not guessed
    shutil.copy(folder / "manifest.jsonl", folder / "other.jsonl")
    with pytest.raises(DatasetError, match="holds no dataset layout evaluator knows"):
        open_dataset(DatasetSpec(source=str(folder)))


def test_nemo_segments_of_one_file_are_told_apart_by_offset(tmp_path: Path) -> None:
    clip = ROWS[0]["path"]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(f'{{"audio_filepath": "{clip}", "text": "a", "offset": 0, "duration": 0.5}}\n'
                        f'{{"audio_filepath": "{clip}", "text": "b", "offset": 0.5, "duration": 0.5}}\n'
                        f'{{"audio_filepath": "{clip}", "text": "c", "offset": 1.25, "duration": 0.5}}\n')
    opened = open_dataset(DatasetSpec(source=str(manifest)))
    ids = [s.sample_id for s in read_shard(opened, plan_shards(opened, DatasetSpec(), 10, None)[1][0])]
    assert ids == [f"{clip}@0", f"{clip}@0.5", f"{clip}@1.25"]
    manifest.write_text(f'{{"audio_filepath": "{clip}", "text": "a"}}\n{{"audio_filepath": "x.wav", "text": "b"}}\n'
                        f'{{"audio_filepath": "{clip}", "text": "c"}}\n')
    with pytest.raises(DatasetError, match=r"is repeated \(lines 1 and 3\)"):
        open_dataset(DatasetSpec(source=str(manifest)))


@pytest.mark.parametrize(("given", "name", "source"), [
    ("calls=./data/calls", "calls", "./data/calls"),
    ("en.test=s3://bucket/sets/en", "en.test", "s3://bucket/sets/en"),
    ("mine=nemo:/data/list.txt", "mine", "nemo:/data/list.txt"),
    ("openslr/librispeech_asr", None, "openslr/librispeech_asr"),
    ("s3://bucket/x?version=2", None, "s3://bucket/x?version=2"),
    ("./lang=en", None, "./lang=en"),
])
def test_name_equals_source_names_a_dataset(given: str, name: str | None, source: str) -> None:
    spec = DatasetSpec(source=given)
    assert (spec.name, spec.source) == (name, source)


def test_a_path_with_an_equals_sign_that_exists_is_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a=b").mkdir()
    assert DatasetSpec(source="a=b").name is None
    with pytest.raises(ConfigError, match="named twice"):
        DatasetSpec(source="x=./y", name="z")


@pytest.mark.parametrize(("source", "name"), [
    ("/home/me/checkout/data/calls/", "calls"),
    ("/elsewhere/copy/calls", "calls"),
    ("./calls", "calls"),
    ("nemo:/data/sets/list.txt", "list.txt"),
    ("s3://bucket/sets/meetings", "meetings"),
    ("openslr/librispeech_asr", "openslr/librispeech_asr"),
    ("builtin:multilingual", "builtin:multilingual"),
    (None, "builtin:sample"),
])
def test_a_dataset_given_no_name_is_named_without_its_location(source: str | None, name: str) -> None:
    assert default_name(source) == name


def test_run_config_names_datasets(tmp_path: Path) -> None:
    from evaluator.run.plan.config import RunConfig

    for sub in ("a/calls", "b/calls", "meetings"):
        (tmp_path / sub).mkdir(parents=True)
    one = RunConfig.from_mapping({"model": "faster-whisper:tiny.en", "dataset": f"mine={tmp_path / 'meetings'}"})
    assert one.dataset_names() == ("mine",) and one.dataset.source == str(tmp_path / "meetings")
    assert RunConfig.from_mapping({"model": "faster-whisper:tiny.en",
                                   "dataset": str(tmp_path / "meetings")}).dataset_names() == ("meetings",)
    several = RunConfig.from_mapping({"model": "faster-whisper:tiny.en", "dataset": [
        str(tmp_path / "a/calls"), str(tmp_path / "b/calls"), f"m={tmp_path / 'meetings'}"]})
    assert several.dataset_names() == ("calls", "calls-2", "m")


@pytest.mark.parametrize("source", ["./calls", "../data/calls", "/data/calls", "~/calls", "data/calls/test",
                                    "calls.csv", "data/list.jsonl"])
def test_a_missing_local_path_is_named_as_one_not_sent_to_the_hub(source: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DatasetError, match=r"no such file or folder \(/.*\); give an existing path, or a hub id"):
        registry.detect(None, source)


def test_a_hub_id_that_is_not_a_local_path_still_goes_to_the_hub(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert registry.detect(None, "openslr/librispeech_asr")[0].fallback
