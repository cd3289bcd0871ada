"""Tables for people: on a demo-like database, the default leaderboard, compare and models fit a
100-column terminal; --wide and --format json keep every field; the CI gate's exit status."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import pytest

from evaluator.cli import main
from evaluator.cli.tables import short_labels
from tests.cli.demo_db import DEMO_MODELS, LONG_SPEC, MULTILINGUAL_MODELS, make_demo_db

WIDTH = 100
RUNS = ("demo", "demo-multilingual", "finetune")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_demo_db(str(tmp_path_factory.mktemp("demo") / "demo.duckdb"))


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            width: int = WIDTH) -> tuple[int, str, str]:
    monkeypatch.setenv("COLUMNS", str(width))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def tenth(value: float) -> str:
    """The stored 2-decimal percentage to one decimal, half up (2.15 -> 2.2)."""
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def assert_fits(text: str, width: int = WIDTH) -> None:
    long = [line for line in text.splitlines() if len(line) > width]
    assert not long, f"{len(long)} lines longer than {width}: {long[:3]}"


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("extra", [[], ["--by", "language"]])
def test_leaderboard_fits_100_columns(db: str, run: str, extra: list[str], capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_cli(["leaderboard", "--db", db, "--run", run, *extra], capsys, monkeypatch)
    assert code == 0
    assert_fits(out)
    assert "WER % [95% CI]" in out


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("extra", [[], ["--all-pairs"], ["--top", "5"]])
def test_compare_fits_100_columns(db: str, run: str, extra: list[str], capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_cli(["compare", "--db", db, "--run", run, *extra], capsys, monkeypatch)
    assert code == 0
    assert_fits(out)


def test_models_fits_100_columns(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_cli(["models"], capsys, monkeypatch)
    assert code == 0 and "faster-whisper" in out
    assert_fits(out)


def test_runs_fits_100_columns_and_csv_keeps_every_column(db: str, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_cli(["runs", "--db", db], capsys, monkeypatch)
    assert code == 0 and "96/96" in out and "+3" in out  # the first model and how many more
    assert_fits(out)
    _, csv_out, _ = run_cli(["runs", "--db", db, "--format", "csv"], capsys, monkeypatch)
    assert csv_out.splitlines()[0].split(",")[-1] == "models" and "last_write_s_ago" in csv_out.splitlines()[0]


def test_runs_on_an_80_column_terminal_keeps_ids_and_statuses_whole(db: str, capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = run_cli(["runs", "--db", db], capsys, monkeypatch, 80)
    assert_fits(out, 80)
    _, records, _ = run_cli(["runs", "--db", db, "--format", "json"], capsys, monkeypatch)
    lines = out.splitlines()
    for run in json.loads(records):  # one line each starts with the id and holds the status, neither cut
        assert any(line.split()[0] == run["run_id"] and run["status"] in line.split() for line in lines if line)


def test_tables_follow_the_terminal_width(db: str, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _, narrow, _ = run_cli(["leaderboard", "--db", db, "--run", "demo-multilingual"], capsys, monkeypatch, 72)
    assert_fits(narrow, 72)
    _, wide, _ = run_cli(["leaderboard", "--db", db, "--run", "demo-multilingual", "--wide"], capsys, monkeypatch,
                         250)
    assert max(map(len, wide.splitlines())) > 100  # every column, unwrapped on a wide terminal


def test_compact_leaderboard_cells(db: str, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = run_cli(["leaderboard", "--db", db, "--run", "demo", "--format", "json"], capsys, monkeypatch)
    records = {r["model"]: r for r in json.loads(out)}
    _, table, _ = run_cli(["leaderboard", "--db", db, "--run", "demo"], capsys, monkeypatch)
    for model, r in records.items():
        line = next(line for line in table.splitlines() if line.startswith(model + " "))
        cell = f"{tenth(r['wer_%'])} [{tenth(r['wer_low'])}–{tenth(r['wer_high'])}]"
        assert cell in line
        assert ("1 truncated" in line) == bool(r["truncated"])
        assert "looping" not in line and "skipped" not in line  # zero counts are not named
    assert "errors" not in table.split("\n", 2)[1]  # no errors column when there are none


def test_wide_and_json_keep_every_field(db: str, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = run_cli(["leaderboard", "--db", db, "--run", "demo", "--format", "json"], capsys, monkeypatch)
    fields = set(json.loads(out)[0])
    assert {"planned", "scored", "errors", "missing", "partial", "wer_%", "wer_low", "wer_high", "cer_%", "rtfx",
            "rtfx_e2e", "audio_min", "completion", "truncated", "looping", "skipped"} <= fields
    _, wide, _ = run_cli(["leaderboard", "--db", db, "--run", "demo", "--wide"], capsys, monkeypatch, 250)
    header = next(line for line in wide.splitlines() if line.startswith("model"))
    assert set(header.split()) == fields - {"dataset", "split", "ranked_by"}  # constant: folded into the title
    _, csv_out, _ = run_cli(["leaderboard", "--db", db, "--run", "demo", "--format", "csv"], capsys, monkeypatch)
    assert set(csv_out.splitlines()[0].split(",")) == fields


def test_languages_pivot_shows_untranscribed_as_dash(db: str, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = run_cli(["leaderboard", "--db", db, "--run", "demo-multilingual"], capsys, monkeypatch, 200)
    pivot = out[out.index("WER % per language"):]
    names = short_labels(list(MULTILINGUAL_MODELS))
    tiny = next(line for line in pivot.splitlines() if line.startswith(names["faster-whisper:tiny.en"] + " "))
    cells = tiny.split()[1:]
    assert len(cells) == 11 and cells.count("–") == 10  # only English is transcribed
    base = next(line for line in pivot.splitlines() if line.startswith(names["openai-whisper:base"] + " "))
    assert "–" not in base.split()[1:]
    assert "ja*" in pivot and "zh*" in pivot  # CER languages marked
    # one row per model, not per (model, language)
    rows = [line for line in pivot.splitlines() if any(line.startswith(n + " ") for n in names.values())
            and " = " not in line]  # not the legend
    assert len(rows) == 3


def test_long_specs_are_shortened_with_a_legend(db: str, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = run_cli(["leaderboard", "--db", db, "--run", "finetune"], capsys, monkeypatch)
    short = short_labels([LONG_SPEC])[LONG_SPEC]
    assert short != LONG_SPEC and len(short) <= 30
    assert any(line.startswith(short) for line in out.splitlines())
    legend = out[out.index(f"{short} ="):]
    assert "".join(legend.split()).endswith("".join(LONG_SPEC.split()))  # the legend may wrap the spec


def test_short_labels_stay_unique() -> None:
    labels = [f"transformers:/ckpt/run{i}/whisper-small-finetuned-long-name?beam=4" for i in range(3)]
    names = short_labels(labels)
    assert len(set(names.values())) == 3 and all(len(n) <= 30 for n in names.values())


def test_compare_default_is_each_model_against_the_first(db: str, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = run_cli(["compare", "--db", db, "--run", "demo", "--format", "json"], capsys, monkeypatch)
    pairs = json.loads(out)["pairs"]
    first = next(iter(DEMO_MODELS))
    assert len(pairs) == len(DEMO_MODELS) - 1
    assert {p["baseline"] for p in pairs} == {first}
    assert {p["model"] for p in pairs} == set(DEMO_MODELS) - {first}
    _, out, _ = run_cli(["compare", "--db", db, "--run", "demo", "--format", "json", "--all-pairs"], capsys,
                        monkeypatch)
    assert len(json.loads(out)["pairs"]) == 6  # 4 models: every pair
    _, table, _ = run_cli(["compare", "--db", db, "--run", "demo", "--top", "0"], capsys, monkeypatch)
    assert f"against {first}" in table


@pytest.mark.parametrize(("baseline", "expected"), [("faster-whisper:base", 1), ("faster-whisper:tiny.en", 0)])
def test_fail_if_worse(db: str, baseline: str, expected: int, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_cli(["compare", "--db", db, "--run", "demo", "--baseline", baseline, "--fail-if-worse", "1"],
                           capsys, monkeypatch)
    assert code == expected
    if expected:  # every tiny.en runtime is named, with by how much
        failed = [line for line in err.splitlines() if line.startswith("FAIL: ")]
        assert len(failed) == 3 and all(f"worse than {baseline} by" in line for line in failed)
    else:
        assert "OK:" in err


def test_fail_if_worse_threshold_is_the_delta(db: str, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = run_cli(["compare", "--db", db, "--run", "demo", "--baseline", "openai-whisper:tiny.en",
                         "--format", "json"], capsys, monkeypatch)
    delta = next(p["delta"] for p in json.loads(out)["pairs"] if p["model"] == "faster-whisper:tiny.en")
    assert delta > 0
    argv = ["compare", "--db", db, "--run", "demo", "--baseline", "openai-whisper:tiny.en", "--fail-if-worse"]
    assert run_cli([*argv, f"{100 * delta - 0.01:.4f}"], capsys, monkeypatch)[0] == 1
    assert run_cli([*argv, f"{100 * delta + 0.01:.4f}"], capsys, monkeypatch)[0] == 0


def test_fail_if_significant(db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["compare", "--db", db, "--run", "demo", "--fail-if-significant"]
    code, _, err = run_cli([*argv, "--baseline", "faster-whisper:base"], capsys, monkeypatch)
    assert code == 1 and "significant: p_boot" in err
    # the other tiny.en runtimes are better than faster-whisper int8 tiny.en: nothing is worse
    assert run_cli([*argv, "--baseline", "faster-whisper:tiny.en"], capsys, monkeypatch)[0] == 0


def test_gate_usage_errors(db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli(["compare", "--db", db, "--fail-if-worse", "-1"], capsys, monkeypatch)[0] == 2
    assert run_cli(["compare", "--db", db, "--fail-if-significant", "--alpha", "2"], capsys, monkeypatch)[0] == 2


def test_markdown_keeps_every_column(db: str, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = run_cli(["compare", "--db", db, "--run", "demo", "--format", "markdown"], capsys, monkeypatch)
    assert "| baseline | model | dataset | metric | n | base_% | model_% | delta_pp | low_pp | high_pp |" in out
    _, out, _ = run_cli(["leaderboard", "--db", db, "--run", "demo", "--format", "markdown"], capsys, monkeypatch)
    assert "wer_low" in out and "rtfx_e2e" in out
