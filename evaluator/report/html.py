"""One self-contained HTML report of a run: leaderboard with intervals, charts, long-form flags
and seams, and a sample browser with word alignments.

The page works from ``file://`` with no network: plotly.js, the styles and the browser script
are inlined, and the samples are embedded as JSON. Charts are drawn by plotly; the sample
browser is a small script of its own (``static/report.js``).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

__all__ = ["ReportOptions", "build_report"]

_INSTALL = "pip install 'evaluator[report]'"
_LONG_SECONDS = 30.0  # files longer than one Whisper window: the long-form section lists them
_GROUP_MAX_VALUES = 30  # a metadata column with more distinct values is not charted (e.g. an utterance id)
_OP_CODES = {"substitute": "s", "delete": "d", "insert": "i"}


@dataclass
class ReportOptions:
    """How the report is built.

    Attributes:
        max_samples: samples in the sample browser at most. Past it the browser keeps the
            samples with the most word errors summed over models (error rows first) and says so
            on the page; the charts and tables always use every row.
        max_flagged: rows listed in the long-form flags table at most (counts are always complete).
        max_seam_charts: long files whose seams are charted (the seam table lists all of them).
        resamples: bootstrap resamples of the confidence intervals.
        seed: bootstrap seed (the same seed gives the same intervals).
    """

    max_samples: int = 1000
    max_flagged: int = 200
    max_seam_charts: int = 4
    resamples: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("max_samples", "max_flagged", "max_seam_charts", "resamples"):
            value = getattr(self, name)
            minimum = 1 if name == "resamples" else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"ReportOptions.{name} must be an integer >= {minimum}, got {value!r}")


# ------------------------------------------------------------------------------------ helpers


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:
        raise ImportError(f"the HTML report draws its charts with plotly: {_INSTALL}") from exc
    return go


def _records(cur: Any) -> list[dict[str, Any]]:
    columns = [d[0] for d in cur.description]
    return [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]


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


def _label(row: dict[str, Any], several_sets: bool) -> str:
    return f"{row['model']} · {row['dataset']}/{row['split']}" if several_sets else row["model"]


def _colours(models: list[str]) -> dict[str, str]:
    from plotly.colors import qualitative

    palette = qualitative.Plotly
    return {m: palette[i % len(palette)] for i, m in enumerate(models)}


def _figure_html(fig: Any, div_id: str) -> str:
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 50},
                      font={"size": 12}, legend={"title": {"text": ""}})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _error_bars(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Asymmetric plotly error bars (in %) from wer / wer_low / wer_high."""
    plus = [100 * (r["wer_high"] - r["wer"]) if r.get("wer_high") is not None else 0 for r in rows]
    minus = [100 * (r["wer"] - r["wer_low"]) if r.get("wer_low") is not None else 0 for r in rows]
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "visible": True}


# ------------------------------------------------------------------------------------ sections


def _intervals(con: Any, run_id: str, options: ReportOptions, by: str | None = None) -> list[dict[str, Any]]:
    from evaluator.results.leaderboard import leaderboard_with_intervals

    columns, rows = leaderboard_with_intervals(con, run_id, by=by, resamples=options.resamples, seed=options.seed)
    return [dict(zip(columns, r, strict=True)) for r in rows]


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
    go = _plotly()
    several = len({(r["dataset"], r["split"]) for r in board}) > 1
    fig = go.Figure()
    missing = []
    for r in board:
        if r.get("rtfx") is None or r.get("wer") is None or r["rtfx"] <= 0:
            missing.append(_label(r, several))
            continue
        fig.add_trace(go.Scatter(
            x=[r["rtfx"]], y=[100 * r["wer"]], mode="markers", name=_label(r, several),
            marker={"size": 12, "color": colours[r["model"]]}, error_y=_error_bars([r]),
            hovertemplate=f"{_esc(_label(r, several))}<br>WER %{{y:.2f}}%<br>RTFx %{{x:.1f}}<extra></extra>"))
    fig.update_layout(title="WER against speed (one mark per model, 95% interval)",
                      xaxis={"type": "log", "title": "RTFx (audio s / inference s, log scale; faster →)"},
                      yaxis={"title": "WER %", "rangemode": "tozero"}, height=420)
    note = ""
    if missing:
        note = f'<p class="note">Not drawn (no scored rows or no timing): {_esc(", ".join(missing))}</p>'
    return (f'<section id="s-speed"><h2>Accuracy and speed</h2>{_figure_html(fig, "chart-speed")}{note}'
            "</section>")


