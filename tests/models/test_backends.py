"""The backend registry and interface: missing extras, the `models` listing."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.cli import main
from evaluator.errors import MissingDependencyError
from evaluator.models.backends import BACKENDS, Backend, Transcription


class NotInstalled(Backend):
    name = "not-installed"
    extra = "not-installed"
    modules = ("evaluator_test_no_such_module",)
    distributions = ("evaluator-test-no-such-dist",)
    devices = ("cpu",)
    options = {}

    def transcribe(self, audio: np.ndarray, language: str | None) -> Transcription:
        raise AssertionError("never loaded")


def test_missing_extra_names_the_pip_command() -> None:
    assert not NotInstalled.is_installed()
    with pytest.raises(MissingDependencyError, match=r"pip install 'evaluator\[not-installed\]'"):
        NotInstalled.require()
    assert NotInstalled.library_versions() == {"evaluator-test-no-such-dist": None}


def test_run_with_a_missing_extra_is_a_usage_error(monkeypatch, tmp_path, caplog) -> None:
    monkeypatch.setitem(BACKENDS, NotInstalled.name, NotInstalled)
    code = main(["run", "--model", "not-installed:x", "--db", str(tmp_path / "r.duckdb")])
    assert code == 2
    assert "pip install 'evaluator[not-installed]'" in caplog.text
    import ray

    assert not ray.is_initialized()  # failed before any cluster or actor started


def test_models_lists_every_backend(capsys) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name, cls in BACKENDS.items():
        assert name in out and f"evaluator[{cls.extra}]" in out
    assert "tiny.en" in out and "base" in out


def test_unreadable_run_config_is_a_usage_error(tmp_path, caplog) -> None:
    bad = tmp_path / "run.yaml"
    bad.write_text("models: [faster-whisper:tiny.en\n")
    assert main(["run", "--config", str(bad), "--db", str(tmp_path / "r.duckdb")]) == 2
    assert "cannot read config file" in caplog.text
    assert main(["run", "--config", str(tmp_path / "missing.yaml")]) == 2
