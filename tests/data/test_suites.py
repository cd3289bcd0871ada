"""Suite files and presets: what a user gets from `--suite FILE|NAME`, `--languages` and `--mirror`."""

from __future__ import annotations

import json

import pytest

from evaluator.data.sources import open_dataset
from evaluator.data.spec import DatasetSpec
from evaluator.data.suites import load_suite, preset_names
from evaluator.errors import ConfigError
from evaluator.models.spec import parse_model_spec
from evaluator.run.plan.config import RunConfig, run_config_from_json
from tests.data.suite_mirror import build_mirror

ESB = "hf-audio/esb-datasets-test-only-sorted"
TINY = parse_model_spec("faster-whisper:tiny.en")


def test_presets_ship_with_the_package():
    assert {"open-asr-en", "open-asr-en-2025", "open-asr-en-longform", "open-asr-multilingual", "fleurs",
            "common-voice"} <= set(preset_names())


def test_open_asr_en_is_the_leaderboards_seven_public_sets_since_july_2026():
    """The leaderboard's scripts at d1e99b2 (nemo_asr/submit_jobs_parakeet.sh; the "public" columns of
    normalizer/eval_utils.py)."""
    suite = load_suite("open-asr-en")
    hub = "hf-audio/open-asr-leaderboard"
    assert [(d.name, d.source, d.config, d.split) for d in suite.datasets] == [
        ("ami-cleaned", hub, "ami_cleaned", "test"),
        ("earnings22-cleaned-aa-chunked", "ArtificialAnalysis/Earnings22-Cleaned-AA-chunked", None, "test"),
        ("gigaspeech-cleaned", hub, "gigaspeech_cleaned", "test"),
        ("librispeech-clean", hub, "librispeech", "test.clean"),
        ("librispeech-other", hub, "librispeech", "test.other"), ("spgispeech", hub, "spgispeech", "test"),
        ("voxpopuli-cleaned-aa", hub, "voxpopuli_cleaned_aa", "test"),
    ]
    assert {d.language for d in suite.datasets} == {"en"} and "2026" in suite.description


def test_open_asr_multilingual_and_longform_follow_the_leaderboards_tracks():
    multilingual = load_suite("open-asr-multilingual")
    got = {(d.config, d.language) for d in multilingual.datasets}
    # normalizer/eval_utils.py ML_LANG_DATASETS: de: fleurs, mcv; fr/it/es: fleurs, mcv, mls; pt: fleurs, mls
    assert got == {(f"{s}_{lang}", lang) for lang, sets in {"de": ("fleurs", "mcv"), "fr": ("fleurs", "mcv", "mls"),
                   "it": ("fleurs", "mcv", "mls"), "es": ("fleurs", "mcv", "mls"), "pt": ("fleurs", "mls")}.items()
                   for s in sets}
    assert {d.source for d in multilingual.datasets} == {"hf-audio/open-asr-leaderboard-multilingual-datasets"}
    longform = load_suite("open-asr-en-longform")
    assert [d.config for d in longform.datasets[:3]] == ["earnings21", "earnings22", "tedlium"]
    assert len([d for d in longform.datasets if d.source == "bezzam/coraal"]) == 8


def test_open_asr_en_2025_is_the_leaderboards_eight_test_sets():
    suite = load_suite("open-asr-en-2025")
    got = [(d.name, d.source, d.config, d.split) for d in suite.datasets]
    assert got == [
        ("ami", ESB, "ami", "test"), ("earnings22", ESB, "earnings22", "test"),
        ("gigaspeech", ESB, "gigaspeech", "test"), ("librispeech-clean", ESB, "librispeech", "test.clean"),
        ("librispeech-other", ESB, "librispeech", "test.other"), ("spgispeech", ESB, "spgispeech", "test"),
        ("tedlium", ESB, "tedlium", "test"), ("voxpopuli", ESB, "voxpopuli", "test"),
    ]
    assert {d.language for d in suite.datasets} == {"en"}