def _grouped_chart(rows: list[dict[str, Any]], by: str, title: str, div_id: str, colours: dict[str, str]) -> str:
    """Grouped bars: one series per model, one bar per group value, 95% intervals as error bars."""
    go = _plotly()
    fig = go.Figure()
    for model in colours:
        mine = [r for r in rows if r["model"] == model and r.get("wer") is not None]
        if not mine:
            continue
        fig.add_trace(go.Bar(
            x=[_group_label(r["group"], by) for r in mine], y=[100 * r["wer"] for r in mine], name=model,
            marker={"color": colours[model]}, error_y=_error_bars(mine),
            customdata=[[r["n"], r.get("scored", r["n"])] for r in mine],
            hovertemplate=f"{_esc(model)}<br>%{{x}}: WER %{{y:.2f}}%<br>%{{customdata[0]}} samples, "
                          "%{customdata[1]} scored<extra></extra>"))
    fig.update_layout(title=title, barmode="group", yaxis={"title": "WER %", "rangemode": "tozero"},
                      xaxis={"title": "duration" if by == "bucket" else by, "type": "category"}, height=380)
    return _figure_html(fig, div_id)


def _group_label(value: Any, by: str) -> str:
    if value is None:
        return "(unset)"
    return str(value).split(": ", 1)[-1] if by == "bucket" else str(value)


def _group_charts(con: Any, run_id: str, options: ReportOptions, colours: dict[str, str]) -> tuple[str, str]:
    """Per duration bucket, per language and per metadata key (those with 2 to 30 values)."""
    from evaluator.results.leaderboard import group_choices

    (has_metadata,) = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'results' AND column_name = 'metadata'"
    ).fetchone()
    # A database written before results.metadata existed, opened read-only, is not migrated.
    choices = group_choices(con, run_id) if has_metadata else ["language", "bucket"]
    buckets, charts, notes = [], [], []
    for by in choices:
        rows = _intervals(con, run_id, options, by=by)
        values = sorted({str(r["group"]) for r in rows})
        if by != "bucket" and len(values) > _GROUP_MAX_VALUES:
            notes.append(f"{by}: {len(values)} values, not charted (evaluator leaderboard --by {by})")
            continue
        if by != "bucket" and len(values) < 2:
            notes.append(f"{by}: every sample is {values[0] if values else 'unset'}")
            continue
        if by == "bucket":
            buckets.append(_grouped_chart(rows, by, "WER per duration bucket (95% interval)", "chart-buckets",
                                          colours))
        else:
            charts.append(_grouped_chart(rows, by, f"WER per {by} (95% interval)", f"chart-group-{len(charts)}",
                                         colours))
    return "".join(buckets + charts), "; ".join(notes)


