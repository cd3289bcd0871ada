"""How a run starts and says where it is: every model checked before Ray (one line, no database
left behind), the run id, name and database at the start, the exact resume command on an
interrupt, a relative --db refused inside a Ray job, credentials masked, `--version`, and what
`runs --show` tells about a run's origin."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import evaluator
from evaluator.cli import main
from evaluator.errors import ConfigError, mask_credentials
from evaluator.results.store import Store
from evaluator.run.launch import database_path
from evaluator.run.origin import run_origin

SECRET = "s3cr3t-Pa55"


def _no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    import evaluator.run.plan.cluster

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Ray was started")

    monkeypatch.setattr(evaluator.run.plan.cluster, "connect_ray", refuse)


def test_openai_whisper_size_without_weights_or_network_fails_fast_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    import evaluator.models.backends.openai_whisper as ow

    _no_ray(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no downloaded checkpoints
    probed: list[str] = []
    monkeypatch.setattr(ow, "_reachable", lambda host, timeout=2.0: probed.append(host) or False)  # no network
    db = tmp_path / "r.duckdb"
    started = time.monotonic()
    code = main(["run", "--db", str(db), "-m", "openai-whisper:small"])
    assert code == 2 and time.monotonic() - started < 5
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert errors[0].startswith("openai-whisper:small: its checkpoint is not in ")
    assert "whisper.load_model('small')" in errors[0] and "small.pt" in errors[0]
    assert probed == ["openaipublic.azureedge.net"]
    assert not db.exists()


def test_ctrl_c_while_ray_starts_says_nothing_was_stored_without_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    import evaluator.run.plan.cluster

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # Ctrl-C during the seconds ray.init takes

    monkeypatch.setattr(evaluator.run.plan.cluster, "connect_ray", interrupted)
    db = tmp_path / "r.duckdb"
    assert main(["run", "--db", str(db), "-m", "faster-whisper:tiny.en", "--name", "n"]) == 130
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and re.fullmatch(
        r"interrupted while joining Ray, before run \d{8}-\d{6}-\w+ started; nothing was stored", errors[0])
    assert not db.exists()
    assert main(["runs", "--db", str(db)]) == 2  # no run, no database left behind


def test_openai_whisper_unknown_size_lists_the_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    _no_ray(monkeypatch)
    assert main(["run", "--db", str(tmp_path / "r.duckdb"), "-m", "openai-whisper:smal"]) == 2
    message = caplog.records[-1].getMessage()
    assert "no such model" in message and "small.en, small," in message and "large-v3-turbo" in message


def test_openai_whisper_downloaded_size_is_found_in_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evaluator.models.backends.openai_whisper import OpenAIWhisperBackend

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "whisper").mkdir()
    (tmp_path / "whisper" / "small.pt").write_bytes(b"0")
    location = OpenAIWhisperBackend.check_model("small", {})
    assert location.files == (str(tmp_path / "whisper" / "small.pt"),)


@pytest.mark.parametrize(("spec", "message"), [
    ("faster-whisper:tiny.en?beam=5", "unknown option(s) beam for backend faster-whisper; valid: batch_size, beam"),
    ("openai-whisper:tiny.en?beam=5", "unknown option(s) beam for backend openai-whisper"),
    ("transformers:tiny.en?beam=5", "unknown option(s) beam for backend transformers"),
])
def test_unknown_options_fail_before_ray_and_leave_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               caplog, spec: str, message: str) -> None:
    _no_ray(monkeypatch)
    db = tmp_path / "r.duckdb"
    assert main(["run", "--db", str(db), "-m", spec]) == 2
    assert message in caplog.records[-1].getMessage()
    assert not db.exists()


def test_an_accelerator_only_option_passes_with_device_auto_and_fails_on_cpu() -> None:
    """An option valid only on an accelerator (a float16 dtype) passes with --device auto (the
    planned device checks it again), and is refused at once with --device cpu."""
    from evaluator.run.launch import _options_checked

    class Backend:
        @classmethod
        def resolve_options(cls, options: dict[str, Any], device: str) -> dict[str, Any]:
            if options.get("dtype") == "float16" and device == "cpu":
                raise ConfigError("dtype float16 is for accelerators (cuda, mps); on cpu use float32")
            return dict(options)

    _options_checked(Backend, {"dtype": "float16"}, "auto", ("cuda", "mps", "cpu"))
    with pytest.raises(ConfigError, match="on cpu use float32"):
        _options_checked(Backend, {"dtype": "float16"}, "cpu", ("cuda", "mps", "cpu"))


def test_interrupt_prints_the_exact_resume_command_and_a_run_that_never_started_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    """Ray is simulated; the run is interrupted before its first row: the log names the run id,
    name and database at the start, the exact resume command at the end, and the database the
    run created (no run in it) is gone."""
    import evaluator.run.launch
    import evaluator.run.plan.cluster
    from evaluator.run.plan.cluster import Connection

    monkeypatch.setattr(evaluator.run.plan.cluster, "connect_ray", lambda *a, **k: Connection(True, "sim"))

    def interrupted(self: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluator.run.launch.Session, "run", interrupted)
    db = tmp_path / "r.duckdb"
    with caplog.at_level("INFO", logger="evaluator"):
        assert main(["run", "--db", str(db), "--name", "nightly", "-m", "faster-whisper:tiny.en"]) == 130
    text = caplog.text
    start = re.search(r"starting run (\S+) \(nightly\); results in (\S+)", text)
    assert start and start.group(2) == str(db)
    assert f"interrupted; finish with: evaluator run --resume {start.group(1)} --db {db}" in text
    assert "<run id>" not in text
    assert not db.exists() and not Path(f"{db}.leases").exists()


def test_a_relative_db_inside_a_ray_job_is_refused(tmp_path: Path) -> None:
    job = str(tmp_path / "session_x" / "runtime_resources" / "working_dir_files" / "_ray_pkg_ab12")
    with pytest.raises(ConfigError, match="Ray's temporary copy .* give an absolute path") as info:
        database_path("results.duckdb", cwd=job)
    assert "--db /data/evaluator/results.duckdb" in str(info.value)
    assert database_path("/data/r.duckdb", cwd=job) == "/data/r.duckdb"
    assert database_path("r.duckdb", cwd=str(tmp_path)) == os.path.abspath("r.duckdb")


def test_a_relative_db_inside_a_ray_job_is_refused_by_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              caplog) -> None:
    job = tmp_path / "runtime_resources" / "working_dir_files" / "_ray_pkg_ab12"
    job.mkdir(parents=True)
    monkeypatch.chdir(job)
    _no_ray(monkeypatch)
    assert main(["run", "--db", "results.duckdb", "-m", "faster-whisper:tiny.en"]) == 2
    assert "give an absolute path" in caplog.records[-1].getMessage()
    assert not (job / "results.duckdb").exists()


@pytest.mark.parametrize(("text", "masked"), [
    (f"https://alice:{SECRET}@data.example.com/x.csv", "https://***@data.example.com/x.csv"),
    (f"s3://KEY:{SECRET}@bucket/set", "s3://***@bucket/set"),
    (f"https://h/x.csv?token={SECRET}&split=test", "https://h/x.csv?token=***&split=test"),
    ("hf://datasets/org/name and git@github.com:x/y", "hf://datasets/org/name and git@github.com:x/y"),
])
def test_credentials_in_urls_are_masked(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked


def test_a_dataset_url_with_credentials_never_reaches_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                caplog) -> None:
    """The dataset opens while Ray starts (simulated here): its failure is the run's one error line."""
    import evaluator.run.plan.cluster
    from evaluator.run.plan.cluster import Connection

    monkeypatch.setattr(evaluator.run.plan.cluster, "connect_ray", lambda *a, **k: Connection(True, "sim"))
    url = f"https://alice:{SECRET}@127.0.0.1:9/data/metadata.csv"  # nothing listens on port 9
    code = main(["run", "--db", str(tmp_path / "r.duckdb"), "--dataset", url, "-m", "faster-whisper:tiny.en"])
    assert code == 2
    assert SECRET not in caplog.text and "https://***@127.0.0.1:9" in caplog.text
    assert not (tmp_path / "r.duckdb").exists()