def test_fleurs_languages_pick_their_configs():
    suite = load_suite("fleurs", ["en", "de_de"])  # a code or the dataset's own config name
    assert [(d.name, d.source, d.config, d.split, d.language) for d in suite.datasets] == [
        ("fleurs-en", "google/fleurs", "en_us", "test", "en"), ("fleurs-de", "google/fleurs", "de_de", "test", "de")]
    assert len(load_suite("fleurs").datasets) >= 5  # its default languages
    with pytest.raises(ConfigError, match="no language 'xx'; it has: de, es, fr, it, nl"):
        load_suite("common-voice", ["xx"])
    with pytest.raises(ConfigError, match="--languages applies"):
        load_suite("open-asr-en", ["en"])


def test_unknown_suite_names_the_presets():
    with pytest.raises(ConfigError, match="presets: common-voice, fleurs, open-asr-en"):
        load_suite("open-asr")


def test_mirror_stands_in_for_the_hub(tmp_path):
    mirror = build_mirror(tmp_path / "mirror", "open-asr-en-2025")
    suite = load_suite("open-asr-en-2025", mirror=str(mirror))
    for entry in suite.datasets:
        assert entry.source.startswith(str(mirror.resolve() / ESB)) and entry.config is None
        opened = open_dataset(entry)
        assert opened.num_rows == 2 and opened.columns.text == "text"
    splits = {d.name: open_dataset(d).split for d in suite.datasets}
    assert splits["librispeech-clean"] == "test.clean" and splits["librispeech-other"] == "test.other"


def test_suite_file_entries_defaults_and_relative_paths(tmp_path):
    (tmp_path / "data" / "calls").mkdir(parents=True)
    path = tmp_path / "suite.yaml"
    path.write_text("description: mine\ndefaults: {language: en, max_samples: 5}\ndatasets:\n"
                    "  - {name: calls, source: data/calls}\n"
                    "  - {name: meet, dataset: ./data/calls, split: dev, max-samples: 2}\n"
                    f"  - {{source: {ESB}, config: ami, split: test}}\n")
    suite = load_suite(str(path))
    calls, meet, ami = suite.datasets
    assert calls.source == meet.source == str(tmp_path / "data" / "calls")
    assert (calls.max_samples, meet.max_samples, meet.split, calls.language) == (5, 2, "dev", "en")
    assert ami.name == "esb-datasets-test-only-sorted-ami-test" and ami.source == ESB
    assert suite.name == "suite" and suite.description == "mine"


@pytest.mark.parametrize("text, message", [
    ("datasets:\n  - {name: a, source: x}\n  - {name: a, source: y}\n", "named twice: a"),
    ("datasets:\n  - {name: a, source: x, colour: red}\n", "unknown dataset keys colour"),
    ("dataset: x\n", "unknown keys dataset"),
    ("datasets: []\n", "lists no datasets"),
])
def test_bad_suite_files_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_suite(str(path))


def test_run_config_holds_every_dataset_and_reads_old_configs():
    suite = load_suite("fleurs", ["en", "de"])
    config = RunConfig.from_mapping({"models": [TINY.label], "datasets": list(suite.datasets), "max_samples": 3})
    assert config.dataset_names() == ("fleurs-en", "fleurs-de") and config.dataset == suite.datasets[0]
    stored = json.loads(json.dumps(config.to_json_dict()))
    assert "dataset" not in stored and run_config_from_json(stored) == config
    old = {k: v for k, v in stored.items() if k != "datasets"} | {"dataset": {"source": "/data/x", "split": "test"}}
    assert run_config_from_json(old).datasets == (DatasetSpec(source="/data/x", split="test"),)


def test_repeated_dataset_flag_names_each_dataset():
    config = RunConfig.from_mapping({"models": [TINY.label], "dataset": ["/a/calls", "/b/calls", "builtin:sample"]})
    assert config.dataset_names() == ("calls", "calls-2", "builtin:sample")
    with pytest.raises(ConfigError, match="named twice: x"):
        RunConfig(models=(TINY,), datasets=(DatasetSpec("/a", name="x"), DatasetSpec("/b", name="x")))
    with pytest.raises(ConfigError, match=r"named twice: calls; .*--dataset NAME=SOURCE"):  # the flag's own fix
        RunConfig.from_mapping({"models": [TINY.label], "dataset": ["calls=/a", "calls=/b"]})
    with pytest.raises(ConfigError, match="per entry"):
        RunConfig.from_mapping({"models": [TINY.label], "dataset": ["/a", "/b"], "split": "test"})
