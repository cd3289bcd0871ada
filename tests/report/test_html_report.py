"""The HTML report without a browser: self-contained, the numbers and samples of the run in it,
alignments that rebuild the scored texts, the sample cap, the CLI. tests/report/test_report_browser.py
checks what a user sees in Chromium."""

from __future__ import annotations

import hashlib
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest

from evaluator.cli import main  # noqa: E402
from evaluator.report.html import ReportOptions, build_report  # noqa: E402
from evaluator.results.store import Store, connect_read_only  # noqa: E402
from tests.factories import create_run  # noqa: E402
from tests.report_data import LONG_ID, MODELS, OLD_RUN, RUN, SAMPLES, XSS, make_report_db  # noqa: E402


class _Page(HTMLParser):
    """Collects what a self-containment check needs: external references, inline scripts, ids."""

    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.ids: set[str] = set()
        self._script: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for name in ("src", "href"):
            value = a.get(name) or ""
            if value and not value.startswith(("#", "data:")) and (tag != "a" or "://" in value):
                self.external.append(f"<{tag} {name}={value}>")
        if tag == "script":
            self._script, self._text = a, []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("report") / "results.duckdb")
    make_report_db(path)
    return path


@pytest.fixture(scope="module")
def page(db: str) -> str:
    return build_report(connect_read_only(db), RUN)