def test_error_rows_are_stored_with_credentials_masked(tmp_path: Path) -> None:
    db = str(tmp_path / "r.duckdb")
    with Store(db) as store:
        store.insert_results([{"run_id": "r", "model": "m", "backend": "b", "dataset": "d", "split": "s",
                               "sample_id": "1", "reference": "a", "hypothesis": None,
                               "error": f"cannot read https://bob:{SECRET}@host/a.wav"}])
        _, rows = store.query("SELECT error FROM results")
    assert rows == [("cannot read https://***@host/a.wav",)]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert re.fullmatch(rf"evaluator {re.escape(evaluator.__version__)}( \(git [0-9a-f]{{40}}(\+dirty)?\))?\n", out)


def test_origin_names_user_host_command_commit_and_ray_submission(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps({"metadata": {"job_submission_id": "raysubmit_X1"}}))
    monkeypatch.setattr("sys.argv", ["evaluator", "run", "--dataset", f"https://u:{SECRET}@h/m.csv"])
    origin = run_origin()
    assert origin["ray_submission_id"] == "raysubmit_X1"
    assert origin["driver_pid"] == os.getpid() and origin["user"] and origin["hostname"]
    assert origin["command"] == "evaluator run --dataset https://***@h/m.csv"
    repo = Path(evaluator.__file__).resolve().parents[1]
    if (repo / ".git").exists():  # run from a checkout (as the tests are): its commit
        import subprocess

        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        assert origin["evaluator_commit"].split("+")[0] == head.strip()