def _breakdown_section(con: Any, run_id: str, options: ReportOptions, colours: dict[str, str]) -> str:
    charts, notes = _group_charts(con, run_id, options, colours)
    note = f'<p class="note">{_esc(notes)}</p>' if notes else ""
    return f'<section id="s-breakdowns"><h2>Breakdowns</h2><div class="charts-row">{charts}</div>{note}</section>'



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
    go = _plotly()
    parts = []
    (total,) = con.execute(
        "SELECT count(*) FROM results WHERE run_id = ? AND error IS NULL AND (truncated OR looping OR skipped)",
        [run_id]).fetchone()
    flagged = _records(con.execute(
        "SELECT model, sample_id, audio_seconds, ref_words, "
        "(substitutions + deletions + insertions) / nullif(ref_words, 0) AS wer, completion_ratio, truncated, "
        "truncated_reason, looping, skipped, max_deletion_run, max_deletion_run_s, max_repeats, "
        "untranscribed_speech_s FROM results WHERE run_id = ? AND error IS NULL AND (truncated OR looping OR skipped) "
        "ORDER BY model, sample_index NULLS LAST, sample_id LIMIT ?", [run_id, options.max_flagged]))
    if flagged:
        rows = [[_esc(r["model"]), _esc(r["sample_id"]), _num(r["audio_seconds"]), _pct(r["wer"], 1),
                 _num(r["completion_ratio"], 2), _flags_html(r), _num(r["max_deletion_run"]),
                 _num(r["max_deletion_run_s"]), _num(r["max_repeats"]), _num(r["untranscribed_speech_s"])]
                for r in flagged]
        shown = "" if total <= len(flagged) else f" (first {len(flagged)} of {total} shown)"
        parts.append(f'<h3>Flagged samples{_esc(shown)}</h3>' + _table(
            ["model", "sample", "seconds", "WER %", "completion", "flags", "longest deletion (words)",
             "(s)", "max repeats", "untranscribed speech s"], flagged and rows, numeric={2, 3, 4, 6, 7, 8, 9},
            table_id="flags"))
    else:
        parts.append('<p class="note" id="flags-none">No sample was flagged truncated, looping or skipped.</p>')
    errors = _records(con.execute(
        "SELECT model, sample_id, error FROM results WHERE run_id = ? AND error IS NOT NULL "
        "ORDER BY model, sample_id LIMIT ?", [run_id, options.max_flagged]))
    if errors:
        parts.append("<h3>Error rows</h3>" + _table(
            ["model", "sample", "error"], [[_esc(e["model"]), _esc(e["sample_id"]), _esc(e["error"])] for e in errors]))

    long_rows = _records(con.execute(
        "SELECT r.model, r.sample_id, r.audio_seconds, r.long_form, r.num_chunks, "
        "(r.substitutions + r.deletions + r.insertions) / nullif(r.ref_words, 0) AS wer, r.completion_ratio, "
        "r.transcribed_until_s, r.untranscribed_speech_s, r.truncated, r.truncated_reason, r.looping, r.skipped, "
        "count(c.chunk_index) AS windows, count(c.seam) FILTER (WHERE c.seam = 'aligned') AS aligned, "
        "count(c.seam) FILTER (WHERE c.seam = 'midpoint') AS midpoint, "
        "count(c.seam) FILTER (WHERE c.seam = 'adjacent') AS adjacent, min(c.seam_matched) AS min_matched, "
        "count(c.error) AS window_errors "
        "FROM results r LEFT JOIN chunks c USING (run_id, model, sample_id) "
        "WHERE r.run_id = ? AND r.error IS NULL AND (r.audio_seconds > ? OR r.num_chunks > 1) "
        "GROUP BY ALL ORDER BY r.model, r.sample_id", [run_id, _LONG_SECONDS]))
    if long_rows:
        rows = [[_esc(r["model"]), _esc(r["sample_id"]), _num(r["audio_seconds"]), _esc(r["long_form"]),
                 _num(r["windows"] or r["num_chunks"]), _num(r["aligned"]), _num(r["midpoint"]), _num(r["adjacent"]),
                 _num(r["min_matched"]), _num(r["window_errors"]), _pct(r["wer"], 1), _num(r["completion_ratio"], 3),
                 _num(r["transcribed_until_s"]), _num(r["untranscribed_speech_s"]), _flags_html(r)]
                for r in long_rows]
        parts.append(f"<h3>Files longer than {_LONG_SECONDS:g} s</h3>" + _table(
            ["model", "sample", "seconds", "long-form", "windows", "aligned seams", "midpoint seams",
             "adjacent seams", "fewest words matched", "window errors", "WER %", "completion", "transcribed until s",
             "untranscribed speech s", "flags"], rows, numeric=set(range(2, 14)) - {3}, table_id="long-files"))
    seamed = [r for r in long_rows if r["windows"]]
    charts = []
    for r in seamed[:options.max_seam_charts]:
        windows = _records(con.execute(
            "SELECT chunk_index, start_s, end_s, seam, seam_matched, seam_cut_s, error FROM chunks "
            "WHERE run_id = ? AND model = ? AND sample_id = ? ORDER BY chunk_index",
            [run_id, r["model"], r["sample_id"]]))
        fig = go.Figure()
        symbols = {"aligned": "circle", "midpoint": "diamond", "adjacent": "x"}
        for kind, symbol in symbols.items():
            mine = [w for w in windows if w["seam"] == kind]
            if not mine:
                continue
            fig.add_trace(go.Scatter(
                x=[(w["seam_cut_s"] if w["seam_cut_s"] is not None else w["start_s"]) / 60 for w in mine],
                y=[w["seam_matched"] or 0 for w in mine], mode="markers", name=f"{kind} ({len(mine)})",
                marker={"symbol": symbol, "size": 9, "color": colours.get(r["model"]) if kind == "aligned" else None},
                customdata=[[w["chunk_index"], w["start_s"], w["end_s"]] for w in mine],
                hovertemplate="window %{customdata[0]} (%{customdata[1]:.1f}-%{customdata[2]:.1f} s)<br>"
                              "cut at %{x:.2f} min<br>%{y} words matched<extra>" + kind + "</extra>"))
        fig.update_layout(
            title=f"Seams of {r['sample_id']} · {r['model']}: words the overlapping windows agreed on",
            xaxis={"title": "where the text switches to the next window (min into the file)"},
            yaxis={"title": "words matched in the overlap", "rangemode": "tozero"}, height=340)
        charts.append(_figure_html(fig, f"chart-seams-{len(charts)}"))
    if charts:
        more = "" if len(seamed) <= len(charts) else f"<p class=note>Seams charted for the first {len(charts)} " \
            f"of {len(seamed)} files.</p>"
        parts.append("<h3>Seams</h3><p class=note>A seam joins a window to the one before: <b>aligned</b> where "
                     "the overlap's words matched, <b>midpoint</b> (cut in the middle of the overlap) where too few "
                     "did, <b>adjacent</b> where the windows did not overlap.</p>" + "".join(charts) + more)
    return f'<section id="s-long-form"><h2>Long-form flags and seams</h2>{"".join(parts)}</section>'


