"""One self-contained HTML report of one run or several: leaderboard with intervals, charts, the
model x dataset matrix of a run over several datasets, the paired comparison with p-values,
long-form flags and seams, and a sample browser with word alignments and audio players.

The page works from ``file://`` with no network: plotly.js, the styles and the browser script
are inlined, and the samples (with their audio, up to a cap) are embedded. The data comes from
:mod:`evaluator.report.data` (and :mod:`evaluator.report.audio`), the charts from
:mod:`evaluator.report.charts` (plotly), the sections from :mod:`evaluator.report.sections` and
:mod:`evaluator.report.browser`; the sample browser is a small script of its own
(``static/report.js``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from evaluator.report import charts, data, sections
from evaluator.report.audio import attach_audio
from evaluator.report.browser import browser
from evaluator.report.format import esc, static
from evaluator.report.options import ReportOptions

__all__ = ["ReportOptions", "build_report"]

_SECTIONS = [("s-leaderboard", "Leaderboard"), ("s-matrix", "Datasets"), ("s-compare", "Comparison"),
             ("s-speed", "Accuracy and speed"), ("s-breakdowns", "Breakdowns"), ("s-long-form", "Long-form"),
             ("s-samples", "Samples")]


def _meta(con: Any, run_id: str, run_info: dict[str, Any], board: list[dict[str, Any]], total: int) -> str:
    started = run_info.get("started_at")
    started = started.strftime("%Y-%m-%d %H:%M UTC") if isinstance(started, datetime) else esc(started)
    datasets = ", ".join(sorted({f"{r['dataset']}/{r['split']}" for r in board}))
    models = len({r["model"] for r in board})
    return (f"run {esc(run_id)} · {esc(run_info.get('status'))} · started {started} · {esc(datasets)} · "
            f"{models} model{'s' if models != 1 else ''} · {total:,} samples · "
            f"scoring {esc(run_info.get('scoring'))} · normalizer "
            f"{esc(run_info.get('normalizer_name'))} {esc(run_info.get('normalizer_version'))} · evaluator "
            f"{esc(run_info.get('evaluator_version'))}")


def _nav(sfx: str, present: set[str]) -> str:
    return "<nav>" + "".join(f'<a href="#{ident}{sfx}">{name}</a>' for ident, name in _SECTIONS
                             if ident in present) + "</nav>"


def _comparison(con: Any, run_ids: list[str], options: ReportOptions) -> dict[str, Any] | str:
    try:
        return data.comparison(con, run_ids, options)
    except Exception as exc:  # the rest of the page stays useful; the section says why
        return f"No paired comparison: {exc}"


def _run_body(con: Any, run_id: str, options: ReportOptions, sfx: str, audio_used: int = 0) -> tuple[str, str, int]:
    """(the run's sections, its meta line, the bytes of audio it embedded); ``audio_used``: bytes
    the page's earlier runs embedded."""
    run_info = data.run_info(con, run_id)
    board, ranking = data.ranked(con, run_id, options)
    models = list(dict.fromkeys(r["model"] for r in board))
    colours = charts.colours(models)
    payload, total = data.samples(con, run_id, models, options)
    summary = attach_audio(con, run_id, payload, options, audio_used)
    parts = [
        sections.leaderboard(board, options, sfx, ranking),
        sections.matrix(data.matrix(con, run_id, board, options), sfx),
        sections.comparison(_comparison(con, [run_id], options), sfx),
        sections.speed(board, colours, sfx),
        sections.breakdowns(con, run_id, options, colours, sfx),
        sections.long_form(con, run_id, options, colours, sfx),
        browser(payload, total, summary, options, sfx),
    ]
    present = {ident for ident, _ in _SECTIONS if f'id="{ident}{sfx}"' in "".join(parts)}
    return _nav(sfx, present) + "".join(parts), _meta(con, run_id, run_info, board, total), summary.embedded_bytes


def build_report(con: Any, run_id: str | Sequence[str], options: ReportOptions | None = None) -> str:
    """The HTML text of the report of ``run_id`` (one run id, or several: a section per run and
    the paired comparison across them). ``con``: a DuckDB connection, read-only is enough.

    Raises ValueError if a run does not exist or has no results, and ImportError (naming the
    install command) without plotly.
    """
    options = options or ReportOptions()
    run_ids = [run_id] if isinstance(run_id, str) else list(dict.fromkeys(run_id))
    if not run_ids:
        raise ValueError("no run to report on")
    infos = [data.run_info(con, r) for r in run_ids]  # every run exists before any work
    charts.plotly()
    from plotly.offline import get_plotlyjs

    names = [info.get("name") or r for info, r in zip(infos, run_ids, strict=True)]
    if len(run_ids) == 1:
        body, meta, _ = _run_body(con, run_ids[0], options, "")
        title = f"evaluator report · {names[0]}"
        header, main = f'<div class="meta">{meta}</div>', body
    else:
        title = f"evaluator report · {len(run_ids)} runs: {', '.join(names)}"
        runs, audio_used = [], 0
        for k, (r, name) in enumerate(zip(run_ids, names, strict=True)):
            sfx = "" if k == 0 else f"-{k + 1}"
            body, meta, embedded = _run_body(con, r, options, sfx, audio_used)
            audio_used += embedded
            runs.append(f'<section class="run" id="run-{k + 1}" data-run="{esc(r)}"><h2 class="run-title">'
                        f'{esc(name)}</h2><div class="meta">{meta}</div>{body}</section>')
        across = sections.comparison(_comparison(con, run_ids, options), "-across",
                                     "Models across runs (paired by dataset and sample)")
        header = "<nav>" + "".join(f'<a href="#run-{k + 1}">{esc(n)}</a>' for k, n in enumerate(names)) + \
            '<a href="#s-compare-across">Across runs</a></nav>'
        main = across + "".join(runs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="evaluator report">
<title>{esc(title)}</title>
<style>{static("report.css")}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<header><h1>{esc(title)}</h1>{header}</header>
<main>{main}</main>
<script>{static("report.js")}</script>
</body></html>
"""
