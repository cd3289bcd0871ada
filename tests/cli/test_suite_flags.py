"""`evaluator run` suite flags refused before anything starts, with what to do instead."""

from __future__ import annotations

import pytest

from evaluator.cli import main


@pytest.mark.parametrize("argv, message", [
    (["--suite", "open-asr-en", "--dataset", "./x"], "either with --suite or with --dataset"),
    (["--languages", "en,de"], "--languages picks the languages of a --suite"),
    (["--suite", "fleurs", "--languages", "xx"], "fleurs has no language 'xx'"),
    (["--suite", "no-such-suite"], "presets: common-voice, fleurs, open-asr-en"),
])
def test_bad_suite_flags_are_usage_errors(tmp_path, caplog, argv, message):
    code = main(["run", "--db", str(tmp_path / "r.duckdb"), "--model", "faster-whisper:tiny.en", *argv])
    assert code == 2
    assert message in caplog.records[-1].getMessage()
    assert not (tmp_path / "r.duckdb").exists()