def _ops(reference_norm: str | None, hypothesis_norm: str | None) -> list[Any]:
    """Word operations, compact: a run of correct words as one string, else [code, words...]."""
    from evaluator.scoring.alignment import align

    out: list[Any] = []
    for op in align(reference_norm or "", hypothesis_norm or ""):
        if op.op == "equal":
            if out and isinstance(out[-1], str):
                out[-1] += " " + op.ref
            else:
                out.append(op.ref)
        elif op.op == "substitute":
            out.append(["s", op.ref, op.hyp])
        elif op.op == "delete":
            out.append(["d", op.ref])
        else:
            out.append(["i", op.hyp])
    return out


def _samples(con: Any, run_id: str, models: list[str], options: ReportOptions) -> tuple[dict[str, Any], int]:
    """The sample browser's data (the kept samples) and the number of samples in the run."""
    (total,) = con.execute("SELECT count(DISTINCT sample_id) FROM results WHERE run_id = ?", [run_id]).fetchone()
    rows = _records(con.execute(
        "WITH ranked AS (SELECT sample_id, count(error) AS error_rows, "
        "sum(coalesce(substitutions + deletions + insertions, 0)) AS word_errors, min(sample_index) AS idx "
        "FROM results WHERE run_id = ? GROUP BY sample_id "
        "ORDER BY error_rows DESC, word_errors DESC, idx NULLS LAST, sample_id LIMIT ?) "
        "SELECT r.model, r.sample_id, r.sample_index, r.audio_seconds, r.language, r.reference, r.hypothesis, "
        "r.reference_norm, r.hypothesis_norm, r.substitutions, r.deletions, r.insertions, r.ref_words, r.error, "
        "r.truncated, r.truncated_reason, r.looping, r.skipped "
        "FROM results r JOIN ranked USING (sample_id) WHERE r.run_id = ? "
        "ORDER BY r.sample_index NULLS LAST, r.sample_id, r.model", [run_id, options.max_samples, run_id]))
    index = {m: i for i, m in enumerate(models)}
    samples: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = samples.setdefault(r["sample_id"], {
            "id": r["sample_id"], "order": len(samples), "idx": r["sample_index"], "dur": r["audio_seconds"],
            "lang": r["language"], "ref": r["reference"], "r": [None] * len(models)})
        if r["error"] is not None:
            entry = {"err": r["error"], "wer": None, "e": 0, "s": 0, "d": 0, "i": 0, "h": None, "flags": [],
                     "ops": []}
        else:
            errors = r["substitutions"] + r["deletions"] + r["insertions"]
            flags = [name for name in ("truncated", "looping", "skipped") if r[name]]
            entry = {"err": None, "wer": errors / r["ref_words"] if r["ref_words"] else None, "e": errors,
                     "s": r["substitutions"], "d": r["deletions"], "i": r["insertions"], "h": r["hypothesis"],
                     "flags": flags, "ops": _ops(r["reference_norm"], r["hypothesis_norm"])}
        s["r"][index[r["model"]]] = entry
    return {"models": models, "samples": list(samples.values())}, int(total)


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
    run = _records(con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]))
    if not run:
        known = [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 10").fetchall()]
        raise ValueError(f"no run {run_id!r} in this database; runs: {', '.join(known) or 'none'}")
    run_info = run[0]
    board = _intervals(con, run_id, options)
    if not board:
        raise ValueError(f"run {run_id!r} has no results yet")
    from plotly.offline import get_plotlyjs

    board.sort(key=lambda r: (r["wer"] is None, r["wer"] if r["wer"] is not None else 0, r["model"]))
    models = list(dict.fromkeys(r["model"] for r in board))
    colours = _colours(models)
    payload, total = _samples(con, run_id, models, options)

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