def test_runs_show_prints_what_produced_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "r.duckdb")
    host = {"user": "ana", "hostname": "node-a", "driver_pid": 4242, "cwd": "/work", "command": "evaluator run -m x",
            "evaluator_version": "0.1.0", "evaluator_commit": "a" * 40, "ray_job_id": "02000000",
            "ray_submission_id": "raysubmit_X1", "ray": "2.60.0", "python": "3.12.1", "platform": "Linux"}
    with Store(db) as store:
        store.create_run("r1", "nightly", {"datasets": [{"source": "/data/calls", "name": "calls"}]},
                         evaluator_version="0.1.0", normalizer=("whisper", "1"), host=host)
        store.plan_model("r1", "fw:tiny", "calls", "test", 4)
    assert main(["runs", "--db", db, "--show", "nightly"]) == 0
    out = capsys.readouterr().out
    for expected in ("run r1 (nightly)", f"database:    {db}", f"evaluator:   0.1.0 (git {'a' * 40})",
                     "user:        ana", "host:        node-a (driver PID 4242)", "command:     evaluator run -m x",
                     "Ray job:     02000000, submission raysubmit_X1", "calls: /data/calls",
                     "fingerprint: not recorded", "fw:tiny on calls: running, planned 4"):
        assert expected in out, expected
    assert main(["runs", "--db", db, "--show", "r1", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["origin"]["ray_submission_id"] == "raysubmit_X1" and info["lease"]["state"] == "free"
    with Store(db) as store:  # what the driver records of the data it read
        store.con.execute("INSERT INTO dataset_fingerprints (run_id, dataset, kind, source, ids, samples, fingerprint, "
                          "audio, recorded_at) VALUES ('r1', 'calls', 'audiofolder', '/data/calls', 'file_name', 4, "
                          "'ab12', 'sizes', now())")
    assert main(["runs", "--db", db, "--show", "r1"]) == 0
    out = capsys.readouterr().out
    assert "fingerprint: ab12 (4 samples)" in out and "sample ids:  file_name" in out


def test_runs_show_names_an_unnamed_dataset_as_every_table_does(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # `evaluator run --dataset /data/calls` stores no name in the config; the run's rows and its
    # recorded fingerprint call the dataset "calls", and so does `runs --show`, with its rows
    db = str(tmp_path / "r.duckdb")
    with Store(db) as store:
        store.create_run("r1", None, {"datasets": [{"source": "/data/calls", "name": None}]},
                         evaluator_version="0.1.0", normalizer=("whisper", "1"), host={})
        store.con.execute("INSERT INTO dataset_fingerprints (run_id, dataset, kind, source, ids, samples, fingerprint, "
                          "audio, recorded_at) VALUES ('r1', 'calls', 'audiofolder', '/data/calls', 'file_name', 2, "
                          "'ab12', 'sizes', now())")
        store.insert_results([{"run_id": "r1", "model": "m", "backend": "b", "dataset": "calls", "split": "train",
                               "sample_id": f"{n}.wav", "reference": "a", "hypothesis": "a"} for n in (1, 2)])
    assert main(["runs", "--db", db, "--show", "r1"]) == 0
    out = capsys.readouterr().out
    assert "    - calls: /data/calls, 2 rows\n      fingerprint: ab12 (2 samples)" in out


def test_a_run_whose_dataset_url_had_credentials_is_stored_masked_and_not_resumed(tmp_path: Path, caplog) -> None:
    db = str(tmp_path / "r.duckdb")
    config = {"models": [], "datasets": [{"source": "https://***@h/m.csv"}]}
    with Store(db) as store:
        store.create_run("r1", "n", config, evaluator_version="t", normalizer=("n", "1"), host={})
    assert main(["run", "--resume", "r1", "--db", db]) == 2
    assert "credentials, which are never stored" in caplog.records[-1].getMessage()


def test_the_token_is_sent_when_there_is_one_and_no_mode_is_chosen(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from evaluator.run.plan.cluster import use_cluster_token

    # as before Ray is imported (a process that imported it first is made to read the mode again:
    # tests/run/test_cluster_token.py); this process's Ray keeps its own settings
    monkeypatch.delitem(sys.modules, "ray", raising=False)
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not use_cluster_token() and "RAY_AUTH_MODE" not in os.environ  # no token: nothing to send
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("abc")
    assert use_cluster_token() and os.environ["RAY_AUTH_MODE"] == "token"
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the user's choice stands
    assert not use_cluster_token() and os.environ["RAY_AUTH_MODE"] == "disabled"


def test_a_refused_join_names_the_token_and_never_ray_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evaluator.run.plan.cluster import _join_failure

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    failure = ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379")
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    no_mode = str(_join_failure("10.0.0.1:6379", failure))
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    no_token = str(_join_failure("10.0.0.1:6379", failure))
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("abc")
    wrong = str(_join_failure("10.0.0.1:6379", failure))
    assert "copy its token to" in no_mode and "ray get-auth-token" in no_mode
    assert "there is no token" in no_token
    assert "may not be this cluster's" in wrong
    for message in (no_mode, no_token, wrong):
        assert message.startswith("cannot join the Ray cluster at 10.0.0.1:6379: Failed to connect")
        assert "--address local" in message and "ray stop" not in message
