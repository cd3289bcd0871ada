"""Screenshots of the HTML report for the README, taken in headless Chromium.

    .venv/bin/python scripts/report_screenshot.py --db results/demo.duckdb --run demo \\
        --sample espeak-003 --out docs/report.png

writes docs/report.png (the top of the page: leaderboard and charts) and docs/report-samples.png
(the sample browser with --sample picked, filtered on --filter). Needs plotly, playwright and a
system Chromium (Debian: apt-get install -y chromium).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from evaluator.report.html import build_report
from evaluator.results.store import connect_read_only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="results/demo.duckdb")
    parser.add_argument("--run", default=None, help="run id or name (default: the latest run)")
    parser.add_argument("--sample", required=True, help="sample to open in the sample browser")
    parser.add_argument("--filter", default="", help="text typed into the sample filter")
    parser.add_argument("--out", default="docs/report.png")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    con = connect_read_only(args.db)
    runs = con.execute("SELECT run_id, name FROM runs ORDER BY started_at DESC").fetchall()
    run_id = next(r for r, n in runs if args.run in (None, r, n))
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no Chromium: apt-get install -y chromium (or set CHROMIUM)")
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "report.html"
        page_path.write_text(build_report(con, run_id), encoding="utf-8")
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": args.width, "height": 1150})
            page.goto(page_path.as_uri())
            page.wait_for_selector("#chart-speed .scatterlayer .point")
            page.screenshot(path=str(out))
            if args.filter:
                page.fill("#filter-text", args.filter)
            page.locator(f'#sample-table tbody tr[data-id="{args.sample}"]').click()
            samples = out.with_name(out.stem + "-samples" + out.suffix)
            page.locator("#s-samples").screenshot(path=str(samples))
            browser.close()
    print(f"wrote {out} and {samples}")


if __name__ == "__main__":
    main()