def parsed(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    return p


def payload(page: str) -> dict[str, Any]:
    (data,) = [text for attrs, text in parsed(page).scripts if attrs.get("id") == "sample-data"]
    return json.loads(data)


def test_self_contained(page: str) -> None:
    p = parsed(page)
    assert p.external == []  # no <script src>, <link href>, <img src> to anything outside the file
    inline = [text for attrs, text in p.scripts if attrs.get("type") != "application/json"]
    assert any("Plotly" in text and len(text) > 1_000_000 for text in inline), "plotly.js is not inlined"
    assert "<style>" in page


def test_sections_and_charts_present(page: str) -> None:
    ids = parsed(page).ids
    for ident in ("leaderboard", "chart-speed", "chart-buckets", "chart-group-0", "chart-group-1", "flags",
                  "long-files",
                  "chart-seams-0", "sample-table", "filter-text", "filter-model", "filter-errors", "sort"):
        assert ident in ids, ident


def test_leaderboard_numbers_cover_the_samples_every_model_scored(db: str, page: str) -> None:
    """A model's error row leaves its sample out of every model's ranked figures (the CLI's ranking)."""
    con = connect_read_only(db)
    rows = con.execute("""
        WITH common AS (SELECT sample_id FROM results WHERE run_id = $1 GROUP BY sample_id
                        HAVING count(*) FILTER (WHERE error IS NULL) = $2)
        SELECT model, sum(substitutions + deletions + insertions) FILTER (WHERE ref_words > 0)
                   / sum(substitutions + deletions + hits) FILTER (WHERE ref_words > 0),
               sum(char_errors) FILTER (WHERE ref_chars > 0) / sum(ref_chars) FILTER (WHERE ref_chars > 0)
        FROM results JOIN common USING (sample_id) WHERE run_id = $1 GROUP BY model""",
        [RUN, len(MODELS)]).fetchall()
    (errors,) = con.execute("SELECT count(*) FROM results WHERE run_id = ? AND error IS NOT NULL", [RUN]).fetchone()
    assert errors > 0 and {r[0] for r in rows} == set(MODELS)
    assert "Ranked by WER on " in page and f"of {len(SAMPLES) + 1} samples (those every ranked model scored)" in page
    for model, wer, cer in rows:
        assert f"<td>{model}</td>" in page
        assert f"{100 * wer:.2f}" in page and f"{100 * cer:.2f}" in page
    assert OLD_RUN not in page  # only the chosen run


def test_samples_embedded_with_alignments_that_rebuild_the_scored_text(db: str, page: str) -> None:
    data = payload(page)
    assert data["models"] == sorted(MODELS, key=data["models"].index) and set(data["models"]) == set(MODELS)
    by_id = {s["id"]: s for s in data["samples"]}
    assert set(by_id) == {*SAMPLES, LONG_ID}
    con = connect_read_only(db)
    stored = con.execute("SELECT model, sample_id, reference_norm, hypothesis_norm, substitutions, deletions, "
                         "insertions, error FROM results WHERE run_id = ?", [RUN]).fetchall()
    for model, sample_id, ref, hyp, subs, dels, ins, error in stored:
        entry = by_id[sample_id]["r"][data["models"].index(model)]
        if error is not None:
            assert entry["err"] == error and entry["ops"] == []
            continue
        ref_side, hyp_side, counts = [], [], {"s": 0, "d": 0, "i": 0}
        for op in entry["ops"]:
            if isinstance(op, str):
                ref_side += op.split()
                hyp_side += op.split()
                continue
            counts[op[0]] += 1
            if op[0] == "s":
                ref_side.append(op[1])
                hyp_side.append(op[2])
            elif op[0] == "d":
                ref_side.append(op[1])
            else:
                hyp_side.append(op[1])
        assert " ".join(ref_side) == ref and " ".join(hyp_side) == hyp
        assert (counts["s"], counts["d"], counts["i"]) == (subs, dels, ins) == (entry["s"], entry["d"], entry["i"])
    their = by_id["s-their"]["r"][data["models"].index("model-b:y")]["ops"]
    assert ["s", "their", "there"] in their


def test_markup_in_transcripts_stays_data(page: str) -> None:
    p = parsed(page)
    # the transcript did not end the JSON script early or add one of its own
    assert not any("__pwned" in text for attrs, text in p.scripts if attrs.get("type") != "application/json")
    hyps = [r["h"] for s in payload(page)["samples"] for r in s["r"] if r]
    assert XSS in hyps


def test_flags_and_seams(page: str) -> None:
    assert "completion &lt; 0.5" in page  # the truncated row's reason
    for flag in ("looping", "skipped"):
        assert f'<span class="flag">{flag}</span>' in page
    assert "RuntimeError: out of memory" in page
    assert "midpoint (1)" in page and "aligned (2)" in page  # seam chart legend


@pytest.mark.parametrize(("cap", "expected"), [
    (1, ["s-river"]),  # a sample with an error row comes first
    (2, ["s-river", "s-loop"]),  # then the most word errors over models (60 inserted words)
    (0, []),
])
def test_sample_cap_keeps_the_worst_and_says_so(db: str, cap: int, expected: list[str]) -> None:
    page = build_report(connect_read_only(db), RUN, ReportOptions(max_samples=cap))
    ids = [s["id"] for s in payload(page)["samples"]]
    assert sorted(ids) == sorted(expected)
    assert f"The browser holds {cap:,} of the run's {len(SAMPLES) + 1:,} samples" in page


def test_no_cap_note_when_everything_fits(page: str) -> None:
    assert "The browser holds" not in page


@pytest.mark.parametrize(("field", "value"), [("max_samples", -1), ("resamples", 0), ("max_flagged", 1.5)])
def test_options_validated(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"ReportOptions.{field}"):
        ReportOptions(**{field: value})


def test_unknown_and_empty_runs(db: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"no run 'nope'.*{RUN}"):
        build_report(connect_read_only(db), "nope")
    empty = str(tmp_path / "empty.duckdb")
    with Store(empty) as store:
        create_run(store, "r0", None, normalizer=("t", "1"))
    with pytest.raises(ValueError, match="no results"):
        build_report(connect_read_only(empty), "r0")


def test_database_without_metadata_column(db: str, tmp_path: Path) -> None:
    """A database written before results.metadata existed, opened read-only (not migrated)."""
    old = tmp_path / "old.duckdb"
    shutil.copy(db, old)
    con = duckdb.connect(str(old))
    con.execute("ALTER TABLE results DROP COLUMN metadata")
    con.close()
    page = build_report(connect_read_only(str(old)), RUN)
    ids = parsed(page).ids
    assert "chart-group-0" in ids and "chart-group-1" not in ids  # language only


def test_cli_writes_latest_run_without_touching_the_db(db: str, tmp_path: Path) -> None:
    before = hashlib.sha256(Path(db).read_bytes()).hexdigest()
    out = tmp_path / "sub" / "report.html"
    assert main(["report", "--db", db, "--out", str(out)]) == 0
    text = out.read_text()
    assert f"run {RUN}" in text and "chart-speed" in text
    assert main(["report", "--db", db, "--run", OLD_RUN, "--out", str(out)]) == 0
    assert f"run {OLD_RUN}" in out.read_text()
    assert hashlib.sha256(Path(db).read_bytes()).hexdigest() == before


@pytest.mark.parametrize("argv", [["--run", "nope"], ["--max-samples", "-3"]])
def test_cli_usage_errors(db: str, tmp_path: Path, argv: list[str]) -> None:
    assert main(["report", "--db", db, "--out", str(tmp_path / "r.html"), *argv]) == 2
    assert not (tmp_path / "r.html").exists()
