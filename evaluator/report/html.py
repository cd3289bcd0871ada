"""One self-contained HTML report of a run: leaderboard with intervals, charts, long-form flags
and seams, and a sample browser with word alignments.

The page works from ``file://`` with no network: plotly.js, the styles and the browser script
are inlined, and the samples are embedded as JSON. The data comes from
:mod:`evaluator.report.data`, the charts from :mod:`evaluator.report.charts` (plotly); the sample
browser is a small script of its own (``static/report.js``).
"""

from __future__ import annotations

import html
import json
import math
from datetime import datetime
from importlib import resources
from typing import Any

from evaluator.report import charts, data
from evaluator.report.options import ReportOptions

__all__ = ["ReportOptions", "build_report"]


# ------------------------------------------------------------------------------------ helpers


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _pct(value: float | None, digits: int = 2) -> str:
    return "" if value is None or not math.isfinite(value) else f"{100 * value:.{digits}f}"


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset(),
           table_id: str | None = None) -> str:
    """An HTML table; cells are already escaped HTML."""
    ident = f' id="{table_id}"' if table_id else ""
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{_esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{c}</td>' for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    return f'<table class="data"{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f'<span class="ci">[{_pct(low)}, {_pct(high)}]</span>'




# ------------------------------------------------------------------------------------ sections


def _leaderboard_section(board: list[dict[str, Any]], options: ReportOptions) -> str:
    rows = []
    for r in board:
        rows.append([
            _esc(r["model"]), _esc(f"{r['dataset']}/{r['split']}"), _num(r["n"]), _num(r["errors"]),
            _pct(r["wer"]), _interval(r.get("wer_low"), r.get("wer_high")),
            _pct(r.get("cer")), _interval(r.get("cer_low"), r.get("cer_high")),
            _num(r.get("rtfx")), _num(60 * r["audio_hours"] if r.get("audio_hours") is not None else None, 2),
            _num(r.get("completion_ratio"), 3),
            _num(r.get("truncated")), _num(r.get("looping")), _num(r.get("skipped")),
        ])
    table = _table(["model", "dataset/split", "n", "errors", "WER %", "95% CI", "CER %", "95% CI", "RTFx",
                    "audio min", "completion", "truncated", "looping", "skipped"], rows,
                   numeric={2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, table_id="leaderboard")
    note = (f"Corpus WER and CER (errors summed over utterances); 95% intervals from a bootstrap over "
            f"utterances ({options.resamples:,} resamples, seed {options.seed}). RTFx = audio seconds / "
            "inference seconds. Error rows are counted, not scored.")
    return f'<section id="s-leaderboard"><h2>Leaderboard</h2><p class="note">{_esc(note)}</p>{table}</section>'


def _speed_section(board: list[dict[str, Any]], colours: dict[str, str]) -> str:
    chart, missing = charts.speed_chart(board, colours, "chart-speed")
    note = ""
    if missing:
        note = f'<p class="note">Not drawn (no scored rows or no timing): {_esc(", ".join(missing))}</p>'
    return f'<section id="s-speed"><h2>Accuracy and speed</h2>{chart}{note}</section>'


def _breakdown_section(con: Any, run_id: str, options: ReportOptions, colours: dict[str, str]) -> str:
    """Per duration bucket, per language and per metadata key (those with 2 to 30 values)."""
    grouped, notes = data.groups(con, run_id, options)
    out, others = [], 0
    for by, rows in grouped:
        if by == "bucket":
            out.append(charts.grouped_chart(rows, by, "WER per duration bucket (95% interval)", "chart-buckets",
                                            colours))
        else:
            out.append(charts.grouped_chart(rows, by, f"WER per {by} (95% interval)", f"chart-group-{others}",
                                            colours))
            others += 1
    note = f'<p class="note">{_esc("; ".join(notes))}</p>' if notes else ""
    return (f'<section id="s-breakdowns"><h2>Breakdowns</h2><div class="charts-row">{"".join(out)}</div>{note}'
            "</section>")


def _flags_html(r: dict[str, Any]) -> str:
    out = []
    if r.get("truncated"):
        out.append("truncated" + (f": {r['truncated_reason']}" if r.get("truncated_reason") else ""))
    if r.get("looping"):
        out.append("looping")
    if r.get("skipped"):
        out.append("skipped")
    return "".join(f'<span class="flag">{_esc(f)}</span>' for f in out)


def _long_form_section(con: Any, run_id: str, options: ReportOptions, colours: dict[str, str]) -> str:
    lf = data.long_form(con, run_id, options)
    parts = []
    flagged, total = lf["flagged"], lf["flagged_total"]
    if flagged:
        rows = [[_esc(r["model"]), _esc(r["sample_id"]), _num(r["audio_seconds"]), _pct(r["wer"], 1),
                 _num(r["completion_ratio"], 2), _flags_html(r), _num(r["max_deletion_run"]),
                 _num(r["max_deletion_run_s"]), _num(r["max_repeats"]), _num(r["untranscribed_speech_s"])]
                for r in flagged]
        shown = "" if total <= len(flagged) else f" (first {len(flagged)} of {total} shown)"
        parts.append(f'<h3>Flagged samples{_esc(shown)}</h3>' + _table(
            ["model", "sample", "seconds", "WER %", "completion", "flags", "longest deletion (words)",
             "(s)", "max repeats", "untranscribed speech s"], rows, numeric={2, 3, 4, 6, 7, 8, 9},
            table_id="flags"))
    else:
        parts.append('<p class="note" id="flags-none">No sample was flagged truncated, looping or skipped.</p>')
    if lf["errors"]:
        parts.append("<h3>Error rows</h3>" + _table(
            ["model", "sample", "error"],
            [[_esc(e["model"]), _esc(e["sample_id"]), _esc(e["error"])] for e in lf["errors"]]))
    if lf["long"]:
        rows = [[_esc(r["model"]), _esc(r["sample_id"]), _num(r["audio_seconds"]), _esc(r["long_form"]),
                 _num(r["windows"] or r["num_chunks"]), _num(r["aligned"]), _num(r["midpoint"]), _num(r["adjacent"]),
                 _num(r["min_matched"]), _num(r["window_errors"]), _pct(r["wer"], 1), _num(r["completion_ratio"], 3),
                 _num(r["transcribed_until_s"]), _num(r["untranscribed_speech_s"]), _flags_html(r)]
                for r in lf["long"]]
        parts.append(f"<h3>Files longer than {data.LONG_SECONDS:g} s</h3>" + _table(
            ["model", "sample", "seconds", "long-form", "windows", "aligned seams", "midpoint seams",
             "adjacent seams", "fewest words matched", "window errors", "WER %", "completion", "transcribed until s",
             "untranscribed speech s", "flags"], rows, numeric=set(range(2, 14)) - {3}, table_id="long-files"))
    seam_charts = [charts.seam_chart(r, windows, colours, f"chart-seams-{k}") for k, (r, windows)
                   in enumerate(lf["seams"])]
    if seam_charts:
        more = "" if lf["seamed_files"] <= len(seam_charts) else (
            f"<p class=note>Seams charted for the first {len(seam_charts)} of {lf['seamed_files']} files.</p>")
        parts.append("<h3>Seams</h3><p class=note>A seam joins a window to the one before: <b>aligned</b> where "
                     "the overlap's words matched, <b>midpoint</b> (cut in the middle of the overlap) where too few "
                     "did, <b>adjacent</b> where the windows did not overlap.</p>" + "".join(seam_charts) + more)
    return f'<section id="s-long-form"><h2>Long-form flags and seams</h2>{"".join(parts)}</section>'


def _browser_section(payload: dict[str, Any], total: int, options: ReportOptions) -> str:
    models = payload["models"]
    shown = len(payload["samples"])
    cap = ""
    if shown < total:
        cap = (f'<p class="note" id="sample-cap">The browser holds {shown:,} of the run\'s {total:,} samples: those '
               f"with the most word errors summed over models (error rows first), to keep this file small. "
               f"Raise the cap with <code>evaluator report --max-samples N</code>; the charts and tables above use "
               f"every sample.</p>")
    options_html = '<option value="">all models</option>' + "".join(
        f'<option value="{i}">{_esc(m)}</option>' for i, m in enumerate(models))
    # a line break may fall after ":", "/" or "-" of a long model spec
    heads = "".join(f'<th class="num" data-model="{i}" title="{_esc(m)}">{_breakable(m)}<br>WER %</th>'
                    for i, m in enumerate(models))
    return f"""<section id="s-samples"><h2>Samples</h2>{cap}
<p class="note">Pick a sample to see the reference and each model's hypothesis aligned word by word (normalized text,
as scored). The filter searches sample ids, references and hypotheses; with one model chosen, it and the
"only with errors" box apply to that model.</p>
<div class="controls">
 <input type="search" id="filter-text" placeholder="filter: id or words" aria-label="filter samples">
 <label>model <select id="filter-model">{options_html}</select></label>
 <label><input type="checkbox" id="filter-errors"> only with errors</label>
 <label>sort <select id="sort"><option value="order">dataset order</option>
  <option value="wer">WER, worst first</option><option value="duration">duration, longest first</option>
  <option value="id">sample id</option></select></label>
 <span id="sample-count" class="note"></span>
</div>
<div class="browser">
 <div class="list"><table class="data" id="sample-table"><thead><tr><th>sample</th><th class="num">s</th>{heads}
 </tr></thead><tbody></tbody></table></div>
 <div class="detail" id="sample-detail"><p class="empty">Click a sample in the list.</p></div>
</div></section>"""


def _breakable(text: str) -> str:
    escaped = _esc(text)
    for mark in (":", "/", "-"):
        escaped = escaped.replace(mark, mark + "<wbr>")
    return escaped


def _json_script(payload: Any) -> str:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # Inside <script>, "</script" would close the element and "<!--" open a comment: no "<" at all
    # (\u003c is the same character to JSON.parse).
    return text.replace("<", "\\u003c")


def _static(name: str) -> str:
    return resources.files("evaluator.report").joinpath("static", name).read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------ the page


def build_report(con: Any, run_id: str, options: ReportOptions | None = None) -> str:
    """The HTML text of the report of ``run_id`` (``con``: a DuckDB connection, read-only is enough).

    Raises ValueError if the run does not exist or has no results, and ImportError (naming the
    install command) without plotly.
    """
    options = options or ReportOptions()
    run_info = data.run_info(con, run_id)
    board = data.leaderboard(con, run_id, options)
    charts.plotly()
    from plotly.offline import get_plotlyjs

    models = list(dict.fromkeys(r["model"] for r in board))
    colours = charts.colours(models)
    payload, total = data.samples(con, run_id, models, options)

    started = run_info.get("started_at")
    started = started.strftime("%Y-%m-%d %H:%M UTC") if isinstance(started, datetime) else _esc(started)
    datasets = ", ".join(sorted({f"{r['dataset']}/{r['split']}" for r in board}))
    title = f"evaluator report · {run_info.get('name') or run_id}"
    meta = (f"run {_esc(run_id)} · {_esc(run_info.get('status'))} · started {started} · {_esc(datasets)} · "
            f"{len(models)} model{'s' if len(models) != 1 else ''} · {total:,} samples · normalizer "
            f"{_esc(run_info.get('normalizer_name'))} {_esc(run_info.get('normalizer_version'))} · evaluator "
            f"{_esc(run_info.get('evaluator_version'))}")
    body = "".join([
        _leaderboard_section(board, options),
        _speed_section(board, colours),
        _breakdown_section(con, run_id, options, colours),
        _long_form_section(con, run_id, options, colours),
        _browser_section(payload, total, options),
    ])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="evaluator html_report">
<title>{_esc(title)}</title>
<style>{_static("report.css")}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<header><h1>{_esc(title)}</h1><div class="meta">{meta}</div></header>
<nav><a href="#s-leaderboard">Leaderboard</a><a href="#s-speed">Accuracy and speed</a>
<a href="#s-breakdowns">Breakdowns</a><a href="#s-long-form">Long-form</a><a href="#s-samples">Samples</a></nav>
<main>{body}</main>
<script id="sample-data" type="application/json">{_json_script(payload)}</script>
<script>{_static("report.js")}</script>
</body></html>
"""
