"""The HTML report in a real browser (headless Chromium driven by Playwright): the charts render
with one mark per model, the filter narrows the sample list, clicking a sample shows its
alignment and an audio player that loads the sample's clip (embedded, or a linked file past the
cap), a long file plays from a clicked seam or skipped stretch, the paired comparison lists its
p-values, two runs render in one page, nothing is fetched from the network and the console stays
free of errors.

Needs the system Chromium (Debian: ``apt-get install -y chromium``; or set ``CHROMIUM`` to a
Chrome/Chromium binary) and ``pip install playwright`` (its own browser download is not used).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api  # noqa: E402

from evaluator.report.format import p_value  # noqa: E402
from evaluator.report.html import ReportOptions, build_report  # noqa: E402
from evaluator.results.compare import compare  # noqa: E402
from evaluator.results.store import connect_read_only  # noqa: E402
from tests.report_data import LONG_ID, LONG_SECONDS, MODELS, OLD_RUN, RUN, SAMPLES, make_report_db  # noqa: E402
from tests.results.test_compare import make_db  # noqa: E402
from tests.results.test_compare_datasets import MODELS as SET_MODELS  # noqa: E402
from tests.results.test_compare_datasets import two_datasets  # noqa: E402

INSTALL = ("no Chromium found: install it (Debian/Ubuntu: `apt-get install -y chromium`) or set CHROMIUM "
           "to a Chrome/Chromium binary")


def chromium_path() -> str | None:
    found = os.environ.get("CHROMIUM")
    if found:
        return found if os.path.exists(found) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report-browser")
    make_report_db(str(folder / "results.duckdb"))
    return folder / "results.duckdb"


@pytest.fixture(scope="module")
def report(db: Path) -> Path:
    path = db.parent / "report.html"
    path.write_text(build_report(connect_read_only(str(db)), RUN), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_runs(db: Path) -> Path:
    """Both runs in one page; the long file over the clip limit (linked, not embedded)."""
    path = db.parent / "two-runs.html"
    options = ReportOptions(audio_clip_mb=0.1)
    path.write_text(build_report(connect_read_only(str(db)), [RUN, OLD_RUN], options), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of three models on two datasets (calls, meetings) whose sample ids repeat."""
    folder = tmp_path_factory.mktemp("report-two-sets")
    db = make_db(folder / "sets.duckdb", {"sets": two_datasets("sets", SET_MODELS)},
                 models={"sets": list(SET_MODELS)}, finished=True)
    path = folder / "sets.html"
    path.write_text(build_report(connect_read_only(str(db)), "sets"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.fail(INSTALL, pytrace=False)
    with sync_api.sync_playwright() as p:
        # root (CI, containers) needs --no-sandbox
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _open(browser: Any, report: Path) -> Iterator[tuple[Any, dict[str, list[str]]]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    seen: dict[str, list[str]] = {"console": [], "network": [], "dialogs": []}
    pg = context.new_page()
    pg.on("console", lambda m: m.type in ("error", "warning") and seen["console"].append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: seen["console"].append(f"pageerror: {e}"))
    pg.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))

    def route(r: Any) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            seen["network"].append(r.request.url)
            r.abort()

    pg.route("**/*", route)
    pg.goto(report.as_uri())
    pg.wait_for_selector("#chart-speed .scatterlayer .point")
    yield pg, seen
    context.close()


@pytest.fixture
def page(browser: Any, report: Path) -> Iterator[tuple[Any, dict[str, list[str]]]]:
    yield from _open(browser, report)


@pytest.fixture
def page_sets(browser: Any, two_sets: Path) -> Iterator[tuple[Any, dict[str, list[str]]]]:
    yield from _open(browser, two_sets)


@pytest.fixture
def page_two(browser: Any, two_runs: Path) -> Iterator[tuple[Any, dict[str, list[str]]]]:
    yield from _open(browser, two_runs)


# the audio element's duration once its metadata loaded (-1: it failed to load)
DURATION = """a => new Promise(done => {
  if (a.readyState >= 1) return done(a.duration);
  a.addEventListener("loadedmetadata", () => done(a.duration));
  a.addEventListener("error", () => done(-1));
})"""


def rows(pg: Any) -> list[str]:
    return pg.locator("#sample-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.id)")


def texts(pg: Any, selector: str) -> list[str]:
    """Text of SVG elements (Playwright's inner_text covers HTML elements only)."""
    return pg.locator(selector).evaluate_all("es => es.map(e => e.textContent)")


def test_charts_have_one_mark_per_model(page: tuple[Any, dict[str, list[str]]], tmp_path: Path) -> None:
    pg, seen = page
    traces = pg.locator("#chart-speed .scatterlayer .trace")
    assert traces.count() == len(MODELS)
    for i in range(len(MODELS)):
        assert traces.nth(i).locator(".point").count() == 1
    assert pg.locator("#chart-speed .errorbar").count() == len(MODELS)  # the intervals are drawn
    legend = texts(pg, "#chart-speed .legend .legendtext")
    assert sorted(legend) == sorted(MODELS)
    # per duration bucket and per language: one bar series per model
    assert pg.locator("#chart-buckets .barlayer .trace").count() == len(MODELS)
    assert pg.locator("#chart-group-0 .barlayer .trace").count() == len(MODELS)
    assert texts(pg, "#chart-group-0 .xtick text") == ["en", "fr"]
    assert pg.locator("#chart-group-1 .barlayer .trace").count() == len(MODELS)  # per speaker (metadata)
    assert texts(pg, "#chart-group-1 .xtick text") == ["alice", "bob", "carol"]
    assert pg.locator("#chart-seams-0 .scatterlayer .point").count() == 3  # three seams of the long file
    pg.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert seen == {"console": [], "network": [], "dialogs": []}


def test_filter_narrows_the_sample_list(page: tuple[Any, dict[str, list[str]]]) -> None:
    pg, seen = page
    everything = {*SAMPLES, LONG_ID}
    assert set(rows(pg)) == everything
    assert pg.inner_text("#sample-count") == f"{len(everything)} of {len(everything)} samples"
    pg.fill("#filter-text", "orange leaves")  # words of one reference
    assert rows(pg) == ["s-river"]
    assert pg.inner_text("#sample-count") == f"1 of {len(everything)} samples"
    pg.fill("#filter-text", "there")  # only in hypotheses (model-b and model-c of s-their)
    assert rows(pg) == ["s-their"]
    pg.fill("#filter-text", "")
    pg.check("#filter-errors")  # a sample where some model made an error
    assert set(rows(pg)) == {"s-their", "s-quick", "s-river", "s-markup", "s-short", "s-loop", LONG_ID}
    pg.select_option("#filter-model", label="model-a:x")  # ... where model-a did
    assert set(rows(pg)) == {"s-short", LONG_ID}
    pg.select_option("#sort", "wer")
    assert rows(pg) == ["s-short", LONG_ID]  # 64% WER before 12.5%
    assert seen["console"] == [] and seen["network"] == []


def test_clicking_a_sample_shows_its_alignment(page: tuple[Any, dict[str, list[str]]], tmp_path: Path) -> None:
    pg, seen = page
    pg.locator('#sample-table tbody tr[data-id="s-their"]').click()
    detail = pg.locator("#sample-detail")
    assert "I saw their house yesterday" in detail.locator(".ref").inner_text()
    blocks = detail.locator(".model-block")
    assert blocks.evaluate_all("bs => bs.map(b => b.dataset.model)") == [
        m for m in pg.evaluate("JSON.parse(document.getElementById('sample-data').textContent).models")]
    b = detail.locator('.model-block[data-model="model-b:y"]')
    assert b.locator(".op-s").count() == 1
    assert b.locator(".op-s .r").inner_text() == "their" and b.locator(".op-s .h").inner_text() == "there"
    c = detail.locator('.model-block[data-model="model-c:z"]')
    assert c.locator(".op-s").count() == 1 and c.locator(".op-d").count() == 1
    assert c.locator(".op-d .r").inner_text() == "yesterday"
    color = c.locator(".op-d").evaluate("e => getComputedStyle(e).backgroundColor")
    assert color != c.locator(".op-e").first.evaluate("e => getComputedStyle(e).backgroundColor")
    pg.locator('#sample-table tbody tr[data-id="s-quick"]').click()
    ins = detail.locator('.model-block[data-model="model-b:y"] .op-i .h')
    assert ins.all_inner_texts() == ["over"]
    pg.locator('#sample-table tbody tr[data-id="s-river"]').click()
    assert "RuntimeError: out of memory" in detail.locator('.model-block[data-model="model-c:z"]').inner_text()
    pg.locator('#sample-table tbody tr[data-id="s-markup"]').click()  # markup in a transcript stays text
    assert "<img src=x" in detail.locator('.model-block[data-model="model-b:y"] details').text_content()
    assert pg.evaluate("window.__pwned") is None
    pg.locator('#sample-table tbody tr[data-id="s-their"]').click()
    detail.scroll_into_view_if_needed()
    pg.screenshot(path=str(tmp_path / "sample.png"))
    assert seen == {"console": [], "network": [], "dialogs": []}


def test_sample_audio_loads_with_its_duration(page: tuple[Any, dict[str, list[str]]]) -> None:
    pg, seen = page
    for sample_id in ("s-their", "s-short"):
        pg.locator(f'#sample-table tbody tr[data-id="{sample_id}"]').click()
        audio = pg.locator("#sample-detail audio")
        assert audio.count() == 1
        assert audio.get_attribute("src").startswith("data:audio/ogg;base64,")
        assert abs(audio.evaluate(DURATION) - SAMPLES[sample_id][1]) < 0.1
    assert "7 clips embedded" in pg.inner_text("#audio-note")
    assert seen == {"console": [], "network": [], "dialogs": []}


def test_long_file_plays_from_a_seam_and_a_skipped_stretch(page: tuple[Any, dict[str, list[str]]]) -> None:
    pg, seen = page
    pg.locator(f'#sample-table tbody tr[data-id="{LONG_ID}"]').click()
    audio = pg.locator("#sample-detail audio")
    assert abs(audio.evaluate(DURATION) - LONG_SECONDS) < 0.1
    block = pg.locator('#sample-detail .model-block[data-model="model-a:x"]')
    seams = block.locator("button.seek-seam")
    assert seams.evaluate_all("bs => bs.map(b => Number(b.dataset.start))") == [25.0, 50.0, 75.0]
    seams.nth(1).click()
    pg.wait_for_function("t => Math.abs(document.querySelector('#sample-detail audio').currentTime - t) < 1.5", arg=50)
    skip = block.locator("button.seek-skip")
    assert skip.count() == 1
    start = float(skip.get_attribute("data-start"))
    assert 20 < start < 28
    skip.click()
    pg.wait_for_function("t => Math.abs(document.querySelector('#sample-detail audio').currentTime - t) < 1.5",
                         arg=start)
    assert seen["console"] == [] and seen["network"] == []


def test_page_lists_p_values(page: tuple[Any, dict[str, list[str]]], db: Path) -> None:
    pg, seen = page
    pairs = compare(connect_read_only(str(db)), [RUN], all_pairs=True).to_json_dict()["pairs"]
    rows = pg.locator("#compare tbody tr")
    assert rows.count() == len(pairs) == 3
    shown = pg.locator("#compare tbody tr").evaluate_all(
        "rs => rs.map(r => [r.cells[1].textContent, r.querySelector('.p').textContent])")
    assert sorted(shown) == sorted([p["model"], p_value(p["p_value"])] for p in pairs)
    assert all(text for _, text in shown)
    assert "p (bootstrap)" in pg.inner_text("#compare thead")
    assert seen["console"] == []


def test_two_runs_render_in_one_page(page_two: tuple[Any, dict[str, list[str]]]) -> None:
    pg, seen = page_two
    assert pg.locator("section.run").count() == 2
    assert pg.locator("#chart-speed .scatterlayer .trace").count() == len(MODELS)
    assert pg.locator("#chart-speed-2 .scatterlayer .trace").count() == 1  # the old run's one model
    first, second = (pg.locator(f"{t} tbody tr").evaluate_all("rs => rs.map(r => r.dataset.id)")
                     for t in ("#sample-table", "#sample-table-2"))
    assert set(first) == {*SAMPLES, LONG_ID} and second == ["s-old"]
    pg.fill("#filter-text", "orange leaves")  # one browser's filter leaves the other alone
    assert rows(pg) == ["s-river"]
    assert pg.locator("#sample-table-2 tbody tr").count() == 1
    pg.locator('#sample-table-2 tbody tr[data-id="s-old"]').click()  # the old run's dataset is gone
    assert "No audio: dataset" in pg.inner_text("#sample-detail-2")
    assert "not reachable" in pg.inner_text("#audio-note-2")
    pg.fill("#filter-text", "")
    pg.locator(f'#sample-table tbody tr[data-id="{LONG_ID}"]').click()  # over the clip limit: a linked file
    audio = pg.locator("#sample-detail audio")
    assert audio.get_attribute("src").startswith("file://")
    assert abs(audio.evaluate(DURATION) - LONG_SECONDS) < 0.1
    assert "1 linked as files" in pg.inner_text("#audio-note")
    assert seen == {"console": [], "network": [], "dialogs": []}


# Each bar chart's geometry, in pixels of its SVG: the plot area (left, right, top, bottom), the
# SVG's and the chart's box widths, and per series (trace) the box of every drawn bar.
BAR_GEOMETRY = """d => {
  const size = d._fullLayout._size;
  const svg = d.querySelector('svg.main-svg').getBoundingClientRect();
  const bars = t => [...t.querySelectorAll('.point path')]
    .filter(p => p.getAttribute('d') && p.getAttribute('d') !== 'M0,0Z')
    .map(p => { const r = p.getBoundingClientRect();
                return [r.left - svg.left, r.right - svg.left, r.top - svg.top, r.bottom - svg.top]; });
  return {plot: [size.l, size.l + size.w, size.t, size.t + size.h], svg: svg.width,
          box: d.getBoundingClientRect().width, traces: [...d.querySelectorAll('.barlayer .trace')].map(bars)};
}"""


def bar_charts_geometry(pg: Any) -> dict[str, dict[str, Any]]:
    ids = pg.locator(".js-plotly-plot").evaluate_all("ds => ds.filter(d => d.querySelector('.barlayer .trace'))"
                                                     ".map(d => d.id)")
    return {i: pg.locator(f"#{i}").evaluate(BAR_GEOMETRY) for i in ids}


def assert_bars_inside_their_axes(geometry: dict[str, dict[str, Any]]) -> None:
    """Every bar inside its chart's plot area, the chart no wider than its box (nothing cut off)
    and no two bars drawn over each other (one bar per model and group)."""
    assert geometry
    for chart, g in geometry.items():
        left, right, top, bottom = g["plot"]
        assert g["svg"] <= g["box"] + 1 and right <= g["box"] + 1, f"{chart} is wider than its box"
        bars = sorted(b for trace in g["traces"] for b in trace)
        assert bars, f"{chart} draws no bar"
        for x0, x1, y0, y1 in bars:
            assert left - 1 <= x0 <= x1 <= right + 1 and top - 1 <= y0 <= y1 <= bottom + 1, \
                f"{chart}: a bar at x {x0:.0f}-{x1:.0f}, y {y0:.0f}-{y1:.0f} is outside the axes {g['plot']}"
        for (_, a1, _, _), (b0, _, _, _) in zip(bars, bars[1:], strict=False):
            assert b0 >= a1 - 1, f"{chart}: two bars overlap"


def test_every_chart_bar_lies_inside_its_axes(page: tuple[Any, dict[str, list[str]]]) -> None:
    pg, seen = page
    geometry = bar_charts_geometry(pg)
    assert {"chart-buckets", "chart-group-0", "chart-group-1"} <= set(geometry)
    assert_bars_inside_their_axes(geometry)
    # one bar per model and speaker: alice, bob, carol
    assert [len(t) for t in geometry["chart-group-1"]["traces"]] == [3] * len(MODELS)
    assert seen["console"] == []


def test_breakdowns_group_by_dataset(page_sets: tuple[Any, dict[str, list[str]]], two_sets: Path) -> None:
    pg, seen = page_sets
    geometry = bar_charts_geometry(pg)
    assert_bars_inside_their_axes(geometry)
    rows = two_datasets("sets", SET_MODELS)
    languages = {(r["dataset"], r["language"]) for r in rows}  # every model has a WER in each
    language_chart = next(i for i in geometry if "language" in pg.locator(f"#{i} .xtitle").text_content())
    assert [len(t) for t in geometry[language_chart]["traces"]] == [len(languages)] * len(SET_MODELS)
    # a two-level axis: the groups, then the datasets under them
    assert set(texts(pg, f"#{language_chart} .xtick text")) == {"en", "fr"}
    assert set(texts(pg, f"#{language_chart} .xtick2 text")) == {"calls", "meetings"}
    buckets = geometry["chart-buckets"]["traces"]
    assert len(buckets) == len(SET_MODELS) and all(len(t) == len(buckets[0]) for t in buckets)
    # the comparison names each pair's dataset, and "all" once per pair
    cells = pg.locator("#compare tbody tr").evaluate_all("rs => rs.map(r => r.cells[2].textContent)")
    pairs = len(SET_MODELS) * (len(SET_MODELS) - 1) // 2
    assert sorted(cells) == sorted(["calls", "meetings", "all (stratified)"] * pairs)
    assert seen["console"] == [] and seen["network"] == []
